"""Cold starts: a Python worker forked from the zygote, or another runtime's
executable started through it (fork + exec), up to the end of its Init phase."""
from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import time
from typing import Optional

from gateway.config import Config
from gateway.errors import LambdagateError
from gateway.scheduler import outcomes
from gateway.scheduler.commands import runtime_command
from gateway.scheduler.environment import exec_worker_spec, python_worker_spec
from gateway.scheduler.exec_workers import ExecWorker
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
    """Owns the zygote and knows how to turn a function into a running worker."""

    def __init__(self, config: Config, isolation: Isolation):
        self.python = config.python
        self.init_timeout_s = config.init_timeout_s
        self.memory_poll_ms = config.memory_poll_ms
        self.enforce_memory = config.enforce_memory
        self.isolation = isolation
        self._zygote: Optional[ZygoteProcess] = None
        self._exec_workers: dict = {}       # pid -> ExecWorker, told when its process ends
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    async def start(self) -> None:
        """Start the zygote and wait for its imports, so a first request pays only for a fork.
        The zygote also says which isolation this machine allows; that is said once, here."""
        self._loop = asyncio.get_running_loop()
        zygote = self._ensure_zygote()
        try:
            await asyncio.wait_for(asyncio.shield(zygote.ready), self.init_timeout_s)
        except (asyncio.TimeoutError, ZygoteError) as exc:
            raise LambdagateError(f"the zygote did not start: {exc or 'timed out'}") from None
        self.isolation.started(zygote.isolation, zygote.isolation_note)

    def _ensure_zygote(self) -> ZygoteProcess:
        if self._zygote is None or not self._zygote.alive:
            if self._zygote is not None:
                self._zygote.close(timeout_s=1)
            self._zygote = ZygoteProcess(self.python, on_exit=self._on_exit, on_lost=self._on_lost,
                                         isolation=self.isolation.level or self.isolation.requested)
            self._zygote.start()
        return self._zygote

    @property
    def zygote_pid(self) -> int:
        zygote = self._zygote
        return zygote.process.pid if zygote is not None and zygote.alive else 0

    def _on_exit(self, pid: int, status: int) -> None:
        self.isolation.ended(pid)
        worker = self._exec_workers.pop(pid, None)
        if worker is not None:
            worker.on_exit()

    def _on_lost(self) -> None:
        # the zygote took its children with it; executables only learn their end from it
        workers, self._exec_workers = self._exec_workers, {}
        for worker in workers.values():
            worker.on_exit()
        self.isolation.end_all()

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
            self._zygote = None
        self._exec_workers.clear()
        self.isolation.close()

    async def exit_status(self, worker) -> int:
        """A dead worker's wait status (-1 if unknown); also records its peak memory."""
        if worker.pid <= 0 or self._zygote is None:
            return -1
        try:
            status, max_rss_kb = await asyncio.wait_for(self._zygote.wait_exit(worker.pid), _EXIT_STATUS_WAIT_S)
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
        try:
            zygote = self._ensure_zygote()
            await zygote.ready
            if zygote.isolation != self.isolation.level:   # a restarted zygote must isolate as the first did
                raise ZygoteError(f"the zygote now offers isolation {zygote.isolation!r}, not "
                                  f"{self.isolation.level!r}: {zygote.isolation_note}")
            if python:
                await self._fork_python(zygote, spec, worker, log_fd)
            else:
                runtime_api = await worker.start_endpoint()
                worker_spec = exec_worker_spec(spec, argv, runtime_api)
                await self._fork(zygote, spec, worker, worker_spec, (), log_fd)
            ready, ready_payload = await asyncio.wait_for(asyncio.shield(worker.ready), self.init_timeout_s)
            self.isolation.initialised(worker.pid)
        except WorkerLost:
            worker.exit_status = await self.exit_status(worker)
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

    async def _fork_python(self, zygote: ZygoteProcess, spec: FunctionSpec, worker: PythonWorker,
                           log_fd: int) -> None:
        # Two pipes, not one socket pair: a reader blocked on a socket is also woken each time
        # its peer frees buffer space, so every result the gateway read woke the idle worker
        # once for nothing. A pipe keeps readers and writers on separate wait queues.
        invoke_r, invoke_w = os.pipe2(os.O_CLOEXEC)
        result_r, result_w = os.pipe2(os.O_CLOEXEC)
        try:
            await worker.connect(invoke_w, result_r)
            worker_spec = python_worker_spec(spec, self.memory_poll_ms, self.enforce_memory)
            await self._fork(zygote, spec, worker, worker_spec, (invoke_r, result_w), log_fd)
        finally:
            os.close(invoke_r)
            os.close(result_w)

    async def _fork(self, zygote: ZygoteProcess, spec: FunctionSpec, worker, worker_spec: dict, worker_fds: tuple,
                    log_fd: int) -> None:
        """Fork the worker's process into an environment of its own, isolated as the machine allows."""
        environment = self.isolation.prepare(spec, worker_spec)
        try:
            worker.pid = await zygote.fork(worker_spec, worker_fds, log_fd)
        except BaseException:
            self.isolation.discard(environment)
            raise
        self.isolation.attach(worker.pid, environment)
        if isinstance(worker, ExecWorker):
            self._exec_workers[worker.pid] = worker   # it learns its end from the zygote only
        if zygote.has_exited(worker.pid):  # its exit came with the fork's answer
            self._on_exit(worker.pid, -1)
