"""The worker runtime without its third-party packages: gateway.runtime.stdlib_msgpack in place of msgpack
(the frames and zygote messages stay byte for byte what msgpack writes, and each side reads the
other's) and gateway.runtime.stdlib_json in place of orjson (a handler's result is the same bytes).

A zygote of another Python version than lambdagate's runs on a bare interpreter, where only these
work; tests/runtime/test_python_versions.py runs real functions there."""
import datetime
import decimal
import enum
import json
import math
import subprocess
import sys
import uuid
from collections import OrderedDict, namedtuple
from dataclasses import dataclass

import msgpack
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import wire
from gateway.runtime import stdlib_json, stdlib_msgpack, worker
from support.orjson_spelling import comparable
from support.servers import checkout_env

RID = "5aa68349-f421-4500-8187-0f6c15fc45b4"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
SPEC = {"env": {"AWS_LAMBDA_FUNCTION_NAME": "f", "LANG": "en_US.UTF-8", "X": "é" * 40}, "code_dir": "/tmp/code",
        "handler": "app.handler", "log_format": "Text", "log_level": "", "sys_path": ["/a", "/b" * 300],
        "memory_limit_kb": 131072, "memory_poll_ms": 10,
        "sandbox": {"cgroups": ["/sys/fs/cgroup/x/cgroup.procs"], "tmp_mb": 512, "hidden": [], "keep": ["/k"]}}

# every frame header and zygote message kind, as the gateway and the runtime build them
FRAME_HEADERS = [
    wire.invoke_header(RID, 1_900_000_000_123, ARN, '{"custom": {"a": 1}}', '{"cognitoIdentityId": "x"}',
                       "Root=1-5e34a614-10bdxmplf1fb44f07bc535a1;Parent=1;Sampled=0"),
    wire.invoke_header(RID, 1_900_000_000_000, ARN),
    wire.ready_header(4242),
    wire.ready_header(4242, "Runtime.ImportModuleError", 31000),
    wire.result_header(RID, None, 123_456, 40_000, 17),
    wire.result_header(RID, "Function.ResponseSizeTooLarge", 2**40, 2**20, 0),
    wire.out_of_memory_header(140_000),
]
ZYGOTE_MESSAGES = {   # kind -> (the builder's arguments, the same message as a list)
    "fork": ((7, SPEC), [wire.FORK, 7, SPEC]),
    "ready": ((99, wire.ISOLATION_NAMESPACES, ""), [wire.READY, 99, wire.ISOLATION_NAMESPACES, ""]),
    "ready-note": ((99, wire.ISOLATION_PROCESS, "not root"), [wire.READY, 99, wire.ISOLATION_PROCESS, "not root"]),
    "forked": ((7, 31337), [wire.FORKED, 7, 31337]),
    "fork-failed": ((7, "expected 3 file descriptors"), [wire.FORKED, 7, -1, "expected 3 file descriptors"]),
    "exited": ((31337, 9, 65536), [wire.EXITED, 31337, 9, 65536]),
}
BUILDERS = {"fork": wire.fork_message, "ready": wire.zygote_ready_message, "ready-note": wire.zygote_ready_message,
            "forked": wire.forked_message, "fork-failed": wire.fork_failed_message, "exited": wire.exited_message}

# each size boundary of msgpack's encodings
BOUNDARY_VALUES = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1, -1, -32, -33, -128, -129,
                   -32768, -32769, -2**31, -2**31 - 1, -2**63, 0.0, -0.0, 1.5, 1e300, math.inf, True, False, None,
                   "", "a" * 31, "a" * 32, "a" * 255, "a" * 256, "é" * 40000, b"", b"x" * 255, b"x" * 256,
                   b"x" * 65536, list(range(15)), list(range(16)), list(range(65536)), (1, "two", None),
                   {f"k{i}": i for i in range(15)}, {f"k{i}": i for i in range(16)},
                   {f"k{i}": i for i in range(65536)}]

def _packable_containers(children):
    return (st.lists(children, max_size=20) | st.tuples(children, children)
            | st.dictionaries(st.text(max_size=10), children, max_size=20))


packable = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=False)
                        | st.text() | st.binary(), _packable_containers, max_leaves=20)
# generating values is what takes the time here: bounded, and no example database in the checkout
EXAMPLES = settings(max_examples=120, deadline=None, database=None)


@pytest.mark.parametrize("header", FRAME_HEADERS, ids=lambda h: type(h).__name__)
def test_every_frame_header_packs_to_the_bytes_msgpack_writes(header):
    fast = msgpack.Packer(use_bin_type=True).pack(header)
    assert stdlib_msgpack.Packer(use_bin_type=True).pack(header) == fast
    assert wire.frame_parts(header)[1] == fast


@pytest.mark.parametrize("header", FRAME_HEADERS, ids=lambda h: type(h).__name__)
def test_every_frame_header_reads_back_through_either_codec(header):
    packed_fast = msgpack.Packer(use_bin_type=True).pack(header)
    packed_stdlib = stdlib_msgpack.Packer().pack(header)
    for packed in (packed_fast, packed_stdlib):
        assert stdlib_msgpack.unpackb(packed, use_list=False) == tuple(header)
        assert msgpack.unpackb(packed, use_list=False) == tuple(header)
        assert stdlib_msgpack.unpackb(memoryview(packed), use_list=False) == tuple(header)   # as read_frame has it


@pytest.mark.parametrize("kind", ZYGOTE_MESSAGES)
def test_every_zygote_message_packs_to_the_bytes_msgpack_writes_and_reads_back(kind):
    args, as_list = ZYGOTE_MESSAGES[kind]
    built = BUILDERS[kind](*args)
    assert built == msgpack.packb(as_list) == stdlib_msgpack.packb(as_list)
    assert stdlib_msgpack.unpackb(built) == msgpack.unpackb(built) == as_list
    assert wire.read_message(stdlib_msgpack.packb(as_list)) == wire.read_message(built)


@pytest.mark.parametrize("value", BOUNDARY_VALUES, ids=lambda v: f"{type(v).__name__}-{repr(v)[:20]}")
def test_size_boundaries_encode_as_msgpack_does(value):
    packed = msgpack.packb(value)
    assert stdlib_msgpack.packb(value) == packed
    assert stdlib_msgpack.unpackb(packed) == msgpack.unpackb(packed)


@EXAMPLES
@given(packable)
def test_any_value_of_the_supported_types_has_the_same_bytes_both_ways(value):
    packed = msgpack.packb(value)
    assert stdlib_msgpack.packb(value) == packed
    for use_list in (True, False):
        assert stdlib_msgpack.unpackb(packed, use_list=use_list) == msgpack.unpackb(packed, use_list=use_list)


@pytest.mark.parametrize("value", [2**64, -2**63 - 1, object(), "\ud800"], ids=["big", "small", "object", "surrogate"])
def test_what_msgpack_refuses_to_pack_is_refused_alike(value):
    with pytest.raises(Exception) as fast:
        msgpack.packb(value)
    with pytest.raises(fast.type):
        stdlib_msgpack.packb(value)


@pytest.mark.parametrize("data", [b"\x92\x01", b"\x01\x02", b"\x81\x01\x02", b"\xc1", b"\xd9\x02a", b"\xa2\xff\xfe",
                                  b""],
                         ids=["short-array", "extra", "int-key", "never-used", "short-str", "bad-utf8", "empty"])
def test_what_msgpack_refuses_to_read_is_a_value_error_both_ways(data):
    with pytest.raises(ValueError):
        msgpack.unpackb(data)
    with pytest.raises(ValueError):
        stdlib_msgpack.unpackb(data)


# ---------------------------------------------------------------------------------- JSON without orjson

class Colour(enum.Enum):
    RED = "red"
    PAIR = (1, 2)


class Level(enum.IntEnum):
    HIGH = 3


class Text(str):
    pass


@dataclass
class Point:
    x: int


def _nested(depth: int):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


RESULTS = {   # what handlers return, and the edges of what orjson writes
    "api-response": {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                     "body": json.dumps({"message": "héllo ✓ 🎉", "n": [1, 2.5, None, True]})},
    "escapes": "\x00\x1f\x7f\u2028 é \"\\ \b\f\n\r\t/",
    "floats": [0.1, 100.0, 1e15, 1e16, 1.2345678901234568e17, 1e-4, 9.99e-5, 1e-5, 1.2964601243248413e-05,
               1e-6, 2.3464397869689006e-09, 1e-10, 5e-324, 1.7976931348623157e308, -0.0, -1e-7],
    "not-finite": [math.nan, math.inf, -math.inf],
    "ints": [2**63, 2**64 - 1, -2**63, 0, -1],
    "int-too-big": [2**64],
    "int-too-small": -2**63 - 1,
    "enums": {"c": Colour.RED, "p": Colour.PAIR, "l": Level.HIGH},
    "uuid": uuid.UUID(int=5),
    "tuple": (1, "a", (None,)),
    "str-subclass": Text("x"),
    "namedtuple": namedtuple("NT", "a b")(1, 2),
    "ordered-dict": OrderedDict(a=1),
    "int-keys": {1: "a"},
    "decimal": {"price": decimal.Decimal("1.50")},
    "datetime": datetime.datetime(2024, 1, 1),
    "dataclass": Point(1),
    "set": {1},
    "bytes-inside": [b"x"],
    "surrogate": "\ud800",
    "surrogate-key": {"\udc80": 1},
    "deepest-allowed": _nested(254),
    "too-deep": _nested(255),
    "none": None,
    "nothing": {},
}


def _outcome(dumps, value):
    try:
        return comparable(dumps(value, option=worker._ORJSON_OPTIONS))
    except TypeError:
        return TypeError


@pytest.mark.parametrize("name", RESULTS)
def test_a_result_has_the_bytes_orjson_gives_or_is_refused_as_orjson_refuses_it(name):
    value = RESULTS[name]
    if name == "too-deep" and _outcome(orjson.dumps, value) is not TypeError:
        # orjson's nesting limit moved across releases (the floor's 3.10 writes one level more):
        # the stdlib codec keeps the newest releases' limit
        assert _outcome(stdlib_json.dumps, value) is TypeError
        return
    assert _outcome(stdlib_json.dumps, value) == _outcome(orjson.dumps, value)


def _json_containers(children):
    return (st.lists(children, max_size=8) | st.tuples(children)
            | st.dictionaries(st.text(max_size=8), children, max_size=8))


json_values = st.recursive(st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats() | st.text()
                           | st.uuids(), _json_containers, max_leaves=20)


@EXAMPLES
@given(json_values)
def test_any_json_value_has_the_bytes_orjson_gives(value):
    assert _outcome(stdlib_json.dumps, value) == _outcome(orjson.dumps, value)


@settings(EXAMPLES, max_examples=400)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_is_spelled_as_orjson_spells_it(number):
    assert comparable(stdlib_json.dumps(number)) == comparable(orjson.dumps(number))


# orjson refuses it, stdlib_json reads it: after the worker's fallback to json the handler gets the same
LONE_SURROGATE = b'"\\ud800"'
EVENTS = [b'{"a": [1, 2.5, null, true, "\\u00e9\\ud83c\\udf89"]}', b"12345678901234567890123", b"18446744073709551615",
          b"-9223372036854775809", b"[NaN]", b"Infinity", b"1e400", LONE_SURROGATE, b"\xef\xbb\xbf{}", b"\xff",
          b'{"a": 1, "a": 2}', b"", b"[1,]", "{}".encode("utf-16"), b"1" + b"0" * 5000]


@pytest.mark.parametrize("event", EVENTS, ids=range(len(EVENTS)))
def test_a_handler_gets_the_event_orjson_would_give_it(event, monkeypatch):
    def handed(codec):
        monkeypatch.setattr(worker, "orjson", codec)   # the runtime as it imports on either interpreter
        try:
            return repr(worker.unmarshal(memoryview(event)))
        except worker.Fault as fault:
            return fault.error_type
    assert handed(stdlib_json) == handed(orjson)


@pytest.mark.parametrize("event", [e for e in EVENTS if e != LONE_SURROGATE], ids=range(len(EVENTS) - 1))
def test_an_event_reads_as_orjson_reads_it_or_fails_as_it_fails(event):
    def outcome(codec):   # the worker catches the codec's own JSONDecodeError
        try:
            value = codec.loads(event)
        except codec.JSONDecodeError:
            return "JSONDecodeError"
        return repr(value)
    assert outcome(stdlib_json) == outcome(orjson)
    assert issubclass(stdlib_json.JSONDecodeError, ValueError)


# ------------------------------------------------------------------ the runtime modules with neither package

_WITHOUT_PACKAGES = """
import json, sys
sys.modules["orjson"] = None       # an import of either now raises ImportError, as on a bare interpreter
sys.modules["msgpack"] = None
from gateway import wire
from gateway.runtime import worker, context
values = json.loads(sys.stdin.read())
print(json.dumps({
    "codecs": [wire.msgpack.__name__, worker.orjson.__name__, context.orjson.__name__],
    "frames": [b"".join(wire.frame_parts(wire.result_header("r", None, 1, 2, 3), b"{}")).hex(),
               wire.fork_message(1, {"env": {"A": "b"}}).hex()],
    "results": [worker.marshal(value).hex() for value in values],
}))
"""


def test_the_runtime_modules_import_and_answer_alike_without_msgpack_and_orjson():
    values = [{"statusCode": 200, "body": "é", "n": [1, 1e-5, 1e16, None]}, [1e-7, "\u2028"], "s", None, 1.5, []]
    out = subprocess.run([sys.executable, "-c", _WITHOUT_PACKAGES], input=json.dumps(values), capture_output=True,
                         text=True, env=checkout_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["codecs"] == ["gateway.runtime.stdlib_msgpack", "gateway.runtime.stdlib_json",
                              "gateway.runtime.stdlib_json"]
    assert seen["frames"] == [b"".join(wire.frame_parts(wire.result_header("r", None, 1, 2, 3), b"{}")).hex(),
                              wire.fork_message(1, {"env": {"A": "b"}}).hex()]
    assert [comparable(bytes.fromhex(result)) for result in seen["results"]] == \
        [comparable(worker.marshal(value)) for value in values]
