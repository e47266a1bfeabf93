"""Workers of non-native runtimes (`provided.*`, Node.js, Java, awslambdaric): an
executable started by the zygote (fork + exec, so it dies with lambdagate) that
talks to its own Runtime API endpoint. Same interface as `workers.PythonWorker`, so
the scheduler runs both alike."""
from __future__ import annotations

import asyncio
import signal
from typing import Optional

from gateway import wire
from gateway.scheduler.runtime_api import RuntimeEndpoint
from gateway.scheduler.workers import BUSY, DEAD, BaseWorker, WorkerLost, peak_rss_kb, rss_kb, send_signal

_MEMORY_POLL_S = 0.01
_SHUTDOWN_S = 2.0   # Lambda's Shutdown phase: SIGTERM, then SIGKILL after at most 2 s


class ExecWorker(BaseWorker):
    """One execution environment of a Runtime API runtime."""

    def __init__(self, slot: int, fn_index: int, generation: int, log_fd: int, loop: asyncio.AbstractEventLoop,
                 memory_limit_kb: int = 0, name: str = "a worker"):
        super().__init__(slot, fn_index, generation, log_fd, loop)
        self.memory_limit_kb = memory_limit_kb
        self.endpoint = RuntimeEndpoint(self._on_ready, owner=lambda: self.pid, name=name)
        self._memory_timer: Optional[asyncio.TimerHandle] = None
        self._shutdown_timer: Optional[asyncio.TimerHandle] = None

    async def start_endpoint(self) -> str:
        """Listen for this worker's runtime; returns the AWS_LAMBDA_RUNTIME_API value."""
        return await self.endpoint.start()

    def _on_ready(self, init_error) -> None:
        if self.ready.done():
            return
        if init_error is None:
            self.ready.set_result((wire.ready_header(self.pid), b""))
        else:
            error_type, body = init_error
            self.ready.set_result((wire.ready_header(self.pid, error_type, peak_rss_kb(self.pid)), body))

    def on_exit(self) -> None:
        """The process ended (reported by the zygote)."""
        self._stop_timers()
        self.endpoint.close()
        self._ended()

    # ------------------------------------------------------------------ the PythonWorker interface

    def send_invoke(self, header: wire.InvokeHeader, payload: bytes) -> asyncio.Future:
        outcome = self.loop.create_future()
        result = self.loop.create_future()
        self.pending = result
        self.endpoint.dispatch(header, payload, outcome)
        request_id = header.request_id

        def settle(done: asyncio.Future) -> None:
            if self._memory_timer is not None:
                self._memory_timer.cancel()
                self._memory_timer = None
            if done.cancelled():
                return
            # the caller may have given up and left a fresh future to settle instead
            target, self.pending = self.pending, None
            if target is None or target.done():
                return
            error_type, body, duration_ns = done.result()
            self.max_rss_kb = max(self.max_rss_kb, peak_rss_kb(self.pid))
            target.set_result((wire.result_header(request_id, error_type, duration_ns, self.max_rss_kb, 1), body))
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

    def _stop_timers(self) -> None:
        for timer in (self._memory_timer, self._shutdown_timer):
            if timer is not None:
                timer.cancel()
        self._memory_timer = self._shutdown_timer = None

    def kill(self) -> None:
        """SIGKILL the process; whoever waits for Init or a result learns at once."""
        self._stop_timers()
        send_signal(self.pid, signal.SIGKILL)
        self.endpoint.close()
        self.state = DEAD
        lost = WorkerLost()
        self.fail_pending(lost)
        if not self.ready.done():
            self.ready.set_exception(lost)
            self.ready.exception()

    def close_gently(self) -> None:
        # a runtime blocks in GET /next for ever: SIGTERM starts its Shutdown phase
        self.state = DEAD
        self._stop_timers()
        send_signal(self.pid, signal.SIGTERM)
        if self.pid > 0:
            # cancelled by on_exit, so it never hits a reused pid
            self._shutdown_timer = self.loop.call_later(_SHUTDOWN_S, send_signal, self.pid, signal.SIGKILL)
        self.endpoint.close()
