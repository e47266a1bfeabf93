"""The Lambda Runtime API 2018-06-01 (aws-contract.md §3.1), one endpoint per worker.

Each worker of a non-native runtime gets its own listening port in
AWS_LAMBDA_RUNTIME_API, so a runtime can only see and answer its own
invocations. The endpoint is a small HTTP/1.1 server (httptools) with Lambda's
state machine: init → next → response|error → next ...
"""
from __future__ import annotations

import asyncio
import socket
import time
from typing import Callable, Optional

import httptools
import orjson

from gateway import wire
from gateway.logs import RefusalLog
from gateway.runtime.sandbox import process_tree
from gateway.scheduler import peers
from gateway.scheduler.outcomes import response_too_large_payload
from gateway.types import RESPONSE_LIMIT_BYTES

_refusals = RefusalLog("Runtime API")
PREFIX = "/2018-06-01"
_NEXT = PREFIX + "/runtime/invocation/next"
_INVOCATION = PREFIX + "/runtime/invocation/"
_INIT_ERROR = PREFIX + "/runtime/init/error"
_PING = PREFIX + "/ping"
ERROR_TYPE_HEADER = b"lambda-runtime-function-error-type"

_REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 403: b"Forbidden", 404: b"Not Found",
            405: b"Method Not Allowed", 413: b"Request Entity Too Large", 500: b"Internal Server Error"}


def _error_body(error_type: str, message: str) -> bytes:
    return orjson.dumps({"errorMessage": message, "errorType": error_type})


def _response(status: int, body: bytes, extra: tuple = (), content_type: bytes = b"application/json") -> bytes:
    head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown")),
            b"Content-Type: " + content_type + b"\r\n", b"Content-Length: %d\r\n" % len(body)]
    for name, value in extra:
        head.append(name + b": " + value + b"\r\n")
    head.append(b"\r\n")
    return b"".join(head) + body


class RuntimeApiInvocation:
    """One invocation handed to a runtime through its Runtime API: its headers, payload and outcome."""
    __slots__ = ("request_id", "deadline_ms", "invoked_arn", "client_context", "cognito", "trace_id", "payload",
                 "future", "delivered_ns", "answered")

    def __init__(self, header: wire.InvokeHeader, payload: bytes, future: asyncio.Future):
        self.request_id = header.request_id
        self.deadline_ms = header.deadline_ms
        self.invoked_arn = header.invoked_arn
        self.client_context = header.client_context
        self.cognito = header.cognito
        self.trace_id = header.trace_id
        self.payload = payload
        self.future = future
        self.delivered_ns = 0
        self.answered = False

    def next_response(self) -> bytes:
        extra = [(b"Lambda-Runtime-Aws-Request-Id", self.request_id.encode()),
                 (b"Lambda-Runtime-Deadline-Ms", str(self.deadline_ms).encode()),
                 (b"Lambda-Runtime-Invoked-Function-Arn", self.invoked_arn.encode())]
        if self.trace_id:
            extra.append((b"Lambda-Runtime-Trace-Id", self.trace_id.encode()))
        if self.client_context:
            extra.append((b"Lambda-Runtime-Client-Context", self.client_context.encode()))
        if self.cognito:
            extra.append((b"Lambda-Runtime-Cognito-Identity", self.cognito.encode()))
        return _response(200, self.payload, extra)


class RuntimeEndpoint:
    """The Runtime API as one worker sees it.

    `on_ready(error)` is called once: with None when the runtime first asks for an
    invocation (Init is over), or with (error_type, body) when it reports an init error.
    Outcomes of invocations resolve the futures given to `dispatch`:
    (error_type or None, body bytes, duration_ns).
    """

    def __init__(self, on_ready: Callable[[Optional[tuple]], None], owner: Optional[Callable[[], int]] = None,
                 name: str = "a worker"):
        """`owner()` is the worker's pid (0 while not yet known): when given, only that process and
        those it started may use the endpoint; others get 403 and a log line. `name` says whose
        endpoint it is in that line."""
        self.on_ready = on_ready
        self.owner = owner
        self.name = name
        self.initialised = False
        self.current: Optional[RuntimeApiInvocation] = None   # delivered, or waiting to be
        self.waiting: Optional["_RuntimeApiProtocol"] = None  # a parked GET /next
        self.server: Optional[asyncio.AbstractServer] = None
        self.port = 0
        self.protocols: set = set()

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self.server = await loop.create_server(lambda: _RuntimeApiProtocol(self), sock=sock)
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for proto in list(self.protocols):
            if proto.transport is not None:
                proto.transport.abort()
        self.protocols.clear()

    def dispatch(self, header: wire.InvokeHeader, payload: bytes, future: asyncio.Future) -> None:
        invocation = RuntimeApiInvocation(header, payload, future)
        self.current = invocation
        if self.waiting is not None:
            waiting, self.waiting = self.waiting, None
            self._deliver(waiting, invocation)

    def _deliver(self, proto: "_RuntimeApiProtocol", invocation: RuntimeApiInvocation) -> None:
        invocation.delivered_ns = time.monotonic_ns()
        proto.write(invocation.next_response())

    # ------------------------------------------------------------------ requests

    def handle(self, proto: "_RuntimeApiProtocol", method: bytes, path: str, headers: dict, body: bytes) -> None:
        if not proto.trusted and not self._trust(proto):
            proto.write(_response(403, _error_body("Forbidden", "this Runtime API belongs to another "
                                                                "execution environment")))
            proto.transport.close()
            return
        if path == _NEXT:
            if method != b"GET":
                return proto.write(_response(405, _error_body("MethodNotAllowed", "Method Not Allowed")))
            return self._next(proto)
        if path.startswith(_INVOCATION):
            request_id, _, action = path[len(_INVOCATION):].partition("/")
            if method != b"POST" or action not in ("response", "error"):
                return proto.write(_response(404, _error_body("NotFound", f"no route for {path}")))
            return self._answer(proto, request_id, action, headers, body)
        if path == _INIT_ERROR and method == b"POST":
            return self._init_error(proto, headers, body)
        if path == _PING:
            return proto.write(_response(200, b"pong", content_type=b"text/plain"))
        proto.write(_response(404, _error_body("NotFound", f"no route for {method.decode()} {path}")))

    def _trust(self, proto: "_RuntimeApiProtocol") -> bool:
        """Whether the connection comes from the worker's own process tree (checked once)."""
        if self.owner is None:
            proto.trusted = True
            return True
        owner_pid = self.owner()
        if owner_pid <= 0:
            # the fork's answer has not reached the gateway yet: nobody outside the new process can
            # know this port so soon, so let the request through and check the next one
            return True
        inode = peers.socket_inode(proto.client, proto.server)
        if inode is not None and peers.holder_of(inode, process_tree(owner_pid)) is not None:
            proto.trusted = True
            return True
        # naming the process costs a look at every process: only when the line will be written
        thief = (peers.holder_of(inode, peers.all_pids())
                 if inode is not None and _refusals.will_log("runtime api peer") else None)
        _refusals.refused(proto.client, f"Runtime API of {self.name} (pid {owner_pid}): a request from "
                                        f"{peers.describe(thief)}, which is not of that execution environment: "
                                        "answered 403", key="runtime api peer")
        return False

    def _next(self, proto) -> None:
        if not self.initialised:
            self.initialised = True
            self.on_ready(None)
        if self.waiting is not None and self.waiting is not proto and self.waiting.transport is not None \
                and not self.waiting.transport.is_closing():
            # a second runtime asking at once: refused, never silently taking the first one's place
            proto.write(_response(403, _error_body(
                "InvalidStateTransition", "State transition from Next to Next failed for runtime. Error: "
                                          "another request is already waiting for the next invocation")))
            return
        current = self.current
        if current is not None and current.delivered_ns and not current.answered:
            proto.write(_response(403, _error_body(
                "InvalidStateTransition",
                f"State transition from Invoke to Next failed for runtime. Error: invocation "
                f"{current.request_id} has no response yet")))
            return
        if current is not None and not current.delivered_ns:
            self._deliver(proto, current)
            return
        self.waiting = proto

    def _answer(self, proto, request_id: str, action: str, headers: dict, body: bytes) -> None:
        current = self.current
        if current is None or current.request_id != request_id or not current.delivered_ns or current.answered:
            proto.write(_response(400, _error_body("InvalidRequestID", "Invalid request ID")))
            return
        duration_ns = time.monotonic_ns() - current.delivered_ns
        current.answered = True
        if len(body) > RESPONSE_LIMIT_BYTES:
            proto.write(_response(413, _error_body(
                "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({RESPONSE_LIMIT_BYTES} bytes).")))
            outcome = ("Function.ResponseSizeTooLarge", response_too_large_payload(), duration_ns)
        elif action == "response":
            proto.write(_response(202, b'{"status":"OK"}'))
            outcome = (None, body, duration_ns)
        else:
            proto.write(_response(202, b'{"status":"OK"}'))
            outcome = (_error_type(headers, body), body, duration_ns)
        if not current.future.done():
            current.future.set_result(outcome)

    def _init_error(self, proto, headers: dict, body: bytes) -> None:
        if self.initialised:
            proto.write(_response(403, _error_body(
                "InvalidStateTransition", "State transition from Ready to InitError failed for runtime. "
                                          "Error: init already completed")))
            return
        self.initialised = True
        proto.write(_response(202, b'{"status":"OK"}'))
        self.on_ready((_error_type(headers, body), body or _error_body("Runtime.Unknown", "init error")))


def _error_type(headers: dict, body: bytes) -> str:
    """The error's type: the body's errorType (awslambdaric sends no header), else the header."""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errorType"), str) and parsed["errorType"]:
        return parsed["errorType"]
    value = headers.get(ERROR_TYPE_HEADER)
    return value.decode("latin-1") if value else "Runtime.Unknown"


class _RuntimeApiProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, as aws-lambda-cpp, Node and curl speak it."""

    def __init__(self, endpoint: RuntimeEndpoint):
        self.endpoint = endpoint
        self.transport = None
        self.client = self.server = None
        self.trusted = False
        self.parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: dict = {}
        self._body: list = []

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.client = transport.get_extra_info("peername")
        self.server = transport.get_extra_info("sockname")
        self.endpoint.protocols.add(self)

    def connection_lost(self, exc) -> None:
        self.endpoint.protocols.discard(self)
        if self.endpoint.waiting is self:
            self.endpoint.waiting = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.write(_response(400, _error_body("TruncatedHTTPRequest", "malformed HTTP request")))
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        path = httptools.parse_url(self._url).path.decode("latin-1")
        self.endpoint.handle(self, self.parser.get_method(), path, self._headers, b"".join(self._body))

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
