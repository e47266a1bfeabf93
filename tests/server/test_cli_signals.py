"""`lambdagate invoke` stopped by a signal in the middle of an invocation leaves no worker or zygote."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest

from support.processes import environment_pids, host_descendants, host_parents, thread_names
from support.servers import EXAMPLES, lambdagate_process, one_function_template

pytestmark = pytest.mark.integration   # starts real processes

# Names its thread MARKER (prctl PR_SET_NAME), then stays busy well past the test. The handler can
# neither write a file the test could read (its filesystem is read-only) nor report a pid that means
# anything on the host (it has its own PID namespace), and the CLI prints the function's log only when
# the invocation ends: the test finds the thread's name in the host's /proc instead, which tells it both
# that the handler runs and which host process runs it.
SLOW_APP = """\
import ctypes, time

def handler(event, context):
    ctypes.CDLL(None, use_errno=True).prctl(15, {marker!r}, 0, 0, 0)   # PR_SET_NAME
    time.sleep(60)
    return "finished"
"""


def _start_cli(tmp_path):
    marker = f"lg{uuid.uuid4().hex[:12]}"          # a thread name holds 15 characters
    (tmp_path / "template.yaml").write_text(one_function_template("SlowFunction"))
    (tmp_path / "app.py").write_text(SLOW_APP.format(marker=marker.encode()))
    proc = lambdagate_process(tmp_path, "invoke", "--state-dir", str(tmp_path / "state"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, marker


def _wait_for_handler(proc, marker, kit, timeout_s=15.0):
    """Once the handler runs: the host pids of its environment (the worker, and its namespace's init at
    the namespaces level) and of the zygote, found from the process whose thread carries the marker."""
    deadline = time.monotonic() + timeout_s
    while True:
        parents = host_parents()
        worker = next((pid for pid in host_descendants(proc.pid, parents) if marker in thread_names(pid)), None)
        if worker is not None:
            break
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"lambdagate exited early ({proc.returncode}): {out!r} {err.decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail("the handler never started")
        time.sleep(0.01)
    zygote = parents[worker]
    assert parents[zygote] == proc.pid      # the worker is the zygote's child, the zygote lambdagate's
    assert any("gateway.runtime.zygote" in part for part in kit.proc_cmdline(zygote)), kit.proc_cmdline(zygote)
    return [*environment_pids(worker), zygote]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_stopped_mid_invocation_cleans_up(tmp_path, kit, sig):
    proc, marker = _start_cli(tmp_path)
    try:
        chain = _wait_for_handler(proc, marker, kit)
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
    assert kit.still_there(chain, timeout_s=3.0) == []


def test_cli_killed_mid_invocation_leaves_nothing_running(tmp_path, kit):
    proc, marker = _start_cli(tmp_path)
    try:
        chain = _wait_for_handler(proc, marker, kit)
        proc.send_signal(signal.SIGKILL)                 # no cleanup code runs in lambdagate
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    # the zygote dies with lambdagate and the worker with the zygote (PR_SET_PDEATHSIG). Orphans are
    # re-parented to init, which need not reap them promptly: a zombie is dead, so it counts as gone.
    assert kit.still_there(chain, timeout_s=3.0, check=kit.pid_running) == []


def _start_api(tmp_path, **popen):
    return lambdagate_process(tmp_path, "start-api", "-t", str(EXAMPLES / "hello-world" / "template.yaml"),
                              "-p", "0", "--lambda-port", "0", "--state-dir", str(tmp_path / "state"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **popen)


def _interrupted_on_arrival():
    """In the child before exec: a Ctrl-C is waiting (blocked and pending, both kept across exec), so
    that it lands at the first moment lambdagate lets it, however fast the machine is."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_while_lambdagate_loads_its_modules_ends_quietly(tmp_path):
    proc = _start_api(tmp_path, preexec_fn=_interrupted_on_arrival)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "template:" not in err            # it stopped before doing anything


def test_ctrl_c_during_startup_ends_quietly_and_leaves_nothing(tmp_path, kit):
    proc = _start_api(tmp_path)
    try:
        for line in proc.stderr:             # the zygote is starting or started: interrupt there
            if line.split(" INFO ")[-1].startswith(("template:", "isolation:")):
                children = host_descendants(proc.pid)
                proc.send_signal(signal.SIGINT)
                break
        else:
            pytest.fail("lambdagate said nothing of its startup")
        err = proc.stderr.read()
        assert proc.wait(timeout=15) in (0, 130), err
        assert "Traceback" not in err
        assert kit.still_there(children, timeout_s=3.0) == []
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
