"""An environment ends whole: processes a handler starts die with its worker, as on AWS."""
import json
import textwrap
import uuid

from support.isolation import async_wait_until_gone, host_pids_with, kill_marked, wait_until_gone

from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.types import FunctionSpec
import pytest

pytestmark = pytest.mark.integration   # starts real processes

# The child's pid as the handler sees it means nothing on the host (it lives in the handler's PID
# namespace): its command line carries a marker the test finds it by instead.
HANDLER = textwrap.dedent("""\
    import subprocess, sys, time
    def handler(event, context):
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", event["marker"]])
        if event.get("stay"):
            time.sleep(5)
        return "spawned"
    """)


def _spec(tmp_path, timeout_s):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    # spawning an interpreter is CPU work: a full CPU (1769 MB), not 128 MB's share of one
    return FunctionSpec("Spawner", "Spawner", "app.handler", "python3.11", str(code), timeout_s=timeout_s,
                        memory_mb=1769)


def test_children_of_a_timed_out_or_stopped_worker_are_killed(tmp_path, run):
    markers = {kind: f"lambdagate-child-{uuid.uuid4().hex}-{kind}" for kind in ("warm", "timed-out", "stopped")}

    def event(kind, **more):
        return json.dumps({"marker": markers[kind], **more}).encode()

    async def body():
        sched = Scheduler([_spec(tmp_path, 1)], Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            ok = await sched.invoke("Spawner", event("warm"))
            assert ok.status == "success", ok.payload
            assert host_pids_with(markers["warm"]), "the child never started"   # left running by a warm worker
            timed_out = await sched.invoke("Spawner", event("timed-out", stay=True), want_log=True)
            assert timed_out.function_error == "Sandbox.Timedout"
            # both children lived in the worker that the timeout killed
            left_by_timeout = [*await async_wait_until_gone(markers["warm"]),
                               *await async_wait_until_gone(markers["timed-out"])]
            fresh = await sched.invoke("Spawner", event("stopped"))
            assert fresh.status == "success", fresh.payload
            assert host_pids_with(markers["stopped"]), "the child never started"
        finally:
            await sched.close()
        return left_by_timeout

    try:
        left_by_timeout = run(body())
        assert left_by_timeout == []
        # the last child lived in a worker that close() stopped
        assert wait_until_gone(markers["stopped"]) == []
    finally:
        for marker in markers.values():
            kill_marked(marker)
