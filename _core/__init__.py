"""lambdagate's core: picks the native (Cython) build or its pure-Python twin once.

LAMBDAGATE_PUREPYTHON=1 forces the twin; LAMBDAGATE_REQUIRE_NATIVE=1 makes a
missing native build an ImportError instead of a silent fallback.
`IMPLEMENTATION` says which one runs: "native" or "python".
"""
import os as _os

if _os.environ.get("LAMBDAGATE_PUREPYTHON") == "1":
    from _core.fallback import *  # noqa: F401,F403
    from _core.fallback import IMPLEMENTATION
else:
    try:
        from _core._native import *  # noqa: F401,F403
        from _core._native import IMPLEMENTATION
    except ImportError:
        if _os.environ.get("LAMBDAGATE_REQUIRE_NATIVE") == "1":
            raise
        from _core.fallback import *  # noqa: F401,F403
        from _core.fallback import IMPLEMENTATION

__all__ = [
    "IMPLEMENTATION", "DeadlineHeap", "Pools", "Tally", "FrameScanner", "IdGenerator",
    "billed_ms", "format_ms", "COLD", "THROTTLED_RESERVED", "THROTTLED_ACCOUNT",
    "STATUS_SUCCESS", "STATUS_ERROR", "STATUS_TIMEOUT", "FRAME_HEAD_BYTES",
]
