"""Fixtures for the scheduler integration tests.

Everything here goes through the real path: a real zygote interpreter, real
forked worker processes, real sockets and log files. Nothing is mocked.
The tests are plain synchronous functions that drive the event loop with the
`run` fixture (pytest-asyncio is not used).
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import textwrap
import time

import pytest
import uvloop

from gateway.scheduler import Scheduler, SchedulerConfig
from gateway.types import FunctionSpec

RUNTIME = "python3.11"


def _run(coro, timeout_s: float = 30.0):
    """Run a coroutine to completion on a fresh uvloop (the loop lambdagate itself uses)."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout_s)
    return uvloop.run(bounded())


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (zombies included: os.kill(pid, 0) succeeds on them)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_running(pid: int) -> bool:
    """Like pid_alive, but a zombie (dead, waiting for a parent that is not ours to reap it) counts as gone."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    state = stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3]
    return state not in (b"Z", b"X")


def _still_there(pids, timeout_s: float = 3.0, check=pid_alive) -> list:
    """Poll until every pid is gone or the deadline passes; the pids still there (empty: all gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for pid in pids if check(pid)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.01)


async def _async_still_there(pids, timeout_s: float = 3.0, check=pid_alive) -> list:
    """The same, for use while the scheduler's loop must keep running."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for pid in pids if check(pid)]
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.01)


async def _async_wait_for(predicate, timeout_s: float = 3.0) -> bool:
    """Poll predicate() on the loop until true or the deadline passes; its last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        await asyncio.sleep(0.01)


def proc_ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def proc_cmdline(pid: int) -> list:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode() for part in f.read().split(b"\0") if part]


class Kit:
    """Helpers the tests share, handed out by the `kit` fixture."""
    run = staticmethod(_run)
    pid_alive = staticmethod(pid_alive)
    pid_running = staticmethod(pid_running)
    still_there = staticmethod(_still_there)
    async_still_there = staticmethod(_async_still_there)
    wait_for = staticmethod(_async_wait_for)
    proc_ppid = staticmethod(proc_ppid)
    proc_cmdline = staticmethod(proc_cmdline)


@pytest.fixture
def kit():
    return Kit


@pytest.fixture
def run():
    return _run


@pytest.fixture
def make_function(tmp_path):
    """make_function(code, name=..., handler=..., module=..., **FunctionSpec fields) -> FunctionSpec.

    Writes `code` (dedented) into tmp_path/<name>/<module> and returns a python3.11
    FunctionSpec whose code_dir is that directory. `code=None` writes no module.
    """
    counter = itertools.count(1)

    def make(code, *, name=None, function_name=None, handler="app.handler", module="app.py", files=None,
             **fields) -> FunctionSpec:
        name = name or f"Fn{next(counter)}"
        code_dir = tmp_path / "functions" / name
        code_dir.mkdir(parents=True)
        if code is not None:
            (code_dir / module).write_text(textwrap.dedent(code).lstrip("\n"))
        for rel, text in (files or {}).items():
            path = code_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return FunctionSpec(logical_id=name, function_name=function_name or name, handler=handler,
                            runtime=RUNTIME, code_dir=str(code_dir), **fields)

    return make


@pytest.fixture
def open_scheduler(tmp_path):
    """`async with open_scheduler([specs], **SchedulerConfig fields) as s:` — started, and always closed."""

    @contextlib.asynccontextmanager
    async def open_(functions, **config):
        config.setdefault("log_dir", str(tmp_path / "logs"))
        config.setdefault("console", None)
        scheduler = Scheduler(functions, SchedulerConfig(**config))
        await scheduler.start()
        try:
            yield scheduler
        finally:
            await scheduler.close()

    return open_


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path / "logs"
