"""gateway.wire: every message kind is built by name, packs to the same msgpack list as before
(kind first, fields in the documented order), and reads back, through the bytes, to what was built."""
import ast
import io
import pathlib

import msgpack
import pytest

import _core
from gateway import wire

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
TRACE = "Root=1-5e34a614-10bdxmplf1fb44f07bc535a1;Parent=1;Sampled=0"
RID = "5aa68349-f421-4500-8187-0f6c15fc45b4"

# (header built by name, the same header as the list the frame format has always carried, its class)
FRAME_HEADERS = {
    "invoke": (wire.invoke_header(request_id=RID, deadline_ms=1_900_000_000_123, invoked_arn=ARN,
                                  client_context='{"custom": {"a": 1}}', cognito='{"cognitoIdentityId": "x"}',
                                  trace_id=TRACE),
               [1, RID, 1_900_000_000_123, ARN, '{"custom": {"a": 1}}', '{"cognitoIdentityId": "x"}', TRACE],
               wire.InvokeHeader),
    "invoke-minimal": (wire.invoke_header(RID, 1_900_000_000_000, ARN),
                       [1, RID, 1_900_000_000_000, ARN, None, None, None], wire.InvokeHeader),
    "ready": (wire.ready_header(pid=4242), [10, 4242, None, 0], wire.ReadyHeader),
    "ready-init-error": (wire.ready_header(pid=4242, init_error_type="Runtime.ImportModuleError", max_rss_kb=31000),
                         [10, 4242, "Runtime.ImportModuleError", 31000], wire.ReadyHeader),
    "result": (wire.result_header(request_id=RID, error_type=None, duration_ns=123_456, max_rss_kb=40_000,
                                  log_bytes=17),
               [11, RID, None, 123_456, 40_000, 17], wire.ResultHeader),
    "result-error": (wire.result_header(RID, "Function.ResponseSizeTooLarge", 9, 8, 0),
                     [11, RID, "Function.ResponseSizeTooLarge", 9, 8, 0], wire.ResultHeader),
    "out-of-memory": (wire.out_of_memory_header(rss_kb=140_000), [12, 140_000], wire.OutOfMemoryHeader),
}
PAYLOADS = [b"", b'{"hello": "world"}', b"\x00\xff" * 5000]


@pytest.mark.parametrize("name", FRAME_HEADERS)
def test_a_frame_header_packs_as_the_list_it_always_was(name):
    header, legacy, cls = FRAME_HEADERS[name]
    assert type(header) is cls
    assert header.kind == legacy[0]
    _, head, _ = wire.frame_parts(header)
    assert head == msgpack.packb(legacy)


@pytest.mark.parametrize("payload", PAYLOADS, ids=["empty", "json", "binary"])
@pytest.mark.parametrize("name", FRAME_HEADERS)
def test_a_frame_reads_back_as_built_in_the_worker(name, payload):
    header, _, cls = FRAME_HEADERS[name]
    frame = b"".join(wire.frame_parts(header, payload))
    reader = io.BufferedReader(io.BytesIO(frame + frame))
    for _ in range(2):
        got, got_payload = wire.read_frame(reader)
        assert type(got) is cls and got == header
        assert bytes(got_payload) == payload
    with pytest.raises(EOFError):
        wire.read_frame(reader)


@pytest.mark.parametrize("name", FRAME_HEADERS)
def test_a_frame_reads_back_as_built_in_the_gateway(name):
    # the gateway's path: _core's scanner splits the stream, read_header decodes the header
    header, _, cls = FRAME_HEADERS[name]
    frame = b"".join(wire.frame_parts(header, b"payload"))
    scanner = _core.FrameScanner()
    frames = scanner.feed(frame[:5]) + scanner.feed(frame[5:])
    [(head, payload)] = frames
    got = wire.read_header(head)
    assert type(got) is cls and got == header and bytes(payload) == b"payload"


def test_header_fields_are_read_by_name():
    invoke = wire.read_header(msgpack.packb([1, RID, 77, ARN, "cc", "cog", TRACE]))
    assert (invoke.request_id, invoke.deadline_ms, invoke.invoked_arn, invoke.client_context, invoke.cognito,
            invoke.trace_id) == (RID, 77, ARN, "cc", "cog", TRACE)
    result = wire.read_header(msgpack.packb([11, RID, "Oops", 5, 6, 7]))
    assert (result.request_id, result.error_type, result.duration_ns, result.max_rss_kb, result.log_bytes) == \
        (RID, "Oops", 5, 6, 7)
    ready = wire.read_header(msgpack.packb([10, 99, "Runtime.Unknown", 3]))
    assert (ready.pid, ready.init_error_type, ready.max_rss_kb) == (99, "Runtime.Unknown", 3)
    assert wire.read_header(msgpack.packb([12, 5])).rss_kb == 5


@pytest.mark.parametrize("bad", [
    [], [99, 1], 5, "text", {"kind": 11}, [[11], 1],
    [11, RID, None, 1, 2],            # a field missing
    [11, RID, None, 1, 2, 3, 4],      # one too many
    [10, 4242],                       # the zygote's READY is not a worker's
])
def test_read_header_rejects_what_is_not_a_frame_header(bad):
    with pytest.raises(ValueError):
        wire.read_header(msgpack.packb(bad))


def test_read_header_rejects_bytes_that_are_not_msgpack():
    with pytest.raises(ValueError):
        wire.read_header(b"\xc1")          # a byte msgpack never uses
    with pytest.raises(ValueError):
        wire.read_header(b"\x93\x0b")      # a list of 3 cut short


def test_read_frame_at_a_truncated_frame():
    frame = b"".join(wire.frame_parts(wire.ready_header(1), b"payload"))
    with pytest.raises(EOFError):
        wire.read_frame(io.BufferedReader(io.BytesIO(frame[:-1])))
    with pytest.raises(EOFError):
        wire.read_frame(io.BufferedReader(io.BytesIO(b"")))


# ------------------------------------------------------------------------------ zygote messages

SPEC = {"env": {"A": "1"}, "code_dir": "/code", "handler": "app.handler", "sys_path": ["/x", "/y"],
        "memory_limit_kb": 0, "argv": ["/bin/true"]}
# (message bytes built by name, the list the control socket has always carried, what reading gives)
ZYGOTE_MESSAGES = {
    "fork": (wire.fork_message(seq=7, spec=SPEC), [20, 7, SPEC], wire.ForkMessage(wire.FORK, 7, SPEC)),
    "zygote-ready": (wire.zygote_ready_message(pid=100, isolation="process", isolation_note="not root"),
                     [10, 100, "process", "not root"], wire.ZygoteReadyMessage(wire.READY, 100, "process", "not root")),
    "forked": (wire.forked_message(seq=7, pid=4242), [21, 7, 4242], wire.ForkedMessage(wire.FORKED, 7, 4242, None)),
    "fork-failed": (wire.fork_failed_message(seq=8, error="expected 3 file descriptors"),
                    [21, 8, -1, "expected 3 file descriptors"],
                    wire.ForkedMessage(wire.FORKED, 8, -1, "expected 3 file descriptors")),
    "exited": (wire.exited_message(pid=4242, wait_status=9, max_rss_kb=50_000), [22, 4242, 9, 50_000],
               wire.ExitedMessage(wire.EXITED, 4242, 9, 50_000)),
}


@pytest.mark.parametrize("name", ZYGOTE_MESSAGES)
def test_a_zygote_message_packs_as_the_list_it_always_was(name):
    data, legacy, _ = ZYGOTE_MESSAGES[name]
    assert data == msgpack.packb(legacy)


@pytest.mark.parametrize("name", ZYGOTE_MESSAGES)
def test_a_zygote_message_reads_back_as_built(name):
    data, _, expected = ZYGOTE_MESSAGES[name]
    got = wire.read_message(data)
    assert type(got) is type(expected) and got == expected
    assert got.kind == expected.kind


def test_zygote_message_fields_are_read_by_name():
    fork = wire.read_message(wire.fork_message(3, SPEC))
    assert (fork.seq, fork.spec) == (3, SPEC)
    forked = wire.read_message(wire.forked_message(3, 55))
    assert (forked.seq, forked.pid, forked.error) == (3, 55, None)
    failed = wire.read_message(wire.fork_failed_message(4, "no memory"))
    assert (failed.seq, failed.pid, failed.error) == (4, -1, "no memory")
    exited = wire.read_message(wire.exited_message(55, 256, 1234))
    assert (exited.pid, exited.wait_status, exited.max_rss_kb) == (55, 256, 1234)
    assert wire.read_message(wire.zygote_ready_message(9)).pid == 9


@pytest.mark.parametrize("bad", [[], [99], 5, {"kind": 21}, [21, 7], [21, 7, 1, "x", "extra"],
                                 [10, 4242, None, 0]])   # a worker's READY is not the zygote's
def test_read_message_rejects_what_is_not_a_zygote_message(bad):
    with pytest.raises(ValueError):
        wire.read_message(msgpack.packb(bad))


# ------------------------------------------------------------------------------ one codec

def _imported_modules(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_only_wire_encodes_and_decodes_messages():
    """Headers and messages are built and read in gateway/wire.py alone: no other module of
    lambdagate imports msgpack, so none can pack a list or read one by position."""
    users = sorted(str(path.relative_to(ROOT)) for top in ("gateway", "_core") for path in (ROOT / top).rglob("*.py")
                   if any(name.split(".")[0] == "msgpack" for name in _imported_modules(path)))
    assert users == ["gateway/wire.py"]
