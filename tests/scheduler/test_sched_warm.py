"""Warm reuse, cold starts, forking from the zygote, idle reaping and retire(), through real workers."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from gateway.errors import Throttled
import pytest

from support.processes import environment_pids, pid_namespace, proc_ancestors

pytestmark = pytest.mark.integration   # starts real processes

# TOKEN is made at import, once per execution environment: the same token means the same warm worker.
# (A handler's own pid says nothing: in a PID namespace every worker is pid 2. The host's pids come
# from Scheduler.worker_pids and Scheduler.zygote_pid.)
COUNTER = """
import time, uuid

TOKEN = uuid.uuid4().hex
count = 0

def handler(event, context):
    global count
    count += 1
    time.sleep(event.get("sleep", 0))
    return {"count": count, "token": TOKEN}
"""




def test_warm_worker_keeps_module_state_and_only_the_first_call_is_cold(run, make_function, open_scheduler):
    spec = make_function(COUNTER)

    async def body():
        async with open_scheduler([spec]) as s:
            results, pids = [], []
            for _ in range(4):
                results.append(await s.invoke(spec.logical_id, b"{}"))
                pids.append(s.worker_pids(spec.logical_id))
            return results, s.totals(spec.logical_id), pids, s.idle_count(spec.logical_id)

    results, totals, pids, idle = run(body())
    payloads = [json.loads(r.payload) for r in results]
    assert all(r.status == "success" and r.function_error is None for r in results)
    assert [p["count"] for p in payloads] == [1, 2, 3, 4]
    assert len({p["token"] for p in payloads}) == 1
    assert len(pids[0]) == 1 and pids == [pids[0]] * 4      # one worker process, the same one throughout
    assert idle == 1
    assert results[0].init_duration_ns > 0
    assert [r.init_duration_ns for r in results[1:]] == [0, 0, 0]
    assert totals["cold_starts"] == 1
    assert totals["invocations"] == 4


def test_concurrent_invocations_each_get_their_own_worker(run, make_function, open_scheduler):
    n, sleep_s = 4, 0.4
    spec = make_function(COUNTER)
    event = json.dumps({"sleep": sleep_s}).encode()

    async def body():
        async with open_scheduler([spec]) as s:
            started = time.monotonic()
            results = await asyncio.gather(*[s.invoke(spec.logical_id, event) for _ in range(n)])
            wall = time.monotonic() - started
            return results, wall, s.totals(spec.logical_id), s.idle_count(spec.logical_id), \
                s.worker_pids(spec.logical_id)

    results, wall, totals, idle, pids = run(body())
    payloads = [json.loads(r.payload) for r in results]
    assert len({p["token"] for p in payloads}) == n
    assert len(set(pids)) == n                            # n worker processes on the host
    assert all(p["count"] == 1 for p in payloads)        # every one is a fresh environment
    assert all(r.init_duration_ns > 0 for r in results)
    assert totals["cold_starts"] == n
    assert idle == n
    # in parallel: about one sleep (plus cold starts), far from n sleeps in a row
    assert sleep_s <= wall < 2 * sleep_s, wall


def test_workers_are_forked_from_the_zygote_started_with_the_real_interpreter(run, make_function, open_scheduler,
                                                                              kit):
    spec_a = make_function(COUNTER)
    spec_b = make_function(COUNTER)

    async def body():
        async with open_scheduler([spec_a, spec_b]) as s:
            results = await asyncio.gather(s.invoke(spec_a.logical_id, b'{"sleep": 0.2}'),
                                           s.invoke(spec_a.logical_id, b'{"sleep": 0.2}'),
                                           s.invoke(spec_b.logical_id, b"{}"))
            assert all(r.status == "success" for r in results), results
            zygote = s.zygote_pid
            workers = s.worker_pids()
            facts = {
                "zygote": zygote,
                "workers": workers,
                "level": s.isolation.level,
                "namespaces": [pid_namespace(pid) for pid in workers],
                "zygote_ppid": kit.proc_ppid(zygote),
                "zygote_cmdline": kit.proc_cmdline(zygote),
                "zygote_exe": os.path.realpath(f"/proc/{zygote}/exe"),
                "worker_ancestors": [proc_ancestors(pid, zygote) for pid in workers],
            }
            return facts

    facts = run(body())
    zygote, workers = facts["zygote"], facts["workers"]
    assert len(set(workers)) == 3
    assert zygote > 0 and zygote != os.getpid()              # not forked by the gateway itself
    # one zygote for every function: each worker's ancestry reaches it, through its own environment
    ancestors = facts["worker_ancestors"]
    assert all(chain == [zygote] for chain in ancestors), ancestors
    if facts["level"] == "namespaces":      # an environment (PID namespace) of its own each
        assert len(set(facts["namespaces"])) == 3 and pid_namespace(os.getpid()) not in facts["namespaces"]
    assert facts["zygote_ppid"] == os.getpid()              # the gateway started the zygote
    cmdline = facts["zygote_cmdline"]
    assert cmdline[1:3] == ["-m", "gateway.runtime.zygote"], cmdline
    assert cmdline[0] == sys.executable
    # the real interpreter binary (an ELF executable), not a shell shim in front of it
    assert facts["zygote_exe"] == os.path.realpath(sys.executable)
    with open(cmdline[0], "rb") as f:
        assert f.read(4) == b"\x7fELF"


def test_idle_worker_is_reaped_after_keepalive_and_the_next_call_is_cold(run, make_function, open_scheduler, kit):
    keepalive_s = 0.3
    spec = make_function(COUNTER)

    async def body():
        async with open_scheduler([spec], keepalive_s=keepalive_s) as s:
            first = await s.invoke(spec.logical_id, b"{}")
            released = time.monotonic()
            [pid] = s.worker_pids(spec.logical_id)
            environment = environment_pids(pid)
            warm_right_after = (s.idle_count(spec.logical_id), all(kit.pid_alive(p) for p in environment))
            reaped = await kit.wait_for(lambda: s.idle_count(spec.logical_id) == 0
                                        and not any(kit.pid_alive(p) for p in environment), timeout_s=1.5)
            reaped_after = time.monotonic() - released
            pids_after = s.worker_pids(spec.logical_id)
            second = await s.invoke(spec.logical_id, b"{}")
            return first, second, pid, warm_right_after, reaped, reaped_after, pids_after, \
                s.worker_pids(spec.logical_id)

    first, second, pid, warm_right_after, reaped, reaped_after, pids_after, pids_second = run(body())
    assert first.init_duration_ns > 0
    assert warm_right_after == (1, True)
    assert reaped, "the idle worker (or its environment) was still there ~1.5 s after its last invocation"
    assert reaped_after >= keepalive_s - 0.01, reaped_after   # not before the keep-alive
    assert pids_after == []
    second_payload = json.loads(second.payload)
    assert second.init_duration_ns > 0
    assert len(pids_second) == 1 and pids_second != [pid]
    assert second_payload["token"] != json.loads(first.payload)["token"]
    assert second_payload["count"] == 1


V1 = """
import uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    return {"version": "one", "token": TOKEN}
"""
V2 = V1.replace('"one"', '"two"')


def test_retire_replaces_idle_workers_with_ones_running_the_new_code(run, make_function, open_scheduler, kit):
    spec = make_function(V1)
    app = os.path.join(spec.code_dir, "app.py")

    async def body():
        async with open_scheduler([spec]) as s:
            before = json.loads((await s.invoke(spec.logical_id, b"{}")).payload)
            [old_pid] = s.worker_pids(spec.logical_id)
            environment = environment_pids(old_pid)
            with open(app, "w") as f:
                f.write(V2.lstrip("\n"))
            # the edit lands in a later second than the first import (see the bytecode-cache test below)
            st = os.stat(app)
            os.utime(app, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
            s.retire(spec.logical_id)
            old_gone = await kit.async_still_there(environment, timeout_s=2.0)
            after = await s.invoke(spec.logical_id, b"{}")
            return before, after, old_gone, old_pid, s.worker_pids(spec.logical_id)

    before, after, old_gone, old_pid, pids_after = run(body())
    assert before["version"] == "one"
    assert old_gone == []
    payload = json.loads(after.payload)
    assert payload["version"] == "two"
    assert payload["token"] != before["token"]
    assert len(pids_after) == 1 and pids_after != [old_pid]
    assert after.init_duration_ns > 0


def test_retire_lets_a_busy_worker_finish_then_drops_it(run, make_function, open_scheduler, kit):
    spec = make_function(COUNTER)

    async def body():
        async with open_scheduler([spec]) as s:
            busy = asyncio.ensure_future(s.invoke(spec.logical_id, b'{"sleep": 0.3}'))
            await kit.wait_for(lambda: s.worker_pids(spec.logical_id), timeout_s=2.0)
            [old_pid] = s.worker_pids(spec.logical_id)
            environment = environment_pids(old_pid)
            s.retire(spec.logical_id)
            finished = await busy
            old_gone = await kit.async_still_there(environment, timeout_s=2.0)
            idle = s.idle_count(spec.logical_id)
            after = await s.invoke(spec.logical_id, b"{}")
            return finished, old_pid, old_gone, idle, after, s.worker_pids(spec.logical_id)

    finished, old_pid, old_gone, idle, after, pids_after = run(body())
    assert finished.status == "success"            # retire does not cut a running invocation short
    assert old_gone == []
    assert idle == 0                                 # the old-generation worker did not rejoin the pool
    assert len(pids_after) == 1 and pids_after != [old_pid]
    assert json.loads(after.payload)["token"] != json.loads(finished.payload)["token"]
    assert after.init_duration_ns > 0


def test_retire_picks_up_an_edit_made_within_the_same_second(run, make_function, open_scheduler, monkeypatch):
    """A code change of the same length saved right after the previous import (the usual edit-save-reload
    loop) must be seen by the next worker."""
    # a developer's shell normally does not set this (this sandbox does); it decides whether workers
    # leave __pycache__/*.pyc files, validated only by whole-second mtime and size, in the code directory
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    spec = make_function(V1)
    app = os.path.join(spec.code_dir, "app.py")

    async def body():
        async with open_scheduler([spec]) as s:
            before = json.loads((await s.invoke(spec.logical_id, b"{}")).payload)
            old_pids = s.worker_pids(spec.logical_id)
            mtime_ns = os.stat(app).st_mtime_ns
            with open(app, "w") as f:
                f.write(V1.lstrip("\n").replace('"one"', '"uno"'))   # same size as before
            # saved within the same wall-clock second as the original (deterministic here, common in practice)
            same_second_ns = mtime_ns // 1_000_000_000 * 1_000_000_000 + 999_000_000
            os.utime(app, ns=(same_second_ns, same_second_ns))
            s.retire(spec.logical_id)
            after = json.loads((await s.invoke(spec.logical_id, b"{}")).payload)
            return before, after, old_pids, s.worker_pids(spec.logical_id)

    before, after, old_pids, new_pids = run(body())
    assert before["version"] == "one"
    assert after["token"] != before["token"]         # a new worker imported the code again
    assert len(old_pids) == len(new_pids) == 1 and new_pids != old_pids
    assert after["version"] == "uno"
    # nothing written beside the user's code (AWS's code directory is read-only)
    assert not os.path.exists(os.path.join(spec.code_dir, "__pycache__"))


def test_warm_starts_a_worker_ahead_of_demand(run, make_function, open_scheduler):
    spec = make_function(COUNTER)

    async def body():
        async with open_scheduler([spec]) as s:
            await s.warm(spec.logical_id)
            ready = (s.idle_count(spec.logical_id), s.worker_pids(spec.logical_id))
            first = await s.invoke(spec.logical_id, b"{}", want_log=True)
            return ready, first, s.totals(spec.logical_id), s.worker_pids(spec.logical_id)

    (idle, pids), first, totals, pids_after = run(body())
    assert idle == 1 and len(pids) == 1
    payload = json.loads(first.payload)
    assert pids_after == pids                             # served by the worker started ahead
    assert payload["count"] == 1
    assert first.init_duration_ns == 0                    # the Init phase was paid before the request
    assert "Init Duration" not in first.log.decode()
    assert totals["invocations"] == 1


def test_warm_twice_keeps_the_function_usable(run, make_function, open_scheduler):
    spec = make_function(COUNTER, reserved_concurrency=1)

    async def body():
        async with open_scheduler([spec]) as s:
            await s.warm(spec.logical_id)
            try:
                await s.warm(spec.logical_id)
            except Throttled:
                pass
            idle = s.idle_count(spec.logical_id)
            try:
                status = (await s.invoke(spec.logical_id, b"{}")).status
            except Throttled as exc:
                status = f"throttled: {exc.reason}"
            return idle, status

    idle, status = run(body())
    assert status == "success"
    assert idle >= 1
