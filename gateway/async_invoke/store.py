"""The durable event store: accepted asynchronous invocations in SQLite, with group commit.

One writer thread owns the connection. The event loop hands it operations through a
queue and gets a future back; the thread drains whatever has queued up, applies it in
one transaction, commits, and resolves every future of the batch with one loop
wake-up. Under load a commit carries many events, so the fsync is paid once per batch,
not once per event, and the loop never blocks on the disk.

Durability: WAL mode with `synchronous=FULL` by default: every commit fsyncs the WAL,
so an accepted event survives a crash of the machine, not only of the gateway. On
this machine an fsync'd commit costs ~150 us (1 row) to ~280 us (128 rows) against
~16-130 us with NORMAL; with group commit the accept rate is bounded by HTTP, not by
the disk (see benches/lambda_api_bench.py). `durability="normal"` (NORMAL + WAL) still
survives a SIGKILL of the gateway, since a committed transaction is in the OS page
cache, but may lose the last commits on power loss.

Only commits that insert events pay the fsync: deletes and attempt counts are committed
with NORMAL (switched per batch), since losing one costs an extra run, which
at-least-once delivery allows; the next FULL commit's WAL fsync covers them anyway.

Rows are deleted once an event's outcome has been recorded (a destination line
appended and fsync'd, or the destination event inserted in the same transaction):
whatever is left in the table at start-up has not finished and runs again.
"""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Optional

from gateway.async_invoke.store_check import CorruptStore, move_aside, wal_problem

log = logging.getLogger("lambdagate")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,
    request_id  TEXT    NOT NULL,
    function    TEXT    NOT NULL,
    invoked_arn TEXT,
    payload     BLOB    NOT NULL,
    accepted_ms INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_ms     INTEGER NOT NULL DEFAULT 0
)
"""
_INSERT = ("INSERT INTO events (id, request_id, function, invoked_arn, payload, accepted_ms, attempts, next_ms) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_UPDATE = "UPDATE events SET attempts = ?, next_ms = ? WHERE id = ?"
_DELETE = "DELETE FROM events WHERE id = ?"

# operation kinds handed to the writer thread
_INSERT_OP, _UPDATE_OP, _DELETE_OP, _APPEND_OP, _STOP_OP, _MULTI_OP = range(6)


@dataclass(eq=False)
class Event:
    """One accepted asynchronous invocation (a row, plus what only memory needs)."""
    id: int
    request_id: str
    function: str                    # FunctionName
    payload: bytes                   # the bytes the function receives, as accepted
    accepted_ms: int                 # wall clock, survives restarts (MaximumEventAgeInSeconds)
    invoked_arn: Optional[str] = None
    attempts: int = 0                # function attempts made (approximateInvokeCount)
    next_ms: int = 0                 # not before this wall-clock time
    throttles: int = 0               # consecutive throttles / system errors (backoff), memory only
    last: object = field(default=None)   # the last attempt's Outcome, memory only

    def row(self) -> tuple:
        return (self.id, self.request_id, self.function, self.invoked_arn, self.payload, self.accepted_ms,
                self.attempts, self.next_ms)


class StoreError(RuntimeError):
    pass


class EventStore:
    """SQLite file `<state_dir>/events.sqlite3` behind one writer thread."""

    def __init__(self, path: str, durability: str = "full", discard_corrupt: bool = False):
        """`discard_corrupt`: a corrupt store is moved aside in any case; with this, lambdagate
        then starts with an empty one instead of refusing to start."""
        if durability not in ("full", "normal"):
            raise ValueError("durability must be 'full' or 'normal'")
        self.path = path
        self.durability = durability
        self.discard_corrupt = discard_corrupt
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._last_id = 0
        self.commits = 0                 # transactions committed (for benchmarks: events per commit)
        self.ops = 0
        self._files: dict = {}           # path -> fd, opened O_APPEND, used by the writer thread only
        self._synced = False             # the connection's synchronous mode is FULL (writer thread only)

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> list:
        """Start the writer thread; returns the events left from a previous run, oldest first."""
        self._loop = asyncio.get_running_loop()
        ready = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="lambdagate-event-store", daemon=True)
        self._thread.start()
        events = await ready
        self._last_id = max((e.id for e in events), default=self._last_id)
        return events

    async def close(self) -> None:
        """Apply what is queued, then stop the thread and close the database."""
        if self._thread is None:
            return
        done = self._loop.create_future()
        self._queue.put((_STOP_OP, None, done))
        await done
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    # ------------------------------------------------------------------ operations (event loop side)

    def insert(self, event: Event) -> "asyncio.Future":
        """Store an event; the future resolves once its row is committed."""
        future = self._loop.create_future()
        self._queue.put((_INSERT_OP, event.row(), future))
        return future

    def update(self, event: Event) -> None:
        self._queue.put((_UPDATE_OP, (event.attempts, event.next_ms, event.id), None))

    def delete(self, event_id: int) -> "asyncio.Future":
        future = self._loop.create_future()
        self._queue.put((_DELETE_OP, event_id, future))
        return future

    def append_then_delete(self, path: str, line: bytes, event_id: int) -> "asyncio.Future":
        """Append a record line (fsync'd before the commit), then delete the event in that commit."""
        future = self._loop.create_future()
        self._queue.put((_MULTI_OP, [(_APPEND_OP, (path, line)), (_DELETE_OP, event_id)], future))
        return future

    def replace(self, new_event: Event, old_id: int) -> "asyncio.Future":
        """Insert new_event and delete old_id atomically (a Lambda destination)."""
        future = self._loop.create_future()
        self._queue.put((_MULTI_OP, [(_INSERT_OP, new_event.row()), (_DELETE_OP, old_id)], future))
        return future

    # ------------------------------------------------------------------ writer thread

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        existed = os.path.exists(self.path)
        # the log is looked at before SQLite opens the database: SQLite would overwrite a bad one
        problem = wal_problem(self.path + "-wal")
        if problem is None:
            db = None
            try:
                db = self._open_sqlite()
                if existed:
                    problem = self._check(db)
                if problem is None:
                    db.execute(_SCHEMA)
                    return db
                db.close()
                db = None
            except sqlite3.DatabaseError as exc:
                if db is not None:
                    db.close()
                if not _is_corruption(exc):
                    raise   # locked, read-only, out of space...: not the files' fault, nothing is moved
                problem = f"SQLite cannot read it: {exc}"
        moved_to = move_aside(self.path)
        message = f"the event store {self.path} is corrupt ({problem}); its files were moved to {moved_to}"
        if not self.discard_corrupt:
            raise CorruptStore(f"{message}. The events accepted in it may be recovered from there by hand. "
                               "Start again with --discard-corrupt-store to begin with an empty store.", moved_to)
        log.warning("%s; starting with an empty store (--discard-corrupt-store)", message)
        db = self._open_sqlite()
        db.execute(_SCHEMA)
        return db

    def _open_sqlite(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                log.warning("%s: SQLite refused WAL mode (%s); commits will be slower", self.path, mode)
            db.execute("PRAGMA synchronous=%s" % ("FULL" if self.durability == "full" else "NORMAL"))
        except BaseException:
            db.close()
            raise
        self._synced = self.durability == "full"
        return db

    @staticmethod
    def _check(db: sqlite3.Connection) -> Optional[str]:
        """Why an existing store cannot be trusted, or None."""
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            return f"its integrity check says: {verdict}"
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone() is None:
            return "it exists but holds no events table: an empty or truncated file"
        return None

    def _load(self, db: sqlite3.Connection) -> list:
        rows = db.execute("SELECT id, request_id, function, invoked_arn, payload, accepted_ms, attempts, next_ms "
                          "FROM events ORDER BY id").fetchall()
        return [Event(id=r[0], request_id=r[1], function=r[2], invoked_arn=r[3], payload=bytes(r[4]),
                      accepted_ms=r[5], attempts=r[6], next_ms=r[7]) for r in rows]

    def _run(self, ready: "asyncio.Future") -> None:
        try:
            db = self._connect()
            events = self._load(db)
        except CorruptStore as exc:
            self._loop.call_soon_threadsafe(_set_exception, ready, exc)
            return
        except Exception as exc:  # noqa: BLE001 - reported to the opener
            self._loop.call_soon_threadsafe(_set_exception, ready, StoreError(f"cannot open {self.path}: {exc}"))
            return
        self._loop.call_soon_threadsafe(_set_result, ready, events)
        try:
            while True:
                batch = [self._queue.get()]
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = self._apply(db, batch)
                if stop:
                    return
        finally:
            for fd in self._files.values():
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._files.clear()
            db.close()

    def _apply(self, db: sqlite3.Connection, batch: list) -> bool:
        inserts, updates, deletes, appends, futures = [], [], [], [], []
        stop = False
        lists = {_INSERT_OP: inserts, _UPDATE_OP: updates, _DELETE_OP: deletes, _APPEND_OP: appends}
        for kind, arg, future in batch:
            if kind == _MULTI_OP:        # parts that must land in the same commit
                for part_kind, part_arg in arg:
                    lists[part_kind].append((part_arg,) if part_kind == _DELETE_OP else part_arg)
            elif kind == _DELETE_OP:
                deletes.append((arg,))
            elif kind == _STOP_OP:
                stop = True
            else:
                lists[kind].append(arg)
            if future is not None:
                futures.append(future)
        error = None
        try:
            if appends:
                self._append(appends)
            if inserts or updates or deletes:
                # only a new event needs its commit on disk before anyone is told; a lost delete or
                # attempt count means an extra run (at-least-once), so those commits skip the fsync:
                # the next FULL commit's WAL fsync covers them anyway (the WAL is written in order)
                full = self.durability == "full" and bool(inserts)
                if full != self._synced:
                    db.execute("PRAGMA synchronous=%s" % ("FULL" if full else "NORMAL"))
                    self._synced = full
                db.execute("BEGIN")
                try:
                    if inserts:
                        db.executemany(_INSERT, inserts)
                    if updates:
                        db.executemany(_UPDATE, updates)
                    if deletes:
                        db.executemany(_DELETE, deletes)
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                self.commits += 1
                self.ops += len(inserts) + len(updates) + len(deletes)
        except Exception as exc:  # noqa: BLE001 - every waiter learns about it
            log.error("event store %s: %s", self.path, exc)
            error = StoreError(f"event store {self.path}: {exc}")
        if futures:
            self._loop.call_soon_threadsafe(_resolve_all, futures, error)
        return stop

    def _append(self, appends: list) -> None:
        touched = set()
        for path, line in appends:
            fd = self._files.get(path)
            if fd is None:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
                self._files[path] = fd
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            touched.add(fd)
        if self.durability == "full":
            for fd in touched:
                os.fsync(fd)


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    name = getattr(exc, "sqlite_errorname", None)      # Python 3.11+
    if name is not None:
        return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB")
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _set_result(future, value) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future, exc) -> None:
    if not future.done():
        future.set_exception(exc)


def _resolve_all(futures: list, error) -> None:
    for future in futures:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
