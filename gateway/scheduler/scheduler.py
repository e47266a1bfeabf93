"""The scheduler: warm pools, cold starts through the zygote, deadlines, tallies.

Decisions (which worker, throttle or not, which deadline is next, what to bill)
are made by `_core`; this module does the I/O around them on the event loop.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from functools import partial
from typing import Iterable, Optional, TextIO

import _core
import orjson
from _core import COLD, STATUS_ERROR, STATUS_SUCCESS, STATUS_TIMEOUT, THROTTLED_RESERVED
from gateway import wire
from gateway.config import Config
from gateway.scheduler.outcomes import response_too_large_payload
from gateway.errors import FunctionNotFound, LambdagateError, PayloadTooLarge, Throttled
from gateway.sdks import survey_sdks
from gateway.logs import (LogSinks, SpilledLog, init_report_line, init_start_line, invocation_log, log_text,
                          report_line, with_more_output)
from gateway.scheduler import outcomes
from gateway.scheduler.isolation import Isolation
from gateway.scheduler.launcher import INIT_TIMEOUT, Launcher
from gateway.scheduler.workers import BUSY, DEAD, IDLE, BaseWorker, WorkerLost, WorkerTimedOut, peak_rss_kb
from gateway.types import RESPONSE_LIMIT_BYTES, SYNC_PAYLOAD_LIMIT_BYTES, FunctionSpec, InvokeResult

log = logging.getLogger("lambdagate")

_THROTTLE_REASONS = {THROTTLED_RESERVED: "ReservedFunctionConcurrentInvocationLimitExceeded"}
_ACCOUNT_REASON = "ConcurrentInvocationLimitExceeded"


def _mb(kb: int) -> int:
    """Memory in whole MB, rounded up, as REPORT lines print it."""
    return (kb + 1023) // 1024


class _Function:
    __slots__ = ("spec", "index", "generation", "timeout_ns", "timeout_ms", "arn")

    def __init__(self, spec: FunctionSpec, index: int):
        self.spec = spec
        self.index = index
        self.arn = spec.arn   # formatted once, not per invocation
        self.generation = 0
        self.timeout_ns = int(spec.timeout_s * 1_000_000_000)
        self.timeout_ms = int(spec.timeout_s * 1000)


class _InvocationState:
    """One invocation from the moment it has a worker (or failed to get one) until its result:
    what settling it needs, whichever way it ends. Created once per invocation."""
    __slots__ = ("fn", "worker", "request_id", "start_ns", "init_ns", "prefix", "want_log")

    def __init__(self, fn: _Function, worker: Optional[BaseWorker], request_id: str, start_ns: int, init_ns: int,
                 prefix: str, want_log: bool):
        self.fn = fn
        self.worker = worker          # PythonWorker or ExecWorker; None if none could be started
        self.request_id = request_id
        self.start_ns = start_ns      # monotonic, when the invocation was sent (0 if it never was)
        self.init_ns = init_ns        # the Init phase it waited for (0 when warm)
        self.prefix = prefix          # log text before START: INIT_START and, after an init error, its report
        self.want_log = want_log      # the caller wants the log text in the result


class Scheduler:
    """Runs invocations of the functions it is given; implements `Invoker`."""

    def __init__(self, functions: Iterable[FunctionSpec], config: Optional[Config] = None, *,
                 console: Optional[TextIO] = None):
        """Console logs (START/END/REPORT and function output, besides the log files) go to
        `console`, stderr by default, when `config.console_logs`."""
        self.config = config = config or Config()
        console = (console or sys.stderr) if config.console_logs else None
        self._pools = _core.Pools(self.config.account_concurrency)
        self._tally = _core.Tally()
        self._deadlines = _core.DeadlineHeap()
        self._ids = _core.IdGenerator(os.urandom(16))
        self._functions: dict = {}          # logical id and FunctionName -> _Function
        self._ordered: list = []
        for spec in functions:
            fn = _Function(spec, self._pools.add_function(-1 if spec.reserved_concurrency is None
                                                          else spec.reserved_concurrency))
            self._tally.add_function()
            self._ordered.append(fn)
            self._functions[spec.logical_id] = fn
            self._functions.setdefault(spec.function_name, fn)
        self._workers: list = []            # slot -> PythonWorker, ExecWorker or None
        self._free_slots: list = []
        self.isolation = Isolation(config, [fn.spec for fn in self._ordered])
        self._launcher = Launcher(config, self.isolation)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_deadline_ns = -1
        self._reaper: Optional[asyncio.TimerHandle] = None
        self._sinks = LogSinks(config.log_dir, console, max_file_bytes=config.log_file_max_mb * 1024 * 1024,
                              files_kept=config.log_files_kept)
        self._in_flight = 0
        self._drained: Optional[asyncio.Future] = None   # set while close() waits for in-flight work
        self._background: set = set()       # invocations whose callers gave up, still being settled
        self.closing = False    # no new invocations; running ones may finish
        self._stopped = False   # every worker has been killed
        self.missing_sdks: list = []    # gateway.sdks.MissingSdk: the SDKs Lambda's runtimes include, not here

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._ordered:
            specs = [fn.spec for fn in self._ordered]
            await self._launcher.start(specs)
            # the SDKs Lambda's runtimes include, and Node.js versions: said once (file checks, off the loop).
            # A missing SDK that lambdagate installs (Config.sdk_install) is said by that install instead.
            survey = await self._loop.run_in_executor(None, survey_sdks, specs, self._launcher.interpreter_of)
            self.missing_sdks = survey.missing
            for note in survey.notes(installing=self.config.sdk_install):
                log.warning("%s", note)
        self._schedule_reaper()

    async def close(self, grace_s: float = 0.0) -> None:
        """Stop: let in-flight invocations finish within grace_s, then kill everything."""
        self.closing = True
        if grace_s > 0 and self._in_flight:
            self._drained = self._loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._drained), grace_s)
            except asyncio.TimeoutError:
                pass
        self._kill_all()

    def _kill_all(self) -> None:
        self._stopped = True
        for handle in (self._timer, self._reaper):
            if handle is not None:
                handle.cancel()
        self._timer = self._reaper = None
        for worker in self._workers:
            if worker is not None:
                worker.fail_pending(LambdagateError("lambdagate is shutting down"))
                worker.kill()
                worker.release_log()
        self._workers.clear()
        self._free_slots.clear()
        self._deadlines = _core.DeadlineHeap()
        self._timer_deadline_ns = -1
        self._launcher.close()
        self._sinks.close()

    # ------------------------------------------------------------------ queries

    def function(self, name: str) -> FunctionSpec:
        fn = self._functions.get(name)
        if fn is None:
            raise FunctionNotFound(name)
        return fn.spec

    def functions(self) -> list:
        return [fn.spec for fn in self._ordered]

    def totals(self, name: str) -> dict:
        return self._tally.snapshot(self._lookup(name).index)

    def worker_pids(self, name: Optional[str] = None) -> list:
        index = None if name is None else self._lookup(name).index
        return [w.pid for w in self._workers
                if w is not None and w.pid > 0 and w.state != DEAD and (index is None or w.fn_index == index)]

    @property
    def zygote_pid(self) -> int:
        """lambdagate's own zygote's pid, 0 when none runs."""
        return self._launcher.zygote_pid

    def zygote_pids(self) -> dict:
        """{Python version ("3.12"): pid} of every zygote running, lambdagate's own included."""
        return self._launcher.zygote_pids()

    def idle_count(self, name: str) -> int:
        return self._pools.idle(self._lookup(name).index)

    def _lookup(self, name: str) -> _Function:
        fn = self._functions.get(name)
        if fn is None:
            raise FunctionNotFound(name)
        return fn

    # ------------------------------------------------------------------ controls

    def set_reserved_concurrency(self, name: str, reserved: Optional[int]) -> None:
        self._pools.set_reserved(self._lookup(name).index, -1 if reserved is None else reserved)

    def reserved_concurrency(self, name: str) -> Optional[int]:
        value = self._pools.reserved(self._lookup(name).index)
        return None if value < 0 else value

    def retire(self, name: str) -> None:
        """New code: idle workers go now, busy ones when their invocation ends."""
        fn = self._lookup(name)
        fn.generation += 1
        for slot in self._pools.take_idle(fn.index):
            self._drop(self._workers[slot], gently=True)

    async def warm(self, name: str) -> None:
        """Start one worker ahead of demand (`--warm-containers EAGER`)."""
        fn = self._lookup(name)
        slot = self._pools.acquire(fn.index)
        if slot >= 0:  # a warm worker is already there
            self._pools.release(fn.index, slot, time.monotonic_ns())
            return
        if slot != COLD:
            raise Throttled(_THROTTLE_REASONS.get(slot, _ACCOUNT_REASON))
        try:
            worker, _, init_error = await self._launch(fn)
        except BaseException:
            self._pools.cold_failed(fn.index)
            raise
        if init_error is not None:
            self._pools.discard_busy(fn.index)
            if worker is not None:
                self._drop(worker)
            return
        self._release(fn, worker)

    # ------------------------------------------------------------------ invoke

    async def invoke(self, function: str, payload: bytes, *, client_context: Optional[str] = None,
                     invoked_arn: Optional[str] = None, want_log: bool = False,
                     request_id: Optional[str] = None, trace_root: Optional[str] = None) -> InvokeResult:
        fn = self._functions.get(function)
        if fn is None:
            raise FunctionNotFound(function)
        if self.closing:
            raise LambdagateError("lambdagate is shutting down")
        if len(payload) > SYNC_PAYLOAD_LIMIT_BYTES:
            raise PayloadTooLarge(len(payload), SYNC_PAYLOAD_LIMIT_BYTES)
        slot = self._pools.acquire(fn.index)
        if slot < 0 and slot != COLD:
            self._tally.throttle(fn.index)
            raise Throttled(_THROTTLE_REASONS.get(slot, _ACCOUNT_REASON))
        if slot >= 0 and self._workers[slot].state == DEAD:  # died idle, not yet noticed: start anew
            self._drop(self._workers[slot])
            slot = COLD
        self._in_flight += 1
        try:
            return await self._run(fn, slot, payload, client_context, invoked_arn or fn.arn, want_log,
                                   request_id, trace_root)
        finally:
            self._in_flight -= 1
            if not self._in_flight and self._drained is not None and not self._drained.done():
                self._drained.set_result(None)

    async def _run(self, fn: _Function, slot: int, payload: bytes, client_context, invoked_arn: str,
                   want_log: bool, request_id: Optional[str], trace_root: Optional[str] = None) -> InvokeResult:
        init_ns = 0
        init_error = None
        if slot == COLD:
            try:
                worker, init_ns, init_error = await self._launch(fn)
            except BaseException:
                self._pools.cold_failed(fn.index)
                raise
            if self._stopped:  # everything was killed while this worker started
                self._pools.discard_busy(fn.index)
                if worker is not None:
                    self._drop(worker)
                raise LambdagateError("lambdagate is shutting down")
        else:
            worker = self._workers[slot]
        if request_id is None:
            request_id = self._ids.next_id()
        prefix = init_start_line(fn.spec.runtime) if init_ns else ""
        if init_error is not None:
            return self._finish_init_error(_InvocationState(fn, worker, request_id, 0, init_ns, prefix, want_log),
                                           init_error)

        worker.state = BUSY
        start_ns = time.monotonic_ns()
        deadline_ns = start_ns + fn.timeout_ns
        self._deadlines.push(deadline_ns, worker.slot)
        if self._timer_deadline_ns < 0 or deadline_ns < self._timer_deadline_ns:
            self._arm_timer(deadline_ns)
        now_ns = time.time_ns()
        # X-Ray: the caller's trace root (API Gateway's) or a new one from the epoch and the
        # request id's random-looking hex; the segment id is new for the function
        if trace_root is None:
            trace_root = f"Root=1-{now_ns // 1_000_000_000:08x}-{request_id[-12:]}{request_id[:8]}{request_id[9:13]}"
        trace_id = f"{trace_root};Parent={request_id[14:18]}{request_id[19:23]}{request_id[-8:]};Sampled=0"
        header = wire.invoke_header(request_id, now_ns // 1_000_000 + fn.timeout_ms, invoked_arn, client_context,
                                    None, trace_id)
        state = _InvocationState(fn, worker, request_id, start_ns, init_ns, prefix, want_log)
        outcome = worker.send_invoke(header, payload)
        try:
            result_header, out = await outcome
        except asyncio.CancelledError:
            # the caller gave up, not the function: as on AWS the invocation runs on, and its
            # worker, concurrency and tallies are settled when it ends
            if outcome.cancelled():
                outcome = self._loop.create_future()
                worker.pending = outcome
            task = asyncio.ensure_future(self._settle_abandoned(state, outcome))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            raise
        except (WorkerTimedOut, WorkerLost):
            return await self._settle(state, outcome)
        return self._complete(state, result_header, out)

    async def _settle_abandoned(self, state: _InvocationState, outcome: asyncio.Future) -> None:
        state.want_log = False  # nobody is there to read it
        try:
            await self._settle(state, outcome)
        except LambdagateError:
            pass  # lambdagate stopped first; close() has dealt with the worker

    async def _settle(self, state: _InvocationState, outcome: asyncio.Future) -> InvokeResult:
        """Books, logs and the worker's fate once an invocation has an outcome."""
        try:
            result_header, out = await outcome
        except WorkerTimedOut:
            return self._finish_timeout(state)
        except WorkerLost:
            self._deadlines.cancel(state.worker.slot)
            return await self._finish_crash(state)
        return self._complete(state, result_header, out)

    def _complete(self, state: _InvocationState, result_header: wire.ResultHeader, out: bytes) -> InvokeResult:
        """The worker answered: tally, log, return the worker to its pool."""
        worker = state.worker
        self._deadlines.cancel(worker.slot)
        error_type = result_header.error_type
        worker.max_rss_kb = max_rss_kb = result_header.max_rss_kb
        if error_type == "Function.ResponseSizeTooLarge" or (error_type is None and len(out) > RESPONSE_LIMIT_BYTES):
            error_type, out = "Function.ResponseSizeTooLarge", response_too_large_payload()
        output = worker.take_log() if result_header.log_bytes else b""
        if output.__class__ is SpilledLog:   # the worker goes back to its pool once its log is copied
            output.then = partial(self._release, state.fn, worker)
        else:
            self._release(state.fn, worker)
        return self._conclude(state, out, error_type, result_header.duration_ns, _mb(max_rss_kb), output)

    def _conclude(self, state: _InvocationState, payload: bytes, error_type: Optional[str], duration_ns: int,
                  max_used_mb: int, output: bytes, timed_out: bool = False) -> InvokeResult:
        """Bill the invocation, write its log (START .. REPORT) and build its result."""
        fn, request_id, init_ns = state.fn, state.request_id, state.init_ns
        spec = fn.spec
        status = STATUS_TIMEOUT if timed_out else STATUS_SUCCESS if error_type is None else STATUS_ERROR
        billed = self._tally.record(fn.index, duration_ns, init_ns, spec.memory_mb, status)
        outcome = "timeout" if timed_out else None if error_type is None else "error"
        report = report_line(request_id, duration_ns, billed, spec.memory_mb, max_used_mb, init_ns, outcome,
                             error_type)
        text = invocation_log(request_id, output, report, state.prefix)
        self._sinks.write(spec.function_name, text)
        return InvokeResult(request_id, payload, error_type, outcome or "success", duration_ns, billed, init_ns,
                            spec.memory_mb, max_used_mb, log_text(text).encode() if state.want_log else b"")

    def _release(self, fn: _Function, worker: BaseWorker) -> None:
        if worker.generation == fn.generation and worker.state != DEAD and not self.closing:
            worker.state = IDLE
            self._pools.release(fn.index, worker.slot, time.monotonic_ns())
        else:
            self._pools.discard_busy(fn.index)
            self._drop(worker, gently=True)

    # ------------------------------------------------------------------ failures

    def _finish_init_error(self, state: _InvocationState, init_error: tuple) -> InvokeResult:
        worker, request_id = state.worker, state.request_id
        error_type, error_payload = init_error
        self._pools.discard_busy(state.fn.index)
        timed_out = error_type == INIT_TIMEOUT
        if timed_out:
            error_payload = outcomes.timeout_payload(request_id, self.config.init_timeout_s)
        elif error_payload is None:  # the process exited during Init
            error_payload = outcomes.crash_payload(error_type,
                                                   outcomes.runtime_exit_message(request_id, worker.exit_status))
        if worker is None:  # nothing could be started (a runtime that is not installed)
            init_log, max_used_mb = f"{orjson.loads(error_payload)['errorMessage']}\n", 0
        else:
            init_log = worker.take_log(spill=False).decode("utf-8", "backslashreplace")
            if init_log and not init_log.endswith("\n"):
                init_log += "\n"
            self._drop(worker)
            max_used_mb = _mb(worker.max_rss_kb)
        state.prefix += init_log + init_report_line(state.init_ns, error_type, timed_out)
        return self._conclude(state, error_payload, error_type, 0, max_used_mb, b"", timed_out)

    def _finish_timeout(self, state: _InvocationState) -> InvokeResult:
        worker, request_id, spec = state.worker, state.request_id, state.fn.spec
        duration_ns = time.monotonic_ns() - state.start_ns
        self._pools.discard_busy(state.fn.index)
        output = with_more_output(worker.take_log(), outcomes.timeout_log_line(request_id, spec.timeout_s).encode())
        self._drop(worker)
        return self._conclude(state, outcomes.timeout_payload(request_id, spec.timeout_s), "Sandbox.Timedout",
                              duration_ns, _mb(worker.max_rss_kb), output, timed_out=True)

    async def _finish_crash(self, state: _InvocationState) -> InvokeResult:
        worker, spec = state.worker, state.fn.spec
        duration_ns = time.monotonic_ns() - state.start_ns
        self._pools.discard_busy(state.fn.index)
        output = worker.take_log()
        self._drop(worker)   # before waiting: a caller that gives up meanwhile leaks nothing
        wait_status = await self._launcher.exit_status(worker, spec)
        if worker.oom_rss_kb:
            error_type, max_used_mb = "Runtime.OutOfMemory", spec.memory_mb
        else:
            error_type, max_used_mb = "Runtime.ExitError", _mb(worker.max_rss_kb)
        message = outcomes.runtime_exit_message(state.request_id, -1 if worker.oom_rss_kb else wait_status)
        return self._conclude(state, outcomes.crash_payload(error_type, message), error_type, duration_ns,
                              max_used_mb, with_more_output(output, f"{message}\n{error_type}\n".encode()))

    # ------------------------------------------------------------------ deadlines

    def _arm_timer(self, deadline_ns: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_deadline_ns = deadline_ns
        delay_s = (deadline_ns - time.monotonic_ns()) / 1e9
        self._timer = self._loop.call_later(delay_s if delay_s > 0 else 0, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline_ns = -1
        # loop timers round to whole milliseconds and may fire a little early:
        # the heap, read with the monotonic clock, decides what has really expired
        for slot in self._deadlines.pop_expired(time.monotonic_ns()):
            worker = self._workers[slot] if slot < len(self._workers) else None
            # a worker whose answer is in but not yet read (no pending future) finished in time
            if worker is not None and worker.state == BUSY and worker.pending is not None:
                worker.max_rss_kb = max(worker.max_rss_kb, peak_rss_kb(worker.pid))
                worker.fail_pending(WorkerTimedOut())
                worker.kill()
        next_ns = self._deadlines.next_deadline_ns()
        if next_ns >= 0:
            self._arm_timer(next_ns)

    # ------------------------------------------------------------------ workers

    def _alloc_slot(self) -> int:
        if self._free_slots:
            return self._free_slots.pop()
        self._workers.append(None)
        return len(self._workers) - 1

    async def _launch(self, fn: _Function):
        slot = self._alloc_slot()
        try:
            worker, init_ns, init_error = await self._launcher.launch(fn.spec, slot, fn.index, fn.generation,
                                                                     self._register)
        except BaseException:
            registered = self._workers[slot] if slot < len(self._workers) else None
            if registered is not None:
                self._drop(registered)
            elif slot < len(self._workers):
                self._free_slots.append(slot)
            raise
        if worker is None and slot < len(self._workers):
            self._free_slots.append(slot)
        return worker, init_ns, init_error

    def _register(self, worker) -> None:
        """A worker being started: from now on a shutdown kills it, and an idle one that dies leaves its pool."""
        self._workers[worker.slot] = worker
        worker.on_dead = self._on_dead

    def _on_dead(self, worker) -> None:
        """A worker ended by itself; an idle one leaves its pool at once (busy ones are handled by _run)."""
        if worker.slot < len(self._workers) and self._workers[worker.slot] is worker:
            if self._pools.remove_idle(worker.fn_index, worker.slot):
                self._drop(worker)

    def _drop(self, worker: BaseWorker, gently: bool = False) -> None:
        """Forget a worker and make sure its process ends."""
        if gently and worker.state != DEAD:
            worker.close_gently()
        else:
            worker.kill()
        worker.release_log()
        if worker.slot < len(self._workers) and self._workers[worker.slot] is worker:
            self._workers[worker.slot] = None
            self._free_slots.append(worker.slot)

    def _schedule_reaper(self) -> None:
        interval_s = max(0.05, min(self.config.keepalive_s / 4, 30.0))
        self._reaper = self._loop.call_later(interval_s, self._reap)

    def _reap(self) -> None:
        keepalive_ns = int(self.config.keepalive_s * 1e9)
        for slot in self._pools.reap(time.monotonic_ns(), keepalive_ns):
            worker = self._workers[slot]
            if worker is not None:
                self._drop(worker, gently=True)
        self._schedule_reaper()
