"""The API Gateway port's connections over real sockets: Connection: close, HTTP/1.0,
pipelining (order, slow answers, a client that stops reading) and the lazy keep-alive timeout
(one timer per connection). The server and the raw-socket client are in wirelib.py."""
from __future__ import annotations

import select
import time

import pytest

from support.servers import wait_for
from support.wire import CLOCK_SLACK_S, CLOSE_BOUND_S, KEEP_ALIVE_S, wait_calls, request


# --------------------------------------------------------------------------- Connection: close

@pytest.mark.parametrize("raw_request", [
    request("GET", "/pets/1?case=json", "Connection: close"),
    request("GET", "/v2/pets/1?case=large", "Connection: close"),
    request("GET", "/pets/1?case=json", version="HTTP/1.0"),
    request("GET", "/v2/pets/1?case=empty", version="HTTP/1.0"),
    request("HEAD", "/files/x?case=large", "Connection: close"),
], ids=["rest-close", "http-close-large", "rest-http10", "http-http10-empty", "head-close"])
def test_connection_close_is_announced_and_done(wire_server, whole, raw_request):
    conn = wire_server().connect()
    conn.send(raw_request)
    response = conn.read_response(head_only=raw_request.startswith(b"HEAD"))
    assert response.status == 200
    assert response.value(b"connection") == b"close"
    assert int(response.value(b"content-length")) > 0 or b"empty" in raw_request
    conn.expect_closed(within_s=2.0)
    assert wait_calls(whole, 1)[0][3] is True


def test_pipelined_requests_up_to_a_close_are_all_answered_then_closed(wire_server):
    conn = wire_server().connect()
    conn.send(b"".join(request("GET", f"/pets/{i}?n={i}") for i in range(4))
              + request("GET", "/v2/pets/9?n=close", "Connection: close"))
    bodies = [conn.read_response().body for _ in range(4)]
    assert bodies == [f"rest GET /pets/{i} n={i}".encode() for i in range(4)]
    last = conn.read_response()
    assert last.body == b"http GET /v2/pets/9 n=close" and last.value(b"connection") == b"close"
    conn.expect_closed(within_s=2.0)


# --------------------------------------------------------------------------- pipelining

def _pipelined(n: int) -> tuple:
    targets = [(f"/pets/{i}?n={i}" if i % 2 == 0 else f"/v2/pets/{i}?n={i}") for i in range(n)]
    expected = [(f"rest GET /pets/{i} n={i}" if i % 2 == 0 else f"http GET /v2/pets/{i} n={i}").encode()
                for i in range(n)]
    return targets, expected


@pytest.mark.parametrize("n", [2, 10])
def test_pipelined_requests_are_answered_in_order(wire_server, whole, n):
    conn = wire_server().connect()
    targets, expected = _pipelined(n)
    conn.send(b"".join(request("GET", t) for t in targets))          # one sendall
    assert [conn.read_response().body for _ in range(n)] == expected
    assert not conn.buf
    assert [sent for *_, sent in wait_calls(whole, n)] == [True] * n
    conn.send(request("GET", "/pets/99?n=after"))                      # still keep-alive
    assert conn.read_response().body == b"rest GET /pets/99 n=after"


def test_pipelined_answers_keep_order_when_an_early_one_is_slow(wire_server):
    conn = wire_server().connect()
    conn.send(request("GET", "/pets/0?n=0&ms=200") + request("GET", "/v2/pets/1?n=1")
              + request("GET", "/pets/2?n=2&ms=50") + request("GET", "/v2/pets/3?n=3"))
    assert [conn.read_response().body for _ in range(4)] == [
        b"rest GET /pets/0 n=0", b"http GET /v2/pets/1 n=1", b"rest GET /pets/2 n=2", b"http GET /v2/pets/3 n=3"]


def test_a_client_that_stops_reading_gets_every_pipelined_answer_intact(wire_server, whole):
    """Once the transport's writes are paused (the client does not read), `respond_whole` hands
    the response back to the ASGI path, which waits for the buffer to drain."""
    n, size = 8, 1 << 20
    conn = wire_server().connect(rcvbuf=65536)
    conn.send(b"".join(request("GET", f"/pets/{i}?case=size&bytes={size}&n={i}") for i in range(n)))
    # the kernel holds a few MB at most: before the client reads, a response finds writes paused
    wait_for(lambda: False in [sent for *_, sent in whole], 10, "a response handed back to the ASGI path")
    bodies = [conn.read_response() for _ in range(n)]
    expected = "".join(f"{i:07d}\n" for i in range(size // 8 + 1))[:size].encode()
    assert [(r.status, r.body == expected) for r in bodies] == [(200, True)] * n
    assert [r.value(b"content-length") for r in bodies] == [str(size).encode()] * n
    outcomes = wait_calls(whole, n)
    assert [path for _, path, _, _ in outcomes] == [f"/pets/{i}" for i in range(n)]
    assert outcomes[0][3] is True
    assert not conn.buf


# --------------------------------------------------------------------------- keep-alive timeout

def test_idle_keep_alive_connection_is_closed_after_the_timeout(wire_server):
    server = wire_server(keep_alive_s=KEEP_ALIVE_S)
    conn = server.connect()
    sent = time.monotonic()
    conn.send(request("GET", "/pets/1?n=1"))
    assert conn.read_response().status == 200
    answered = time.monotonic()
    closed = conn.expect_closed(within_s=KEEP_ALIVE_S + CLOSE_BOUND_S)
    # the server's idle period starts after it received the request, so after `sent`
    assert closed - sent >= KEEP_ALIVE_S - CLOCK_SLACK_S
    assert closed - answered <= KEEP_ALIVE_S + CLOSE_BOUND_S


def test_busy_connection_is_never_closed_and_is_closed_once_idle(wire_server):
    server = wire_server(keep_alive_s=KEEP_ALIVE_S)
    idle = server.connect()                       # a neighbour that goes idle while the other works
    idle_sent = time.monotonic()
    idle.send(request("GET", "/pets/0?n=idle"))
    assert idle.read_response().status == 200
    idle_answered = time.monotonic()
    idle_closed = None
    busy = server.connect()

    def wait_for_tick(tick: float) -> None:
        """Until ``tick``: the busy connection stays silent and open; note when the idle one closes."""
        nonlocal idle_closed
        while (remaining := tick - time.monotonic()) > 0:
            watched = [busy.sock] if idle_closed is not None else [busy.sock, idle.sock]
            readable, _, _ = select.select(watched, [], [], remaining)
            if busy.sock in readable:
                chunk = busy.sock.recv(4096)
                pytest.fail(f"busy connection: {'closed by the server' if not chunk else chunk[:300]!r} "
                            f"{time.monotonic() - last_sent:.3f} s after its last request")
            if idle.sock in readable:
                idle_closed = idle.expect_closed(within_s=0.1)

    start = time.monotonic()
    answered = []
    i = 0
    while True:
        last_sent = time.monotonic()
        busy.send(request("GET", f"/pets/{i}?n={i}" if i % 2 else f"/v2/pets/{i}?n={i}"))
        answered.append(busy.read_response().body)
        i += 1
        if i * 0.1 > 1.0 + 1e-9:
            break
        wait_for_tick(start + i * 0.1)
    assert i == 11 and time.monotonic() - start >= 1.0            # over three idle periods long
    assert answered == [(f"rest GET /pets/{k} n={k}" if k % 2 else f"http GET /v2/pets/{k} n={k}").encode()
                        for k in range(i)]
    if idle_closed is None:
        idle_closed = idle.expect_closed(within_s=KEEP_ALIVE_S + CLOSE_BOUND_S)
    assert idle_closed - idle_sent >= KEEP_ALIVE_S - CLOCK_SLACK_S
    assert idle_closed - idle_answered <= KEEP_ALIVE_S + CLOSE_BOUND_S
    # the busy phase is over: the connection is closed once idle for the timeout
    answered_last = time.monotonic()
    closed = busy.expect_closed(within_s=KEEP_ALIVE_S + CLOSE_BOUND_S)
    assert closed - last_sent >= KEEP_ALIVE_S - CLOCK_SLACK_S
    assert closed - answered_last <= KEEP_ALIVE_S + CLOSE_BOUND_S


def test_a_request_slower_than_the_timeout_is_answered_and_the_connection_stays(wire_server):
    server = wire_server(keep_alive_s=KEEP_ALIVE_S)
    conn = server.connect()
    conn.send(request("GET", "/pets/1?n=1"))
    assert conn.read_response().status == 200
    conn.quiet_until(time.monotonic() + KEEP_ALIVE_S / 2)
    # the idle timer armed by the first answer fires while this one is being worked on
    conn.send(request("GET", f"/v2/pets/2?n=2&ms={int(KEEP_ALIVE_S * 2000)}"))
    assert conn.read_response().body == b"http GET /v2/pets/2 n=2"
    sent = time.monotonic()
    conn.send(request("GET", "/pets/3?n=3"))            # straight away: not closed for the old idle period
    assert conn.read_response().body == b"rest GET /pets/3 n=3"
    closed = conn.expect_closed(within_s=KEEP_ALIVE_S + CLOSE_BOUND_S)
    assert closed - sent >= KEEP_ALIVE_S - CLOCK_SLACK_S


# --------------------------------------------------------------------------- 204 and 304

@pytest.mark.parametrize("target, status", [("/pets/1?case=no-content", 204), ("/v2/pets/1?case=no-content", 204),
                                            ("/pets/1?case=not-modified", 304),
                                            ("/v2/pets/1?case=not-modified", 304)])
def test_a_body_after_204_or_304_is_not_sent_and_the_connection_stays_in_step(wire_server, target, status):
    conn = wire_server().connect()
    conn.send(request("GET", target) + request("GET", "/pets/2?n=after"))   # pipelined: framing must hold
    first = conn.read_response()
    assert first.status == status and first.body == b""
    assert first.values(b"content-length") == []
    assert conn.read_response().body == b"rest GET /pets/2 n=after"
