"""End-to-end load benchmark: `lambdagate start-api` on the hello-world example
against a bare Starlette app on uvicorn returning the same body, both driven by
wrk in the same run.

    python benches/load_bench.py [--duration 10] [--connections 1,16] [--rounds 3]

Needs `wrk` (Debian package); the script looks for it and installs it with
apt-get when it is missing and it runs as root. Prints req/s, p50 and p99 for
both servers and the ratio, plus the latency of the first (cold) request. A third row, "stub",
is lambdagate's HTTP side with the function answered in-process: the gap between it and
lambdagate is the cost of the hop to a worker process.

Before those rows, examples/authorizers runs in one lambdagate, every route answered by the same
hello-world handler: req/s of a route behind a cached Lambda TOKEN authorizer and of one behind a
JWT authorizer (local JWKS), each as a ratio to the open route of the same API kind (`--only
authorizers` runs just these).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from gateway import wire

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "hello-world", "template.yaml")
AUTH_EXAMPLE = os.path.join(ROOT, "examples", "authorizers", "template.yaml")
BODY = '{"message": "hello world"}'

BASELINE_APP = f'''
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

async def hello(request):
    return Response({BODY!r}, media_type="application/json")

app = Starlette(routes=[Route("/hello", hello)])
'''


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        print(f"wrk: {wrk} (found on PATH)")
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk: not found, installing the Debian package")
        subprocess.run(["apt-get", "update", "-qq"], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
        wrk = shutil.which("wrk")
        if wrk:
            print(f"wrk: {wrk} (installed)")
            return wrk
    sys.exit("wrk is needed: apt-get install wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout_s: float = 15) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.01)
    sys.exit(f"server on port {port} did not start")


def first_request_ms(url: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = r.read().decode()
    assert body == BODY, body
    return (time.perf_counter() - t0) * 1000


def run_wrk(wrk: str, url: str, connections: int, duration_s: int, headers: tuple = ()) -> dict:
    threads = 1 if connections == 1 else 2
    extra = [arg for header in headers for arg in ("-H", header)]
    out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--latency", *extra, url],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def latency(pct: str) -> float:
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    return {"rps": rps, "p50": latency("50"), "p99": latency("99"), "errors": int(errors.group(1)) if errors else 0}


def start(cmd: list, port: int, cwd: str) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def same_answer_everywhere(work: str) -> str:
    """examples/authorizers with every route answered by one hello-world handler, so that a guarded
    route and an open one differ only by what API Gateway does before the function runs."""
    example = os.path.dirname(AUTH_EXAMPLE)
    code = os.path.join(work, "auth-src")
    shutil.copytree(os.path.join(example, "src"), code)
    with open(os.path.join(code, "hello.py"), "w") as f:
        f.write("def handler(event, context):\n"
                f"    return {{'statusCode': 200, 'headers': {{'Content-Type': 'application/json'}}, 'body': {BODY!r}}}\n")
    with open(AUTH_EXAMPLE) as f:
        text = f.read()
    text = text.replace("CodeUri: src/", f"CodeUri: {code}/").replace("Handler: app.whoami", "Handler: hello.handler")
    template = os.path.join(work, "authorizers.yaml")
    with open(template, "w") as f:
        f.write(text)
    return template


def authorizer_rows(wrk: str, conns: list, args, work: str) -> None:
    """examples/authorizers in one lambdagate: a route behind a cached Lambda TOKEN authorizer and
    one behind a JWT authorizer, each against the open route of its own API kind, in the same run."""
    sys.path.insert(0, os.path.dirname(AUTH_EXAMPLE))
    from make_token import ISSUER   # the example's own token maker
    token = subprocess.run([sys.executable, os.path.join(os.path.dirname(AUTH_EXAMPLE), "make_token.py"),
                            "--dir", work, "--expires-in", "86400"],
                           check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    gateway = start([sys.executable, "-m", "gateway.cli", "start-api", "-t", same_answer_everywhere(work), "-p", str(port),
                     "--lambda-port", "0", "--no-reload", "--quiet", "--isolation", args.isolation,
                     "--jwks", f"{ISSUER}={os.path.join(work, 'jwks.json')}",
                     "--state-dir", os.path.join(work, "auth-state")], port, work)
    pairs = (("REST open", "/open", ()), ("REST cached Lambda authorizer", "/protected", ("Authorization: allow-alice",)),
             ("HTTP open", "/http/open", ()), ("HTTP JWT authorizer", "/http/me", (f"Authorization: Bearer {token}",)))
    try:
        wait_port(port, gateway)
        for _, path, headers in pairs:   # workers warm, the authorizer's answer cached, the JWKS read
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                             headers=dict(h.split(": ", 1) for h in headers))
            with urllib.request.urlopen(request) as r:
                assert r.status == 200, (path, r.status)
        print(f"{'route':<32}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
        for c in conns:
            runs = {name: [] for name, _, _ in pairs}
            for _ in range(args.rounds):
                for name, path, headers in pairs:
                    runs[name].append(run_wrk(wrk, f"http://127.0.0.1:{port}{path}", c, args.duration, headers))
            rows = {name: {key: statistics.median(r[key] for r in results) for key in results[0]}
                    for name, results in runs.items()}
            for name, r in rows.items():
                print(f"{name:<32}{c:>6}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['errors']:>9.0f}")
            names = [name for name, _, _ in pairs]
            print(f"{'ratio Lambda authorizer/open':<32}{c:>6}{rows[names[1]]['rps'] / rows[names[0]]['rps']:>10.2f}x")
            print(f"{'ratio JWT authorizer/open':<32}{c:>6}{rows[names[3]]['rps'] / rows[names[2]]['rps']:>10.2f}x")
    finally:
        stop(gateway)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", default="1,16", help="comma-separated connection counts")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds per connection count; "
                        "medians are printed (default 1)")
    parser.add_argument("--isolation", default=wire.ISOLATION_AUTO, choices=wire.ISOLATION_CHOICES,
                        help="lambdagate's --isolation (default auto, as a user runs it)")
    parser.add_argument("--only", choices=("all", "hello", "authorizers"), default="all",
                        help="hello: lambdagate against a bare Starlette app; authorizers: guarded routes against "
                             "open ones (default: both)")
    args = parser.parse_args()
    wrk = find_wrk()
    work = tempfile.mkdtemp(prefix="lambdagate-load-")
    with open(os.path.join(work, "baseline_app.py"), "w") as f:
        f.write(BASELINE_APP)
    conns = [int(c) for c in args.connections.split(",")]
    if args.only in ("all", "authorizers"):
        authorizer_rows(wrk, conns, args, work)
    if args.only == "authorizers":
        return

    base_port, lg_port, stub_port = free_port(), free_port(), free_port()
    baseline = start([sys.executable, "-m", "uvicorn", "baseline_app:app", "--port", str(base_port), "--loop",
                      "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"], base_port, work)
    # the same HTTP side with the function answered in-process: the worker hop's cost is the difference
    stub = start([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "stub_gateway.py"),
                  EXAMPLE, str(stub_port)], stub_port, work)
    gateway = None
    try:
        wait_port(base_port, baseline)
        wait_port(stub_port, stub)
        # started last, on a quiet machine, so that its time to ready is its own
        gateway = start([sys.executable, "-m", "gateway.cli", "start-api", "-t", EXAMPLE, "-p", str(lg_port),
                         "--lambda-port", "0", "--no-reload", "--quiet", "--isolation", args.isolation,
                         "--state-dir", os.path.join(work, "state")],
                        lg_port, work)
        ready_s = wait_port(lg_port, gateway)
        cold_ms = first_request_ms(f"http://127.0.0.1:{lg_port}/hello")
        print(f"lambdagate ready after {ready_s * 1000:.0f} ms (process start to port open); "
              f"first (cold) request {cold_ms:.1f} ms")
        first_request_ms(f"http://127.0.0.1:{base_port}/hello")
        print(f"{'server':<12}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
              + (f"   (medians of {args.rounds} interleaved rounds)" if args.rounds > 1 else ""))
        for c in conns:
            runs = {"baseline": [], "stub": [], "lambdagate": []}
            for _ in range(args.rounds):  # interleaved, so that a noisy spell hits every server alike
                for name, port in (("baseline", base_port), ("stub", stub_port), ("lambdagate", lg_port)):
                    runs[name].append(run_wrk(wrk, f"http://127.0.0.1:{port}/hello", c, args.duration))
            rows = {name: {key: statistics.median(r[key] for r in results) for key in results[0]}
                    for name, results in runs.items()}
            for name, r in rows.items():
                print(f"{name:<12}{c:>6}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['errors']:>9.0f}")
            print(f"{'ratio':<12}{c:>6}{rows['lambdagate']['rps'] / rows['baseline']['rps']:>10.2f}x"
                  f"   (stub/baseline {rows['stub']['rps'] / rows['baseline']['rps']:.2f}x)")
    finally:
        stop(stub)
        if gateway is not None:
            stop(gateway)
        stop(baseline)


if __name__ == "__main__":
    main()
