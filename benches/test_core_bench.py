"""Micro-benchmarks of every _core unit, native beside its pure-Python twin.

    pytest benches/test_core_bench.py --benchmark-group-by=func --benchmark-columns=median,ops

Each benchmark does the per-invocation work of the scheduler (one dispatch, one
completion, one deadline push and cancel, one tally record, one frame scan, one
request id) so the ratio between the two rows is the core's gain per invocation.
"""
import os
import struct

import msgpack


def test_dispatch_complete(benchmark, core):
    pools = core.Pools(1000)
    fns = [pools.add_function() for _ in range(8)]
    for fn in fns:
        for w in range(4):
            pools.add_idle(fn, fn * 4 + w, 0)

    def cycle():
        for fn in fns:
            w = pools.acquire(fn)
            pools.release(fn, w, 1)
    benchmark(cycle)


def test_deadline_push_cancel(benchmark, core):
    heap = core.DeadlineHeap()
    for token in range(64):
        heap.push(10_000_000 + token * 1000, token)

    def cycle():
        for token in range(64, 80):
            heap.push(5_000_000 + token, token)
        for token in range(64, 80):
            heap.cancel(token)
    benchmark(cycle)


def test_deadline_expire(benchmark, core):
    def cycle():
        heap = core.DeadlineHeap()
        for token in range(64):
            heap.push(token * 7919 % 1000, token)
        heap.pop_expired(500)
        heap.pop_expired(1000)
    benchmark(cycle)


def test_tally_record(benchmark, core):
    tally = core.Tally()
    fn = tally.add_function()

    def cycle():
        for i in range(16):
            tally.record(fn, 1_234_567 + i, 0, 128, 0)
    benchmark(cycle)


def test_frame_scan(benchmark, core):
    head = msgpack.packb([11, "5aa68349-f421-4500-8187-0f6c15fc45b4", None, 12345, 16000])
    payload = b'{"statusCode":200,"body":"hello world"}'
    frame = struct.pack(">II", len(head) + len(payload) + 4, len(head)) + head + payload
    stream = frame * 16
    scanner = core.FrameScanner()

    def cycle():
        scanner.feed(frame)           # the common case: one whole frame per read
        scanner.feed(stream[:100])    # and a split one
        scanner.feed(stream[100:])
    benchmark(cycle)


def test_request_ids(benchmark, core):
    gen = core.IdGenerator(os.urandom(16))

    def cycle():
        for _ in range(16):
            gen.next_id()
    benchmark(cycle)


def test_billing_format(benchmark, core):
    def cycle():
        for i in range(16):
            core.format_ms(26_730_000 + i)
            core.billed_ms(26_730_000 + i, 0)
    benchmark(cycle)
