"""The messages between the gateway and its workers and zygotes: what each one holds, and its codec.

Worker frames. A frame is: u32 total length (big-endian, counting what follows),
u32 header length, a msgpack header, then the payload bytes untouched. Payloads
(events, results) are JSON the gateway never re-encodes, so they travel beside
the header instead of inside it. The gateway splits the stream with
`_core.FrameScanner` and reads each header with `read_header`; the worker, which
must start fast, reads whole frames with `read_frame`.

Zygote messages travel on a SOCK_SEQPACKET socket, one msgpack message per
packet, with file descriptors attached to FORK.

Every message is a msgpack list whose first item is its kind. Each kind has a
`typing.NamedTuple` (what reading it gives, fields by name) and a builder
function; nothing outside this module knows the order of the fields. A
NamedTuple packs as the same msgpack list as a plain list, so the bytes do not
depend on which side built them. Frame header builders return the NamedTuple
(it goes into a frame beside its payload, or, for a Runtime API worker, never
leaves the gateway); zygote message builders return the packed bytes (each is
sent alone).

This module is imported by the worker runtime: standard library and msgpack only. On an
interpreter without msgpack (a zygote of another Python version than lambdagate's) the same bytes
come from gateway.runtime.stdlib_msgpack.
"""
# no `from __future__ import annotations`: NamedTuple would compile every field's annotation
# string into a ForwardRef, milliseconds of import time for the zygote
import struct
from typing import TYPE_CHECKING, NamedTuple, Optional

try:
    import msgpack
except ImportError:   # a bare interpreter: the same bytes, in pure Python
    from gateway.runtime import stdlib_msgpack as msgpack

FRAME_HEAD = struct.Struct(">II")

# kinds: the first item of every header or message
INVOKE = 1          # gateway -> worker
READY = 10          # worker -> gateway, and zygote -> gateway (two shapes: ReadyHeader, ZygoteReadyMessage)
RESULT = 11         # worker -> gateway
OUT_OF_MEMORY = 12  # worker -> gateway
FORK = 20           # gateway -> zygote
FORKED = 21         # zygote -> gateway
EXITED = 22         # zygote -> gateway


# ---------------------------------------------------------------------- worker frame headers

class InvokeHeader(NamedTuple):
    """gateway -> worker: run one invocation; the payload is the event."""
    kind: int                       # INVOKE
    request_id: str
    deadline_ms: int                # epoch milliseconds
    invoked_arn: str
    client_context: Optional[str]   # JSON text as the caller sent it
    cognito: Optional[str]          # JSON text of the Cognito identity
    trace_id: Optional[str]         # the _X_AMZN_TRACE_ID value


class ReadyHeader(NamedTuple):
    """worker -> gateway: the Init phase is over; the payload is the init error object, if any."""
    kind: int                       # READY
    pid: int
    init_error_type: Optional[str]  # None when Init succeeded
    max_rss_kb: int                 # peak resident set (reported with an init error, else 0)


class ResultHeader(NamedTuple):
    """worker -> gateway: an invocation ended; the payload is its result or error object."""
    kind: int                       # RESULT
    request_id: str
    error_type: Optional[str]       # None on success
    duration_ns: int
    max_rss_kb: int                 # the worker's peak resident set so far
    log_bytes: int                  # size of the log file: 0 means nothing to collect


class OutOfMemoryHeader(NamedTuple):
    """worker -> gateway: the worker passed its memory limit and is about to kill itself."""
    kind: int                       # OUT_OF_MEMORY
    rss_kb: int


if TYPE_CHECKING:   # for annotations only: a Union costs import time
    from typing import Union
    FrameHeader = Union[InvokeHeader, ReadyHeader, ResultHeader, OutOfMemoryHeader]

# tuple.__new__ builds a NamedTuple without the Python-level __new__ it generates: these run per frame
_new = tuple.__new__


def invoke_header(request_id: str, deadline_ms: int, invoked_arn: str, client_context: Optional[str] = None,
                  cognito: Optional[str] = None, trace_id: Optional[str] = None) -> InvokeHeader:
    return _new(InvokeHeader, (INVOKE, request_id, deadline_ms, invoked_arn, client_context, cognito, trace_id))


def ready_header(pid: int, init_error_type: Optional[str] = None, max_rss_kb: int = 0) -> ReadyHeader:
    return _new(ReadyHeader, (READY, pid, init_error_type, max_rss_kb))


def result_header(request_id: str, error_type: Optional[str], duration_ns: int, max_rss_kb: int,
                  log_bytes: int) -> ResultHeader:
    return _new(ResultHeader, (RESULT, request_id, error_type, duration_ns, max_rss_kb, log_bytes))


def out_of_memory_header(rss_kb: int) -> OutOfMemoryHeader:
    return _new(OutOfMemoryHeader, (OUT_OF_MEMORY, rss_kb))


_FRAME_HEADERS = {INVOKE: (InvokeHeader, len(InvokeHeader._fields)),
                  READY: (ReadyHeader, len(ReadyHeader._fields)),
                  RESULT: (ResultHeader, len(ResultHeader._fields)),
                  OUT_OF_MEMORY: (OutOfMemoryHeader, len(OutOfMemoryHeader._fields))}
_pack = msgpack.Packer(use_bin_type=True).pack
_unpack = msgpack.unpackb
_unpack_frame_head = FRAME_HEAD.unpack


def read_header(head) -> "FrameHeader":
    """The header of a frame, from its msgpack bytes; ValueError if it is not one of ours."""
    header = _unpack(head, use_list=False)   # a tuple: quicker than a list to make the NamedTuple from
    try:
        cls, size = _FRAME_HEADERS[header[0]]
    except (KeyError, IndexError, TypeError):   # an unknown kind, an empty header, not an array at all
        size = -1
    if header.__class__ is not tuple or len(header) != size:
        raise ValueError(f"not a frame header: {header!r:.80}")
    return _new(cls, header)


def frame_parts(header: "FrameHeader", payload: bytes = b"") -> tuple:
    """The pieces of one frame, for a vectored write (no copy of the payload)."""
    head = _pack(header)
    return FRAME_HEAD.pack(len(head) + len(payload) + 4, len(head)), head, payload


def encode_frame(header_bytes: bytes, payload: bytes = b"") -> bytes:
    """A whole frame from an already-packed header (tests and small messages)."""
    return FRAME_HEAD.pack(len(header_bytes) + len(payload) + 4, len(header_bytes)) + header_bytes + payload


def read_frame(reader) -> tuple:
    """(header, payload) from a buffered binary reader; EOFError at the end.

    The payload is a memoryview: orjson reads it without a copy."""
    head = reader.read(8)
    if head is None or len(head) != 8:
        raise EOFError("peer closed the connection")
    total, head_len = _unpack_frame_head(head)
    size = total - 4
    body = reader.read(size)
    if body is None or len(body) != size:
        raise EOFError("peer closed the connection")
    body = memoryview(body)
    return read_header(body[:head_len]), body[head_len:]


# ---------------------------------------------------------------------- zygote messages

class ForkMessage(NamedTuple):
    """gateway -> zygote: start a worker. Attached fds: a Python worker's invocation pipe's read
    end, result pipe's write end and log memfd; an executable runtime's log memfd only."""
    kind: int                       # FORK
    seq: int                        # echoed in the FORKED answer
    spec: dict                      # environment.python_worker_spec or exec_worker_spec


# How far each execution environment is isolated (gateway/runtime/sandbox.py says what each means).
# The gateway asks for one when it starts the zygote; the zygote answers with what this machine allows.
ISOLATION_AUTO = "auto"             # the strongest available
ISOLATION_NAMESPACES = "namespaces"
ISOLATION_PROCESS = "process"
ISOLATION_NONE = "none"
ISOLATION_CHOICES = (ISOLATION_AUTO, ISOLATION_NAMESPACES, ISOLATION_PROCESS, ISOLATION_NONE)


class ZygoteReadyMessage(NamedTuple):
    """zygote -> gateway: its imports are done; it takes FORK requests."""
    kind: int                       # READY
    pid: int                        # the zygote's
    isolation: str = ISOLATION_NONE  # the level its forks get (never "auto")
    isolation_note: str = ""        # why not a stronger one, when "auto" could not have it


class ForkedMessage(NamedTuple):
    """zygote -> gateway: the answer to FORK `seq`, the worker's pid, or -1 and why not."""
    kind: int                       # FORKED
    seq: int
    pid: int
    error: Optional[str] = None     # absent from the message when the fork worked


class ExitedMessage(NamedTuple):
    """zygote -> gateway: a worker it forked has ended."""
    kind: int                       # EXITED
    pid: int
    wait_status: int
    max_rss_kb: int                 # the worker's peak resident set


if TYPE_CHECKING:
    ZygoteMessage = Union[ForkMessage, ZygoteReadyMessage, ForkedMessage, ExitedMessage]
_ZYGOTE_MESSAGES = {FORK: ForkMessage, READY: ZygoteReadyMessage, FORKED: ForkedMessage, EXITED: ExitedMessage}
_pack_message = msgpack.packb


def fork_message(seq: int, spec: dict) -> bytes:
    return _pack_message([FORK, seq, spec])


def zygote_ready_message(pid: int, isolation: str = ISOLATION_NONE, isolation_note: str = "") -> bytes:
    return _pack_message([READY, pid, isolation, isolation_note])


def forked_message(seq: int, pid: int) -> bytes:
    return _pack_message([FORKED, seq, pid])


def fork_failed_message(seq: int, error: str) -> bytes:
    return _pack_message([FORKED, seq, -1, error])


def exited_message(pid: int, wait_status: int, max_rss_kb: int) -> bytes:
    return _pack_message([EXITED, pid, wait_status, max_rss_kb])


def read_message(data: bytes) -> "ZygoteMessage":
    """A zygote message from its packet; ValueError if it is not one of ours."""
    message = _unpack(data)
    try:
        if message.__class__ is list:
            read = _ZYGOTE_MESSAGES[message[0]](*message)
            # a worker's READY header has the zygote's READY shape: its third field is no level name
            if read.kind != READY or (read.isolation in ISOLATION_CHOICES and read.isolation_note.__class__ is str):
                return read
    except (KeyError, IndexError, TypeError):
        pass
    raise ValueError(f"not a zygote message: {message!r:.80}")
