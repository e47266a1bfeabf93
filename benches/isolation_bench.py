"""What isolating execution environments costs, isolated ("auto") beside none, in one run:

    python benches/isolation_bench.py [--quick] [--rounds N]

Two schedulers run the same trivial Python handler, one with `Config(isolation="auto")` (the
strongest level this machine allows: as root, a PID and mount namespace per worker with a
private /tmp, and a cgroup with AWS's process and CPU quotas), one with `isolation="none"`:

- cold start: an invocation that has to start a worker (its warm workers retired first, as in
  scheduler_bench), samples alternating between the two (A, B, A, B...);
- warm round trip: sequential invocations of a warm worker;
- throughput with 16 concurrent callers, invocations/s.

Every measurement is split into rounds that alternate the two configurations, so that the
machine's drift falls on both alike. Prints p50/p99, the ratios isolated/none and their targets
(cold start p50 <= 1.5x, warm round trip p50 <= 1.1x; "MISSED" beside a ratio over its target;
the exit code is 0 all the same: this is a benchmark, not a test).

The function has MemorySize 1769 MB (--memory-mb): one vCPU, so that the figures are what the
isolation itself costs. At 128 MB an isolated worker gets AWS's CPU share after Init, 7.2 % of a
CPU, and sequential warm invocations then wait for it as they would on AWS: `--memory-mb 128`
shows that on purpose.

Machines here are noisy, so read ratios, not digits.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile

import uvloop

import _core
from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.scheduler.cgroups import CPU_PERIOD_US, cpu_quota_us
from gateway.types import FunctionSpec
from _common import pct, warm_round_trip
from scheduler_bench import HANDLER, cold_starts, throughput

COLD_TARGET = 1.5
WARM_TARGET = 1.1
CALLERS = 16


def ratio_line(label: str, isolated: float, none: float, target: float | None = None) -> str:
    ratio = isolated / none
    line = f"{label:<22} isolated/none {ratio:5.2f}x"
    if target is not None:
        line += f"   target <= {target:.1f}x" + ("   MISSED" if ratio > target else "")
    return line


def figures(label: str, unit: str, samples: dict, fmt: str) -> None:
    for name, values in samples.items():
        print(f"{label:<16} {name:<8} p50 {statistics.median(values):{fmt}} {unit}   "
              f"p99 {pct(values, 99):{fmt}} {unit}   (n={len(values)})")


async def settle(scheds: dict) -> None:
    """Drop every warm worker and let their ends pass, so that they fall on no sample."""
    for sched in scheds.values():
        sched.retire("Fn")
    await asyncio.sleep(0.2)


async def main(quick: bool, rounds: int, memory_mb: int) -> None:
    cold_per_round = 5 if quick else 10
    warm_per_round = 250 if quick else 500
    secs_per_round = 0.5 if quick else 1.0

    code = tempfile.mkdtemp(prefix="lambdagate-bench-")
    states = {name: tempfile.mkdtemp(prefix=f"lambdagate-bench-state-{name}-") for name in ("isolated", "none")}
    with open(os.path.join(code, "app.py"), "w") as f:
        f.write(HANDLER)
    fn = FunctionSpec("Fn", "Fn", "app.handler", "python3.11", code, timeout_s=30, memory_mb=memory_mb)
    levels = {"isolated": "auto", "none": "none"}
    scheds = {name: Scheduler([fn], Config(state_dir=states[name], console_logs=False, isolation=levels[name]))
              for name in levels}
    try:
        for sched in scheds.values():
            await sched.start()
            await sched.invoke("Fn", b"{}")     # the zygote and a first worker are up
        print(f"core implementation: {_core.IMPLEMENTATION}")
        for name, sched in scheds.items():
            print(f"isolation {levels[name]:<5} -> {sched.isolation.level}: {sched.isolation.describe()}")
        quota = cpu_quota_us(fn.memory_mb)
        print(f"function MemorySize {fn.memory_mb} MB: isolated workers' CPU after Init "
              f"{quota} us per {CPU_PERIOD_US} us ({quota / CPU_PERIOD_US:.1%} of a CPU)")
        print(f"{rounds} rounds, alternating: {cold_per_round} cold starts, {warm_per_round} warm round trips "
              f"and {secs_per_round:g} s at c{CALLERS} per configuration per round")
        print()

        cold = {name: [] for name in scheds}
        warm = {name: [] for name in scheds}
        rates = {name: [] for name in scheds}
        for r in range(rounds):
            # which configuration goes first alternates from round to round
            order = list(scheds) if r % 2 == 0 else list(reversed(scheds))
            await settle(scheds)
            for _ in range(cold_per_round):
                for name in order:
                    cold[name] += await cold_starts(scheds[name], 1)
            for name in order:
                warm[name] += await warm_round_trip(scheds[name], "Fn", warm_per_round)
            for name in order:
                rates[name].append(await throughput(scheds[name], CALLERS, secs_per_round))

        figures("cold start", "ms", cold, "7.2f")
        figures("warm round trip", "us", warm, "7.1f")
        for name, values in rates.items():
            print(f"throughput c{CALLERS:<3} {name:<8} {statistics.median(values):9.0f} invocations/s   "
                  f"(median of {len(values)} rounds; min {min(values):.0f}, max {max(values):.0f})")
        print()
        med = {name: {"cold": statistics.median(cold[name]), "warm": statistics.median(warm[name]),
                      "rate": statistics.median(rates[name])} for name in scheds}
        iso, none = med["isolated"], med["none"]
        print(ratio_line("cold start p50", iso["cold"], none["cold"], COLD_TARGET))
        print(ratio_line("warm round trip p50", iso["warm"], none["warm"], WARM_TARGET))
        print(ratio_line(f"throughput c{CALLERS}", iso["rate"], none["rate"]))
    finally:
        for sched in scheds.values():
            await sched.close()
        for path in (code, *states.values()):
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples: a smoke run of a few seconds")
    parser.add_argument("--rounds", type=int, default=None,
                        help="rounds alternating the two configurations (default 10; 2 with --quick)")
    parser.add_argument("--memory-mb", type=int, default=1769,
                        help="the function's MemorySize (default 1769: one vCPU, no AWS CPU share in the way)")
    args = parser.parse_args()
    uvloop.run(main(args.quick, args.rounds or (2 if args.quick else 10), args.memory_mb))
