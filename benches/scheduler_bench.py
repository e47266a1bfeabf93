"""Scheduler benchmarks through real worker processes (no HTTP):

    python benches/scheduler_bench.py [--quick]

- warm invoke round trip of a trivial handler (p50, p99) and invocations/s with
  1 and 16 concurrent callers;
- cold start through the zygote (first invocation, no worker yet) beside the time
  to spawn a fresh interpreter, measured in the same run;
- timeout precision: how late the kill lands after the deadline, idle and with
  16 concurrent invocations timing out together.

Prints medians and ratios; machines here are noisy, so read ratios, not digits.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

import uvloop

import _core
from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.types import FunctionSpec
from _common import pct, warm_round_trip

HANDLER = '''
import time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"ok": True}
'''


async def throughput(sched: Scheduler, callers: int, seconds: float) -> float:
    stop = time.perf_counter() + seconds
    count = 0

    async def caller():
        nonlocal count
        while time.perf_counter() < stop:
            await sched.invoke("Fn", b"{}")
            count += 1
    # warm one worker per caller first, so the figure is the warm rate
    await asyncio.gather(*(sched.invoke("Fn", b'{"sleep": 0.05}') for _ in range(callers)))
    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return count / (time.perf_counter() - t0)


async def cold_starts(sched: Scheduler, n: int) -> list:
    await sched.invoke("Fn", b"{}")  # the zygote is up
    samples = []
    for _ in range(n):
        sched.retire("Fn")
        t0 = time.perf_counter_ns()
        result = await sched.invoke("Fn", b"{}")
        samples.append((time.perf_counter_ns() - t0) / 1e6)
        assert result.init_duration_ns > 0
    return samples


def spawn_times(n: int) -> list:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        subprocess.run([sys.executable, "-c", "import json"], check=True)
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return samples


async def timeout_overshoot(sched: Scheduler, concurrent: int, rounds: int) -> list:
    overshoot_ms = []
    timeout_ns = int(sched.function("Slow").timeout_s * 1e9)
    for _ in range(rounds):
        results = await asyncio.gather(*(sched.invoke("Slow", b'{"sleep": 5}') for _ in range(concurrent)))
        for r in results:
            assert r.status == "timeout"
            overshoot_ms.append((r.duration_ns - timeout_ns) / 1e6)
    return overshoot_ms


async def main(quick: bool) -> None:
    code = tempfile.mkdtemp(prefix="lambdagate-bench-")
    with open(os.path.join(code, "app.py"), "w") as f:
        f.write(HANDLER)
    fns = [FunctionSpec("Fn", "Fn", "app.handler", "python3.11", code, timeout_s=30),
           FunctionSpec("Slow", "Slow", "app.handler", "python3.11", code, timeout_s=0.2)]
    # the cost of the path itself: isolation_bench.py measures what isolation adds, and at
    # 128 MB an isolated worker would wait for AWS's CPU share (7.2 % of a CPU) after Init
    sched = Scheduler(fns, Config(state_dir=code, console_logs=False, isolation="none"))
    await sched.start()
    n = 500 if quick else 5000
    try:
        rtt = await warm_round_trip(sched, "Fn", n)
        print(f"core implementation: {_core.IMPLEMENTATION}")
        print(f"warm round trip      p50 {statistics.median(rtt):7.1f} us   p99 {pct(rtt, 99):7.1f} us   (n={n})")
        secs = 1.0 if quick else 3.0
        for callers in (1, 16):
            rate = await throughput(sched, callers, secs)
            print(f"throughput c{callers:<2}       {rate:9.0f} invocations/s")
        colds = await cold_starts(sched, 20 if quick else 100)
        spawns = spawn_times(5 if quick else 20)
        print(f"cold start (zygote)  p50 {statistics.median(colds):7.2f} ms   p99 {pct(colds, 99):7.2f} ms")
        print(f"spawn interpreter    p50 {statistics.median(spawns):7.2f} ms   "
              f"ratio spawn/cold {statistics.median(spawns) / statistics.median(colds):.1f}x")
        idle = await timeout_overshoot(sched, 1, 10 if quick else 40)
        print(f"timeout overshoot idle  p50 {statistics.median(idle):6.2f} ms  p99 {pct(idle, 99):6.2f} ms  "
              f"min {min(idle):6.2f} ms")
        loaded = await timeout_overshoot(sched, 16, 2 if quick else 6)
        print(f"timeout overshoot c16   p50 {statistics.median(loaded):6.2f} ms  p99 {pct(loaded, 99):6.2f} ms  "
              f"min {min(loaded):6.2f} ms")
    finally:
        await sched.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    uvloop.run(main(parser.parse_args().quick))
