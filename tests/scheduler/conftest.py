"""Fixtures for the scheduler integration tests.

Everything here goes through the real path: a real zygote interpreter, real
forked worker processes, real sockets and log files. Nothing is mocked.
The tests are plain synchronous functions that drive the event loop with the
`run` fixture (pytest-asyncio is not used).
"""
from __future__ import annotations

import contextlib
import itertools
import textwrap

import pytest

from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.types import FunctionSpec
from support.processes import run_bounded

RUNTIME = "python3.11"


@pytest.fixture
def run():
    return run_bounded


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
    """`async with open_scheduler([specs], console=None, **Config fields) as s:` — started, and always
    closed; log files in <tmp_path>/logs, console logs only when a `console` stream is given."""

    @contextlib.asynccontextmanager
    async def open_(functions, console=None, **fields):
        fields.setdefault("state_dir", str(tmp_path))
        fields.setdefault("console_logs", console is not None)
        scheduler = Scheduler(functions, Config(**fields), console=console)
        await scheduler.start()
        try:
            yield scheduler
        finally:
            await scheduler.close()

    return open_


@pytest.fixture
def log_dir(tmp_path):
    return tmp_path / "logs"
