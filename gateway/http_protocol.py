"""lambdagate's HTTP/1.1 server: uvicorn's httptools protocol with one write per response.

lambdagate's surfaces hand each whole response to `respond_whole` (offered in the scope under
`http_io.RESPOND_KEY`) instead of two ASGI messages; anything else (TestClient, other apps) still
goes through ASGI. Each port also defends itself (gateway/http_guard.py decides): a request head
over API Gateway's 10,240 bytes gets 431 before it is parsed further, a head must arrive within the
header timeout and a first request within the keep-alive time, the number of open connections is
capped, and bad requests are logged with the client's address and the reason.

This module relies on uvicorn's private protocol internals (`cycle`, `flow`, `pipeline`,
`_start_asgi_task`, ...): pyproject.toml pins uvicorn to the releases that have them, and
tests/server/test_http_protocol_*.py guard them.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import socket
from functools import partial
from typing import Optional

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.config import Config
from gateway.errors import LambdagateError
from gateway.http_guard import ConnectionGuard
from gateway.http_io import RAW_HEADERS_KEY, RESPOND_KEY

# request line and header bytes beyond the target and the raw names and values: "GET ", " HTTP/1.1\r\n",
# and ": " plus "\r\n" per header
_REQUEST_LINE_EXTRA_BYTES = 20
_HEADER_EXTRA_BYTES = 4


class _Answered(Exception):
    """Raised from a parser callback once the request has been answered and its connection closed:
    it stops the parser from reading further."""


class OneWriteTransport:
    """A transport that sends a response's head and body in one system call.

    uvicorn writes the status line and headers, then the body, separately: two
    syscalls and two TCP segments per response. Holding the head until the body
    comes (or the loop turns, for HEAD and other bodiless answers) halves that.
    """
    __slots__ = ("_transport", "_loop", "_head")

    def __init__(self, transport, loop):
        self._transport = transport
        self._loop = loop
        self._head = None

    def write(self, data) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.writelines((head, data))
        elif data[:5] == b"HTTP/" and data[-4:] == b"\r\n\r\n":
            self._head = data
            self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def is_closing(self) -> bool:  # asked after every response: spare it __getattr__
        return self._transport.is_closing()

    def write_whole(self, data, body=None) -> None:
        """A complete response: its bytes, or its head and a large body (one vectored write)."""
        self._flush()
        if body is None:
            self._transport.write(data)
        else:
            self._transport.writelines((data, body))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name):
        return getattr(self._transport, name)


_SMALL_BODY_BYTES = 16384   # below this, copying the body into the head beats a vectored write


def respond_whole(cycle, status: int, headers: list, body: bytes) -> bool:
    """Send a complete response (headers already valid and framing the body) in one
    write, settling uvicorn's request cycle as its two ASGI sends would. False when the
    response must take the ASGI path instead (already started, or the client is not
    reading and writes must wait)."""
    if cycle.response_started or cycle.flow.write_paused or cycle.access_log:
        return False
    cycle.response_started = cycle.response_complete = True
    cycle.waiting_for_100_continue = False
    if cycle.disconnected:
        return True
    content = [STATUS_LINE[status]]
    for name, value in cycle.default_headers:
        content += (name, b": ", value, b"\r\n")
    for name, value in headers:
        content += (name, b": ", value, b"\r\n")
    if not cycle.keep_alive:
        content.append(b"connection: close\r\n")
    content.append(b"\r\n")
    transport = cycle.transport
    if cycle.scope["method"] == "HEAD" or not body:
        transport.write_whole(b"".join(content))
    elif len(body) < _SMALL_BODY_BYTES:
        content.append(body)
        transport.write_whole(b"".join(content))
    else:
        transport.write_whole(b"".join(content), body)
    cycle.message_event.set()
    if not cycle.keep_alive:
        transport.close()
    cycle.on_response()
    return True


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with one write per response: lambdagate's surfaces hand it
    each whole response in one call (`respond_whole`, under the scope's RESPOND_KEY) instead
    of two ASGI messages; others' still go through OneWriteTransport."""

    def __init__(self, config, *args, **kwargs) -> None:
        super().__init__(config, *args, **kwargs)
        # access lines as lambdagate's Config says (uvicorn.Config carries it), not as whatever
        # handlers the "uvicorn.access" logger happens to have: a test runner's log capture adds one
        self.access_log = bool(config.access_log)
        self.guard: ConnectionGuard = config.lambdagate_guard
        self._max_head_bytes = self.guard.max_head_bytes

    # ------------------------------------------------------------------ connections

    def connection_made(self, transport) -> None:
        super().connection_made(OneWriteTransport(transport, self.loop))
        if not self.guard.admit(self, self.connections):
            self._answer_and_close(503, b'{"message":"Service Unavailable"}')
            return
        # a connection that never sends a request is closed after the keep-alive time, as an idle one
        self._idle_deadline_s = deadline_s = self.loop.time() + self.timeout_keep_alive
        self._arm(deadline_s)

    def eviction_rank(self):
        """When the port is full, the connection with the lowest rank makes room: idle ones and
        ones still sending a request head rank by their deadline; None for one with a request
        in progress."""
        if self.transport.is_closing():
            return None
        if self._idle_deadline_s is not None:
            return self._idle_deadline_s
        return self._head_deadline_s

    def _answer_and_close(self, status: int, body: bytes) -> None:
        self.transport.write(b"".join((STATUS_LINE[status], b"content-type: application/json\r\ncontent-length: ",
                                       str(len(body)).encode(), b"\r\nconnection: close\r\n\r\n", body)))
        self.transport.close()

    # ------------------------------------------------------------------ request heads

    _head_deadline_s = None     # loop time by which the head being read must be complete; None: not reading one
    _head_bytes = 0             # size of the head being read, from what the parser has delivered of it
    _head_chunk_bytes = 0       # bytes received while the head stayed incomplete: a partial header counts too
    _heads = 0                  # request heads begun on this connection

    def data_received(self, data: bytes) -> None:
        # the connection stays idle (and evictable) until a request begins: bytes that are not one,
        # such as bare CRLFs, do not make it busy
        heads_before = self._heads
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Answered):
                return
            self.guard.refused(self.client, f"invalid HTTP request ({exc.__context__ or exc}): answered 400",
                               key="invalid")
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            return  # the request went to the app as an ordinary one; what follows is not HTTP
        except httptools.HttpParserError as exc:
            self.guard.refused(self.client, f"invalid HTTP request ({exc}): answered 400", key="invalid")
            self.send_400_response("Invalid HTTP request received.")
            return
        if self._head_deadline_s is not None and self._heads == heads_before:
            # all of this chunk belongs to a head still incomplete: httptools holds a header whose
            # end has not come in memory, so bound what it may hold
            self._head_chunk_bytes += len(data)
            if self._head_chunk_bytes > self._max_head_bytes:
                self._refuse_large_head()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._idle_deadline_s = None
        self._heads += 1
        self._head_bytes = _REQUEST_LINE_EXTRA_BYTES
        self._head_chunk_bytes = 0
        self._head_deadline_s = deadline_s = self.loop.time() + self.guard.header_timeout_s
        if self._idle_timer is None or self._idle_timer_at_s > deadline_s:
            self._arm(deadline_s)

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._head_bytes += len(url)
        if self._head_bytes > self._max_head_bytes:
            self._refuse_large_head()
            raise _Answered

    def on_header(self, name: bytes, value: bytes) -> None:  # uvicorn's, inlined: once per header
        self._head_bytes += len(name) + len(value) + _HEADER_EXTRA_BYTES
        if self._head_bytes > self._max_head_bytes:
            self._refuse_large_head()
            raise _Answered
        name = name.lower()
        value = value.rstrip(b" \t")   # llhttp keeps trailing whitespace, which is not part of a value
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def _refuse_large_head(self) -> None:
        self._head_deadline_s = None
        self.guard.refused(self.client, f"request head over {self._max_head_bytes} bytes: answered 431",
                           key="large head")
        self._answer_and_close(431, b'{"message":"Request Header Fields Too Large"}')

    def on_headers_complete(self) -> None:
        self._head_deadline_s = None
        if self.parser.should_upgrade() and any(name == b"upgrade" and value.lower() == b"websocket"
                                                for name, value in self.headers):
            self.guard.refused(self.client, "WebSocket upgrade on a port that serves none: answered 400",
                               key="websocket")
            self._answer_and_close(400, b'{"message":"WebSocket upgrades are not supported on this port"}')
            raise _Answered
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            self.scope[RESPOND_KEY] = partial(respond_whole, cycle)

    # ------------------------------------------------------------------ idle and slow connections
    # Lazily: uvicorn arms a fresh keep-alive timer after every response and cancels it when the
    # next request comes, a timer handle per request. Here one timer per connection checks, when
    # it fires, whether the connection has been idle, or slow with a request head, long enough.
    _idle_deadline_s = None     # loop time at which an idle connection is closed; None: busy
    _idle_timer = None          # the one timer of this connection, and when it fires
    _idle_timer_at_s = 0.0

    def _unset_keepalive_if_required(self) -> None:
        self._idle_deadline_s = None
        super()._unset_keepalive_if_required()

    def on_response_complete(self) -> None:
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            self._idle_deadline_s = None
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        if self._head_deadline_s is not None:
            return  # a pipelined head is being read: its own deadline applies
        self._idle_deadline_s = deadline_s = self.loop.time() + self.timeout_keep_alive
        if self._idle_timer is None:
            self._arm(deadline_s)

    def _arm(self, at_s: float) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer_at_s = at_s
        self._idle_timer = self.loop.call_at(at_s, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_timer = None
        if self.transport.is_closing():
            return
        # uvloop's clock ticks in whole milliseconds: a deadline a hair past the tick the timer
        # fired on is due, not a reason to re-arm for "now" until the next tick
        now_s = self.loop.time() + 0.001
        deadline_s = self._idle_deadline_s
        if deadline_s is not None:
            if now_s >= deadline_s:
                self.timeout_keep_alive_handler()
                return
        else:
            deadline_s = self._head_deadline_s
            if deadline_s is None:
                return  # busy: the next response arms the timer again
            if now_s >= deadline_s:
                self._head_deadline_s = None
                self.guard.refused(self.client, f"request head not complete after {self.guard.header_timeout_s:g} s: "
                                                "answered 408", key="slow head")
                self._answer_and_close(408, b'{"message":"Request Timeout"}')
                return
        self._arm(deadline_s)

    def connection_lost(self, exc) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)


class ApiGatewayProtocol(OneWriteProtocol):
    """... that also passes the header names as the client sent them: REST API events
    keep the client's casing, and ASGI lower-cases names."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.raw_headers = []
        self.scope[RAW_HEADERS_KEY] = self.raw_headers

    def on_header(self, name: bytes, value: bytes) -> None:  # uvicorn's, inlined: once per header
        self._head_bytes += len(name) + len(value) + _HEADER_EXTRA_BYTES
        if self._head_bytes > self._max_head_bytes:
            self._refuse_large_head()
            raise _Answered
        value = value.rstrip(b" \t")   # llhttp keeps trailing whitespace, which is not part of a value
        self.raw_headers.append((name, value))
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))


class Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: the lifecycle below owns it. It serves
    the socket bound for it at startup (`bound_socket`), when there is one."""
    listening: Optional[socket.socket] = None

    def capture_signals(self):
        return contextlib.nullcontext()

    async def serve(self, sockets=None) -> None:
        await super().serve(sockets=sockets or ([self.listening] if self.listening is not None else None))


def bound_socket(host: str, port: int, hint: str) -> socket.socket:
    """The port, bound before anything else starts: a port in use is said at once, with `hint` (the
    option that picks another), instead of after the zygote and the route table. It listens only
    once the server serves it, so that a connection that succeeds still means lambdagate is ready."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn: restarts reuse TIME_WAIT ports
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise LambdagateError(f"port {port} on {host} is in use (another lambdagate or sam local?): "
                                  f"pick another with {hint}") from None
        raise LambdagateError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def http_server(app, host: str, port: int, config: Config, protocol=OneWriteProtocol, *, name: str = "HTTP",
                max_connections: Optional[int] = None, max_head_bytes: Optional[int] = None,
                sock: Optional[socket.socket] = None) -> Server:
    """A server for `app` with lambdagate's protocol; `name` (e.g. "API Gateway port 3000") starts its
    refusal log lines; `max_connections` and `max_head_bytes` default to Config.http_max_connections
    and Config.http_max_head_bytes."""
    uv_config = uvicorn.Config(app, host=host, port=port, loop="none", http=protocol, ws="none", lifespan="off",
                               access_log=config.access_log, timeout_keep_alive=config.http_keep_alive_s,
                               log_level="debug" if config.debug else "warning",
                               timeout_graceful_shutdown=max(1, int(config.shutdown_grace_s)),
                               server_header=False, proxy_headers=False)
    # the protocol reads the port's guard from the config uvicorn hands every connection
    uv_config.lambdagate_guard = ConnectionGuard(
        name, config.http_max_connections if max_connections is None else max_connections,
        config.http_max_head_bytes if max_head_bytes is None else max_head_bytes, config.http_header_timeout_s)
    server = Server(uv_config)
    server.listening = sock
    if config.access_log:  # uvicorn's log level above would drop its INFO access lines
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    return server
