"""Lambda API benchmark: the Invoke API over HTTP against the scheduler it sits on.

    python benches/lambda_api_bench.py [--quick] [--seconds S]

Measured in one run, on one machine:

- RequestResponse invokes/s over HTTP with keep-alive connections, 1 and 16 concurrent
  (wrk if installed, else an http.client thread pool), beside the scheduler's own warm
  round trip (`Scheduler.invoke` called directly, no HTTP) at 1 and 16 callers;
- Event invocations accepted per second, each committed to SQLite before its 202
  (group commit), with `synchronous=FULL` and with NORMAL, and events per commit;
- end-to-end asynchronous latency: from sending the Event request to the handler having
  run (the handler sends a UDP datagram to this process), one event at a time.

The server runs in a subprocess (this script with --serve) so that the load generator
does not share its interpreter. Prints medians and ratios; machines here are noisy, so
read ratios, not digits.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from _common import pct, warm_round_trip

HANDLER = '''
import socket
_sock = None

def ok(event, context):
    return {"ok": True}

def ping(event, context):
    global _sock
    if _sock is None:
        _sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    _sock.sendto(str(event["id"]).encode(), ("127.0.0.1", event["port"]))
'''

TEMPLATE = '''AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, CodeUri: src/, Timeout: 30}
Resources:
  Ok:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.ok, FunctionName: ok}
  Ping:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.ping, FunctionName: ping}
'''


# --------------------------------------------------------------------------- server side (--serve)

async def serve(template: str, port: int, state_dir: str, durability: str) -> None:
    import uvicorn

    from gateway.config import Config
    from gateway.lambda_api.endpoint import build_lambda_app
    from gateway.sam.template import load_template
    from gateway.scheduler import Scheduler

    spec = load_template(template)
    # the cost of the path itself: isolation_bench.py measures what isolation adds, and at
    # 128 MB an isolated worker would wait for AWS's CPU share (7.2 % of a CPU) after Init
    config = Config(state_dir=state_dir, console_logs=False, async_durability=durability, isolation="none")
    scheduler = Scheduler(list(spec.functions.values()), config)
    await scheduler.start()
    app = build_lambda_app(scheduler, config)
    await app.state.async_invoker.start()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, loop="none", lifespan="off",
                                           access_log=False, log_level="warning", ws="none",
                                           server_header=False, date_header=False))
    server.install_signal_handlers = lambda: None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.01)
    print("READY", flush=True)
    await task
    store = app.state.async_invoker.store
    stats = {"accepted": app.state.async_invoker.accepted, "commits": store.commits, "ops": store.ops}
    await app.state.async_invoker.stop(grace_s=1)
    await scheduler.close()
    print("STATS " + json.dumps(stats), flush=True)


class Server:
    def __init__(self, root: str, durability: str):
        self.root, self.durability = root, durability
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.state_dir = os.path.join(root, f".state-{durability}")
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", os.path.join(root, "template.yaml"), str(self.port),
             self.state_dir, durability], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"server did not start: {line!r}")

    def backlog(self) -> int:
        db = sqlite3.connect(os.path.join(self.state_dir, "events.sqlite3"), timeout=5)
        try:
            return db.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            db.close()

    def wait_drained(self, timeout_s: float = 120) -> float:
        t0 = time.perf_counter()
        while self.backlog() and time.perf_counter() - t0 < timeout_s:
            time.sleep(0.05)
        return time.perf_counter() - t0

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        for line in out.splitlines():
            if line.startswith("STATS "):
                return json.loads(line[6:])
        return {}


# --------------------------------------------------------------------------- load generation

_WRK_LUA = '''wrk.method = "POST"
wrk.body = "{}"
wrk.headers["X-Amz-Invocation-Type"] = "%s"
'''


def _to_us(value: str, unit: str) -> float:
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def load(url: str, invocation_type: str, connections: int, seconds: float, root: str) -> dict:
    """Requests/s and latency percentiles with keep-alive connections."""
    if shutil.which("wrk"):
        script = os.path.join(root, f"wrk-{invocation_type}.lua")
        with open(script, "w") as f:
            f.write(_WRK_LUA % invocation_type)
        out = subprocess.run(["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
                              "--latency", "-s", script, url], capture_output=True, text=True, check=True).stdout
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        total = int(re.search(r"(\d+) requests in", out).group(1))
        return {"rate": rate, "p50_us": _to_us(*p50.groups()), "p99_us": _to_us(*p99.groups()),
                "errors": int(bad.group(1)) if bad else 0, "requests": total, "tool": "wrk"}
    return _thread_load(url, invocation_type, connections, seconds)


def _thread_load(url: str, invocation_type: str, connections: int, seconds: float) -> dict:
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    path = url.split(port, 1)[1]
    samples, errors, lock = [], [0], threading.Lock()
    stop = time.perf_counter() + seconds

    def worker():
        conn = http.client.HTTPConnection(host, int(port))
        mine = []
        while time.perf_counter() < stop:
            t0 = time.perf_counter_ns()
            conn.request("POST", path, body=b"{}", headers={"X-Amz-Invocation-Type": invocation_type})
            response = conn.getresponse()
            response.read()
            mine.append((time.perf_counter_ns() - t0) / 1000)
            if response.status >= 300:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            samples.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"rate": len(samples) / elapsed, "p50_us": statistics.median(samples), "p99_us": pct(samples, 99),
            "errors": errors[0], "requests": len(samples), "tool": "http.client threads"}


def async_latency(port: int, n: int) -> tuple:
    """(accept latencies us, end-to-end latencies us): Event request sent -> handler ran."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    udp_port = receiver.getsockname()[1]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    accept, e2e = [], []
    try:
        for i in range(n + 5):
            body = json.dumps({"id": i, "port": udp_port}).encode()
            t0 = time.perf_counter_ns()
            conn.request("POST", "/2015-03-31/functions/ping/invocations", body=body,
                         headers={"X-Amz-Invocation-Type": "Event"})
            response = conn.getresponse()
            response.read()
            t1 = time.perf_counter_ns()
            assert response.status == 202, response.status
            while True:
                data = receiver.recv(64)
                if int(data) == i:
                    break
            t2 = time.perf_counter_ns()
            if i >= 5:                       # the first ones include the cold start
                accept.append((t1 - t0) / 1000)
                e2e.append((t2 - t0) / 1000)
    finally:
        conn.close()
        receiver.close()
    return accept, e2e


# --------------------------------------------------------------------------- scheduler baseline

async def scheduler_baseline(root: str, n: int, seconds: float) -> dict:
    from gateway.sam.template import load_template
    from gateway.config import Config
    from gateway.scheduler import Scheduler

    spec = load_template(os.path.join(root, "template.yaml"))
    sched = Scheduler(list(spec.functions.values()), Config(state_dir=os.path.join(root, ".state-baseline"),
                                                            console_logs=False, isolation="none"))
    await sched.start()
    try:
        rtt = await warm_round_trip(sched, "Ok", n)
        rates = {}
        for callers in (1, 16):
            await asyncio.gather(*(sched.invoke("Ok", b"{}") for _ in range(callers)))
            count = 0
            stop = time.perf_counter() + seconds

            async def caller():
                nonlocal count
                while time.perf_counter() < stop:
                    await sched.invoke("Ok", b"{}")
                    count += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(callers)))
            rates[callers] = count / (time.perf_counter() - t0)
        return {"p50_us": statistics.median(rtt), "p99_us": pct(rtt, 99), "rate": rates}
    finally:
        await sched.close()


async def api_layer_cost(root: str, n: int) -> float:
    """Microseconds the Lambda API layer adds to one sync Invoke (ASGI call, fake invoker, no HTTP)."""
    from gateway.config import Config
    from gateway.lambda_api.endpoint import build_lambda_app
    from gateway.types import FunctionSpec, InvokeResult

    fn = FunctionSpec("Ok", "ok", "app.ok", "python3.11", os.path.join(root, "src"))

    class Fake:  # gateway.types.ManagedInvoker
        closing = False

        def function(self, name):
            return fn

        def functions(self):
            return [fn]

        async def invoke(self, function, payload, **kwargs):
            return InvokeResult("00000000-0000-4000-8000-000000000000", b'{"ok":true}')

        def reserved_concurrency(self, name):
            return None

        def set_reserved_concurrency(self, name, reserved):
            pass

    fake = Fake()
    app = build_lambda_app(fake, Config(state_dir=os.path.join(root, ".state-layer")))
    await app.state.async_invoker.start()
    scope = {"type": "http", "method": "POST", "path": "/2015-03-31/functions/ok/invocations", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1"), (b"content-length", b"2"), (b"x-amz-date", b"20240101T000000Z"),
                         (b"authorization", b"AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/lambda/aws4_request"),
                         (b"user-agent", b"Boto3/1.43")]}
    message = {"type": "http.request", "body": b"{}", "more_body": False}

    async def receive():
        return message

    async def send(_):
        pass

    try:
        for _ in range(1000):
            await app(scope, receive, send)
        t0 = time.perf_counter()
        for _ in range(n):
            await app(scope, receive, send)
        through_api = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            await fake.invoke("ok", b"{}")
        alone = (time.perf_counter() - t0) / n
    finally:
        await app.state.async_invoker.stop()
    return (through_api - alone) * 1e6


# --------------------------------------------------------------------------- main

def main(quick: bool, seconds: float) -> None:
    import uvloop

    root = tempfile.mkdtemp(prefix="lambdagate-api-bench-")
    os.makedirs(os.path.join(root, "src"))
    with open(os.path.join(root, "src", "app.py"), "w") as f:
        f.write(HANDLER)
    with open(os.path.join(root, "template.yaml"), "w") as f:
        f.write(TEMPLATE)
    seconds = seconds or (1.5 if quick else 4.0)
    n_latency = 100 if quick else 400

    base = uvloop.run(scheduler_baseline(root, 500 if quick else 3000, seconds))
    print(f"scheduler warm round trip (no HTTP)   p50 {base['p50_us']:7.1f} us  p99 {base['p99_us']:7.1f} us  "
          f"c1 {base['rate'][1]:7.0f}/s  c16 {base['rate'][16]:7.0f}/s")

    layer_us = uvloop.run(api_layer_cost(root, 5000 if quick else 30000))
    print(f"Lambda API layer per sync Invoke (ASGI call, fake invoker, no HTTP server): {layer_us:5.1f} us")

    server = Server(root, "full")
    try:
        url = f"http://127.0.0.1:{server.port}/2015-03-31/functions/ok/invocations"
        load(url, "RequestResponse", 16, 1.0, root)                       # warm workers and connections
        sync = {c: load(url, "RequestResponse", c, seconds, root) for c in (1, 16)}
        for c, r in sync.items():
            print(f"HTTP RequestResponse c{c:<2} ({r['tool']})  {r['rate']:7.0f} req/s  p50 {r['p50_us']:7.1f} us  "
                  f"p99 {r['p99_us']:7.1f} us  non-2xx {r['errors']}  "
                  f"| HTTP/scheduler rate {r['rate'] / base['rate'][c]:.2f}x")
        print(f"HTTP overhead per sync invoke at c1: {1e6 / sync[1]['rate'] - base['p50_us']:7.1f} us "
              f"(1/rate minus the scheduler's p50 round trip)")
        accept, e2e = async_latency(server.port, n_latency)
        print(f"Event accept (202, fsync'd)          p50 {statistics.median(accept):7.1f} us  "
              f"p99 {pct(accept, 99):7.1f} us")
        print(f"Event end-to-end (send -> handler)   p50 {statistics.median(e2e):7.1f} us  p99 {pct(e2e, 99):7.1f} us"
              f"  (n={n_latency})")
    finally:
        full_stats = server.stop()

    for durability in ("full", "normal"):
        server = Server(root, durability)
        try:
            url = f"http://127.0.0.1:{server.port}/2015-03-31/functions/ok/invocations"
            load(url, "RequestResponse", 16, 0.5, root)
            results = {}
            for c in (1, 16):
                results[c] = load(url, "Event", c, seconds, root)
                results[c]["drain_s"] = server.wait_drained()
        finally:
            stats = server.stop()
        for c, r in results.items():
            print(f"Event accepted durably, {durability:6} c{c:<2}  {r['rate']:7.0f} req/s  p50 {r['p50_us']:7.1f} us  "
                  f"p99 {r['p99_us']:7.1f} us  non-2xx {r['errors']}  backlog drained in {r['drain_s']:.1f} s")
        if stats.get("commits"):
            print(f"  {durability}: {stats['accepted']} events accepted, {stats['ops']} row operations in "
                  f"{stats['commits']} commits ({stats['ops'] / stats['commits']:.1f} per commit)")
    if full_stats.get("commits"):
        print(f"  (latency run: {full_stats['ops'] / full_stats['commits']:.1f} row operations per commit)")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        import uvloop
        uvloop.run(serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs, fewer samples")
    parser.add_argument("--seconds", type=float, default=0.0, help="duration of each load run")
    args = parser.parse_args()
    main(args.quick, args.seconds)
