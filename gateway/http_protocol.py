"""lambdagate's HTTP/1.1 server: uvicorn's httptools protocol with one write per response.

lambdagate's surfaces hand each whole response to `respond_whole` (offered in the scope under
`http_io.RESPOND_KEY`) instead of two ASGI messages; anything else (TestClient, other apps) still
goes through ASGI. This module relies on uvicorn's private protocol internals (`cycle`, `flow`,
`pipeline`, `_start_asgi_task`, ...): pyproject.toml pins uvicorn to the releases that have them, and
tests/server/test_http_protocol_wire.py and test_http_protocol_connections.py guard them.
"""
from __future__ import annotations

import contextlib
import logging
from functools import partial

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.config import Config
from gateway.http_io import RAW_HEADERS_KEY, RESPOND_KEY


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

    def connection_made(self, transport) -> None:
        super().connection_made(OneWriteTransport(transport, self.loop))

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            self.scope[RESPOND_KEY] = partial(respond_whole, cycle)

    # Keep-alive timeout, lazily: uvicorn arms a fresh timer after every response and cancels
    # it when the next request comes, a timer handle per request. Here one timer per
    # connection checks, when it fires, whether the connection has been idle long enough.
    _idle_deadline_s = None     # loop time at which an idle connection is closed; None: busy
    _idle_timer = None

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
        self._idle_deadline_s = deadline_s = self.loop.time() + self.timeout_keep_alive
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_at(deadline_s, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_timer = None
        deadline_s = self._idle_deadline_s
        if deadline_s is None or self.transport.is_closing():
            return  # busy: the next response arms the timer again
        # uvloop's clock ticks in whole milliseconds: a deadline a hair past the tick the timer
        # fired on is due, not a reason to re-arm for "now" until the next tick
        if self.loop.time() + 0.001 >= deadline_s:
            self.timeout_keep_alive_handler()
        else:
            self._idle_timer = self.loop.call_at(deadline_s, self._check_idle)

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
        self.raw_headers.append((name, value))
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))


class Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: the lifecycle below owns it."""

    def capture_signals(self):
        return contextlib.nullcontext()


def http_server(app, host: str, port: int, config: Config, protocol=OneWriteProtocol) -> Server:
    server = Server(uvicorn.Config(app, host=host, port=port, loop="none", http=protocol, ws="none", lifespan="off",
                                   access_log=config.access_log, timeout_keep_alive=config.http_keep_alive_s,
                                   log_level="debug" if config.debug else "warning",
                                   timeout_graceful_shutdown=max(1, int(config.shutdown_grace_s)),
                                   server_header=False, proxy_headers=False))
    if config.access_log:  # uvicorn's log level above would drop its INFO access lines
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    return server
