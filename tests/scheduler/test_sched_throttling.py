"""Reserved and account concurrency (aws-contract.md §5.2): throttles are raised, counted and released."""
from __future__ import annotations

import asyncio

from gateway.errors import Throttled
from gateway.types import InvokeResult
import pytest

pytestmark = pytest.mark.integration   # starts real processes

SLOW = """
import time, uuid

ENVIRONMENT = uuid.uuid4().hex   # made once per execution environment

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return ENVIRONMENT
"""

RESERVED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT = "ConcurrentInvocationLimitExceeded"


def _split(outcomes):
    ok = [o for o in outcomes if isinstance(o, InvokeResult)]
    throttled = [o for o in outcomes if isinstance(o, Throttled)]
    assert len(ok) + len(throttled) == len(outcomes), outcomes
    return ok, throttled


def test_reserved_concurrency_throttles_the_excess(run, make_function, open_scheduler):
    spec = make_function(SLOW, reserved_concurrency=2)

    async def body():
        async with open_scheduler([spec]) as s:
            outcomes = await asyncio.gather(*[s.invoke(spec.logical_id, b'{"sleep": 0.3}') for _ in range(3)],
                                            return_exceptions=True)
            totals = s.totals(spec.logical_id)
            later = await s.invoke(spec.logical_id, b"{}")           # the slots came back
            return outcomes, totals, later

    outcomes, totals, later = run(body())
    ok, throttled = _split(outcomes)
    assert len(ok) == 2 and all(r.status == "success" for r in ok)
    assert len(throttled) == 1
    assert throttled[0].reason == RESERVED
    assert str(throttled[0]) == "Rate Exceeded."
    assert totals["throttles"] == 1
    assert totals["invocations"] == 2                                 # a throttle is not an invocation
    assert later.status == "success"


def test_account_concurrency_throttles_across_functions(run, make_function, open_scheduler):
    spec_a = make_function(SLOW)
    spec_b = make_function(SLOW)

    async def body():
        async with open_scheduler([spec_a, spec_b], account_concurrency=1) as s:
            same_fn = await asyncio.gather(s.invoke(spec_a.logical_id, b'{"sleep": 0.2}'),
                                           s.invoke(spec_a.logical_id, b"{}"), return_exceptions=True)
            other_fn = await asyncio.gather(s.invoke(spec_a.logical_id, b'{"sleep": 0.2}'),
                                            s.invoke(spec_b.logical_id, b"{}"), return_exceptions=True)
            return same_fn, other_fn, s.totals(spec_a.logical_id), s.totals(spec_b.logical_id)

    same_fn, other_fn, totals_a, totals_b = run(body())
    assert isinstance(same_fn[0], InvokeResult) and same_fn[0].status == "success"
    assert isinstance(same_fn[1], Throttled) and same_fn[1].reason == ACCOUNT
    assert isinstance(other_fn[0], InvokeResult) and other_fn[0].status == "success"
    assert isinstance(other_fn[1], Throttled) and other_fn[1].reason == ACCOUNT
    assert totals_a["throttles"] == 1 and totals_b["throttles"] == 1


def test_reserved_concurrency_is_carved_out_of_the_account_pool(run, make_function, open_scheduler):
    reserved = make_function(SLOW, reserved_concurrency=2)
    unreserved = make_function(SLOW)

    async def body():
        async with open_scheduler([reserved, unreserved], account_concurrency=3) as s:
            # the reserved function is idle, yet only 3 - 2 = 1 slot is left for the others
            outcomes = await asyncio.gather(s.invoke(unreserved.logical_id, b'{"sleep": 0.2}'),
                                            s.invoke(unreserved.logical_id, b"{}"),
                                            s.invoke(reserved.logical_id, b"{}"),
                                            s.invoke(reserved.logical_id, b"{}"), return_exceptions=True)
            return outcomes

    outcomes = run(body())
    assert isinstance(outcomes[0], InvokeResult)
    assert isinstance(outcomes[1], Throttled) and outcomes[1].reason == ACCOUNT
    assert isinstance(outcomes[2], InvokeResult) and isinstance(outcomes[3], InvokeResult)


def test_reserved_concurrency_zero_throttles_everything_at_once(run, make_function, open_scheduler, kit):
    spec = make_function(SLOW)

    async def body():
        async with open_scheduler([spec]) as s:
            warm = await s.invoke(spec.logical_id, b"{}")
            in_flight = asyncio.ensure_future(s.invoke(spec.logical_id, b'{"sleep": 0.3}'))
            await kit.wait_for(lambda: s.idle_count(spec.logical_id) == 0, timeout_s=2.0)
            s.set_reserved_concurrency(spec.logical_id, 0)
            blocked = await asyncio.gather(*[s.invoke(spec.logical_id, b"{}") for _ in range(3)],
                                           return_exceptions=True)
            finished = await in_flight
            still_blocked = await asyncio.gather(s.invoke(spec.logical_id, b"{}"), return_exceptions=True)
            reserved = s.reserved_concurrency(spec.logical_id)
            s.set_reserved_concurrency(spec.logical_id, None)
            again = await s.invoke(spec.logical_id, b"{}")
            return warm, blocked, finished, still_blocked, reserved, again, s.totals(spec.logical_id)

    warm, blocked, finished, still_blocked, reserved, again, totals = run(body())
    assert all(isinstance(b, Throttled) and b.reason == RESERVED for b in blocked + still_blocked)
    assert finished.status == "success"            # work already running is not cut off
    assert reserved == 0
    assert again.status == "success"
    assert again.payload == warm.payload           # the warm worker was kept meanwhile
    assert totals["throttles"] == 4
    assert totals["invocations"] == 3
