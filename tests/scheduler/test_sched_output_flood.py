"""A function that prints tens of megabytes: the gateway neither stalls other invocations nor
grows by the output; the log file gets it, each line cut at CloudWatch's 256 KB; LogType=Tail
gets its last 4 KB."""
from __future__ import annotations

import asyncio
import time

import pytest

from gateway.logs import MAX_EVENT_BYTES

pytestmark = pytest.mark.integration   # starts real processes

FLOOD = """
import sys

def handler(event, context):
    line = "x" * (1024 * 1024) + "\\n"
    for i in range(event["lines"]):
        sys.stdout.write(f"{i:04d}" + line)
    sys.stdout.write("the end\\n")
    return 1
"""

HEALTHY = """
def handler(event, context):
    return event
"""


def peak_rss_kb() -> int:
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def test_a_50_mib_print_neither_stalls_others_nor_grows_the_gateway(run, make_function, open_scheduler, log_dir):
    flood = make_function(FLOOD, name="Flood", function_name="flood", memory_mb=512, timeout_s=60)
    healthy = make_function(HEALTHY, name="Healthy", function_name="healthy")

    async def body():
        async with open_scheduler([flood, healthy]) as s:
            await s.invoke("Healthy", b"{}")
            await s.invoke("Flood", b'{"lines": 1}')
            rss_before_kb = peak_rss_kb()
            reset_peak_rss()
            flooding = asyncio.ensure_future(s.invoke("Flood", b'{"lines": 50}', want_log=True))
            gaps = []
            while not flooding.done():
                started = time.monotonic()
                await s.invoke("Healthy", b'{"ok": 1}')
                gaps.append(time.monotonic() - started)
            result = await flooding
            for _ in range(20):   # the worker returns to its pool once the writer has its output
                if s.idle_count("Flood"):
                    break
                await asyncio.sleep(0.05)
            growth_kb = peak_rss_kb() - rss_before_kb
            again = await s.invoke("Flood", b'{"lines": 0}')
            return result, gaps, growth_kb, again, s.idle_count("Flood")

    result, gaps, growth_kb, again, idle = run(body())
    assert not result.failed and result.payload == b"1"
    assert again.payload == b"1" and idle == 1     # the same warm worker served again: nothing leaked
    assert len(gaps) >= 5 and max(gaps) < 0.25, f"healthy invocations stalled: max {max(gaps) * 1000:.0f} ms"
    assert growth_kb < 24 * 1024, f"the gateway grew by {growth_kb // 1024} MB for 50 MB of output"
    tail = result.log.decode()
    assert tail.endswith("\n") and "the end\nEND RequestId: " in tail and len(result.log) < 16 * 1024
    lines = (log_dir / "flood.log").read_text().splitlines()
    flood_lines = [line for line in lines if line[:4].isdigit() and len(line) > 1000]
    assert len(flood_lines) == 1 + 50
    assert all(len(line) == MAX_EVENT_BYTES for line in flood_lines)
    assert flood_lines[-1].startswith("0049x")
