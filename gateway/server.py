"""Server lifecycle: load the template, start the scheduler and the HTTP servers,
watch code for changes, and stop everything cleanly on SIGINT/SIGTERM."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import time

from functools import partial

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.apigateway import RAW_HEADERS_KEY
from gateway.app import build_api_app
from gateway.billing import format_summary, summary_row
from gateway.config import Config
from gateway.http_io import RESPOND_KEY
from gateway.routing import RouteTable
from gateway.scheduler import Scheduler

log = logging.getLogger("lambdagate")


class _OneWriteTransport:
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


def _respond_whole(cycle, status: int, headers: list, body: bytes) -> bool:
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


class _OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with one write per response: lambdagate's surfaces hand it
    each whole response in one call (`_respond_whole`, under the scope's RESPOND_KEY) instead
    of two ASGI messages; others' still go through _OneWriteTransport."""

    def connection_made(self, transport) -> None:
        super().connection_made(_OneWriteTransport(transport, self.loop))

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            self.scope[RESPOND_KEY] = partial(_respond_whole, cycle)

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


class _ApiGatewayProtocol(_OneWriteProtocol):
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


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: the lifecycle below owns it."""

    def capture_signals(self):
        return contextlib.nullcontext()


def _http_server(app, host: str, port: int, config: Config, protocol=_OneWriteProtocol,
                 keep_alive_s: float = 5.0) -> _Server:
    return _Server(uvicorn.Config(app, host=host, port=port, loop="none", http=protocol, ws="none", lifespan="off",
                                  access_log=False, timeout_keep_alive=keep_alive_s,
                                  log_level="debug" if config.debug else "warning",
                                  timeout_graceful_shutdown=max(1, int(config.shutdown_grace_s)),
                                  server_header=False, proxy_headers=False))


def route_table_text(table: RouteTable, base_url: str) -> str:
    rows = [("METHOD", "PATH", "FUNCTION", "API")]
    for r in table.routes:
        api = f"{'REST' if r.api.kind == 'REST' else 'HTTP API'} {r.api.logical_id} (stage {r.api.stage_name}, " \
              f"payload {r.payload_format})"
        rows.append((r.method, r.path, r.function, api))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"API Gateway on {base_url}"]
    lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


async def _watch_code(scheduler: Scheduler, functions, stop: asyncio.Event, state_dir: str) -> None:
    import watchfiles

    dirs = {}
    for spec in functions:
        dirs.setdefault(os.path.realpath(spec.code_dir), []).append(spec.logical_id)
    state = os.path.realpath(state_dir)

    def relevant(change, path: str) -> bool:
        return not (path.startswith(state) or "__pycache__" in path or path.endswith((".pyc", ".log", "~")))

    async for changes in watchfiles.awatch(*dirs, stop_event=stop, watch_filter=relevant, debounce=200):
        touched = set()
        for _, path in changes:
            real = os.path.realpath(path)
            for code_dir, names in dirs.items():
                if real.startswith(code_dir + os.sep) or real == code_dir:
                    touched.update(names)
        for name in sorted(touched):
            scheduler.retire(name)
            log.info("code of %s changed: new invocations use new workers", name)


async def serve(config: Config, command: str) -> int:
    started_s = time.perf_counter()
    template = config.load_template()
    for warning in template.warnings:
        log.warning("%s", warning)
    functions = list(template.functions.values())
    scheduler = Scheduler(functions, config.scheduler_config())
    await scheduler.start()
    servers = []
    lambda_app = None
    try:
        if command == "start-api":
            table = RouteTable(template.routes)
            for warning in table.warnings:
                log.warning("%s", warning)
            if not table.routes:
                log.warning("%s declares no Api or HttpApi events: every request will get a not-found answer",
                            template.path)
            servers.append(_http_server(build_api_app(table, scheduler), config.host, config.port, config,
                                        _ApiGatewayProtocol))
            sys.stderr.write(route_table_text(table, f"http://{config.host}:{config.port}"))
        if command == "start-lambda" or config.lambda_port:
            from gateway.aws.invoke_api import build_lambda_app
            port = config.port if command == "start-lambda" else config.lambda_port
            lambda_app = build_lambda_app(scheduler, state_dir=config.state_dir, region=config.region)
            # reruns the events a previous run accepted but did not finish
            await lambda_app.state.async_invoker.start()
            servers.append(_http_server(lambda_app, config.host, port, config))
            sys.stderr.write(f"Lambda API on http://{config.host}:{port} "
                             f"(functions: {', '.join(template.functions) or 'none'})\n")
        if config.warm_containers == "EAGER":
            warmed = await asyncio.gather(*(scheduler.warm(spec.logical_id) for spec in functions),
                                          return_exceptions=True)
            for spec, outcome in zip(functions, warmed):
                if isinstance(outcome, Exception):  # e.g. ReservedConcurrentExecutions: 0; requests will say so
                    log.warning("%s: no worker started ahead of requests: %s", spec.logical_id, outcome)
        # what startup built (modules, template, routes, apps) lives as long as the process: out of
        # the collector's reach, a full collection no longer walks it while requests wait. Done
        # before the ports open, so that no first request waits for this collection.
        gc.collect()  # what startup left unreachable is freed, not frozen
        gc.freeze()
        return await _run_until_stopped(config, scheduler, servers, functions, started_s, lambda_app)
    finally:
        if lambda_app is not None:
            await lambda_app.state.async_invoker.stop(grace_s=0)
        await scheduler.close()
        rows = [summary_row(s.logical_id, scheduler.totals(s.logical_id), s.architecture) for s in functions]
        if rows and any(r["invocations"] or r["throttles"] for r in rows):
            sys.stderr.write(format_summary(rows))


async def _run_until_stopped(config, scheduler, servers, functions, started_s, lambda_app) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals_seen = []

    def on_signal(signum):
        signals_seen.append(signum)
        if len(signals_seen) > 1:  # a second Ctrl-C: stop waiting for in-flight work
            for server in servers:
                server.force_exit = True
            scheduler.closing = True
        stop.set()
        for server in servers:
            server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    tasks = [asyncio.ensure_future(server.serve()) for server in servers]
    for server in servers:
        while not server.started and not any(t.done() for t in tasks):
            await asyncio.sleep(0.005)
    failed = [t for t in tasks if t.done()]
    if failed:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        log.error("a server could not start (is the port in use?)")
        return 1
    log.info("ready in %.0f ms; Ctrl-C stops", (time.perf_counter() - started_s) * 1000)
    watcher = None
    if config.reload and functions:
        watcher = asyncio.ensure_future(_watch_code(scheduler, functions, stop, config.state_dir))
    await stop.wait()
    # uvicorn stops accepting and lets open requests finish within the grace period
    await asyncio.gather(*tasks, return_exceptions=True)
    if lambda_app is not None:
        await lambda_app.state.async_invoker.stop(grace_s=config.shutdown_grace_s)
    await scheduler.close(grace_s=config.shutdown_grace_s)
    if watcher is not None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)
    return 0
