"""A worker process as the gateway sees it: a socket protocol plus its bookkeeping."""
from __future__ import annotations

import asyncio
import os
import signal
from typing import Optional

from _core import FrameScanner
from gateway import wire

STARTING, IDLE, BUSY, DEAD = range(4)


class WorkerLost(Exception):
    """The worker's connection ended while an answer was awaited."""


class WorkerTimedOut(Exception):
    """The invocation reached its deadline; the worker has been killed."""


class Worker(asyncio.Protocol):
    """One execution environment: a forked process serving one invocation at a time."""

    def __init__(self, slot: int, function: str, fn_index: int, generation: int, log_fd: int,
                 loop: asyncio.AbstractEventLoop):
        self.slot = slot
        self.function = function
        self.fn_index = fn_index
        self.generation = generation
        self.log_fd = log_fd
        self.loop = loop
        self.pid = 0
        self.state = STARTING
        self.transport: Optional[asyncio.Transport] = None
        self.scanner = FrameScanner()
        self.ready = loop.create_future()
        self.closed = loop.create_future()
        self.pending: Optional[asyncio.Future] = None
        self.max_rss_kb = 0
        self.exit_status = -1     # wait status, once known, of a worker that died during Init
        self.oom_rss_kb = 0       # set when the worker reported passing its memory limit
        self.invocations = 0
        self.started_ns = 0

    # ------------------------------------------------------------------ protocol

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.scanner.feed(data)
        except ValueError:
            self.kill()
            return
        for head, payload in frames:
            header = wire.unpack_header(head)
            kind = header[0]
            if kind == wire.RESULT:
                pending, self.pending = self.pending, None
                if pending is not None and not pending.done():
                    pending.set_result((header, payload))
            elif kind == wire.READY:
                if not self.ready.done():
                    self.ready.set_result((header, payload))
            elif kind == wire.OUT_OF_MEMORY:
                self.oom_rss_kb = header[1]

    def connection_lost(self, exc) -> None:
        self.state = DEAD
        lost = WorkerLost()
        if self.pending is not None and not self.pending.done():
            self.pending.set_exception(lost)
        self.pending = None
        if not self.ready.done():
            self.ready.set_exception(lost)
            self.ready.exception()  # retrieved: nobody may be waiting any more
        if not self.closed.done():
            self.closed.set_result(None)

    # ------------------------------------------------------------------ actions

    def send_invoke(self, header: list, payload: bytes) -> asyncio.Future:
        future = self.loop.create_future()
        self.pending = future
        self.transport.writelines(wire.frame_parts(header, payload))
        return future

    def fail_pending(self, exc: Exception) -> None:
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            pending.set_exception(exc)

    def kill(self) -> None:
        """SIGKILL the process (if it has one yet) and drop the connection."""
        self.state = DEAD
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.transport is not None:
            self.transport.abort()

    def close_gently(self) -> None:
        """Close the socket: an idle worker sees end-of-input and exits by itself."""
        self.state = DEAD
        if self.transport is not None:
            self.transport.close()

    def take_log(self) -> bytes:
        """What the process wrote to stdout/stderr since the last call (the file is emptied)."""
        fd = self.log_fd
        if fd < 0:
            return b""
        size = os.fstat(fd).st_size
        if not size:
            return b""
        data = os.pread(fd, size, 0)
        os.ftruncate(fd, 0)
        return data

    def release_log(self) -> None:
        if self.log_fd >= 0:
            os.close(self.log_fd)
            self.log_fd = -1
