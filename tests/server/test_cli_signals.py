"""`lambdagate invoke` stopped by a signal in the middle of an invocation leaves no worker or zygote."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

import gateway

pytestmark = pytest.mark.integration   # starts real processes

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(gateway.__file__)))

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: .
      Timeout: 60
"""

# writes "<worker pid> <zygote pid>" atomically, then stays busy well past the test
SLOW_APP = """\
import os, time

def handler(event, context):
    root = os.environ["LAMBDA_TASK_ROOT"]
    with open(os.path.join(root, "pids.tmp"), "w") as f:
        f.write(f"{os.getpid()} {os.getppid()}")
    os.rename(os.path.join(root, "pids.tmp"), os.path.join(root, "pids"))
    time.sleep(60)
    return "finished"
"""


def _start_cli(tmp_path):
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "app.py").write_text(SLOW_APP)
    # PYTHONPATH: the subprocess imports this checkout, whatever the current directory and however (or
    # whether) the package is installed
    env = {**os.environ, "PYTHONPATH": REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "invoke", "--state-dir", str(tmp_path / "state")],
                            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait_for_pids(proc, path, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"lambdagate exited early ({proc.returncode}): {out!r} {err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail("the handler never started")
        time.sleep(0.01)
    worker, zygote = map(int, path.read_text().split())
    return worker, zygote


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_stopped_mid_invocation_cleans_up(tmp_path, kit, sig):
    proc = _start_cli(tmp_path)
    try:
        worker, zygote = _wait_for_pids(proc, tmp_path / "pids")
        assert kit.proc_ppid(worker) == zygote
        assert kit.proc_ppid(zygote) == proc.pid
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        stop_s = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode not in (0, 1)                 # interrupted: neither success nor a function error
    assert stop_s < 5.0, stop_s                          # promptly, not after the 60 s handler
    assert b"Traceback" not in err, err.decode()
    assert b"finished" not in out
    # lambdagate reaps its zygote and the zygote its workers: nothing left, not even a zombie
    assert kit.still_there([worker, zygote], timeout_s=3.0) == []


def test_cli_killed_mid_invocation_leaves_nothing_running(tmp_path, kit):
    proc = _start_cli(tmp_path)
    try:
        worker, zygote = _wait_for_pids(proc, tmp_path / "pids")
        proc.send_signal(signal.SIGKILL)                 # no cleanup code runs in lambdagate
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    # the zygote dies with lambdagate and the worker with the zygote (PR_SET_PDEATHSIG). Orphans are
    # re-parented to init, which need not reap them promptly: a zombie is dead, so it counts as gone.
    assert kit.still_there([worker, zygote], timeout_s=3.0, check=kit.pid_running) == []
