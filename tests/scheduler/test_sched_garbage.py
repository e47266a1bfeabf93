"""A warm invocation leaves no reference cycles in the gateway: what it allocated (frames,
futures, results, log text) is freed by reference counting, so a busy gateway does not feed
CPython's cycle collector, whose full collections pause every request in flight."""
from __future__ import annotations

import asyncio
import gc
from collections import Counter
import pytest

pytestmark = pytest.mark.integration   # starts real processes

HELLO = """
def handler(event, context):
    return {"statusCode": 200, "body": "hi"}
"""
INVOCATIONS = 200


def test_warm_invocations_leave_no_reference_cycles(run, make_function, open_scheduler):
    spec = make_function(HELLO, name="Hello")

    async def body():
        async with open_scheduler([spec]) as s:
            await s.invoke("Hello", b"{}")          # cold start: lazy imports and caches are done
            await asyncio.gather(*(s.invoke("Hello", b"{}") for _ in range(4)))
            gc.collect()
            gc.disable()
            gc.set_debug(gc.DEBUG_SAVEALL)
            try:
                for i in range(INVOCATIONS):
                    if i % 4:
                        result = await s.invoke("Hello", b'{"n": %d}' % i)
                    else:   # concurrent ones too: other workers, the idle stack, the deadline heap
                        result = (await asyncio.gather(s.invoke("Hello", b"{}"), s.invoke("Hello", b"{}")))[0]
                    assert result.function_error is None
                gc.collect()
                return Counter(type(obj).__name__ for obj in gc.garbage)
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
                gc.enable()

    garbage = run(body())
    for kind in ("InvokeResult", "Future", "Task", "coroutine"):
        assert garbage[kind] == 0, garbage.most_common(10)
    assert sum(garbage.values()) < INVOCATIONS // 4, garbage.most_common(10)
