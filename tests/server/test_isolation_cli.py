"""Nothing a function started outlives lambdagate, even when lambdagate is killed with SIGKILL and
the process called setsid: the real CLI, a real handler, the host's process table as the judge."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from support.isolation import host_pids_with, kill_marked, machine_level, wait_until_gone
from support.servers import lambdagate_process, one_function_template

pytestmark = pytest.mark.integration   # starts real processes

# a grandchild in a session of its own (and its own child), then an invocation that lasts
APP = """\
import subprocess, sys, time

def handler(event, context):
    subprocess.Popen([sys.executable, "-c",
                      "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', sys.argv[1]]); time.sleep(120)",
                      event["marker"]], start_new_session=True)
    time.sleep(60)
    return "finished"
"""


def _start(tmp_path, isolation: str, marker: str) -> subprocess.Popen:
    (tmp_path / "template.yaml").write_text(one_function_template("Spawner"))
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "event.json").write_text('{"marker": "%s"}' % marker)
    return lambdagate_process(tmp_path, "invoke", "-e", "event.json", "--isolation", isolation,
                              "--state-dir", str(tmp_path / "state"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)


def _wait_for_marked(proc, marker: str, count: int, timeout_s: float = 20.0) -> list:
    deadline = time.monotonic() + timeout_s
    while True:
        found = host_pids_with(marker)
        if len(found) >= count:
            return found
        if proc.poll() is not None:
            pytest.fail(f"lambdagate exited early ({proc.returncode}): {proc.stderr.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the handler's processes never started")
        time.sleep(0.02)


LEVELS = [pytest.param("namespaces", marks=pytest.mark.skipif(machine_level() != "namespaces",
                                                              reason="needs root with namespaces")),
          "process"]


@pytest.mark.parametrize("isolation", LEVELS)
def test_setsid_grandchildren_die_when_lambdagate_is_killed(tmp_path, isolation):
    marker = f"lambdagate-kill9-{os.getpid()}-{isolation}"
    proc = _start(tmp_path, isolation, marker)
    try:
        _wait_for_marked(proc, marker, count=2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert wait_until_gone(marker, timeout_s=5.0) == []
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        kill_marked(marker)


def test_without_isolation_they_survive(tmp_path):
    """The finding this fixes: at `--isolation none` a setsid child outlives a killed lambdagate."""
    marker = f"lambdagate-kill9-{os.getpid()}-none"
    proc = _start(tmp_path, "none", marker)
    try:
        _wait_for_marked(proc, marker, count=2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        time.sleep(0.5)
        assert len(host_pids_with(marker)) == 2
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
        kill_marked(marker)
