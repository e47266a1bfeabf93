"""Server lifecycle: load the template, start the scheduler and the HTTP servers,
watch code for changes, and stop everything cleanly on SIGINT/SIGTERM."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import os
import signal
import sys
import time

from gateway.apigw.access_setup import build_access
from gateway.apigw.routing import RouteTable
from gateway.app import build_api_app
from gateway.billing import format_summary, summary_row
from gateway.config import Config
from gateway.http_guard import connection_cap, raise_open_files_limit
from gateway.http_protocol import ApiGatewayProtocol, http_server, bound_socket
from gateway.sam.template import load_configured_template
from gateway.types import INTEGRATION_PROXY
from gateway.scheduler import Scheduler
from gateway.sdk_autoinstall import start_installs

log = logging.getLogger("lambdagate")


def _access_text(route) -> str:
    """What a request must bring to reach the route's function, in the route table."""
    parts = []
    if route.authorizer is not None:
        auth = route.authorizer
        parts.append(auth.type if auth.type == "AWS_IAM" else f"{auth.name} ({auth.type})")
        if route.authorization_scopes:
            parts.append("scopes " + " ".join(route.authorization_scopes))
    if route.api_key_required:
        parts.append("API key")
    if route.validation is not None:
        parts.append("validated")
    if route.throttle is not None:
        parts.append(f"{route.throttle.rate_per_s:g}/s burst {route.throttle.burst}")
    return ", ".join(parts) or "-"


def route_table_text(table: RouteTable, base_url: str) -> str:
    rows = [("METHOD", "PATH", "FUNCTION", "API", "ACCESS")]
    for r in table.routes:
        api = f"{'REST' if r.api.kind == 'REST' else 'HTTP API'} {r.api.logical_id} (stage {r.api.stage_name}, " \
              f"payload {r.payload_format})"
        if r.integration == INTEGRATION_PROXY:
            target = r.function
        elif r.static_response is not None:
            target = f"(MOCK integration: {r.static_response[0]})"
        else:
            target = f"({r.integration} integration: 500)"
        rows.append((r.method, r.path, target, api, _access_text(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
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


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(config: Config, command: str) -> int:
    started_s = time.perf_counter()
    # every connection, worker pipe and log file is a descriptor: the soft limit (often 1024) would
    # let a few hundred silent sockets starve both ports
    open_files = raise_open_files_limit()
    ports = (command == "start-api") + (command == "start-lambda" or bool(config.lambda_port))
    max_connections = connection_cap(config.http_max_connections, ports, open_files)
    if max_connections < config.http_max_connections:
        log.info("at most %d open connections per port (open-files limit %d)", max_connections, open_files)
    # the ports first: one in use is said before anything else starts
    api_socket = lambda_socket = None
    if command == "start-api":
        api_socket = bound_socket(config.host, config.port, "-p/--port")
    try:
        if command == "start-lambda" or config.lambda_port:
            lambda_socket = bound_socket(config.host, config.lambda_port,
                                             "-p/--port" if command == "start-lambda" else "--lambda-port (0: none)")
        template = load_configured_template(config)
    except BaseException:
        for sock in (api_socket, lambda_socket):
            if sock is not None:
                sock.close()
        raise
    for warning in template.warnings:
        log.warning("%s", warning)
    functions = list(template.functions.values())
    scheduler = Scheduler(functions, config)
    servers = []
    lambda_app = None
    sdk_installs = None
    try:
        await scheduler.start()
        # an SDK Lambda's runtime has and the functions lack: installed once, beside serving
        sdk_installs = start_installs(scheduler.missing_sdks, config)
        if command == "start-api":
            table = RouteTable(template.routes, (api.kind for api in template.apis.values()))
            for warning in table.warnings:
                log.warning("%s", warning)
            if not table.routes:
                log.warning("%s declares no API routes (Api or HttpApi events, API resources or definitions): "
                            "every request will get a not-found answer", template.path)
            access = build_access(table.routes, scheduler, region=config.region, api_keys=template.api_keys,
                                  usage_plans=template.usage_plans, api_keys_file=config.api_keys_file,
                                  jwks_files=config.jwks_files, credentials_file=config.credentials_file)
            servers.append(http_server(build_api_app(table, scheduler, access), config.host, config.port, config,
                                       ApiGatewayProtocol, name=f"API Gateway port {config.port}",
                                       max_connections=max_connections, sock=api_socket))
            sys.stderr.write(route_table_text(table, f"http://{config.host}:{config.port}"))
        if command == "start-lambda" or config.lambda_port:
            from gateway.lambda_api.endpoint import build_lambda_app
            port = config.lambda_port
            lambda_app = build_lambda_app(scheduler, config)
            if config.auth == "none" and not _is_loopback(config.host):
                log.warning("the Lambda API on %s:%d accepts any caller, and %s is reachable from other machines: "
                            "--auth sigv4 lets only callers with known credentials in", config.host, port,
                            config.host)
            # reruns the events a previous run accepted but did not finish
            await lambda_app.state.async_invoker.start()
            servers.append(http_server(lambda_app, config.host, port, config, name=f"Lambda API port {port}",
                                       max_connections=max_connections,
                                       max_head_bytes=config.lambda_api_max_head_bytes, sock=lambda_socket))
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
        for sock in (api_socket, lambda_socket):   # (the servers closed theirs; this is for early exits)
            if sock is not None:
                sock.close()
        if lambda_app is not None:
            await lambda_app.state.async_invoker.stop(grace_s=0)
        if sdk_installs is not None:
            sdk_installs.stop()   # an unfinished install leaves the cache as it was
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
