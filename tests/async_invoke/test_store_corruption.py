"""A damaged event store never silently drops accepted events: garbage in the write-ahead log, a
database truncated to zero bytes, or a database that is not one are detected at startup, moved
aside with one clear line, and lambdagate refuses to start unless --discard-corrupt-store."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.async_invoke.store import EventStore
from gateway.async_invoke.store_check import CorruptStore, wal_problem
from support.servers import EXAMPLES, free_port, wait_for

PENDING = 20

# accepts PENDING events, then dies as a SIGKILL would: no close, no checkpoint, events in the WAL
CRASH_AFTER_ACCEPTS = textwrap.dedent("""
    import asyncio, os, sys
    from gateway.async_invoke.store import Event, EventStore

    async def main():
        store = EventStore(sys.argv[1])
        await store.open()
        for i in range({pending}):
            await store.insert(Event(id=store.next_id(), request_id=f"r{{i}}", function="f", payload=b"{{}}",
                                     accepted_ms=1))
        os._exit(0)

    asyncio.run(main())
""").format(pending=PENDING)


def crashed_store(tmp_path: Path) -> Path:
    path = tmp_path / "events.sqlite3"
    subprocess.run([sys.executable, "-c", CRASH_AFTER_ACCEPTS, str(path)], check=True, timeout=60)
    assert (tmp_path / "events.sqlite3-wal").stat().st_size > 0
    return path


def open_store(path: Path, discard: bool = False) -> list:
    async def main():
        store = EventStore(str(path), discard_corrupt=discard)
        events = await store.open()
        await store.close()
        return events
    return asyncio.run(main())


def moved_files(tmp_path: Path) -> list:
    return sorted(p.name for p in tmp_path.iterdir() if ".corrupt-" in p.name)


def test_a_crashed_store_keeps_its_pending_events(tmp_path):
    """The control: what the corruption tests below damage really holds the 20 events."""
    events = open_store(crashed_store(tmp_path))
    assert sorted(e.request_id for e in events) == sorted(f"r{i}" for i in range(PENDING))


def test_garbage_in_the_write_ahead_log_is_detected_not_dropped(tmp_path):
    path = crashed_store(tmp_path)
    wal = tmp_path / "events.sqlite3-wal"
    garbage = os.urandom(wal.stat().st_size)
    wal.write_bytes(garbage)
    with pytest.raises(CorruptStore) as info:
        open_store(path)
    message = str(info.value)
    assert "write-ahead log" in message and "--discard-corrupt-store" in message
    assert info.value.moved_to in message
    assert not path.exists() and not wal.exists()
    moved = moved_files(tmp_path)
    assert Path(info.value.moved_to).name in moved and Path(info.value.moved_to + "-wal").name in moved
    assert Path(info.value.moved_to + "-wal").read_bytes() == garbage     # kept as it was, for recovery


def test_a_zero_length_database_is_detected(tmp_path):
    path = crashed_store(tmp_path)
    assert len(open_store(path)) == PENDING        # a clean close checkpoints the events into the file
    assert not (tmp_path / "events.sqlite3-wal").exists() or (tmp_path / "events.sqlite3-wal").stat().st_size == 0
    os.truncate(path, 0)
    with pytest.raises(CorruptStore, match="no events table"):
        open_store(path)
    assert len(moved_files(tmp_path)) >= 1


def test_a_database_that_is_not_one_is_refused_with_a_message_not_a_traceback(tmp_path):
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"this is not a database, " * 200)
    with pytest.raises(CorruptStore, match="SQLite cannot read it"):
        open_store(path)


def test_discard_starts_empty_after_moving_the_files_aside(tmp_path, caplog):
    path = crashed_store(tmp_path)
    wal = tmp_path / "events.sqlite3-wal"
    wal.write_bytes(b"\x00" * 64)
    assert open_store(path, discard=True) == []
    assert any("is corrupt" in r.getMessage() and "--discard-corrupt-store" in r.getMessage()
               for r in caplog.records)
    assert len([n for n in moved_files(tmp_path) if n.endswith("-wal")]) == 1
    assert open_store(path) == []                  # the new store is sound


def test_wal_header_check_accepts_sqlites_own_logs(tmp_path):
    path = crashed_store(tmp_path)
    assert wal_problem(str(path) + "-wal") is None
    assert wal_problem(str(tmp_path / "missing-wal")) is None
    data = bytearray((tmp_path / "events.sqlite3-wal").read_bytes())
    data[25] ^= 0xFF                               # one bit of the header checksum
    (tmp_path / "bad-wal").write_bytes(bytes(data))
    assert "checksum" in wal_problem(str(tmp_path / "bad-wal"))


@pytest.mark.integration
def test_start_lambda_refuses_a_corrupt_store_in_one_line_then_discards_on_request(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "events.sqlite3").write_bytes(b"garbage " * 500)
    port = free_port()
    cmd = [sys.executable, "-m", "gateway.cli", "start-lambda", "-t", str(EXAMPLES / "hello-world" / "template.yaml"),
           "-p", str(port), "--state-dir", str(state), "--no-reload", "--quiet"]
    refused = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
    errors = [line for line in refused.stderr.splitlines() if line.startswith("lambdagate: error:")]
    assert len(errors) == 1 and "is corrupt" in errors[0] and ".corrupt-" in errors[0]
    (state / "events.sqlite3").write_bytes(b"garbage again " * 500)
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        proc = subprocess.Popen(cmd + ["--discard-corrupt-store"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=stderr)
    try:
        def listening():
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_for(listening, 30, "start-lambda to listen with an empty store")
    finally:
        proc.terminate()
        proc.wait(20)
    assert "starting with an empty store (--discard-corrupt-store)" in (tmp_path / "stderr.txt").read_text()
    assert len([n for n in moved_files(state) if not n.endswith(("-wal", "-shm"))]) == 2   # both runs moved one


def test_a_locked_store_is_an_error_not_corruption(tmp_path):
    import sqlite3
    path = crashed_store(tmp_path)
    assert len(open_store(path)) == PENDING
    holder = sqlite3.connect(str(path), timeout=0)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(Exception) as info:
            open_store(path)
        assert not isinstance(info.value, CorruptStore)
        assert path.exists() and moved_files(tmp_path) == []
    finally:
        holder.rollback()
        holder.close()
    assert len(open_store(path)) == PENDING        # nothing was lost or moved
