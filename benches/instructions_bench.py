"""Gateway-side cost of a warm invocation, in instructions: repeatable on a noisy machine.

Wall-clock figures here vary by 2x from run to run; callgrind counts instructions, the same for
the same code and inputs. Run the loop twice with different lengths and divide the difference:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python benches/instructions_bench.py 500
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python benches/instructions_bench.py 3500
    # instructions per invocation = (Collected(3500) - Collected(500)) / 3000

Only the gateway process is counted (the worker is another process); its log writer thread is
included. Without valgrind the script prints CPU microseconds per invocation for the gateway and
the worker, which is quicker but noisy.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import uvloop

from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.types import FunctionSpec

WARM_UP = 200


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def main(invocations: int) -> None:
    root = tempfile.mkdtemp(prefix="lambdagate-instructions-")
    code = os.path.join(root, "fn")
    os.makedirs(code)
    with open(os.path.join(code, "app.py"), "w") as f:
        f.write("def handler(event, context):\n    return 1\n")
    spec = FunctionSpec(logical_id="Ok", function_name="Ok", handler="app.handler", runtime="python3.11",
                        code_dir=code)
    scheduler = Scheduler([spec], Config(state_dir=root, console_logs=False))
    await scheduler.start()
    try:
        for _ in range(WARM_UP):
            await scheduler.invoke("Ok", b"{}")
        [worker_pid] = scheduler.worker_pids("Ok")
        gateway_s, worker_ticks, wall_s = time.process_time(), cpu_ticks(worker_pid), time.perf_counter()
        for _ in range(invocations):
            await scheduler.invoke("Ok", b"{}")
        gateway_s = time.process_time() - gateway_s
        worker_s = (cpu_ticks(worker_pid) - worker_ticks) / os.sysconf("SC_CLK_TCK")
        wall_s = time.perf_counter() - wall_s
        print(f"{invocations} warm invocations: gateway {gateway_s / invocations * 1e6:.1f} us CPU each, "
              f"worker {worker_s / invocations * 1e6:.1f} us CPU each, {wall_s / invocations * 1e6:.1f} us wall")
    finally:
        await scheduler.close()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000))
