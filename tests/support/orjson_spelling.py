"""orjson's spelling of a float with a positive exponent changed between releases: 3.10 and 3.11.0
write 1e16, 3.11.9 and later 1e+16 (as Python's repr and json.dumps do, and gateway.runtime.stdlib_json
does). Both are the same JSON number; tests that compare bytes with the orjson installed compare
them through `comparable`, which is the identity on a current orjson."""
import re

import orjson

OLD_EXPONENT = orjson.dumps(1e16) == b"1e16"
_PLUS = re.compile(rb"(\d)e\+(\d)")


def comparable(data: bytes) -> bytes:
    """`data` with 1e+16 spelled as this orjson spells it (applied to both sides of a comparison)."""
    return _PLUS.sub(rb"\1e\2", data) if OLD_EXPONENT else data
