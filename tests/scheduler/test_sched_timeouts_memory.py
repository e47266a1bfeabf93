"""Timeouts (Sandbox.Timedout) and the memory limit (Runtime.OutOfMemory), through real workers."""
from __future__ import annotations

import asyncio
import json
import re
import time
import pytest

pytestmark = pytest.mark.integration   # starts real processes

# TOKEN is made at import, once per execution environment: the same token, the same worker. (A handler's
# own pid says nothing: in a PID namespace every worker is pid 2; the host's are Scheduler.worker_pids.)
SLOW = """
import time, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    print("started", flush=True)
    time.sleep(event.get("sleep", 0))
    return {"token": TOKEN}
"""

FAST = """
import uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    return {"token": TOKEN}
"""

LATE_BOUND_S = 0.1        # how late a deadline may fire (generous, for a loaded CI machine)


def test_timeout_kills_the_worker_on_time(run, make_function, open_scheduler, kit):
    spec = make_function(SLOW, timeout_s=1)

    async def body():
        async with open_scheduler([spec]) as s:
            warm = await s.invoke(spec.logical_id, b"{}")            # so the timed call has no Init phase
            [pid] = s.worker_pids(spec.logical_id)
            started = time.monotonic()
            timed_out = await s.invoke(spec.logical_id, b'{"sleep": 5}', want_log=True)
            wall = time.monotonic() - started
            gone = await kit.async_still_there([pid], timeout_s=2.0)
            after = await s.invoke(spec.logical_id, b"{}")
            return warm, pid, timed_out, wall, gone, after, s.worker_pids(spec.logical_id), s.totals(spec.logical_id)

    warm, pid, result, wall, gone, after, pids_after, totals = run(body())
    rid = result.request_id
    assert result.status == "timeout"
    assert result.function_error == "Sandbox.Timedout"
    assert json.loads(result.payload) == {"errorType": "Sandbox.Timedout",
                                          "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    # never early, hardly late
    assert 1.0 <= wall <= 1.0 + LATE_BOUND_S, wall
    assert 1_000_000_000 <= result.duration_ns <= (1.0 + LATE_BOUND_S) * 1e9
    assert gone == [], "the timed-out worker process is still there"
    # the log: the function's output, AWS's timeout line, then REPORT with Status: timeout
    log = result.log.decode()
    assert f"START RequestId: {rid} Version: $LATEST\nstarted\n" in log
    assert re.search(rf"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {rid} Task timed out after 1\.00 seconds\n"
                     rf"END RequestId: {rid}\n", log, re.M), log
    report = next(line for line in log.split("\n") if line.startswith("REPORT"))
    assert report.endswith("\tStatus: timeout"), report
    # the environment is reset: the next invocation works on a new worker
    assert after.status == "success"
    assert json.loads(after.payload)["token"] != json.loads(warm.payload)["token"]
    assert len(pids_after) == 1 and pids_after != [pid]
    assert after.init_duration_ns > 0
    assert totals["timeouts"] == 1
    assert totals["errors"] == 1          # CloudWatch counts timeouts as errors too
    assert totals["invocations"] == 3


def test_a_timeout_does_not_disturb_other_functions(run, make_function, open_scheduler):
    slow = make_function(SLOW, timeout_s=1)
    fast = make_function(FAST)

    async def fast_calls(s):
        results, walls = [], []
        await s.invoke(fast.logical_id, b"{}")                       # warm
        end = time.monotonic() + 1.2
        while time.monotonic() < end:
            t = time.monotonic()
            results.append(await s.invoke(fast.logical_id, b"{}"))
            walls.append(time.monotonic() - t)
            await asyncio.sleep(0.02)
        return results, walls

    async def body():
        async with open_scheduler([slow, fast]) as s:
            timed_out, (results, walls) = await asyncio.gather(s.invoke(slow.logical_id, b'{"sleep": 5}'),
                                                               fast_calls(s))
            return timed_out, results, walls, s.totals(fast.logical_id)

    timed_out, results, walls, fast_totals = run(body())
    assert timed_out.status == "timeout"
    assert len(results) >= 10
    assert all(r.status == "success" for r in results)
    assert len({json.loads(r.payload)["token"] for r in results}) == 1   # the fast worker was never touched
    assert max(walls) < 0.25, max(walls)
    assert fast_totals["errors"] == 0 and fast_totals["timeouts"] == 0


def test_deadlines_of_different_lengths_each_fire_on_time(run, make_function, open_scheduler):
    """A later deadline armed first, an earlier one armed second: both fire when due."""
    long = make_function(SLOW, timeout_s=2)
    short = make_function(SLOW, timeout_s=1)

    async def timed(s, spec):
        started = time.monotonic()
        result = await s.invoke(spec.logical_id, b'{"sleep": 5}')
        return result, time.monotonic() - started

    async def body():
        async with open_scheduler([long, short]) as s:
            await asyncio.gather(s.invoke(long.logical_id, b"{}"), s.invoke(short.logical_id, b"{}"))   # warm both
            return await asyncio.gather(timed(s, long), timed(s, short))

    (long_result, long_wall), (short_result, short_wall) = run(body())
    assert long_result.status == short_result.status == "timeout"
    assert "Task timed out after 2.00 seconds" in json.loads(long_result.payload)["errorMessage"]
    assert "Task timed out after 1.00 seconds" in json.loads(short_result.payload)["errorMessage"]
    assert 1.0 <= short_wall <= 1.0 + LATE_BOUND_S, short_wall
    assert 2.0 <= long_wall <= 2.0 + LATE_BOUND_S, long_wall


# Allocates in 1 MB pieces, as real code grows: between two pieces the memory watchdog's thread can run
# (one allocation of hundreds of MB holds the GIL until it is done, which at 128 MB's CPU share takes seconds).
HOG = """
import time, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    if event.get("hog_mb"):
        blob = [b"x" * (1024 * 1024) for _ in range(event["hog_mb"])]
        time.sleep(event.get("hold_s", 3))          # hold it
        return sum(map(len, blob))
    return {"token": TOKEN}
"""


def test_exceeding_memory_size_is_runtime_out_of_memory(run, make_function, open_scheduler, kit):
    hold_s = 8
    spec = make_function(HOG, memory_mb=128, timeout_s=20)
    event = json.dumps({"hog_mb": 300, "hold_s": hold_s}).encode()

    async def body():
        async with open_scheduler([spec]) as s:
            warm = await s.invoke(spec.logical_id, b"{}")
            [pid] = s.worker_pids(spec.logical_id)
            started = time.monotonic()
            oom = await s.invoke(spec.logical_id, event, want_log=True)
            wall = time.monotonic() - started
            gone = await kit.async_still_there([pid], timeout_s=2.0)
            after = await s.invoke(spec.logical_id, b"{}")
            return warm, pid, oom, wall, gone, after, s.worker_pids(spec.logical_id)

    warm, pid, oom, wall, gone, after, pids_after = run(body())
    rid = oom.request_id
    assert oom.status == "error"
    assert oom.function_error == "Runtime.OutOfMemory"
    assert json.loads(oom.payload) == {"errorType": "Runtime.OutOfMemory",
                                       "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: signal: killed"}
    # killed as its memory passed MemorySize, not when the handler ended: sooner than the handler's sleep
    # alone, however long the allocation took under 128 MB's share of a CPU
    assert wall < hold_s, wall
    report = next(line for line in oom.log.decode().split("\n") if line.startswith("REPORT"))
    assert report.endswith("\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory"), report
    assert oom.max_memory_used_mb == 128
    assert gone == []
    assert after.status == "success"
    assert json.loads(after.payload)["token"] != json.loads(warm.payload)["token"]
    assert len(pids_after) == 1 and pids_after != [pid]


def test_memory_below_the_limit_is_fine(run, make_function, open_scheduler):
    spec = make_function(HOG, memory_mb=256)

    async def body():
        async with open_scheduler([spec]) as s:
            return await s.invoke(spec.logical_id, b'{"hog_mb": 100, "hold_s": 0.1}')

    result = run(body())
    assert result.status == "success"
    assert result.payload == str(100 * 1024 * 1024).encode()
    assert 100 <= result.max_memory_used_mb < 256
