"""Helpers for the API Gateway tests (imported by conftest.py and the test modules): polling,
free ports and the `start-api` process wrapper (the fake Invoker is in fakes.py)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Callable, Optional

import pytest

import gateway

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 and warns once, at import, when it finds httpx instead
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient  # noqa: F401  (re-exported for the tests)

APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


# --------------------------------------------------------------------------- the command line

def one_function_template(name: str, timeout_s: int = 60) -> str:
    """A template of one python3.11 function, `app.handler` in the template's directory."""
    return (f"AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n"
            f"  {name}:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.handler\n"
            f"      Runtime: python3.11\n      CodeUri: .\n      Timeout: {timeout_s}\n")


def checkout_env(**extra: str) -> dict:
    """os.environ with this checkout first on PYTHONPATH, so that a subprocess imports it whatever
    its current directory and however (or whether) the package is installed; plus `extra`."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(gateway.__file__)))
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra}


def lambdagate_process(cwd, *args: str, **popen) -> subprocess.Popen:
    """`python -m gateway.cli ARGS` in cwd, as a user would start it, stdin closed."""
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=checkout_env(),
                            stdin=subprocess.DEVNULL, **popen)


# --------------------------------------------------------------------------- polling

def wait_for(predicate: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.01):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer exists, or is a zombie (dead, only waiting for a reaper that
    may not be ours: in a container PID 1 does not always reap re-parented processes)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X")
    except (OSError, IndexError):
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- real servers

def copy_app(name: str, dest: Path, template: str = "template.yaml") -> Path:
    """Copy tests/fixtures/apps/<name> to dest/<name>; returns the copy's template path."""
    target = dest / name
    if not target.exists():
        shutil.copytree(APPS / name, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target / template


class ApiServer:
    """One `python -m gateway.cli start-api` process on a free port."""

    def __init__(self, template: Path, workdir: Path, args=(), env: Optional[dict] = None):
        self.template = Path(template)
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.args = list(args)
        self.env = env
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0
        self.ready_s = float("nan")
        self._out = self._err = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    def log_text(self, function_name: str) -> str:
        path = self.log_dir / f"{function_name}.log"
        return path.read_text() if path.exists() else ""

    def stderr_text(self) -> str:
        return (self.workdir / "stderr.txt").read_text(errors="replace")

    def start(self, ready_timeout_s: float = 20.0) -> "ApiServer":
        for _attempt in range(3):
            self.port = free_port()
            if self._spawn(ready_timeout_s):
                return self
        pytest.fail(f"start-api could not bind a port:\n{self.stderr_text()}")

    def _spawn(self, ready_timeout_s: float) -> bool:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "gateway.cli", "start-api", "-t", str(self.template), "-p", str(self.port),
               "--lambda-port", "0", "--host", "127.0.0.1", "--state-dir", str(self.state_dir), "--quiet",
               *self.args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        env.update(self.env or {})
        self._close_files()
        self._out = open(self.workdir / "stdout.txt", "wb")
        self._err = open(self.workdir / "stderr.txt", "wb")
        started = time.perf_counter()
        self.proc = subprocess.Popen(cmd, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, env=env, start_new_session=True)
        deadline = started + ready_timeout_s
        while True:
            if self.proc.poll() is not None:
                text = self.stderr_text()
                self.proc.wait()
                if "in use" in text.lower():
                    return False
                pytest.fail(f"start-api exited with {self.proc.returncode} before listening:\n{text}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                self.ready_s = time.perf_counter() - started
                return True
            except OSError:
                pass
            if time.perf_counter() > deadline:
                self.kill()
                pytest.fail(f"start-api did not listen within {ready_timeout_s} s:\n{self.stderr_text()}")
            time.sleep(0.005)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_files()

    def _close_files(self) -> None:
        for f in (self._out, self._err):
            if f is not None:
                f.close()
        self._out = self._err = None


class ServerPool:
    def __init__(self, root: Path):
        self.root = root
        self.servers: list = []

    def start(self, template, *args, name: Optional[str] = None, env: Optional[dict] = None) -> ApiServer:
        workdir = self.root / (name or f"server{len(self.servers)}")
        server = ApiServer(Path(template), workdir, args, env)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            server.kill()


