"""The frame codec between the gateway and its workers and zygotes.

A frame is: u32 total length (big-endian, counting what follows), u32 header
length, a msgpack header, then the payload bytes untouched. Payloads (events,
results) are JSON the gateway never re-encodes, so they travel beside the header
instead of inside it. The gateway splits the stream with `_core.FrameScanner`;
the worker, which must start fast, reads frames with `read_frame` below.

This module is imported by the worker runtime: standard library and msgpack only.
"""
from __future__ import annotations

import struct

import msgpack

FRAME_HEAD = struct.Struct(">II")

# gateway -> worker
INVOKE = 1          # [INVOKE, request_id, deadline_epoch_ms, invoked_arn, client_context, cognito, trace_id]
# worker -> gateway
READY = 10          # [READY, pid, init_error_type or None, max_rss_kb]; payload: the init error object, if any
RESULT = 11         # [RESULT, request_id, error_type or None, duration_ns, max_rss_kb, log_bytes]; payload: result
OUT_OF_MEMORY = 12  # [OUT_OF_MEMORY, rss_kb]: the worker is about to kill itself
# gateway -> zygote (SOCK_SEQPACKET, one msgpack message each, fds attached)
FORK = 20           # [FORK, seq, spec]; fds: worker's invocation and result pipe ends, log memfd
# zygote -> gateway
# READY, as above: [READY, zygote pid] once its imports are done
FORKED = 21         # [FORKED, seq, pid] or [FORKED, seq, -1, error text]
EXITED = 22         # [EXITED, pid, wait_status, max_rss_kb]

_pack = msgpack.Packer(use_bin_type=True).pack
unpack_header = msgpack.unpackb


def frame_parts(header: list, payload: bytes = b"") -> tuple:
    """The pieces of one frame, for a vectored write (no copy of the payload)."""
    head = _pack(header)
    return FRAME_HEAD.pack(len(head) + len(payload) + 4, len(head)), head, payload


def encode_frame(header_bytes: bytes, payload: bytes = b"") -> bytes:
    """A whole frame from an already-packed header (tests and small messages)."""
    return FRAME_HEAD.pack(len(header_bytes) + len(payload) + 4, len(header_bytes)) + header_bytes + payload


def pack(obj) -> bytes:
    return _pack(obj)


def read_exact(reader, n: int) -> bytes:
    data = reader.read(n)
    if data is None or len(data) != n:
        raise EOFError("peer closed the connection")
    return data


def read_frame(reader) -> tuple:
    """(header list, payload) from a buffered binary reader; EOFError at the end.

    The payload is a memoryview: orjson reads it without a copy."""
    total, head_len = FRAME_HEAD.unpack(read_exact(reader, 8))
    body = memoryview(read_exact(reader, total - 4))
    return unpack_header(body[:head_len]), body[head_len:]
