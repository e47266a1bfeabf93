"""Corruption checks for the event store, made before SQLite touches the files.

SQLite treats a write-ahead log whose header is not valid as no log at all and overwrites it,
and a zero-length database as a new one: either way the accepted events in it vanish without a
word. So the store looks first: a WAL header that is not SQLite's, a database that is not one,
a failed `PRAGMA quick_check`, or a database that exists but lacks the events table. A corrupt
store is moved aside (never deleted: its events may still be recovered by hand), and lambdagate
refuses to start unless told to begin with an empty store (`--discard-corrupt-store`).
"""
from __future__ import annotations

import os
import struct
import time
from typing import Optional

from gateway.errors import LambdagateError

_WAL_MAGIC_LE, _WAL_MAGIC_BE = 0x377F0682, 0x377F0683   # checksums in little- / big-endian words
_WAL_VERSION = 3007000
_WAL_HEADER_BYTES = 32
SIDE_FILES = ("-wal", "-shm", "-journal")


class CorruptStore(LambdagateError):
    """The event store's files are damaged; they were moved to `moved_to`."""

    def __init__(self, message: str, moved_to: str):
        super().__init__(message)
        self.moved_to = moved_to


def _checksum(data: bytes, big_endian: bool) -> tuple:
    """SQLite's WAL checksum over `data` (a multiple of 8 bytes)."""
    words = struct.unpack((">" if big_endian else "<") + "%dI" % (len(data) // 4), data)
    s0 = s1 = 0
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_problem(wal_path: str) -> Optional[str]:
    """Why the write-ahead log at `wal_path` is not SQLite's, or None (also when there is none)."""
    try:
        with open(wal_path, "rb") as f:
            header = f.read(_WAL_HEADER_BYTES)
    except FileNotFoundError:
        return None
    if not header:
        return None         # an empty log: checkpointed and reset, nothing in it
    if len(header) < _WAL_HEADER_BYTES:
        return f"its write-ahead log is {len(header)} bytes, shorter than a WAL header"
    magic, version, page_size = struct.unpack(">III", header[:12])
    if magic not in (_WAL_MAGIC_LE, _WAL_MAGIC_BE):
        return "its write-ahead log does not start with SQLite's WAL magic number"
    if version != _WAL_VERSION or page_size < 512 or page_size & (page_size - 1):
        return "its write-ahead log header is not valid"
    if _checksum(header[:24], magic == _WAL_MAGIC_BE) != struct.unpack(">II", header[24:32]):
        return "its write-ahead log header fails its checksum"
    return None


def move_aside(db_path: str) -> str:
    """Rename the database and its side files to `<name>.corrupt-<UTC time>[-wal ...]`; the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = f"{db_path}.corrupt-{stamp}"
    n = 1
    while os.path.exists(target):
        n += 1
        target = f"{db_path}.corrupt-{stamp}-{n}"
    for suffix in ("",) + SIDE_FILES:
        if os.path.exists(db_path + suffix):
            os.replace(db_path + suffix, target + suffix)
    return target
