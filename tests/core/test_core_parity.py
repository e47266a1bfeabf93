"""Twin parity: the native core and its pure-Python twin, driven with the same random
operations, must answer alike after every step, down to the type of a raised exception.

Arguments stay inside the domain of the native signatures (ints that fit int64, bytes):
outside it the native build raises OverflowError/TypeError while converting arguments,
which is not behaviour of the classes themselves. Within that domain the edges are
included on purpose: zero, negative and int64-extreme values, unknown function indexes,
negative and huge tokens, malformed frames, frame limits beyond 32 bits.

Skipped when the native build is missing, unless LAMBDAGATE_REQUIRE_NATIVE=1: then a
missing build fails the run.
"""
import os
import struct

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from _core import fallback as python

try:
    from _core import _native as native
except ImportError as exc:
    if os.environ.get("LAMBDAGATE_REQUIRE_NATIVE") == "1":
        raise
    pytest.skip(f"native core not built ({exc}): nothing to compare the twin with", allow_module_level=True)


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_TOKEN = python.DeadlineHeap.MAX_TOKEN

# No explain phase: on Python < 3.12 it traces every line and makes a failure take minutes.
PARITY = settings(max_examples=150, deadline=None, database=None, stateful_step_count=40,
                  phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                  suppress_health_check=[HealthCheck.too_slow])

IMPLS = [pytest.param(python, id="python"), pytest.param(native, id="native")]


# --------------------------------------------------------------------------- the harness

def _typed(value):
    """value with the type of every leaf attached: True and 1 must not pass as equal."""
    if isinstance(value, list):
        return [_typed(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_typed(v) for v in value)
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value).__name__, value)


def _outcome(call, *args):
    try:
        value = call(*args)
    except Exception as exc:  # noqa: BLE001 - the type of the exception is the result
        return ("raises", type(exc).__name__)
    return ("returns", _typed(value))


def same(py_call, native_call, *args):
    """Calls both with args; asserts the same result or the same exception type."""
    py, nat = _outcome(py_call, *args), _outcome(native_call, *args)
    assert py == nat, f"{getattr(py_call, '__name__', py_call)}{args!r}: python {py!r} != native {nat!r}"
    return py


def same_method(pair, method, *args):
    return same(getattr(pair[0], method), getattr(pair[1], method), *args)


def make_pair(name, *args):
    """Both implementations' `name`(*args), or None if both refused alike."""
    made = []
    py = _outcome(lambda: made.append(getattr(python, name)(*args)))
    nat = _outcome(lambda: made.append(getattr(native, name)(*args)))
    assert py == nat, f"{name}{args!r}: python {py!r} != native {nat!r}"
    return tuple(made) if py[0] == "returns" else None


# --------------------------------------------------------------------------- strategies

EDGES = [0, 1, -1, 2, -2, 4_999, 5_000, 5_001, -5_000, -5_001, 9_999, 10_000, 999_999, 1_000_000,
         1_000_001, 2**31 - 1, -(2**31), 2**32, 2**53 + 1, 2**62, -(2**62), INT64_MAX - 1, INT64_MAX,
         INT64_MIN, INT64_MIN + 1]


def int64s():
    return st.one_of(st.sampled_from(EDGES), st.integers(-1_000, 1_000), st.integers(INT64_MIN, INT64_MAX))


# Times: the int64 ends come often, so that differences like now_ns - keepalive_ns overflow.
EXTREMES = st.sampled_from([INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX])
TIMES = st.one_of(EXTREMES, EXTREMES, int64s())


# --------------------------------------------------------------------------- module level

def test_constants_match():
    for name in ("COLD", "THROTTLED_RESERVED", "THROTTLED_ACCOUNT", "STATUS_SUCCESS", "STATUS_ERROR",
                 "STATUS_TIMEOUT", "FRAME_HEAD_BYTES"):
        assert _typed(getattr(python, name)) == _typed(getattr(native, name)), name
    assert python.Tally.FIELDS == native.Tally.FIELDS
    assert python.DeadlineHeap.MAX_TOKEN == native.DeadlineHeap.MAX_TOKEN
    assert (python.IMPLEMENTATION, native.IMPLEMENTATION) == ("python", "native")


@settings(PARITY, max_examples=200)
@given(ns=int64s())
@example(ns=-1)
@example(ns=-5_000)
@example(ns=-5_001)
@example(ns=-20_000)
@example(ns=INT64_MAX)
@example(ns=INT64_MIN)
def test_format_ms_parity(ns):
    same(python.format_ms, native.format_ms, ns)


@settings(PARITY, max_examples=200)
@given(duration_ns=int64s(), init_ns=int64s())
@example(duration_ns=INT64_MAX, init_ns=0)
@example(duration_ns=INT64_MAX, init_ns=INT64_MAX)
@example(duration_ns=INT64_MIN, init_ns=-1)
@example(duration_ns=2**62, init_ns=2**62)
@example(duration_ns=INT64_MAX, init_ns=-1)
def test_billed_ms_parity(duration_ns, init_ns):
    same(python.billed_ms, native.billed_ms, duration_ns, init_ns)
    same(python.billed_ms, native.billed_ms, duration_ns)


# --------------------------------------------------------------------------- ids

SEEDS = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([bytes(16), b"\xff" * 16, bytes(10) + b"\xff" * 6, bytes(15), b"\x80" * 17]),
)


@settings(PARITY)
@given(seed=SEEDS, ops=st.lists(st.sampled_from(["next_id", "next_short_id"]), max_size=40))
@example(seed=bytes(10) + b"\xff" * 6, ops=["next_id", "next_short_id", "next_id"])  # counter wraps
@example(seed=bytes(15), ops=["next_id"])  # too short a seed
def test_id_generator_parity(seed, ops):
    pair = make_pair("IdGenerator", seed)
    if pair is None:
        return
    for op in ops:
        same_method(pair, op)


# --------------------------------------------------------------------------- frames

def _frame(head: bytes, payload: bytes) -> bytes:
    return struct.pack(">II", 4 + len(head) + len(payload), len(head)) + head + payload


VALID_FRAMES = st.builds(_frame, st.binary(max_size=24), st.binary(max_size=48))
PIECES = st.one_of(
    VALID_FRAMES,
    VALID_FRAMES,
    # big enough to make the native buffer grow past its first 64 KiB
    st.integers(60_000, 140_000).map(lambda n: _frame(b"big", bytes(n))),
    # total length below the 4 bytes of header length
    st.integers(0, 3).map(lambda total: struct.pack(">I", total) + b"\x00" * total),
    # total length over any sane limit, up to 2**32 - 1
    st.sampled_from([2**31, 2**32 - 1, 64 * 1024 * 1024 + 1, 1_000]).map(lambda total: struct.pack(">I", total)),
    # header length longer than the frame: by a few bytes (the boundary), or by a lot
    st.builds(lambda p, extra: struct.pack(">II", 4 + len(p), len(p) + extra) + p,
              st.binary(max_size=16), st.one_of(st.integers(1, 8), st.integers(1, 2**32 - 100))),
    st.binary(max_size=12),  # garbage
)
MAX_FRAME_BYTES = st.one_of(
    st.none(),  # the default
    st.sampled_from([INT64_MIN, -1, 0, 3, 4, 5, 8, 64, 1_000, 2**31, 2**32 - 1, 2**32, 2**32 + 10, INT64_MAX]),
    st.integers(0, 200),
)


@settings(PARITY)
@given(max_frame_bytes=MAX_FRAME_BYTES, pieces=st.lists(PIECES, max_size=6), data=st.data())
def test_frame_scanner_parity(max_frame_bytes, pieces, data):
    pair = make_pair("FrameScanner", *(() if max_frame_bytes is None else (max_frame_bytes,)))
    assert pair is not None
    stream = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8), label="cuts"))
    bounds = [0, *cuts, len(stream)]
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:])]
    # then: nothing, and a good frame, which must fail again after a bad one
    for chunk in [*chunks, b"", _frame(b"h", b"after")]:
        same_method(pair, "feed", chunk)
        same_method(pair, "pending")


# --------------------------------------------------------------------------- deadline heap

SMALL_TOKENS = st.integers(0, 7)
TOKENS = st.one_of(
    SMALL_TOKENS,
    SMALL_TOKENS,
    SMALL_TOKENS,
    st.sampled_from([-1, -2, INT64_MIN, MAX_TOKEN, MAX_TOKEN + 1, 2**40, 2**61, 2**62 + 1, INT64_MAX]),
)
# Few distinct small deadlines: ties, whose order pop_expired() must report alike.
FEW = st.integers(0, 1)
DEADLINES = st.one_of(FEW, FEW, FEW, int64s())


class DeadlineHeapParity(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.pair = (python.DeadlineHeap(), native.DeadlineHeap())

    @rule(deadline_ns=DEADLINES, token=TOKENS)
    def push(self, deadline_ns, token):
        same_method(self.pair, "push", deadline_ns, token)

    @rule(entries=st.lists(st.tuples(FEW, SMALL_TOKENS), min_size=2, max_size=10))
    def push_many(self, entries):
        # a bigger heap in one step, full of ties: room for its shape to matter
        for deadline_ns, token in entries:
            same_method(self.pair, "push", deadline_ns, token)
            self.observable_state()

    @rule(token=TOKENS)
    def cancel(self, token):
        same_method(self.pair, "cancel", token)

    @rule(now_ns=st.one_of(FEW, TIMES))
    def pop_expired(self, now_ns):
        same_method(self.pair, "pop_expired", now_ns)

    @invariant()
    def observable_state(self):
        same_method(self.pair, "__len__")
        same_method(self.pair, "next_deadline_ns")

    def teardown(self):
        same_method(self.pair, "pop_expired", INT64_MAX)  # everything left, in order


TestDeadlineHeapParity = DeadlineHeapParity.TestCase
TestDeadlineHeapParity.settings = PARITY


# --------------------------------------------------------------------------- pools

MAX_FUNCTIONS = 3  # few, so that operations pile up on the same function
SOME_FN = st.integers(0, MAX_FUNCTIONS - 1)
FNS = st.one_of(SOME_FN, SOME_FN, SOME_FN, st.sampled_from([-1, -2, MAX_FUNCTIONS, 7, 2**31]))
# Positive reservations stay far below 2**63 / MAX_FUNCTIONS: their sum is int64 in the native build.
RESERVED = st.one_of(st.integers(-3, 6), st.sampled_from([INT64_MIN, -(2**31), -1_000, 2**31 - 1, 2**40]))
ACCOUNT_LIMITS = st.one_of(st.integers(-3, 12), st.sampled_from([0, 1_000, 2**40]))
# Few worker ids, so the same one can sit twice in an idle stack (which one remove_idle drops shows).
FEW_WORKERS = st.integers(0, 3)
WORKERS = st.one_of(FEW_WORKERS, FEW_WORKERS, st.sampled_from([-1, -2, -3, -99, INT64_MIN, INT64_MAX]))


class PoolsParity(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.pair = None
        self.functions = 0
        self.stamps = set()  # every now_ns an idle worker was stamped with

    @initialize(account_limit=ACCOUNT_LIMITS,
                reservations=st.lists(st.one_of(st.none(), RESERVED), min_size=1, max_size=MAX_FUNCTIONS))
    def start(self, account_limit, reservations):
        self.pair = make_pair("Pools", account_limit)
        for reserved in reservations:
            self.add_function(reserved)

    @precondition(lambda self: self.functions < MAX_FUNCTIONS)
    @rule(reserved=st.one_of(st.none(), RESERVED))
    def add_function_rule(self, reserved):
        self.add_function(reserved)

    def add_function(self, reserved):
        if same_method(self.pair, "add_function", *(() if reserved is None else (reserved,)))[0] == "returns":
            self.functions += 1

    @rule(fn=FNS, reserved=RESERVED)
    def set_reserved(self, fn, reserved):
        same_method(self.pair, "set_reserved", fn, reserved)

    @rule(account_limit=ACCOUNT_LIMITS)
    def set_account_limit(self, account_limit):
        for pools in self.pair:
            pools.account_limit = account_limit

    @rule(fn=FNS)
    def acquire(self, fn):
        same_method(self.pair, "acquire", fn)

    @rule(fn=FNS, worker=WORKERS, now_ns=TIMES)
    def release(self, fn, worker, now_ns):
        self.stamps.add(now_ns)
        same_method(self.pair, "release", fn, worker, now_ns)

    @rule(fn=FNS, method=st.sampled_from(["cold_failed", "discard_busy", "take_idle"]))
    def by_function(self, fn, method):
        same_method(self.pair, method, fn)

    @rule(fn=FNS, worker=WORKERS, now_ns=TIMES)
    def add_idle(self, fn, worker, now_ns):
        self.stamps.add(now_ns)
        same_method(self.pair, "add_idle", fn, worker, now_ns)

    @rule(fn=FNS, workers=st.lists(FEW_WORKERS, min_size=2, max_size=6), now_ns=st.one_of(FEW, TIMES))
    def add_idle_many(self, fn, workers, now_ns):
        # a deep idle stack with repeated ids in one step; stamps 1 ns apart
        for i, worker in enumerate(workers):
            stamp = max(INT64_MIN, min(INT64_MAX, now_ns + i))
            self.stamps.add(stamp)
            same_method(self.pair, "add_idle", fn, worker, stamp)

    @rule(fn=FNS, worker=WORKERS)
    def remove_idle(self, fn, worker):
        same_method(self.pair, "remove_idle", fn, worker)

    @rule(fn=FNS, workers=st.lists(FEW_WORKERS, min_size=1, max_size=4))
    def remove_idle_many(self, fn, workers):
        for worker in workers:
            same_method(self.pair, "remove_idle", fn, worker)

    @rule(now_ns=TIMES, keepalive_ns=TIMES)
    def reap(self, now_ns, keepalive_ns):
        same_method(self.pair, "reap", now_ns, keepalive_ns)

    @invariant()
    def observable_state(self):
        if self.pair is None:
            return
        assert _typed(self.pair[0].account_limit) == _typed(self.pair[1].account_limit)
        same_method(self.pair, "total_busy")
        for fn in range(-1, self.functions + 1):
            for method in ("busy", "idle", "reserved"):
                same_method(self.pair, method, fn)

    def teardown(self):
        # What the counts above cannot show: which worker sits where in each idle stack,
        # with which stamp. Reaping stamp by stamp, then taking the rest, tells both.
        if self.pair is None:
            return
        for stamp in sorted(self.stamps):
            same_method(self.pair, "reap", stamp, 0)
        for fn in range(self.functions):
            same_method(self.pair, "take_idle", fn)


TestPoolsParity = PoolsParity.TestCase
TestPoolsParity.settings = PARITY


# --------------------------------------------------------------------------- tally

# Magnitudes keep 40 steps of sums inside int64, the native counters' type.
DURATIONS = st.one_of(st.sampled_from([0, 1, -1, 999_999, 1_000_000, 1_000_001, 2**56, -(2**56)]),
                      st.integers(-(2**56), 2**56))
MEMORY_MB = st.one_of(st.sampled_from([0, -1, 128, 10_240]), st.integers(-(2**16), 2**16))
STATUSES = st.one_of(st.sampled_from([0, 1, 2]), st.integers(-5, 5), st.sampled_from([2**31 - 1, -(2**31)]))


class TallyParity(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.pair = (python.Tally(), native.Tally())
        self.functions = 0

    @initialize(functions=st.integers(1, MAX_FUNCTIONS))
    def start(self, functions):
        for _ in range(functions):
            self.add_function()

    @precondition(lambda self: self.functions < MAX_FUNCTIONS)
    @rule()
    def add_function(self):
        same_method(self.pair, "add_function")
        self.functions += 1

    @rule(fn=FNS, duration_ns=DURATIONS, init_ns=DURATIONS, memory_mb=MEMORY_MB, status=STATUSES)
    def record(self, fn, duration_ns, init_ns, memory_mb, status):
        same_method(self.pair, "record", fn, duration_ns, init_ns, memory_mb, status)

    @rule(fn=FNS)
    def throttle(self, fn):
        same_method(self.pair, "throttle", fn)

    @invariant()
    def observable_state(self):
        for fn in range(-1, self.functions + 1):
            same_method(self.pair, "snapshot", fn)


TestTallyParity = TallyParity.TestCase
TestTallyParity.settings = PARITY


# --------------------------------------------------------------------------- regressions
# One test per divergence found; each pins the behaviour both implementations now share.

@pytest.mark.parametrize("impl", IMPLS)
def test_regression_heap_refuses_negative_tokens(impl):
    # The twin took them, and -1 was its tombstone: push(d, -1) made an entry that
    # never expired and could never be cancelled.
    heap = impl.DeadlineHeap()
    for token in (-1, -2, INT64_MIN):
        with pytest.raises(ValueError):
            heap.push(10, token)
        assert heap.cancel(token) is False
    assert len(heap) == 0
    assert heap.next_deadline_ns() == -1
    assert heap.pop_expired(INT64_MAX) == []


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_heap_refuses_huge_tokens(impl):
    # The native position table is indexed by token: 2**40 raised MemoryError, 2**61
    # overflowed the table size and crashed, 2**62 + 1 looped forever.
    heap = impl.DeadlineHeap()
    heap.push(5, MAX_TOKEN)
    for token in (MAX_TOKEN + 1, 2**40, 2**61, 2**62 + 1, INT64_MAX):
        with pytest.raises(ValueError):
            heap.push(1, token)
        assert heap.cancel(token) is False
    assert heap.pop_expired(5) == [MAX_TOKEN]


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_heap_ties_pop_by_token(impl):
    # The native heap popped equal deadlines in heap-shape order ([5, 1, 4, 2]); the
    # twin's tombstones rewrote tokens inside its heap.
    heap = impl.DeadlineHeap()
    for token in (5, 3, 4, 1, 2):
        heap.push(10, token)
    assert heap.cancel(3) is True
    heap.push(9, 7)
    heap.push(10, 7)  # re-pushed: the stale entry must not come back
    assert heap.pop_expired(10) == [1, 2, 4, 5, 7]
    assert len(heap) == 0


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_heap_ties_after_cancels(impl):
    # The twin marked a cancelled entry by rewriting its token to -1 inside the heap,
    # which broke the heap order among equal deadlines: it popped [5, 1, 0, 7].
    heap = impl.DeadlineHeap()
    heap.push(1, 7)
    heap.push(0, 5)
    heap.push(1, 3)
    assert heap.cancel(3) is True
    heap.push(0, 6)
    assert heap.cancel(6) is True
    assert heap.cancel(3) is False
    heap.push(0, 1)
    heap.push(1, 0)
    assert heap.pop_expired(1) == [1, 5, 0, 7]


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_negative_reservation_means_unreserved(impl):
    # The twin stored -5 and reported it; the native build stores -1, as add_function does.
    pools = impl.Pools(2)
    fn = pools.add_function(reserved=-7)
    assert pools.reserved(fn) == -1
    pools.set_reserved(fn, 3)
    pools.set_reserved(fn, -5)
    assert pools.reserved(fn) == -1
    pools.set_reserved(fn, INT64_MIN)
    assert pools.reserved(fn) == -1
    assert pools.acquire(fn) == impl.COLD
    assert pools.acquire(fn) == impl.COLD
    assert pools.acquire(fn) == impl.THROTTLED_ACCOUNT  # the account pool, not a reservation


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_negative_function_index_is_unknown(impl):
    # The twin's lists counted -1 from the end and quietly used the last function.
    pools, tally = impl.Pools(10), impl.Tally()
    pools.add_function()
    tally.add_function()
    for call in (lambda: pools.acquire(-1), lambda: pools.release(-1, 1, 0), lambda: pools.cold_failed(-1),
                 lambda: pools.discard_busy(-1), lambda: pools.add_idle(-1, 1, 0),
                 lambda: pools.remove_idle(-1, 1), lambda: pools.take_idle(-1), lambda: pools.busy(-1),
                 lambda: pools.idle(-1), lambda: pools.reserved(-1), lambda: pools.set_reserved(-1, 1),
                 lambda: tally.record(-1, 1, 0, 128, 0), lambda: tally.throttle(-1),
                 lambda: tally.snapshot(-1)):
        with pytest.raises(IndexError):
            call()
    assert (pools.busy(0), pools.idle(0), pools.reserved(0)) == (0, 0, -1)
    assert tally.snapshot(0) == dict.fromkeys(impl.Tally.FIELDS, 0)


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_reap_cutoff_does_not_wrap(impl):
    # The native build computed now_ns - keepalive_ns in int64 and wrapped around.
    pools = impl.Pools(10)
    fn = pools.add_function()
    pools.add_idle(fn, 1, 0)
    assert pools.reap(INT64_MIN, 1) == []             # cutoff below INT64_MIN: nothing
    assert pools.reap(INT64_MIN + 5, INT64_MAX) == []
    assert pools.reap(INT64_MAX, -5) == [1]           # cutoff above INT64_MAX: everything
    pools.add_idle(fn, 2, INT64_MAX)
    assert pools.reap(INT64_MAX, INT64_MIN) == [2]
    assert pools.idle(fn) == 0


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("ns,text", [
    (-1, "0.00"), (-5_000, "0.00"), (-5_001, "-0.01"), (-20_000, "-0.02"), (-1_234_567, "-1.23"),
    (-15_000, "-0.01"), (INT64_MAX, "9223372036854.78"), (INT64_MIN, "-9223372036854.78"),
])
def test_regression_format_ms_negative_and_extreme(impl, ns, text):
    # Both printed negatives wrongly ("-1.98" and "0.-1" for -20 µs), and the native
    # build overflowed near INT64_MAX; now: rounded half up, then signed.
    assert impl.format_ms(ns) == text


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("duration_ns,init_ns,expected", [
    (INT64_MAX, 0, 9_223_372_036_855), (INT64_MAX, INT64_MAX, 18_446_744_073_710),
    (2**62, 2**62, 9_223_372_036_855), (INT64_MIN, -1, 1), (INT64_MAX, -1, 9_223_372_036_855),
    (-5, 1_000_006, 2), (INT64_MIN, INT64_MIN, 1),
])
def test_regression_billed_ms_no_overflow(impl, duration_ns, init_ns, expected):
    # The native build summed and rounded in int64 and wrapped (-9223372036853 for INT64_MAX).
    assert impl.billed_ms(duration_ns, init_ns) == expected


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_frame_limit_is_not_truncated_to_32_bits(impl):
    # The native build compared against (uint32_t)max_frame_bytes: 2**32 became 0
    # and refused every frame, -1 became 2**32 - 1 and allowed every one.
    frame = _frame(b"", b"x")
    assert impl.FrameScanner(2**32).feed(frame) == [(b"", b"x")]
    assert impl.FrameScanner(2**32 + 4).feed(frame) == [(b"", b"x")]
    for limit in (-1, INT64_MIN, 4):
        with pytest.raises(ValueError):
            impl.FrameScanner(limit).feed(frame)


@pytest.mark.parametrize("impl", IMPLS)
def test_regression_bad_frame_stays_buffered(impl):
    # The native fast path dropped the bytes of a stream with a bad frame, so the next
    # feed() parsed from the middle of garbage; now every later feed() fails alike.
    good, bad = _frame(b"h", b"p"), struct.pack(">I", 1)
    scanner = impl.FrameScanner()
    with pytest.raises(ValueError):
        scanner.feed(good + bad)
    assert scanner.pending() == len(good + bad)
    with pytest.raises(ValueError):
        scanner.feed(good)
    assert scanner.pending() == len(good + bad + good)
