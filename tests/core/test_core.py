"""_core unit tests, run against the native build and the pure-Python twin."""
import os
import random
import struct
import uuid

import pytest

import _core
from gateway.wire import encode_frame


def test_selected_implementation_matches_environment():
    if os.environ.get("LAMBDAGATE_PUREPYTHON") == "1":
        assert _core.IMPLEMENTATION == "python"
    elif os.environ.get("LAMBDAGATE_REQUIRE_NATIVE") == "1":
        assert _core.IMPLEMENTATION == "native"
    assert _core.IMPLEMENTATION in ("python", "native")


# --------------------------------------------------------------------------- deadlines

def test_deadlines_pop_in_order(core):
    heap = core.DeadlineHeap()
    rng = random.Random(7)
    deadlines = {token: rng.randrange(1_000_000) for token in range(500)}
    for token, d in deadlines.items():
        heap.push(d, token)
    assert len(heap) == 500
    assert heap.next_deadline_ns() == min(deadlines.values())
    popped = heap.pop_expired(10**12)
    assert [deadlines[t] for t in popped] == sorted(deadlines.values())
    assert len(heap) == 0
    assert heap.next_deadline_ns() == -1


def test_deadlines_only_expired_are_popped(core):
    heap = core.DeadlineHeap()
    heap.push(100, 1)
    heap.push(200, 2)
    heap.push(300, 3)
    assert heap.pop_expired(99) == []
    assert heap.pop_expired(200) == [1, 2]
    assert heap.next_deadline_ns() == 300
    assert len(heap) == 1


def test_deadlines_cancel_and_repush(core):
    heap = core.DeadlineHeap()
    rng = random.Random(3)
    live = {}
    for step in range(3000):
        token = rng.randrange(64)
        action = rng.random()
        if action < 0.5:
            d = rng.randrange(10_000)
            heap.push(d, token)
            live[token] = d
        elif action < 0.8:
            assert heap.cancel(token) == (token in live)
            live.pop(token, None)
        else:
            now = rng.randrange(10_000)
            expired = heap.pop_expired(now)
            expected = sorted((d, t) for t, d in live.items() if d <= now)
            assert sorted(expired) == sorted(t for _, t in expected)
            for t in expired:
                del live[t]
        assert len(heap) == len(live)
        assert heap.next_deadline_ns() == (min(live.values()) if live else -1)


def test_deadlines_reject_negative_token(core):
    heap = core.DeadlineHeap()
    with pytest.raises(ValueError):
        heap.push(1, -1)
    assert heap.cancel(-5) is False


# --------------------------------------------------------------------------- pools

def test_pool_cold_then_warm_lifo(core):
    pools = core.Pools(10)
    fn = pools.add_function()
    assert pools.acquire(fn) == core.COLD
    assert pools.acquire(fn) == core.COLD
    assert pools.busy(fn) == 2
    pools.release(fn, 7, now_ns=100)
    pools.release(fn, 8, now_ns=200)
    assert pools.idle(fn) == 2
    # the most recently used worker is reused first
    assert pools.acquire(fn) == 8
    assert pools.acquire(fn) == 7
    assert pools.acquire(fn) == core.COLD
    assert pools.busy(fn) == 3


def test_pool_reserved_cap_throttles(core):
    pools = core.Pools(100)
    fn = pools.add_function(reserved=2)
    other = pools.add_function()
    assert pools.acquire(fn) == core.COLD
    assert pools.acquire(fn) == core.COLD
    assert pools.acquire(fn) == core.THROTTLED_RESERVED
    pools.discard_busy(fn)
    assert pools.acquire(fn) == core.COLD
    # reserved concurrency is taken out of the account pool for everyone else
    for _ in range(98):
        assert pools.acquire(other) == core.COLD
    assert pools.acquire(other) == core.THROTTLED_ACCOUNT


def test_pool_reserved_zero_throttles_everything(core):
    pools = core.Pools(10)
    fn = pools.add_function(reserved=0)
    assert pools.acquire(fn) == core.THROTTLED_RESERVED


def test_pool_account_limit(core):
    pools = core.Pools(3)
    a, b = pools.add_function(), pools.add_function()
    assert pools.acquire(a) == core.COLD
    assert pools.acquire(b) == core.COLD
    assert pools.acquire(a) == core.COLD
    assert pools.acquire(b) == core.THROTTLED_ACCOUNT
    pools.cold_failed(a)
    assert pools.acquire(b) == core.COLD
    assert pools.total_busy() == 3


def test_pool_set_reserved_moves_running_work(core):
    pools = core.Pools(5)
    fn = pools.add_function()
    other = pools.add_function()
    assert pools.acquire(fn) == core.COLD
    assert pools.acquire(fn) == core.COLD
    pools.set_reserved(fn, 2)
    assert pools.reserved(fn) == 2
    assert pools.acquire(fn) == core.THROTTLED_RESERVED
    # 5 - 2 reserved = 3 unreserved, none of them in use now
    for _ in range(3):
        assert pools.acquire(other) == core.COLD
    assert pools.acquire(other) == core.THROTTLED_ACCOUNT
    pools.set_reserved(fn, -1)
    # back in the shared pool: 2 (fn) + 3 (other) = 5 busy of 5
    assert pools.acquire(other) == core.THROTTLED_ACCOUNT
    pools.release(fn, 1, 0)
    assert pools.acquire(other) == core.COLD


def test_pool_reap_oldest_idle(core):
    pools = core.Pools(10)
    fn = pools.add_function()
    for w in range(3):
        assert pools.acquire(fn) == core.COLD
    pools.release(fn, 0, now_ns=1_000)
    pools.release(fn, 1, now_ns=2_000)
    pools.release(fn, 2, now_ns=3_000)
    assert pools.reap(now_ns=3_500, keepalive_ns=1_500) == [0, 1]
    assert pools.idle(fn) == 1
    assert pools.acquire(fn) == 2


def test_pool_remove_and_take_idle(core):
    pools = core.Pools(10)
    fn = pools.add_function()
    for w in (4, 5, 6):
        pools.add_idle(fn, w, 0)
    assert pools.remove_idle(fn, 5) is True
    assert pools.remove_idle(fn, 5) is False
    assert pools.idle(fn) == 2
    assert sorted(pools.take_idle(fn)) == [4, 6]
    assert pools.idle(fn) == 0
    assert pools.busy(fn) == 0


def test_pool_unknown_function(core):
    pools = core.Pools(10)
    with pytest.raises(IndexError):
        pools.acquire(3)


# --------------------------------------------------------------------------- tallies

@pytest.mark.parametrize("duration_ns,init_ns,expected", [
    (1, 0, 1), (999_999, 0, 1), (1_000_000, 0, 1), (1_000_001, 0, 2),
    (26_730_000, 0, 27), (61_090_000, 3_986_500_000, 4048), (0, 0, 1),
])
def test_billed_ms_rounds_up(core, duration_ns, init_ns, expected):
    assert core.billed_ms(duration_ns, init_ns) == expected


@pytest.mark.parametrize("ns,text", [
    (26_730_000, "26.73"), (1_234, "0.00"), (5_000, "0.01"), (3_000_000_000, "3000.00"),
    (999_994_999, "999.99"), (999_995_000, "1000.00"),
])
def test_format_ms(core, ns, text):
    assert core.format_ms(ns) == text


def test_tally_counts(core):
    tally = core.Tally()
    a, b = tally.add_function(), tally.add_function()
    assert tally.record(a, 1_500_000, 100_000_000, 128, core.STATUS_SUCCESS) == 102
    assert tally.record(a, 2_000_000, 0, 128, core.STATUS_ERROR) == 2
    assert tally.record(a, 3_000_000_000, 0, 256, core.STATUS_TIMEOUT) == 3000
    tally.throttle(a)
    snap = tally.snapshot(a)
    assert snap == {"invocations": 3, "errors": 2, "timeouts": 1, "throttles": 1, "cold_starts": 1,
                    "duration_ns": 3_003_500_000, "billed_ms": 3104,
                    "mb_ms": 102 * 128 + 2 * 128 + 3000 * 256}
    assert tally.snapshot(b)["invocations"] == 0


# --------------------------------------------------------------------------- frames

def test_frames_roundtrip_any_split(core):
    frames = [(b"h%d" % i, os.urandom(i * 37)) for i in range(20)]
    stream = b"".join(encode_frame(h, p) for h, p in frames)
    rng = random.Random(11)
    for _ in range(20):
        scanner = core.FrameScanner()
        got, pos = [], 0
        while pos < len(stream):
            n = rng.randrange(1, 300)
            got.extend(scanner.feed(stream[pos:pos + n]))
            pos += n
        assert got == frames
        assert scanner.pending() == 0


def test_frames_layout(core):
    frame = encode_frame(b"abc", b"xy")
    assert frame == struct.pack(">II", 9, 3) + b"abcxy"
    assert core.FRAME_HEAD_BYTES == 8


def test_frames_reject_garbage(core):
    scanner = core.FrameScanner(max_frame_bytes=1024)
    with pytest.raises(ValueError):
        scanner.feed(struct.pack(">II", 10_000, 2) + b"xx")
    scanner = core.FrameScanner()
    with pytest.raises(ValueError):
        scanner.feed(struct.pack(">II", 6, 50) + b"xx")


# --------------------------------------------------------------------------- ids

def test_ids_are_uuid4_shaped_and_unique(core):
    gen = core.IdGenerator(os.urandom(16))
    ids = [gen.next_id() for _ in range(20000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:50]:
        parsed = uuid.UUID(value)
        assert parsed.version == 4
        assert str(parsed) == value


def test_short_ids(core):
    gen = core.IdGenerator(bytes(range(16)))
    ids = {gen.next_short_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(len(i) == 16 and i.endswith("=") for i in ids)


def test_both_implementations_agree_on_ids():
    from _core import fallback
    native = pytest.importorskip("_core._native")
    seed = os.urandom(16)
    a, b = fallback.IdGenerator(seed), native.IdGenerator(seed)
    assert [a.next_id() for _ in range(10)] == [b.next_id() for _ in range(10)]
    assert [a.next_short_id() for _ in range(10)] == [b.next_short_id() for _ in range(10)]
