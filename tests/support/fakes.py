"""The one fake scheduler of the test suite: `FakeInvoker` implements gateway.types.ManagedInvoker
(Invoker + ConcurrencyControl + `closing`), records every invocation and answers from a script.

    fake = FakeInvoker()                                  # any function name exists
    fake = FakeInvoker(("PetsFunction", "ImageFunction")) # only these (FunctionNotFound otherwise)
    fake = FakeInvoker([spec_a, spec_b], script={"f": "fail"})   # FunctionSpecs as they are

``script[function]`` (by the name invoke() gets, or the function's logical id or FunctionName) is
one answer:

* an InvokeResult (build one with ``ok()``, ``raw()``, ``error()``), returned as it is;
* an exception instance, raised;
* "ok" (a 200 proxy response naming the function), "fail" (a function error), "throttle"
  (raises Throttled) or "block" (waits for ``fake.release`` to be set, then "ok");
* a callable(event) returning (or awaiting to) any of these.

Functions not scripted answer "ok". ``fake.calls`` lists every invocation as a `Call`.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Optional, Union

import orjson

from gateway.errors import FunctionNotFound, Throttled
from gateway.types import FunctionSpec, InvokeResult
from support.servers import APPS

FAKE_REQUEST_ID = "fake-request-id"
ANSWERS = ("ok", "fail", "throttle", "block")


@dataclass(eq=False)
class Call:
    """One invoke() call with its arguments. Unpacks as ``(function, event, payload)``."""
    function: str
    payload: bytes
    request_id: Optional[str] = None
    invoked_arn: Optional[str] = None
    client_context: Optional[str] = None
    want_log: bool = False
    trace_root: Optional[str] = None

    @cached_property
    def event(self):
        """The payload, parsed."""
        return orjson.loads(self.payload)

    def __iter__(self):
        return iter((self.function, self.event, self.payload))


class FakeInvoker:
    """A scheduler stand-in: see the module's docstring."""

    def __init__(self, functions: Iterable[Union[str, FunctionSpec]] = (), script: Optional[dict] = None, *,
                 timeouts: Optional[dict] = None):
        """`functions` are names (a spec is made for each, with `timeouts[name]` as its Timeout) or
        FunctionSpecs; none at all: every name is a function."""
        self.timeouts = dict(timeouts or {})
        self.specs: dict = {}           # FunctionName -> FunctionSpec, in the order given
        self._by_name: dict = {}        # logical id and FunctionName -> FunctionSpec
        for item in functions:
            spec = item if isinstance(item, FunctionSpec) else self._spec(item)
            self.specs[spec.function_name] = spec
            self._by_name[spec.logical_id] = spec
            self._by_name.setdefault(spec.function_name, spec)
        self.script: dict = dict(script or {})
        self.calls: list = []           # Call, in order
        self.reserved: dict = {s.function_name: s.reserved_concurrency for s in self.specs.values()
                               if s.reserved_concurrency is not None}   # FunctionName -> reserved concurrency
        self.release = asyncio.Event()  # what "block" answers wait for
        self.closing = False

    def _spec(self, name: str) -> FunctionSpec:
        return FunctionSpec(logical_id=name, function_name=name, handler="app.handler", runtime="python3.11",
                            code_dir=str(APPS), timeout_s=self.timeouts.get(name, 3))

    # ---- Invoker

    def function(self, name: str) -> FunctionSpec:
        if not self._by_name:
            return self._spec(name)
        spec = self._by_name.get(name)
        if spec is None:
            raise FunctionNotFound(name)
        return spec

    def functions(self) -> list:
        return list(self.specs.values())

    async def invoke(self, function: str, payload: bytes, *, client_context: Optional[str] = None,
                     invoked_arn: Optional[str] = None, want_log: bool = False,
                     request_id: Optional[str] = None, trace_root: Optional[str] = None) -> InvokeResult:
        spec = self.function(function)
        call = Call(function, payload, request_id, invoked_arn, client_context, want_log, trace_root)
        self.calls.append(call)
        action = self._scripted(function, spec)
        if callable(action):
            action = action(call.event)
            if hasattr(action, "__await__"):
                action = await action
        if isinstance(action, str):
            if action == "block":
                await self.release.wait()
                action = "ok"
            action = self._answer(action, function, request_id)
        if isinstance(action, BaseException):
            raise action
        return action

    def _scripted(self, function: str, spec: FunctionSpec):
        for key in (function, spec.logical_id, spec.function_name):
            if key in self.script:
                return self.script[key]
        return "ok"

    def _answer(self, answer: str, function: str, request_id: Optional[str]):
        request_id = request_id or FAKE_REQUEST_ID
        if answer == "ok":
            return self.ok({"function": function}, request_id=request_id)
        if answer == "fail":
            return self.error(request_id=request_id)
        if answer == "throttle":
            return Throttled("ConcurrentInvocationLimitExceeded")
        raise ValueError(f"unknown scripted answer {answer!r}: one of {ANSWERS}")

    # ---- ConcurrencyControl

    def reserved_concurrency(self, name: str) -> Optional[int]:
        return self.reserved.get(self.function(name).function_name)

    def set_reserved_concurrency(self, name: str, reserved: Optional[int]) -> None:
        function_name = self.function(name).function_name
        if reserved is None:
            self.reserved.pop(function_name, None)
        else:
            self.reserved[function_name] = reserved

    # ---- result builders

    @staticmethod
    def ok(body=None, status: Optional[int] = 200, headers: Optional[dict] = None, *,
           request_id: str = FAKE_REQUEST_ID, **extra) -> InvokeResult:
        """A proxy response with a JSON body; ``status=None`` leaves statusCode out."""
        obj: dict = {}
        if status is not None:
            obj["statusCode"] = status
        if headers is not None:
            obj["headers"] = headers
        if body is not None:
            obj["body"] = body if isinstance(body, str) else orjson.dumps(body).decode()
        obj.update(extra)
        return InvokeResult(request_id, orjson.dumps(obj))

    @staticmethod
    def raw(payload: bytes, request_id: str = FAKE_REQUEST_ID) -> InvokeResult:
        return InvokeResult(request_id, payload)

    @staticmethod
    def error(error_type: str = "ValueError", message: str = "boom",
              stack: tuple = ('  File "/var/task/app.py", line 3, in handler\n    raise ValueError("boom")\n',),
              status: str = "error", *, request_id: str = FAKE_REQUEST_ID) -> InvokeResult:
        payload = orjson.dumps({"errorMessage": message, "errorType": error_type,
                                "requestId": request_id, "stackTrace": list(stack)})
        return InvokeResult(request_id, payload, function_error=error_type, status=status)

    # ---- what the tests read

    @property
    def functions_called(self) -> list:
        return [c.function for c in self.calls]

    @property
    def last_event(self) -> dict:
        assert self.calls, "the invoker was never called"
        return self.calls[-1].event
