"""An environment ends whole: processes a handler starts die with its worker, as on AWS."""
import json
import textwrap

from support.processes import pid_running, still_there

from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.types import FunctionSpec
import pytest

pytestmark = pytest.mark.integration   # starts real processes

HANDLER = textwrap.dedent("""\
    import subprocess, time
    def handler(event, context):
        child = subprocess.Popen(["sleep", "60"])
        if event.get("stay"):
            time.sleep(5)
        return {"child": child.pid}
    """)


def _spec(tmp_path, timeout_s):
    (tmp_path / "app.py").write_text(HANDLER)
    return FunctionSpec("Spawner", "Spawner", "app.handler", "python3.11", str(tmp_path), timeout_s=timeout_s)


def test_children_of_a_timed_out_or_stopped_worker_are_killed(tmp_path, run):
    children = []

    async def body():
        sched = Scheduler([_spec(tmp_path, 1)], Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            ok = await sched.invoke("Spawner", b"{}")
            children.append(json.loads(ok.payload)["child"])   # left running by a warm worker
            timed_out = await sched.invoke("Spawner", b'{"stay": true}', want_log=True)
            assert timed_out.function_error == "Sandbox.Timedout"
        finally:
            await sched.close()

    run(body())
    assert children
    # the first child lived in the worker that the second invocation's timeout killed
    assert still_there(children, timeout_s=5.0, check=pid_running) == []
