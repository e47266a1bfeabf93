"""The durable store and the dispatcher with a fake invoker (no HTTP, no processes)."""
import asyncio
import os
import sqlite3

import pytest

from gateway.async_invoke import AsyncInvoker
from gateway.async_invoke import dispatcher as dispatcher_module
from gateway.config import Config
from gateway.types import DestinationSpec, EventInvokeConfig, FunctionSpec

from support.fakes import FakeInvoker
from support.lambda_server import read_jsonl


def spec(name, **event_invoke):
    return FunctionSpec(logical_id=name.title(), function_name=name, handler="h.h", runtime="python3.11",
                        code_dir="/tmp", event_invoke=EventInvokeConfig(**event_invoke))


def run(coro):
    return asyncio.run(coro)


def test_group_commit_batches_concurrent_accepts(tmp_path):
    async def main():
        invoker = FakeInvoker([spec("f")])
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path)))
        await ai.start()
        f = invoker.function("f")
        await asyncio.gather(*(ai.accept(f, b'{"i": %d}' % i, request_id=f"id-{i}") for i in range(500)))
        commits = ai.store.commits
        assert await ai.drain(10)
        await ai.stop()
        return commits, invoker.calls

    commits, calls = run(main())
    assert commits < 100                  # 500 accepts in far fewer fsync'd transactions
    assert sorted(c.request_id for c in calls) == sorted(f"id-{i}" for i in range(500))
    rows = sqlite3.connect(str(tmp_path / "events.sqlite3")).execute("select count(*) from events").fetchone()
    assert rows == (0,)                   # all done, all deleted


def test_payload_bytes_are_kept_as_they_are(tmp_path):
    raw = b'{ "b" : 1.50,\n  "a": "\\u00e9" }'

    async def main():
        invoker = FakeInvoker([spec("f", maximum_retry_attempts=0)], script={"f": "fail"})
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path)))
        await ai.start()
        await ai.accept(invoker.function("f"), raw, request_id="keep")
        assert await ai.drain(10)
        await ai.stop()
        return invoker.calls

    calls = run(main())
    assert calls[0].payload == raw
    [record] = read_jsonl(str(tmp_path / "dead-letter" / "f.jsonl"))
    assert record["requestPayload"] == {"b": 1.5, "a": "é"}


def test_unfinished_events_run_again_after_restart(tmp_path):
    async def first_run():
        invoker = FakeInvoker([spec("f")], script={"f": "block"})
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path)))
        await ai.start()
        f = invoker.function("f")
        for i in range(3):
            await ai.accept(f, b'{"i": %d}' % i, request_id=f"id-{i}")
        await asyncio.sleep(0.05)
        assert len(invoker.calls) == 3    # all three in flight
        await ai.stop(grace_s=0)          # the "crash": in-flight attempts abandoned

    async def second_run():
        invoker = FakeInvoker([spec("f")])
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path)))
        await ai.start()
        recovered = ai.recovered
        assert await ai.drain(10)
        await ai.stop()
        return recovered, invoker.calls

    run(first_run())
    recovered, calls = run(second_run())
    assert recovered == 3
    assert sorted((c.payload, c.request_id) for c in calls) == [(b'{"i": %d}' % i, f"id-{i}") for i in range(3)]


def test_retry_count_survives_a_restart(tmp_path):
    async def attempt_once():
        invoker = FakeInvoker([spec("f")], script={"f": "fail"})
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path), async_retry_delays_s=(0.2, 0.2)))
        await ai.start()
        await ai.accept(invoker.function("f"), b"{}", request_id="r1")
        while not invoker.calls:
            await asyncio.sleep(0.005)
        await ai.stop()                   # before the first retry is due

    async def finish():
        invoker = FakeInvoker([spec("f")], script={"f": "fail"})
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path), async_retry_delays_s=(0.01, 0.01)))
        await ai.start()
        assert await ai.drain(10)
        await ai.stop()
        return invoker.calls

    run(attempt_once())
    db = sqlite3.connect(str(tmp_path / "events.sqlite3"))
    attempts, next_ms = db.execute("select attempts, next_ms from events").fetchone()
    db.close()
    assert attempts == 1 and next_ms > 0
    assert len(run(finish())) == 2        # the two retries left, not three attempts again
    [record] = read_jsonl(str(tmp_path / "dead-letter" / "f.jsonl"))
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["requestId"] == "r1"


def test_throttles_back_off_and_do_not_count_as_attempts(tmp_path):
    async def main():
        invoker = FakeInvoker([spec("f")])
        invoker.script["f"] = lambda event: "throttle" if len(invoker.calls) <= 3 else "ok"
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path), async_throttle_backoff_s=(0.01, 0.02)))
        await ai.start()
        await ai.accept(invoker.function("f"), b"{}", request_id="t1")
        assert await ai.drain(10)
        await ai.stop()
        return invoker.calls

    assert len(run(main())) == 4
    assert not os.path.exists(tmp_path / "dead-letter")


def test_reserved_concurrency_zero_goes_straight_to_on_failure(tmp_path):
    async def main():
        target = DestinationSpec("SQS", "arn:aws:sqs:us-east-1:123456789012:q")
        invoker = FakeInvoker([spec("f", on_failure=target)], script={"f": "throttle"})
        invoker.set_reserved_concurrency("f", 0)
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path)))
        await ai.start()
        await ai.accept(invoker.function("f"), b'{"z": 0}', request_id="z1")
        assert await ai.drain(10)
        await ai.stop()

    run(main())
    [record] = read_jsonl(str(tmp_path / "destinations" / "arn_aws_sqs_us-east-1_123456789012_q.jsonl"))
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"z": 0}


def test_old_events_expire_with_event_age_exceeded(tmp_path, monkeypatch):
    offset = [0]
    real_now = dispatcher_module._now_ms
    monkeypatch.setattr(dispatcher_module, "_now_ms", lambda: real_now() + offset[0])

    def script(event):
        offset[0] = 61_000          # after the first throttle, a minute passes
        return "throttle"

    async def main():
        invoker = FakeInvoker([spec("f", maximum_event_age_s=60)], script={"f": script})
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path), async_throttle_backoff_s=(0.01, 0.01)))
        await ai.start()
        await ai.accept(invoker.function("f"), b'{"old": true}', request_id="old-1")
        assert await ai.drain(10)
        await ai.stop()
        return invoker.calls

    assert len(run(main())) == 1
    [record] = read_jsonl(str(tmp_path / "dead-letter" / "f.jsonl"))
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestPayload"] == {"old": True}


def test_concurrency_per_function_is_bounded(tmp_path):
    async def main():
        invoker = FakeInvoker([spec("f")], script={"f": "block"})
        ai = AsyncInvoker(invoker, Config(state_dir=str(tmp_path), async_concurrency=3))
        await ai.start()
        f = invoker.function("f")
        for i in range(10):
            await ai.accept(f, b"{}", request_id=f"c{i}")
        await asyncio.sleep(0.05)
        running = len(invoker.calls)
        invoker.set_reserved_concurrency("f", 1)
        invoker.release.set()
        assert await ai.drain(10)
        await ai.stop()
        return running, len(invoker.calls)

    running, total = run(main())
    assert running == 3
    assert total == 10


def test_store_refuses_an_unusable_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")

    async def main():
        ai = AsyncInvoker(FakeInvoker([spec("f")]), Config(state_dir=str(blocker / "sub")))
        with pytest.raises(Exception):
            await ai.start()

    run(main())


def test_lambda_app_lifespan_starts_and_stops_the_dispatcher(tmp_path):
    from gateway.lambda_api.endpoint import build_lambda_app

    async def main():
        app = build_lambda_app(FakeInvoker([spec("f")]), Config(state_dir=str(tmp_path)))
        ai = app.state.async_invoker
        messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
        sent = []
        states = []

        async def receive():
            if len(sent) == 1:
                states.append(ai.started)
            return messages.pop(0)

        async def send(message):
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
        return sent, states, ai.started, ai.closed

    sent, states, started_after, closed = run(main())
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert states == [True]
    assert started_after is False and closed is True
    assert (tmp_path / "events.sqlite3").exists()


def test_the_readme_names_destination_files_as_they_are_written():
    """The README's example of an SQS destination's file is the name lambdagate writes."""
    import pathlib
    import re
    from gateway.async_invoke.destinations import destination_file
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    arn, written = re.search(r"`(arn:aws:sqs:[^`]+)` is written to\s+`destinations/([^`]+)`", readme).groups()
    assert os.path.basename(destination_file("state", arn)) == written
