"""Shutdown and process hygiene: close() leaves no worker or zygote behind, dead workers and a dead
zygote are replaced, and no invocation is left hanging or leaks its concurrency."""
from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from gateway.errors import LambdagateError, Throttled

pytestmark = pytest.mark.integration   # starts real processes

PIDS = """
import os, time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return [os.getpid(), os.getppid()]
"""


def test_close_leaves_no_worker_and_no_zygote(run, make_function, open_scheduler, kit):
    spec_a = make_function(PIDS)
    spec_b = make_function(PIDS, timeout_s=30)

    async def body():
        async with open_scheduler([spec_a, spec_b]) as s:
            results = await asyncio.gather(s.invoke(spec_a.logical_id, b'{"sleep": 0.1}'),
                                           s.invoke(spec_a.logical_id, b'{"sleep": 0.1}'),
                                           s.invoke(spec_b.logical_id, b"{}"))
            pairs = [json.loads(r.payload) for r in results]
            # B's worker is busy again when close() comes
            busy = asyncio.ensure_future(s.invoke(spec_b.logical_id, b'{"sleep": 20}'))
            await kit.wait_for(lambda: s.idle_count(spec_b.logical_id) == 0, timeout_s=3.0)
            listed = s.worker_pids()
            await s.close()
            try:
                await asyncio.wait_for(busy, 3.0)
                outcome = "returned"
            except LambdagateError as exc:
                outcome = str(exc)
            return pairs, listed, outcome

    pairs, listed, outcome = run(body())
    workers = {pid for pid, _ in pairs}
    zygotes = {ppid for _, ppid in pairs}
    assert len(workers) == 3 and len(zygotes) == 1
    assert set(listed) == workers
    assert outcome == "lambdagate is shutting down"
    assert kit.still_there(listed + list(zygotes), timeout_s=3.0) == []


MARKED = """
import os, time

time.sleep(float(os.environ.get("INIT_SLEEP", "0")))     # a slow Init phase, when asked for

def handler(event, context):
    with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "running"), "w"):
        pass
    time.sleep(event.get("sleep", 0))
    return [os.getpid(), os.getppid()]
"""


def test_close_with_grace_lets_running_invocations_finish(run, make_function, open_scheduler, kit):
    spec = make_function(MARKED)
    marker = os.path.join(spec.code_dir, "running")

    async def body():
        async with open_scheduler([spec]) as s:
            busy = asyncio.ensure_future(s.invoke(spec.logical_id, b'{"sleep": 0.3}'))
            assert await kit.wait_for(lambda: os.path.exists(marker), timeout_s=3.0)   # the handler runs
            await s.close(grace_s=5.0)
            result = await busy
            try:
                await s.invoke(spec.logical_id, b"{}")
                refused = None
            except LambdagateError as exc:
                refused = str(exc)
            return result, refused

    result, refused = run(body())
    assert result.status == "success"
    assert refused == "lambdagate is shutting down"
    assert kit.still_there(json.loads(result.payload), timeout_s=3.0) == []


def test_close_with_grace_lets_an_invocation_in_its_init_phase_finish(run, make_function, open_scheduler, kit):
    spec = make_function(MARKED, environment={"INIT_SLEEP": "0.3"})
    marker = os.path.join(spec.code_dir, "running")

    async def body():
        async with open_scheduler([spec]) as s:
            busy = asyncio.ensure_future(s.invoke(spec.logical_id, b"{}"))
            assert await kit.wait_for(lambda: s.worker_pids(spec.logical_id), timeout_s=3.0)   # forked, in Init
            handler_started = os.path.exists(marker)
            await s.close(grace_s=5.0)
            try:
                return handler_started, (await busy).status
            except LambdagateError as exc:
                return handler_started, f"refused: {exc}"

    handler_started, outcome = run(body())
    assert not handler_started
    assert outcome == "success"


def test_an_idle_worker_that_dies_is_replaced(run, make_function, open_scheduler, kit):
    spec = make_function(PIDS)

    async def body():
        async with open_scheduler([spec]) as s:
            pid, _ = json.loads((await s.invoke(spec.logical_id, b"{}")).payload)
            os.kill(pid, signal.SIGKILL)
            noticed = await kit.wait_for(lambda: s.idle_count(spec.logical_id) == 0, timeout_s=2.0)
            after = await s.invoke(spec.logical_id, b"{}")
            return pid, noticed, after

    pid, noticed, after = run(body())
    assert noticed
    assert after.status == "success"
    assert json.loads(after.payload)[0] != pid
    assert after.init_duration_ns > 0


def test_a_zygote_that_dies_is_restarted(run, make_function, open_scheduler, kit):
    spec = make_function(PIDS)

    async def body():
        async with open_scheduler([spec]) as s:
            pid, zygote = json.loads((await s.invoke(spec.logical_id, b"{}")).payload)
            os.kill(zygote, signal.SIGKILL)
            # its workers die with it (PR_SET_PDEATHSIG) and leave the pool; an orphaned worker is
            # re-parented to init, which may leave it a zombie for a while: zombies count as gone
            noticed = await kit.wait_for(lambda: s.idle_count(spec.logical_id) == 0, timeout_s=2.0)
            worker_gone = await kit.async_still_there([pid], timeout_s=2.0, check=kit.pid_running)
            after = await s.invoke(spec.logical_id, b"{}")
            # the dead zygote is the gateway's child: reaped by the time a new one was started
            zygote_gone = await kit.async_still_there([zygote], timeout_s=2.0)
            return zygote, noticed, worker_gone, zygote_gone, after

    zygote, noticed, worker_gone, zygote_gone, after = run(body())
    assert noticed
    assert worker_gone == []
    assert zygote_gone == []
    assert after.status == "success"
    assert json.loads(after.payload)[1] != zygote


async def _step_until(predicate, max_steps=200_000):
    """Run the loop one iteration at a time until predicate() holds (white-box timing hook)."""
    for _ in range(max_steps):
        if predicate():
            return
        await asyncio.sleep(0)
    pytest.fail("the white-box hook no longer matches the scheduler's internals (Scheduler._workers[].ready)")


def test_close_during_a_fork_does_not_leave_the_invocation_hanging(run, make_function, open_scheduler):
    """close() while a cold start waits for the zygote's answer to its fork request."""
    spec_a = make_function(PIDS)
    spec_b = make_function(PIDS)

    async def body():
        async with open_scheduler([spec_a, spec_b]) as s:
            _, zygote = json.loads((await s.invoke(spec_a.logical_id, b"{}")).payload)
            os.kill(zygote, signal.SIGSTOP)              # it cannot answer the fork request B's cold start sends
            try:
                invoking = asyncio.ensure_future(s.invoke(spec_b.logical_id, b"{}"))
                await asyncio.sleep(0.1)                 # the request goes out within a few loop iterations
            finally:
                os.kill(zygote, signal.SIGCONT)
            await s.close()                              # at once: the answer is not read any more
            try:
                await asyncio.wait_for(asyncio.shield(invoking), 3.0)
                return "returned"
            except LambdagateError:
                return "refused"
            except asyncio.TimeoutError:
                invoking.cancel()
                await asyncio.gather(invoking, return_exceptions=True)
                return "hung"

    assert run(body()) == "refused"


def test_close_right_after_a_cold_start_refuses_the_invocation_cleanly(run, make_function, open_scheduler):
    spec = make_function(PIDS, timeout_s=1)

    async def body():
        loop_errors = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: loop_errors.append(context))
        async with open_scheduler([spec]) as s:
            invoking = asyncio.ensure_future(s.invoke(spec.logical_id, b"{}"))
            # white-box: step the loop until the new worker said READY, then close at once
            await _step_until(lambda: any(getattr(getattr(w, "ready", None), "done", lambda: False)()
                                          for w in getattr(s, "_workers", ()) if w is not None))
            await s.close()
            try:
                await asyncio.wait_for(asyncio.shield(invoking), 2.0)
                outcome = "returned"
            except LambdagateError:
                outcome = "refused"
            except asyncio.TimeoutError:
                invoking.cancel()
                await asyncio.gather(invoking, return_exceptions=True)
                outcome = "hung"
            except Exception as exc:                          # noqa: BLE001 - what leaks out is the finding
                outcome = repr(exc)
            await asyncio.sleep(1.2)                          # past the function's deadline
            return outcome, loop_errors

    outcome, loop_errors = run(body())
    assert outcome == "refused"
    assert loop_errors == []


def test_a_cancelled_caller_does_not_leak_the_worker_or_its_concurrency(run, make_function, open_scheduler, kit):
    spec = make_function(PIDS, timeout_s=1, reserved_concurrency=1)

    async def body():
        async with open_scheduler([spec]) as s:
            await s.invoke(spec.logical_id, b"{}")
            caller = asyncio.ensure_future(s.invoke(spec.logical_id, b'{"sleep": 0.2}'))
            await kit.wait_for(lambda: s.idle_count(spec.logical_id) == 0, timeout_s=2.0)
            await asyncio.sleep(0.05)
            caller.cancel()
            await asyncio.gather(caller, return_exceptions=True)
            await asyncio.sleep(1.2)          # the abandoned invocation and its deadline are long over
            try:
                return (await s.invoke(spec.logical_id, b"{}")).status
            except Throttled as exc:
                return f"throttled: {exc.reason}"

    assert run(body()) == "success"
