"""The asynchronous-invocation dispatcher: accepted events run, are retried, and end in a record.

`AsyncInvoker.accept()` stores an event durably (EventStore) and only then queues it in
memory. Queued events run through `invoker.invoke()` under the function's concurrency:
at most `max_concurrency` at a time per function, and never more than its reserved
concurrency. Semantics follow aws-contract.md §5.3:

* a function error (incl. timeout, crash, OOM) is retried up to MaximumRetryAttempts
  (default 2) after `retry_delays_s` (AWS: ~1 min, then ~2 min);
* a throttle or a system error does not count as an attempt: the event goes back to the
  queue with exponential backoff from 1 s to 5 min (`throttle_backoff_s`);
* an event older than MaximumEventAgeInSeconds is discarded (EventAgeExceeded);
* the outcome goes to the on-success / on-failure destination, a failure with no
  destination to the dead-letter file, and only then is the event deleted (at-least-once).
"""
from __future__ import annotations

import asyncio
import heapq
import logging
import os
import time
from collections import deque
from typing import Optional

import _core
from gateway.async_invoke import destinations as dst
from gateway.async_invoke.store import Event, EventStore
from gateway.config import Config
from gateway.errors import FunctionNotFound, LambdagateError, Throttled
from gateway.types import EventInvokeConfig, FunctionSpec, ManagedInvoker

log = logging.getLogger("lambdagate")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class AsyncInvoker:
    """Durable asynchronous invocation over a ManagedInvoker (the scheduler): it uses `function()`,
    `invoke()`, `reserved_concurrency()` and `closing`."""

    def __init__(self, invoker: ManagedInvoker, config: Optional[Config] = None, *, db_path: Optional[str] = None):
        """Takes from `config`: state_dir (the store and the destination files), the async_* settings."""
        config = config or Config()
        self.invoker = invoker
        self.state_dir = config.state_dir
        self.retry_delays_s = tuple(float(d) for d in config.async_retry_delays_s) or (0.0,)
        self.throttle_backoff_s = (float(config.async_throttle_backoff_s[0]), float(config.async_throttle_backoff_s[1]))
        self.max_concurrency = max(1, int(config.async_concurrency))
        self.store = EventStore(db_path or config.event_store_path, config.async_durability,
                                config.discard_corrupt_store)
        self._ids = _core.IdGenerator(os.urandom(16))
        self._overrides: dict = {}        # FunctionName -> EventInvokeConfig set through the API (None: deleted)
        self._ready: dict = {}            # FunctionName -> deque of events due now
        self._delayed: list = []          # heap of (next_ms, id, event)
        self._inflight: dict = {}         # FunctionName -> attempts running
        self._tasks: set = set()
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at_ms = -1
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._outstanding = 0             # events in memory not yet finished
        self._idle: Optional[asyncio.Event] = None
        self._starting: Optional[asyncio.Future] = None
        self._warned: set = set()
        self.started = False
        self.stopping = False
        self.closed = False               # stop() was called: no autostart, accept() refuses
        self.accepted = 0
        self.finished = 0
        self.recovered = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the store and queue what a previous run left unfinished. Idempotent."""
        if self.started:
            return
        if self._starting is not None:
            await asyncio.shield(self._starting)
            return
        self._loop = asyncio.get_running_loop()
        self._starting = self._loop.create_future()
        self.closed = False
        try:
            self._idle = asyncio.Event()
            self._idle.set()
            leftovers = await self.store.open()
            self.stopping = False
            self.started = True
            self.recovered = len(leftovers)
            if leftovers:
                log.info("async invocations: %d event(s) left unfinished by the last run will run again",
                         len(leftovers))
            self._outstanding += len(leftovers)
            if leftovers:
                self._idle.clear()
            for event in leftovers:
                self._enqueue(event)
            self._starting.set_result(None)
        except BaseException as exc:
            self._starting.set_exception(exc)
            self._starting.exception()  # retrieved: callers get it from their own await
            self._starting = None
            raise

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop dispatching; let running attempts finish within grace_s; close the store.

        Events not finished stay in the store and run at the next start. Call before
        the scheduler closes (attempts cut short by its shutdown are not counted)."""
        self.closed = True
        if not self.started:
            return
        self.stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._tasks and grace_s > 0:
            await asyncio.wait(list(self._tasks), timeout=grace_s)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.store.close()
        self.started = False
        self._starting = None
        self._ready.clear()
        self._delayed.clear()
        self._outstanding = 0
        self._idle.set()

    async def drain(self, timeout_s: Optional[float] = None) -> bool:
        """Wait until every event in memory has finished (tests, benchmarks). False on timeout."""
        if self._idle is None:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False

    @property
    def pending(self) -> int:
        return self._outstanding

    # ------------------------------------------------------------------ configuration

    def event_invoke_config(self, spec: FunctionSpec) -> EventInvokeConfig:
        override = self._overrides.get(spec.function_name, spec.event_invoke)
        return EventInvokeConfig() if override is None else override

    def has_event_invoke_config(self, spec: FunctionSpec) -> bool:
        if spec.function_name in self._overrides:
            return self._overrides[spec.function_name] is not None
        return spec.event_invoke != EventInvokeConfig()

    def set_event_invoke_config(self, spec: FunctionSpec, config: Optional[EventInvokeConfig]) -> None:
        self._overrides[spec.function_name] = config

    # ------------------------------------------------------------------ accept

    def new_request_id(self) -> str:
        return self._ids.next_id()

    async def accept(self, spec: FunctionSpec, payload: bytes, *, request_id: str,
                     invoked_arn: Optional[str] = None) -> None:
        """Store one Event invocation durably and queue it; returns once it is committed."""
        if not self.started:
            if self.closed:
                raise LambdagateError("lambdagate is shutting down: the event was not accepted")
            await self.start()
        event = Event(id=self.store.next_id(), request_id=request_id, function=spec.function_name,
                      payload=payload, accepted_ms=_now_ms(),
                      invoked_arn=None if invoked_arn == spec.arn else invoked_arn)
        self._outstanding += 1
        self._idle.clear()
        try:
            await self.store.insert(event)
        except BaseException:
            self._outstanding -= 1
            if self._outstanding <= 0:
                self._outstanding = 0
                self._idle.set()
            raise
        self.accepted += 1
        if self.stopping:
            return                  # stored: it runs at the next start
        self._enqueue(event)

    # ------------------------------------------------------------------ scheduling

    def _enqueue(self, event: Event) -> None:
        if event.next_ms > _now_ms():
            heapq.heappush(self._delayed, (event.next_ms, event.id, event))
            self._arm_timer()
        else:
            self._ready.setdefault(event.function, deque()).append(event)
            self._pump(event.function)

    def _arm_timer(self) -> None:
        if not self._delayed or self.stopping:
            return
        due_ms = self._delayed[0][0]
        if self._timer is not None:
            if self._timer_at_ms <= due_ms:
                return
            self._timer.cancel()
        self._timer_at_ms = due_ms
        self._timer = self._loop.call_later(max(0.0, (due_ms - _now_ms()) / 1000), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at_ms = -1
        now = _now_ms()
        touched = set()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, event = heapq.heappop(self._delayed)
            self._ready.setdefault(event.function, deque()).append(event)
            touched.add(event.function)
        for name in touched:
            self._pump(name)
        self._arm_timer()

    def _capacity(self, name: str) -> int:
        try:
            reserved = self.invoker.reserved_concurrency(name)
        except FunctionNotFound:
            reserved = None
        if reserved is not None:
            return min(self.max_concurrency, max(reserved, 1))   # 0: one attempt finds the throttle
        return self.max_concurrency

    def _pump(self, name: str) -> None:
        if self.stopping:
            return
        queue = self._ready.get(name)
        if not queue:
            return
        running = self._inflight.get(name, 0)
        capacity = self._capacity(name)
        while queue and running < capacity:
            event = queue.popleft()
            running += 1
            task = self._loop.create_task(self._attempt(event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._inflight[name] = running
        if not queue:
            self._ready.pop(name, None)

    def _attempt_done(self, name: str) -> None:
        self._inflight[name] = self._inflight.get(name, 1) - 1
        self._pump(name)

    def _finished_one(self) -> None:
        self._outstanding -= 1
        self.finished += 1
        if self._outstanding <= 0:
            self._outstanding = 0
            self._idle.set()

    def _backoff(self, event: Event) -> None:
        """Back to the queue after a throttle or a system error (not an attempt)."""
        event.throttles += 1
        first, cap = self.throttle_backoff_s
        delay_s = min(cap, first * (2 ** min(event.throttles - 1, 30)))
        event.next_ms = _now_ms() + int(delay_s * 1000)
        heapq.heappush(self._delayed, (event.next_ms, event.id, event))
        self._arm_timer()

    # ------------------------------------------------------------------ one attempt

    async def _attempt(self, event: Event) -> None:
        name = event.function
        try:
            await self._run_attempt(event)
        except asyncio.CancelledError:
            raise                               # stopping: the row stays, it runs at the next start
        except Exception:  # noqa: BLE001 - never lose an event to a bug here
            log.exception("async invocation %s of %s: unexpected failure; retrying later", event.request_id, name)
            if not self.stopping:
                self._backoff(event)
        finally:
            self._attempt_done(name)

    async def _run_attempt(self, event: Event) -> None:
        try:
            spec = self.invoker.function(event.function)
        except FunctionNotFound:
            log.warning("async invocation %s: function %s is no longer in the template; the event goes to "
                        "the dead-letter file", event.request_id, event.function)
            await self._record_failure(event, None, dst.RETRIES_EXHAUSTED, dst.Outcome(404, None, None))
            return
        config = self.event_invoke_config(spec)
        if _now_ms() - event.accepted_ms > config.maximum_event_age_s * 1000:
            await self._record_failure(event, spec, dst.EVENT_AGE_EXCEEDED, event.last or dst.Outcome(429))
            return
        try:
            # the function's aws_request_id is the one the 202 answered with
            result = await self.invoker.invoke(spec.logical_id, event.payload,
                                               invoked_arn=event.invoked_arn or spec.arn, request_id=event.request_id)
        except Throttled:
            if self.invoker.reserved_concurrency(spec.function_name) == 0:
                # reserved concurrency 0: straight to the on-failure destination, no retries
                await self._record_failure(event, spec, dst.RETRIES_EXHAUSTED, dst.Outcome(429))
                return
            if not self.stopping:
                self._backoff(event)
            return
        except FunctionNotFound:
            await self._record_failure(event, spec, dst.RETRIES_EXHAUSTED, dst.Outcome(404))
            return
        except LambdagateError as exc:
            if self.stopping or self.invoker.closing:
                return                          # shutting down: not an attempt; runs at the next start
            if spec.function_name not in self._warned:
                self._warned.add(spec.function_name)
                log.warning("async invocation of %s failed before the function ran (%s); retrying with backoff",
                            spec.function_name, exc)
            self._backoff(event)
            return
        event.attempts += 1
        event.throttles = 0
        outcome = dst.Outcome(200, "Unhandled" if result.failed else None, result.payload)
        event.last = outcome
        if not result.failed:
            await self._record(event, spec, dst.SUCCESS, outcome, config.on_success, failure=False)
            return
        if event.attempts > config.maximum_retry_attempts:
            await self._record_failure(event, spec, dst.RETRIES_EXHAUSTED, outcome)
            return
        if self.stopping:
            self.store.update(event)            # the attempt counts; the retry happens at the next start
            return
        delay_s = self.retry_delays_s[min(event.attempts - 1, len(self.retry_delays_s) - 1)]
        now = _now_ms()
        expires_ms = event.accepted_ms + config.maximum_event_age_s * 1000 + 1
        event.next_ms = min(now + int(delay_s * 1000), max(expires_ms, now))
        self.store.update(event)
        heapq.heappush(self._delayed, (event.next_ms, event.id, event))
        self._arm_timer()

    # ------------------------------------------------------------------ outcomes

    async def _record_failure(self, event: Event, spec: Optional[FunctionSpec], condition: str,
                              outcome: "dst.Outcome") -> None:
        destination = self.event_invoke_config(spec).on_failure if spec is not None else None
        await self._record(event, spec, condition, outcome, destination, failure=True)

    async def _record(self, event: Event, spec: Optional[FunctionSpec], condition: str, outcome: "dst.Outcome",
                      destination, *, failure: bool) -> None:
        """Deliver the record, then delete the event (same commit or after the fsync'd append)."""
        if destination is None and not failure:
            await self.store.delete(event.id)
            self._finished_one()
            return
        arn = spec.arn if spec is not None else f"arn:aws:lambda:us-east-1:123456789012:function:{event.function}"
        region = spec.region if spec is not None else "us-east-1"
        record = dst.build_record(request_id=event.request_id, function_arn=arn, condition=condition,
                                  invoke_count=event.attempts, request_payload=event.payload, outcome=outcome)
        if destination is None:
            path = dst.dead_letter_file(self.state_dir, event.function)
            await self.store.append_then_delete(path, dst.encode_line(record), event.id)
        elif destination.type == "Lambda":
            target = self._lambda_target(destination.arn)
            if target is None:
                log.warning("destination %s of %s is not a function of the template; the record goes to %s",
                            destination.arn, event.function, dst.destination_file(self.state_dir, destination.arn))
                await self.store.append_then_delete(dst.destination_file(self.state_dir, destination.arn),
                                                    dst.encode_line(record), event.id)
            else:
                new = Event(id=self.store.next_id(), request_id=self.new_request_id(), function=target.function_name,
                            payload=dst.encode(record), accepted_ms=_now_ms(),
                            invoked_arn=None if destination.arn in (target.arn, target.function_name)
                            else destination.arn)
                await self.store.replace(new, event.id)
                self._outstanding += 1
                self.accepted += 1
                if not self.stopping:
                    self._enqueue(new)
        else:
            if destination.type == "EventBridge":
                record = dst.eventbridge_envelope(record, function_arn=arn, region=region, condition=condition)
            await self.store.append_then_delete(dst.destination_file(self.state_dir, destination.arn),
                                                dst.encode_line(record), event.id)
        self._finished_one()

    def _lambda_target(self, arn: str) -> Optional[FunctionSpec]:
        name = dst.lambda_target(arn)
        if name is None:
            return None
        try:
            return self.invoker.function(name)
        except FunctionNotFound:
            return None
