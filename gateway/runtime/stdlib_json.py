"""orjson's `dumps` and `loads`, as the worker runtime calls them, in the standard library alone.

The worker imports this in place of orjson on an interpreter that lacks it (a zygote of a function's
Python version other than lambdagate's own), so that a function answers the same bytes whichever
interpreter runs it: compact JSON in UTF-8; the types orjson writes (exact str, int within 64 bits,
float, bool, None, list, tuple, dict with str keys, enum members, UUIDs) written as orjson writes them,
NaN and infinities as null and floats in orjson's spelling (its current one: 1e+16, where 3.10 and
3.11.0 wrote 1e16, the same number); TypeError for everything else (subclasses,
Decimal, datetime, ...: the worker then falls back to json.dumps, as it does after orjson). Reading
follows orjson too: UTF-8 only, no NaN or Infinity, integers past 64 bits read as floats.
"""
from __future__ import annotations

import json
import math
import uuid
from enum import Enum

# the worker passes these; the types they pass through are refused here whatever the options
OPT_PASSTHROUGH_DATETIME = 1 << 9
OPT_PASSTHROUGH_DATACLASS = 1 << 11
OPT_PASSTHROUGH_SUBCLASS = 1 << 8

JSONDecodeError = json.JSONDecodeError
_MAX_DEPTH = 254    # orjson's recursion limit: containers nested deeper are refused
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1
_encode_plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_encode_string = json.encoder.encode_basestring   # with ensure_ascii=False: the C one where there is one


class _Needs:
    """What `_scan` found: True once a value needs `_write` (the C encoder would spell it otherwise)."""
    __slots__ = ("writer",)

    def __init__(self):
        self.writer = False


def _scan(value, depth: int, needs: _Needs) -> None:
    """Refuse (TypeError) what orjson refuses; note what the json module would write differently."""
    cls = value.__class__
    if cls is str or cls is bool or value is None:
        return
    if cls is int:
        if not _INT_MIN <= value <= _INT_MAX:
            raise TypeError("Integer exceeds 64-bit range")
        return
    if cls is float:
        if not math.isfinite(value) or (value and -1e-4 < value < 1e-4):
            needs.writer = True
        return
    if cls is dict or cls is list or cls is tuple:
        if depth >= _MAX_DEPTH:
            raise TypeError("Recursion limit reached")
        if cls is dict:
            for key, item in value.items():
                if key.__class__ is not str:
                    raise TypeError("Dict key must be str")
                _scan(item, depth + 1, needs)
        else:
            for item in value:
                _scan(item, depth + 1, needs)
        return
    if isinstance(value, Enum):
        needs.writer = True
        _scan(value.value, depth, needs)
        return
    if cls is uuid.UUID:
        needs.writer = True
        return
    raise TypeError(f"Type is not JSON serializable: {_type_name(cls)}")


def _type_name(cls) -> str:
    return cls.__name__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"


def _float(value: float) -> str:
    """A float as orjson spells it: null when not finite; like repr otherwise, except 1e-05 to
    9.99e-05 written out (0.00001) and no leading zero in a negative exponent (1e-7)."""
    if not math.isfinite(value):
        return "null"
    text = repr(value)
    mantissa, marker, exponent = text.partition("e-0")
    if not marker:
        return text
    if exponent == "5":
        sign = "-" if mantissa[0] == "-" else ""
        return f"{sign}0.0000{mantissa.lstrip('-').replace('.', '')}"
    return f"{mantissa}e-{exponent}"


def _write(value, out: list) -> None:
    """The JSON of a value `_scan` accepted, part by part."""
    cls = value.__class__
    if cls is str:
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif cls is bool:
        out.append("true" if value else "false")
    elif cls is int:
        out.append(int.__repr__(value))
    elif cls is float:
        out.append(_float(value))
    elif cls is dict:
        out.append("{")
        first = True
        for key, item in value.items():
            out.append(_encode_string(key) + ":" if first else "," + _encode_string(key) + ":")
            first = False
            _write(item, out)
        out.append("}")
    elif cls is list or cls is tuple:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, Enum):
        _write(value.value, out)
    else:   # a UUID
        out.append(f'"{value}"')


def dumps(value, option: int = 0) -> bytes:
    needs = _Needs()
    _scan(value, 0, needs)
    if needs.writer:
        out: list = []
        _write(value, out)
        text = "".join(out)
    else:
        text = _encode_plain(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError("str is not valid UTF-8: surrogates not allowed") from None


def _int(text: str):
    try:
        number = int(text)
        return number if _INT_MIN <= number <= _INT_MAX else float(number)
    except (ValueError, OverflowError):   # past the digits int() reads, or past a float's range
        raise JSONDecodeError("number out of range", text, 0) from None


def _no_constant(name: str):
    raise JSONDecodeError(f"{name} is not JSON", name, 0)


def _float_or_refuse(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise JSONDecodeError("number is infinity when parsed as double", text, 0)
    return number


_decoder = json.JSONDecoder(parse_int=_int, parse_float=_float_or_refuse, parse_constant=_no_constant)


def loads(data):
    if data.__class__ is not str:
        try:
            data = str(data, "utf-8")
        except UnicodeDecodeError as exc:
            raise JSONDecodeError(f"str is not valid UTF-8: {exc.reason}", "", exc.start) from None
    if data.startswith("\ufeff"):
        raise JSONDecodeError("Unexpected UTF-8 BOM", data, 0)
    try:
        return _decoder.decode(data)
    except RecursionError:      # orjson refuses such nesting as a decode error, not a crash
        raise JSONDecodeError("recursion limit exceeded", data, 0) from None
