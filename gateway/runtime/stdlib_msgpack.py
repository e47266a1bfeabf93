"""The part of msgpack that lambdagate's wire messages use, in the standard library alone.

`gateway.wire` falls back to it where the msgpack package is not installed: in a zygote of a
function's Python version other than lambdagate's own, a bare interpreter. It writes the bytes
msgpack-python writes (`Packer(use_bin_type=True)`, `packb`: the smallest encoding of each value,
str as str and bytes as bin), and reads what it reads (`unpackb` with raw=False and
strict_map_key=True), so that either side may use either codec. Values: None, bool, int
(64-bit), float (as float64), str, bytes, lists and tuples (NamedTuples too), dicts.
"""
import struct

# a type byte and the number that follows it
_B_B, _B_H, _B_I, _B_Q = (struct.Struct(f">B{size}").pack for size in "BHIQ")
_B_b, _B_h, _B_i, _B_q = (struct.Struct(f">B{size}").pack for size in "bhiq")
_B_d = struct.Struct(">Bd").pack


def _sized(out: list, size: int, fix_base: int, fix_limit: int, code8, code16: int, code32: int, what: str) -> None:
    """The header of a str, bin, array or map of `size` items (code8 None: no 8-bit form)."""
    if size < fix_limit:
        out.append(bytes((fix_base | size,)))
    elif code8 is not None and size < 0x100:
        out.append(_B_B(code8, size))
    elif size < 0x10000:
        out.append(_B_H(code16, size))
    elif size < 0x100000000:
        out.append(_B_I(code32, size))
    else:
        raise ValueError(f"{what} is too large")


def _pack_int(out: list, value: int) -> None:
    if value >= 0:
        if value < 0x80:
            out.append(bytes((value,)))
        elif value < 0x100:
            out.append(_B_B(0xCC, value))
        elif value < 0x10000:
            out.append(_B_H(0xCD, value))
        elif value < 0x100000000:
            out.append(_B_I(0xCE, value))
        elif value < 0x10000000000000000:
            out.append(_B_Q(0xCF, value))
        else:
            raise OverflowError("Integer value out of range")
    elif value >= -0x20:
        out.append(bytes((value & 0xFF,)))
    elif value >= -0x80:
        out.append(_B_b(0xD0, value))
    elif value >= -0x8000:
        out.append(_B_h(0xD1, value))
    elif value >= -0x80000000:
        out.append(_B_i(0xD2, value))
    elif value >= -0x8000000000000000:
        out.append(_B_q(0xD3, value))
    else:
        raise OverflowError("Integer value out of range")


def _pack(out: list, value, depth: int) -> None:
    if depth > 512:   # msgpack's own limit: a list that holds itself ends here, not in a RecursionError
        raise ValueError("recursion limit exceeded")
    if value is None:
        out.append(b"\xc0")
    elif value is True:
        out.append(b"\xc3")
    elif value is False:
        out.append(b"\xc2")
    elif isinstance(value, int):
        _pack_int(out, value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        _sized(out, len(data), 0xA0, 32, 0xD9, 0xDA, 0xDB, "str")
        out.append(data)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        _sized(out, len(data), 0xC4, 0, 0xC4, 0xC5, 0xC6, "bytes")
        out.append(data)
    elif isinstance(value, float):
        out.append(_B_d(0xCB, value))
    elif isinstance(value, (list, tuple)):
        _sized(out, len(value), 0x90, 16, None, 0xDC, 0xDD, "list")
        for item in value:
            _pack(out, item, depth + 1)
    elif isinstance(value, dict):
        _sized(out, len(value), 0x80, 16, None, 0xDE, 0xDF, "dict")
        for key, item in value.items():
            _pack(out, key, depth + 1)
            _pack(out, item, depth + 1)
    else:
        raise TypeError(f"can not serialize {type(value).__name__!r} object")


def packb(value, use_bin_type: bool = True) -> bytes:
    if not use_bin_type:
        raise ValueError("only use_bin_type=True is supported")
    out: list = []
    _pack(out, value, 0)
    return b"".join(out)


class Packer:
    """msgpack.Packer(use_bin_type=True): its `pack` only."""

    def __init__(self, use_bin_type: bool = True):
        if not use_bin_type:
            raise ValueError("only use_bin_type=True is supported")

    def pack(self, value) -> bytes:
        return packb(value)


class ExtraData(ValueError):
    """The bytes hold more than one value."""


_U8, _U16, _U32, _U64 = struct.Struct(">B"), struct.Struct(">H"), struct.Struct(">I"), struct.Struct(">Q")
_I8, _I16, _I32, _I64 = struct.Struct(">b"), struct.Struct(">h"), struct.Struct(">i"), struct.Struct(">q")
_F32, _F64 = struct.Struct(">f"), struct.Struct(">d")
# first byte -> (struct of the number or length that follows, what it is): the non-fix forms
_FORMS = {0xCC: (_U8, "number"), 0xCD: (_U16, "number"), 0xCE: (_U32, "number"), 0xCF: (_U64, "number"),
          0xD0: (_I8, "number"), 0xD1: (_I16, "number"), 0xD2: (_I32, "number"), 0xD3: (_I64, "number"),
          0xCA: (_F32, "number"), 0xCB: (_F64, "number"),
          0xD9: (_U8, "str"), 0xDA: (_U16, "str"), 0xDB: (_U32, "str"),
          0xC4: (_U8, "bin"), 0xC5: (_U16, "bin"), 0xC6: (_U32, "bin"),
          0xDC: (_U16, "array"), 0xDD: (_U32, "array"), 0xDE: (_U16, "map"), 0xDF: (_U32, "map")}


class _Reader:
    __slots__ = ("data", "pos", "use_list")

    def __init__(self, data, use_list: bool):
        self.data = data
        self.pos = 0
        self.use_list = use_list

    def take(self, size: int):
        start = self.pos
        end = start + size
        if end > len(self.data):
            raise ValueError("Unpack failed: incomplete input")
        self.pos = end
        return self.data[start:end]

    def number(self, form: struct.Struct):
        start = self.pos
        if start + form.size > len(self.data):
            raise ValueError("Unpack failed: incomplete input")
        self.pos = start + form.size
        return form.unpack_from(self.data, start)[0]

    def value(self, depth: int = 0):
        if depth > 512:
            raise ValueError("Unpack failed: nested too deep")
        code = self.number(_U8)
        if code < 0x80:
            return code
        if code >= 0xE0:
            return code - 0x100
        if code < 0x90:
            return self.items_of_map(code & 0x0F, depth)
        if code < 0xA0:
            return self.items_of_array(code & 0x0F, depth)
        if code < 0xC0:
            return self.text(code & 0x1F)
        if code == 0xC0:
            return None
        if code == 0xC2:
            return False
        if code == 0xC3:
            return True
        form = _FORMS.get(code)
        if form is None:
            raise ValueError(f"Unpack failed: unsupported type 0x{code:02x}")
        number = self.number(form[0])
        kind = form[1]
        if kind == "number":
            return number
        if kind == "str":
            return self.text(number)
        if kind == "bin":
            return bytes(self.take(number))
        if kind == "array":
            return self.items_of_array(number, depth)
        return self.items_of_map(number, depth)

    def text(self, size: int) -> str:
        return str(self.take(size), "utf-8")

    def items_of_array(self, size: int, depth: int):
        items = [self.value(depth + 1) for _ in range(size)]
        return items if self.use_list else tuple(items)

    def items_of_map(self, size: int, depth: int) -> dict:
        result = {}
        for _ in range(size):
            key = self.value(depth + 1)
            if key.__class__ is not str and key.__class__ is not bytes:
                raise ValueError(f"{type(key).__name__} is not allowed for map key when strict_map_key=True")
            result[key] = self.value(depth + 1)
        return result


def unpackb(data, use_list: bool = True, raw: bool = False):
    """One value from `data` (bytes or a memoryview); ValueError if it is not exactly one."""
    if raw:
        raise ValueError("only raw=False is supported")
    reader = _Reader(data, use_list)
    value = reader.value()
    if reader.pos != len(data):
        raise ExtraData("Unpack failed: extra data")
    return value
