"""Shutdown and process hygiene: close() leaves no worker or zygote behind, dead workers and a dead
zygote are replaced, and no invocation is left hanging or leaks its concurrency."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time

import pytest

from gateway.errors import LambdagateError, Throttled
from support.processes import environment_pids, proc_ancestors

pytestmark = pytest.mark.integration   # starts real processes

# TOKEN is made at import, once per execution environment. (A handler's own pid says nothing: in a PID
# namespace every worker is pid 2. The host's pids come from Scheduler.worker_pids and .zygote_pid.)
PIDS = """
import time, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return TOKEN
"""




def test_close_leaves_no_worker_and_no_zygote(run, make_function, open_scheduler, kit):
    spec_a = make_function(PIDS)
    spec_b = make_function(PIDS, timeout_s=30)

    async def body():
        async with open_scheduler([spec_a, spec_b]) as s:
            results = await asyncio.gather(s.invoke(spec_a.logical_id, b'{"sleep": 0.1}'),
                                           s.invoke(spec_a.logical_id, b'{"sleep": 0.1}'),
                                           s.invoke(spec_b.logical_id, b"{}"))
            tokens = [json.loads(r.payload) for r in results]
            # B's worker is busy again when close() comes
            busy = asyncio.ensure_future(s.invoke(spec_b.logical_id, b'{"sleep": 20}'))
            await kit.wait_for(lambda: s.idle_count(spec_b.logical_id) == 0, timeout_s=3.0)
            listed, zygote = s.worker_pids(), s.zygote_pid
            ancestors = [proc_ancestors(pid, zygote) for pid in listed]
            environments = [pid for worker in listed for pid in environment_pids(worker)]
            await s.close()
            try:
                await asyncio.wait_for(busy, 3.0)
                outcome = "returned"
            except LambdagateError as exc:
                outcome = str(exc)
            return tokens, listed, zygote, ancestors, environments, outcome

    tokens, listed, zygote, ancestors, environments, outcome = run(body())
    assert len(set(tokens)) == 3                              # three environments ran
    assert len(set(listed)) == 3                              # ... and the scheduler lists their three workers
    assert zygote > 0 and all(chain[-1] == zygote for chain in ancestors), (zygote, ancestors)   # one zygote
    assert outcome == "lambdagate is shutting down"
    assert kit.still_there(environments + [zygote], timeout_s=3.0) == []


MARKED = """
import os, socket, time

time.sleep(float(os.environ.get("INIT_SLEEP", "0")))     # a slow Init phase, when asked for

def handler(event, context):
    started = time.monotonic()          # CLOCK_MONOTONIC: the same clock as the test's, at every level
    if event.get("notify"):             # tells the test the handler runs: connects to the test's port
        socket.create_connection(("127.0.0.1", event["notify"]), timeout=5).close()
    time.sleep(event.get("sleep", 0))
    return {"started": started}
"""


@contextlib.asynccontextmanager
async def _handler_notices():
    """(port, event): the event is set once a handler connects to the port on 127.0.0.1. (A marker file
    cannot say it any more: a function sees the host's filesystem read-only, its /tmp is its own.)"""
    arrived = asyncio.Event()

    def on_connection(reader, writer):
        arrived.set()
        writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], arrived
    finally:
        server.close()
        await server.wait_closed()


def test_close_with_grace_lets_running_invocations_finish(run, make_function, open_scheduler, kit):
    spec = make_function(MARKED)

    async def body():
        async with _handler_notices() as (port, handler_runs), open_scheduler([spec]) as s:
            event = json.dumps({"sleep": 0.3, "notify": port}).encode()
            busy = asyncio.ensure_future(s.invoke(spec.logical_id, event))
            await asyncio.wait_for(handler_runs.wait(), 3.0)
            [worker] = s.worker_pids(spec.logical_id)
            processes = environment_pids(worker) + [s.zygote_pid]
            closing = time.monotonic()
            await s.close(grace_s=5.0)
            result = await busy
            try:
                await s.invoke(spec.logical_id, b"{}")
                refused = None
            except LambdagateError as exc:
                refused = str(exc)
            return result, refused, closing, processes

    result, refused, closing, processes = run(body())
    assert result.status == "success"
    assert json.loads(result.payload)["started"] < closing      # the handler was running when close() came
    assert refused == "lambdagate is shutting down"
    assert kit.still_there(processes, timeout_s=3.0) == []


def test_close_with_grace_lets_an_invocation_in_its_init_phase_finish(run, make_function, open_scheduler, kit):
    spec = make_function(MARKED, environment={"INIT_SLEEP": "0.3"})

    async def body():
        async with open_scheduler([spec]) as s:
            busy = asyncio.ensure_future(s.invoke(spec.logical_id, b"{}"))
            assert await kit.wait_for(lambda: s.worker_pids(spec.logical_id), timeout_s=3.0)   # forked, in Init
            closing = time.monotonic()
            await s.close(grace_s=5.0)
            try:
                result = await busy
            except LambdagateError as exc:
                return closing, f"refused: {exc}", None
            return closing, result.status, json.loads(result.payload)["started"] if result.status == "success" \
                else result.payload

    closing, outcome, started = run(body())
    assert outcome == "success", started
    assert started > closing                 # the handler began only after close(): close() came during Init


def test_an_idle_worker_that_dies_is_replaced(run, make_function, open_scheduler, kit):
    spec = make_function(PIDS)

    async def body():
        async with open_scheduler([spec]) as s:
            before = json.loads((await s.invoke(spec.logical_id, b"{}")).payload)
            [pid] = s.worker_pids(spec.logical_id)
            os.kill(pid, signal.SIGKILL)
            noticed = await kit.wait_for(lambda: s.idle_count(spec.logical_id) == 0, timeout_s=2.0)
            after = await s.invoke(spec.logical_id, b"{}")
            return pid, before, noticed, after, s.worker_pids(spec.logical_id)

    pid, before, noticed, after, pids_after = run(body())
    assert noticed
    assert after.status == "success"
    assert json.loads(after.payload) != before               # a new environment
    assert len(pids_after) == 1 and pids_after != [pid]
    assert after.init_duration_ns > 0


def test_a_zygote_that_dies_is_restarted(run, make_function, open_scheduler, kit):
    spec = make_function(PIDS)

    async def body():
        async with open_scheduler([spec]) as s:
            await s.invoke(spec.logical_id, b"{}")
            zygote = s.zygote_pid
            [pid] = s.worker_pids(spec.logical_id)
            environment = environment_pids(pid)
            os.kill(zygote, signal.SIGKILL)
            # its workers die with it (PR_SET_PDEATHSIG) and leave the pool; an orphaned worker is
            # re-parented to init, which may leave it a zombie for a while: zombies count as gone
            noticed = await kit.wait_for(lambda: s.idle_count(spec.logical_id) == 0, timeout_s=2.0)
            worker_gone = await kit.async_still_there(environment, timeout_s=2.0, check=kit.pid_running)
            after = await s.invoke(spec.logical_id, b"{}")
            # the dead zygote is the gateway's child: reaped by the time a new one was started
            zygote_gone = await kit.async_still_there([zygote], timeout_s=2.0)
            new_zygote = s.zygote_pid
            [new_pid] = s.worker_pids(spec.logical_id)
            return zygote, noticed, worker_gone, zygote_gone, after, new_zygote, proc_ancestors(new_pid, new_zygote)

    zygote, noticed, worker_gone, zygote_gone, after, new_zygote, new_ancestors = run(body())
    assert noticed
    assert worker_gone == []
    assert zygote_gone == []
    assert after.status == "success"
    assert new_zygote not in (0, zygote)
    assert new_ancestors[-1] == new_zygote                      # the new worker came from the new zygote


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
            await s.invoke(spec_a.logical_id, b"{}")
            zygote = s.zygote_pid
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
