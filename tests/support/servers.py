"""Helpers for the API Gateway tests (imported by conftest.py and the test modules): polling,
free ports, the fake Invoker and the `start-api` process wrapper."""
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

import orjson
import pytest

from gateway.errors import FunctionNotFound
from gateway.types import FunctionSpec, InvokeResult

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 and warns once, at import, when it finds httpx instead
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from starlette.testclient import TestClient  # noqa: F401  (re-exported for the tests)

APPS = Path(__file__).resolve().parents[1] / "fixtures" / "apps"
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


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


# --------------------------------------------------------------------------- the fake invoker

class FakeInvoker:
    """Implements the Invoker protocol: records every event, answers from a script.

    ``script[function]`` is an InvokeResult, an exception to raise, or a callable(event) returning
    either. Functions not scripted answer 200 with a small JSON body naming themselves.
    """

    def __init__(self, functions=(), timeouts: Optional[dict] = None):
        self.known = set(functions)
        self.timeouts = dict(timeouts or {})
        self.script: dict = {}
        self.calls: list = []          # (function, event dict, raw payload bytes)

    # Invoker protocol
    def function(self, name: str) -> FunctionSpec:
        if self.known and name not in self.known:
            raise FunctionNotFound(name)
        return FunctionSpec(logical_id=name, function_name=name, handler="app.handler", runtime="python3.11",
                            code_dir=str(APPS), timeout_s=self.timeouts.get(name, 3))

    async def invoke(self, function: str, payload: bytes, **kw) -> InvokeResult:
        event = orjson.loads(payload)
        self.calls.append((function, event, payload))
        action = self.script.get(function)
        if action is None:
            action = self.ok({"function": function})
        if callable(action) and not isinstance(action, (InvokeResult, BaseException)):
            action = action(event)
            if hasattr(action, "__await__"):
                action = await action
        if isinstance(action, BaseException):
            raise action
        return action

    # result builders
    @staticmethod
    def ok(body=None, status: Optional[int] = 200, headers: Optional[dict] = None, **extra) -> InvokeResult:
        """A proxy response with a JSON body; ``status=None`` leaves statusCode out."""
        obj: dict = {}
        if status is not None:
            obj["statusCode"] = status
        if headers is not None:
            obj["headers"] = headers
        if body is not None:
            obj["body"] = body if isinstance(body, str) else orjson.dumps(body).decode()
        obj.update(extra)
        return InvokeResult("fake-request-id", orjson.dumps(obj))

    @staticmethod
    def raw(payload: bytes) -> InvokeResult:
        return InvokeResult("fake-request-id", payload)

    @staticmethod
    def error(error_type: str = "ValueError", message: str = "boom",
              stack: tuple = ('  File "/var/task/app.py", line 3, in handler\n    raise ValueError("boom")\n',),
              status: str = "error") -> InvokeResult:
        payload = orjson.dumps({"errorMessage": message, "errorType": error_type,
                                "requestId": "fake-request-id", "stackTrace": list(stack)})
        return InvokeResult("fake-request-id", payload, function_error=error_type, status=status)

    @property
    def functions_called(self) -> list:
        return [c[0] for c in self.calls]

    @property
    def last_event(self) -> dict:
        assert self.calls, "the invoker was never called"
        return self.calls[-1][1]


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


