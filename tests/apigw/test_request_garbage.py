"""A request through the API port leaves no reference cycles behind: everything it allocated is
freed by reference counting. Cyclic garbage is what drives CPython's collector, whose full
collections pause the gateway for milliseconds (the p99 of the load benchmark showed them)."""
from __future__ import annotations

import gc
from collections import Counter

from support.wire import request

REQUESTS = 200


def _cyclic_garbage_of(action) -> Counter:
    """Types of the objects only the cycle collector could free, among those `action` left."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        action()
        gc.collect()
        return Counter(type(obj).__name__ for obj in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_requests_on_the_api_port_leave_no_reference_cycles(wire_server):
    server = wire_server()
    conn = server.connect()
    conn.send(request("GET", "/pets/1?case=json"))
    assert conn.read_response().status == 200   # first request: lazy imports and caches are done

    def serve_many():
        for i in range(REQUESTS):
            conn.send(request("GET", f"/v2/pets/{i}?n={i}") if i % 2 else request("GET", f"/pets/{i}?n={i}"))
            assert conn.read_response().status == 200

    garbage = _cyclic_garbage_of(serve_many)
    assert garbage["RequestResponseCycle"] == 0, garbage
    # a cycle per request would leave hundreds; the server thread's own bookkeeping leaves a few
    assert sum(garbage.values()) < REQUESTS // 4, garbage.most_common(10)
