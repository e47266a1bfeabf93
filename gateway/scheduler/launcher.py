"""Cold starts: a Python worker forked from the zygote of its Python version, or another runtime's
executable started through lambdagate's own zygote (fork + exec), up to the end of its Init phase.

One zygote per interpreter. All of them start with lambdagate, side by side, for the versions the
functions declare: a first request then pays for a fork only, not for an interpreter's start and
imports (~100-200 ms for another version's), and the wait at startup is that of the slowest one,
not of their sum."""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from typing import Iterable, Optional

from gateway.config import Config
from gateway.errors import LambdagateError
from gateway.scheduler import interpreters, outcomes
from gateway.scheduler.commands import runtime_command
from gateway.scheduler.environment import exec_worker_spec, python_worker_spec
from gateway.scheduler.exec_workers import ExecWorker
from gateway.scheduler.interpreters import Interpreter
from gateway.scheduler.isolation import Isolation
from gateway.scheduler.workers import BUSY, PythonWorker, WorkerLost, peak_rss_kb
from gateway.scheduler.zygote import ZygoteError, ZygoteProcess
from gateway.types import FunctionSpec

log = logging.getLogger("lambdagate")
_EXIT_STATUS_WAIT_S = 2.0
INIT_TIMEOUT = "Sandbox.Timedout"   # an Init phase that ran out of time


def python_runtime(runtime: str) -> bool:
    return runtime.startswith("python")


def _log_file(function_name: str) -> int:
    """A memory file for the worker's stdout and stderr; append-only so that
    truncating it after each invocation lets the next writes start at 0."""
    fd = os.memfd_create(f"lambdagate-{function_name}", os.MFD_CLOEXEC)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    return fd


class Launcher:
    """Owns the zygotes and knows how to turn a function into a running worker."""

    def __init__(self, config: Config, isolation: Isolation):
        self.config = config
        self.init_timeout_s = config.init_timeout_s
        self.memory_poll_ms = config.memory_poll_ms
        self.enforce_memory = config.enforce_memory
        self.isolation = isolation
        self._own: Optional[Interpreter] = None      # lambdagate's own interpreter
        self._interpreters: dict = {}                # "python3.12" -> Interpreter
        self._zygotes: dict = {}                     # Interpreter.executable -> ZygoteProcess
        self._exec_workers: dict = {}       # pid -> ExecWorker, told when its process ends
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    async def start(self, functions: Iterable[FunctionSpec] = ()) -> None:
        """Find the interpreter of every Python version the functions declare (saying once which
        are not installed), start a zygote for each and lambdagate's own, and wait for their imports.
        The zygotes also say which isolation this machine allows; that is said once, here. If any of
        that fails, no zygote is left running."""
        self._loop = asyncio.get_running_loop()
        try:
            await self._start_zygotes(functions)
        except BaseException:
            self._close_zygotes()
            raise

    async def _start_zygotes(self, functions: Iterable[FunctionSpec]) -> None:
        self._own = interpreters.own_interpreter(self.config)
        zygotes = [(self._own, self._ensure_zygote(self._own))]     # its imports overlap the lookups
        # each lookup runs candidate interpreters (a pyenv shim that fails takes ~0.3 s): off the event loop
        self._interpreters = await self._loop.run_in_executor(None, interpreters.choose, list(functions), self.config)
        others = {i.executable: i for i in self._interpreters.values() if not i.own}
        zygotes += [(interpreter, self._ensure_zygote(interpreter)) for interpreter in others.values()]
        for interpreter, zygote in zygotes:
            try:
                await asyncio.wait_for(asyncio.shield(zygote.ready), self.init_timeout_s)
            except (asyncio.TimeoutError, ZygoteError) as exc:
                raise LambdagateError(f"the zygote{self._of(interpreter)} did not start: {exc or 'timed out'}") \
                    from None
        own_zygote = zygotes[0][1]
        self.isolation.started(own_zygote.isolation, own_zygote.isolation_note)
        for interpreter, zygote in zygotes[1:]:
            if zygote.isolation != self.isolation.level:
                raise LambdagateError(f"the zygote{self._of(interpreter)} offers isolation {zygote.isolation!r}, "
                                      f"not {self.isolation.level!r}: {zygote.isolation_note}")

    @staticmethod
    def _of(interpreter: Interpreter) -> str:
        return "" if interpreter.own else f" of Python {interpreter.version} ({interpreter.executable})"

    def interpreter_of(self, spec: FunctionSpec) -> Interpreter:
        """The interpreter whose zygote starts this function's workers: its Python version's, and
        lambdagate's own for every other runtime."""
        if self._own is None:
            self._own = interpreters.own_interpreter(self.config)
        return self._interpreters.get(spec.runtime, self._own) if python_runtime(spec.runtime) else self._own

    def _ensure_zygote(self, interpreter: Interpreter) -> ZygoteProcess:
        zygote = self._zygotes.get(interpreter.executable)
        if zygote is None or not zygote.alive:
            if zygote is not None:
                zygote.close(timeout_s=1)
            zygote = self._zygotes[interpreter.executable] = ZygoteProcess(
                interpreter.executable, on_exit=self._on_exit, on_lost=self._on_lost,
                isolation=self.isolation.level or self.isolation.requested, own=interpreter.own)
            zygote.start()
        return zygote

    @property
    def zygote_pid(self) -> int:
        """lambdagate's own zygote's pid, 0 when none runs."""
        zygote = self._zygotes.get(self._own.executable) if self._own is not None else None
        return zygote.process.pid if zygote is not None and zygote.alive else 0

    def zygote_pids(self) -> dict:
        """{Python version ("3.12"): pid} of every zygote running."""
        versions = {i.executable: i.version for i in (self._own, *self._interpreters.values()) if i is not None}
        return {versions.get(executable, executable): zygote.process.pid
                for executable, zygote in self._zygotes.items() if zygote.alive}

    def _on_exit(self, pid: int, status: int) -> None:
        self.isolation.ended(pid)
        worker = self._exec_workers.pop(pid, None)
        if worker is not None:
            worker.on_exit()

    def _on_lost(self, pids: list) -> None:
        # the zygote took its children with it; executables only learn their end from it
        for pid in pids:
            self._on_exit(pid, -1)

    def _close_zygotes(self) -> None:
        zygotes, self._zygotes = self._zygotes, {}
        for zygote in zygotes.values():
            zygote.close()

    def close(self) -> None:
        self._close_zygotes()
        self._exec_workers.clear()
        self.isolation.close()

    async def exit_status(self, worker, spec: FunctionSpec) -> int:
        """A dead worker of this function's: its wait status (-1 if unknown); also records its peak memory."""
        zygote = self._zygotes.get(self.interpreter_of(spec).executable)
        if worker.pid <= 0 or zygote is None:
            return -1
        try:
            status, max_rss_kb = await asyncio.wait_for(zygote.wait_exit(worker.pid), _EXIT_STATUS_WAIT_S)
        except asyncio.TimeoutError:
            return -1
        worker.max_rss_kb = max(worker.max_rss_kb, max_rss_kb)
        return status

    async def launch(self, spec: FunctionSpec, slot: int, fn_index: int, generation: int, register):
        """Start a worker and wait for the end of its Init phase.

        `register(worker)` is called as soon as the worker object exists, so that
        a shutdown can find and kill it. Returns (worker, init_ns, None) or
        (worker or None, init_ns, (error_type, payload or None)); a None payload
        means the process exited during Init (worker.exit_status says how) or,
        with INIT_TIMEOUT, that Init ran out of time.
        """
        python = python_runtime(spec.runtime)
        argv = None
        if not python:
            try:  # may compile (Java) the first time: off the event loop
                argv = await self._loop.run_in_executor(None, runtime_command, spec.runtime, spec.code_dir,
                                                        spec.handler, spec.memory_mb)
            except Exception as exc:  # RuntimeUnavailable, or a code directory that cannot be read
                log.error("%s: %s", spec.logical_id, exc)
                return None, 0, ("Runtime.InvalidEntrypoint",
                                 outcomes.crash_payload("Runtime.InvalidEntrypoint", str(exc)))
            wrapper = spec.environment.get("AWS_LAMBDA_EXEC_WRAPPER")
            if wrapper and not spec.runtime.startswith("provided"):
                argv = [wrapper, *argv]  # managed runtimes start through the wrapper script, as on AWS
        log_fd = _log_file(spec.function_name)
        if python:
            worker = PythonWorker(slot, fn_index, generation, log_fd, self._loop)
        else:
            worker = ExecWorker(slot, fn_index, generation, log_fd, self._loop,
                                spec.memory_mb * 1024 if self.enforce_memory else 0, spec.function_name)
        register(worker)
        start_ns = time.monotonic_ns()
        interpreter = self.interpreter_of(spec)
        try:
            zygote = self._ensure_zygote(interpreter)
            await zygote.ready
            if zygote.isolation != self.isolation.level:   # a restarted zygote must isolate as the first did
                raise ZygoteError(f"the zygote now offers isolation {zygote.isolation!r}, not "
                                  f"{self.isolation.level!r}: {zygote.isolation_note}")
            if python:
                await self._fork_python(zygote, interpreter, spec, worker, log_fd)
            else:
                runtime_api = await worker.start_endpoint()
                worker_spec = exec_worker_spec(spec, argv, runtime_api)
                await self._fork(zygote, None, spec, worker, worker_spec, (), log_fd)
            ready, ready_payload = await asyncio.wait_for(asyncio.shield(worker.ready), self.init_timeout_s)
            self.isolation.initialised(worker.pid)
        except WorkerLost:
            worker.exit_status = await self.exit_status(worker, spec)
            return worker, time.monotonic_ns() - start_ns, ("Runtime.ExitError", None)
        except asyncio.TimeoutError:
            # Lambda's 10 s Init limit: the environment is reset and the invocation fails
            worker.max_rss_kb = peak_rss_kb(worker.pid)
            worker.kill()
            return worker, time.monotonic_ns() - start_ns, (INIT_TIMEOUT, None)
        except (ZygoteError, OSError) as exc:
            worker.kill()
            raise LambdagateError(f"{spec.logical_id}: cannot start a worker: {exc}") from exc
        except BaseException:
            worker.kill()
            raise
        init_ns = time.monotonic_ns() - start_ns
        if ready.init_error_type is not None:
            worker.max_rss_kb = ready.max_rss_kb
            return worker, init_ns, (ready.init_error_type, ready_payload)
        worker.state = BUSY
        return worker, init_ns, None

    async def _fork_python(self, zygote: ZygoteProcess, interpreter: Interpreter, spec: FunctionSpec,
                           worker: PythonWorker, log_fd: int) -> None:
        # Two pipes, not one socket pair: a reader blocked on a socket is also woken each time
        # its peer frees buffer space, so every result the gateway read woke the idle worker
        # once for nothing. A pipe keeps readers and writers on separate wait queues.
        invoke_r, invoke_w = os.pipe2(os.O_CLOEXEC)
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        try:
            await worker.connect(invoke_w, result_r)
            worker_spec = python_worker_spec(spec, self.memory_poll_ms, self.enforce_memory, interpreter.sys_path,
                                             None if interpreter.own else interpreter.version)
            await self._fork(zygote, interpreter, spec, worker, worker_spec, (invoke_r, result_w), log_fd)
        finally:
            os.close(invoke_r)
            os.close(result_w)

    async def _fork(self, zygote: ZygoteProcess, interpreter: Optional[Interpreter], spec: FunctionSpec, worker,
                    worker_spec: dict, worker_fds: tuple, log_fd: int) -> None:
        """Fork the worker's process into an environment of its own, isolated as the machine allows.
        `interpreter`: a Python worker's (None for an executable)."""
        environment = self.isolation.prepare(spec, worker_spec,
                                             interpreter if interpreter is not None and not interpreter.own else None)
        try:
            worker.pid = await zygote.fork(worker_spec, worker_fds, log_fd)
        except BaseException:
            self.isolation.discard(environment)
            raise
        self.isolation.attach(worker.pid, environment)
        if isinstance(worker, ExecWorker):
            self._exec_workers[worker.pid] = worker   # it learns its end from the zygote only
        if zygote.has_exited(worker.pid) or not zygote.alive:  # its exit came with the fork's answer
            self._on_exit(worker.pid, -1)
