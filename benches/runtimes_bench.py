"""Warm round trip and cold start per runtime, in one run, through the scheduler:

    python benches/runtimes_bench.py [--quick]

- python3.x: lambdagate's native runtime (forked from the zygote, frames over a socket);
- provided.al2023: a custom `bootstrap` speaking the Runtime API over HTTP (a small
  Python script with a keep-alive connection, as a compiled runtime client would);
- nodejs20.x: lambdagate's Node.js bootstrap, when `node` is installed;
- java17: lambdagate's Java bootstrap, when a JDK is installed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import uvloop

from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.types import FunctionSpec
from _common import pct

PY_HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
NODE_HANDLER = "export const handler = async (event) => ({ ok: true });\n"
JAVA_HANDLER = """\
import java.io.*;
public class Echo {
    public void handleRequest(InputStream in, OutputStream out) throws IOException {
        out.write("{\\"ok\\":true}".getBytes());
    }
}
"""
BOOTSTRAP = f"""#!{sys.executable}
import http.client, os
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))
base = "/2018-06-01/runtime/invocation/"
while True:
    conn.request("GET", base + "next")
    r = conn.getresponse()
    rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    r.read()
    conn.request("POST", base + rid + "/response", body=b'{{"ok":true}}')
    conn.getresponse().read()
"""


def make_functions(root: str) -> list:
    specs = []
    py = os.path.join(root, "py")
    os.makedirs(py)
    open(os.path.join(py, "app.py"), "w").write(PY_HANDLER)
    specs.append(FunctionSpec("Python", "Python", "app.handler", "python3.11", py, timeout_s=10))
    prov = os.path.join(root, "provided")
    os.makedirs(prov)
    path = os.path.join(prov, "bootstrap")
    open(path, "w").write(BOOTSTRAP)
    os.chmod(path, 0o755)
    specs.append(FunctionSpec("Provided", "Provided", "unused", "provided.al2023", prov, timeout_s=10))
    if shutil.which("node"):
        node = os.path.join(root, "node")
        os.makedirs(node)
        open(os.path.join(node, "index.mjs"), "w").write(NODE_HANDLER)
        specs.append(FunctionSpec("Node", "Node", "index.handler", "nodejs20.x", node, timeout_s=10))
    if shutil.which("javac"):
        java = os.path.join(root, "java")
        os.makedirs(java)
        open(os.path.join(java, "Echo.java"), "w").write(JAVA_HANDLER)
        specs.append(FunctionSpec("Java", "Java", "Echo::handleRequest", "java17", java, timeout_s=20,
                                  memory_mb=512))
    return specs


async def measure(sched: Scheduler, name: str, warm_n: int, cold_n: int) -> tuple:
    first = await sched.invoke(name, b"{}")
    assert first.function_error is None, first.payload
    warm = []
    for _ in range(warm_n):
        t0 = time.perf_counter_ns()
        await sched.invoke(name, b"{}")
        warm.append((time.perf_counter_ns() - t0) / 1000)
    cold = []
    for _ in range(cold_n):
        sched.retire(name)
        t0 = time.perf_counter_ns()
        result = await sched.invoke(name, b"{}")
        cold.append((time.perf_counter_ns() - t0) / 1e6)
        assert result.init_duration_ns > 0
    return warm, cold


async def main(quick: bool) -> None:
    root = tempfile.mkdtemp(prefix="lambdagate-runtimes-")
    specs = make_functions(root)
    # the cost of the path itself: isolation_bench.py measures what isolation adds, and at
    # 128 MB an isolated worker would wait for AWS's CPU share (7.2 % of a CPU) after Init
    sched = Scheduler(specs, Config(state_dir=root, console_logs=False, isolation="none"))
    await sched.start()
    rows = {}
    try:
        for spec in specs:
            warm_n = 300 if quick else 2000
            cold_n = 5 if quick else 20
            if spec.runtime.startswith("java"):
                warm_n, cold_n = warm_n // 2, max(3, cold_n // 4)
            rows[spec.logical_id] = await measure(sched, spec.logical_id, warm_n, cold_n)
    finally:
        await sched.close()
    base_warm = statistics.median(rows["Python"][0])
    base_cold = statistics.median(rows["Python"][1])
    print(f"{'runtime':<10}{'warm p50 us':>12}{'warm p99 us':>12}{'x python':>9}{'cold p50 ms':>13}{'x python':>9}")
    for name, (warm, cold) in rows.items():
        print(f"{name:<10}{statistics.median(warm):>12.1f}{pct(warm, 99):>12.1f}"
              f"{statistics.median(warm) / base_warm:>9.1f}{statistics.median(cold):>13.2f}"
              f"{statistics.median(cold) / base_cold:>9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    uvloop.run(main(parser.parse_args().quick))
