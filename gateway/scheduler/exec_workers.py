"""Workers of non-native runtimes (`provided.*`, Node.js, Java, awslambdaric): an
executable started by the zygote (fork + exec, so it dies with lambdagate) that
talks to its own Runtime API endpoint. Same interface as `workers.Worker`, so
the scheduler runs both alike."""
from __future__ import annotations

import asyncio
import os
import signal
from typing import Optional

from gateway import wire
from gateway.aws.runtime_api import RuntimeEndpoint
from gateway.scheduler.workers import BUSY, DEAD, STARTING, WorkerLost

_MEMORY_POLL_S = 0.01


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_kb(pid: int) -> int:
    """VmHWM of a live process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class ExecWorker:
    """One execution environment of a Runtime API runtime."""

    def __init__(self, slot: int, function: str, fn_index: int, generation: int, log_fd: int,
                 loop: asyncio.AbstractEventLoop, memory_limit_kb: int = 0):
        self.slot = slot
        self.function = function
        self.fn_index = fn_index
        self.generation = generation
        self.log_fd = log_fd
        self.loop = loop
        self.pid = 0
        self.state = STARTING
        self.ready = loop.create_future()
        self.closed = loop.create_future()
        self.pending: Optional[asyncio.Future] = None
        self.max_rss_kb = 0
        self.exit_status = -1     # wait status, once known, of a worker that died during Init
        self.oom_rss_kb = 0
        self.invocations = 0
        self.started_ns = 0
        self.memory_limit_kb = memory_limit_kb
        self.endpoint = RuntimeEndpoint(self._on_ready)
        self._memory_timer: Optional[asyncio.TimerHandle] = None

    async def start_endpoint(self) -> str:
        """Listen for this worker's runtime; returns the AWS_LAMBDA_RUNTIME_API value."""
        return await self.endpoint.start()

    def _on_ready(self, init_error) -> None:
        if self.ready.done():
            return
        if init_error is None:
            self.ready.set_result(([wire.READY, self.pid, None, 0], b""))
        else:
            error_type, body = init_error
            self.ready.set_result(([wire.READY, self.pid, error_type, peak_rss_kb(self.pid)], body))

    def on_exit(self) -> None:
        """The process ended (reported by the zygote)."""
        self.state = DEAD
        self._stop_memory_watch()
        self.endpoint.close()
        lost = WorkerLost()
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            pending.set_exception(lost)
        if not self.ready.done():
            self.ready.set_exception(lost)
            self.ready.exception()
        if not self.closed.done():
            self.closed.set_result(None)

    # ------------------------------------------------------------------ the Worker interface

    def send_invoke(self, header: list, payload: bytes) -> asyncio.Future:
        outcome = self.loop.create_future()
        result = self.loop.create_future()
        self.pending = result
        self.endpoint.dispatch(header, payload, outcome)
        request_id = header[1]

        def settle(done: asyncio.Future) -> None:
            self._stop_memory_watch()
            if done.cancelled():
                return
            # the caller may have given up and left a fresh future to settle instead
            target, self.pending = self.pending, None
            if target is None or target.done():
                return
            error_type, body, duration_ns = done.result()
            self.max_rss_kb = max(self.max_rss_kb, peak_rss_kb(self.pid))
            target.set_result(([wire.RESULT, request_id, error_type, duration_ns, self.max_rss_kb, 1], body))
        outcome.add_done_callback(settle)
        if self.memory_limit_kb:
            self._memory_timer = self.loop.call_later(_MEMORY_POLL_S, self._check_memory)
        return result

    def _check_memory(self) -> None:
        # runtimes other than lambdagate's own have no watchdog inside: poll from here
        self._memory_timer = None
        if self.state != BUSY or self.pid <= 0:
            return
        current_kb = rss_kb(self.pid)
        if current_kb > self.memory_limit_kb:
            self.oom_rss_kb = current_kb
            self.kill()
            return
        self._memory_timer = self.loop.call_later(_MEMORY_POLL_S, self._check_memory)

    def _stop_memory_watch(self) -> None:
        if self._memory_timer is not None:
            self._memory_timer.cancel()
            self._memory_timer = None

    def fail_pending(self, exc: Exception) -> None:
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            pending.set_exception(exc)

    def kill(self) -> None:
        self.state = DEAD
        self._stop_memory_watch()
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.endpoint.close()

    def close_gently(self) -> None:
        # a runtime blocks in GET /next forever; SIGTERM is how Lambda's Shutdown phase begins
        self.state = DEAD
        self._stop_memory_watch()
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.loop.call_later(2.0, _sigkill, self.pid)  # Lambda's 2 s shutdown cap
        self.endpoint.close()

    def take_log(self) -> bytes:
        fd = self.log_fd
        if fd < 0:
            return b""
        size = os.fstat(fd).st_size
        if not size:
            return b""
        data = os.pread(fd, size, 0)
        os.ftruncate(fd, 0)
        return data

    def release_log(self) -> None:
        if self.log_fd >= 0:
            os.close(self.log_fd)
            self.log_fd = -1


def _sigkill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
