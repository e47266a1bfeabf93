"""A worker process as the gateway sees it: the bookkeeping every execution
environment has, and the Python worker's socket protocol."""
from __future__ import annotations

import asyncio
import os
import signal
from typing import Callable, Optional

from _core import FrameScanner
from gateway import wire
from gateway.logs import SpilledLog

STARTING, IDLE, BUSY, DEAD = range(4)
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


INLINE_LOG_BYTES = 64 * 1024      # more output than this goes to the log writer's thread unread
TAIL_BYTES = 4096                 # what LogType=Tail returns of it


class WorkerLost(Exception):
    """The worker's process or connection ended while an answer was awaited."""


class WorkerTimedOut(Exception):
    """The invocation reached its deadline; the worker has been killed."""


def send_signal(pid: int, signum: int) -> None:
    """Signal a process that may already be gone."""
    if pid > 0:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def rss_kb(pid: int) -> int:
    """Current resident set of a live process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_KB
    except (OSError, ValueError, IndexError):
        return 0


def peak_rss_kb(pid: int) -> int:
    """VmHWM, the peak resident set, of a live process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class BaseWorker:
    """What the scheduler knows of any execution environment, whatever its runtime."""

    def __init__(self, slot: int, fn_index: int, generation: int, log_fd: int, loop: asyncio.AbstractEventLoop):
        self.slot = slot
        self.fn_index = fn_index
        self.generation = generation
        self.log_fd = log_fd          # memfd that the process's stdout and stderr append to
        self.loop = loop
        self.pid = 0
        self.state = STARTING
        self.ready = loop.create_future()   # (wire.ReadyHeader, payload) at the end of Init
        self.pending: Optional[asyncio.Future] = None
        self.max_rss_kb = 0
        self.exit_status = -1         # wait status, once known, of a worker that died during Init
        self.oom_rss_kb = 0           # set when the worker passed its memory limit
        self.on_dead: Optional[Callable[["BaseWorker"], None]] = None  # told at once when the worker ends

    def _ended(self) -> None:
        """The process or its connection is gone: fail whatever waits for it, tell the scheduler."""
        already_dead = self.state == DEAD
        self.state = DEAD
        lost = WorkerLost()
        self.fail_pending(lost)
        if not self.ready.done():
            self.ready.set_exception(lost)
            self.ready.exception()  # retrieved: nobody may be waiting any more
        if self.on_dead is not None and not already_dead:
            self.on_dead(self)

    def fail_pending(self, exc: Exception) -> None:
        pending, self.pending = self.pending, None
        if pending is not None and not pending.done():
            pending.set_exception(exc)

    def take_log(self, spill: bool = True):
        """What the process wrote to stdout/stderr since the last call: bytes, read here and the
        file emptied; or, past INLINE_LOG_BYTES, a SpilledLog for the log writer's thread to copy
        and then empty (never a copy of megabytes on the event loop). With `spill` False, at most
        the last INLINE_LOG_BYTES * 16 bytes are read."""
        fd = self.log_fd
        if fd < 0:
            return b""
        size = os.fstat(fd).st_size
        if not size:
            return b""
        if size > INLINE_LOG_BYTES:
            if spill:
                return SpilledLog(os.dup(fd), size, os.pread(fd, TAIL_BYTES, size - TAIL_BYTES))
            keep = INLINE_LOG_BYTES * 16
            data = os.pread(fd, min(size, keep), max(0, size - keep))
        else:
            data = os.pread(fd, size, 0)
        os.ftruncate(fd, 0)
        return data

    def release_log(self) -> None:
        if self.log_fd >= 0:
            os.close(self.log_fd)
            self.log_fd = -1


class PythonWorker(BaseWorker, asyncio.Protocol):
    """A Python worker forked from the zygote: invocation frames down one pipe,
    results up another (this object is the result pipe's protocol)."""

    def __init__(self, slot: int, fn_index: int, generation: int, log_fd: int, loop: asyncio.AbstractEventLoop):
        super().__init__(slot, fn_index, generation, log_fd, loop)
        self.transport: Optional[asyncio.ReadTransport] = None    # results
        self.writer: Optional[asyncio.WriteTransport] = None      # invocations
        self.scanner = FrameScanner()

    async def connect(self, invoke_fd: int, result_fd: int) -> None:
        """Attach the gateway's ends of the two pipes; from here on this worker owns both fds."""
        # uvloop's pipe transports close the fd themselves (libuv) and then close the file object
        # too: a file that owned the fd would close it twice, the second time perhaps a file some
        # other thread has opened since. asyncio's transports only close the file object.
        owns = type(self.loop).__module__.partition(".")[0] != "uvloop"
        try:
            # its closing is not news: the result pipe's end, read after any result before it, is
            self.writer, _ = await self.loop.connect_write_pipe(
                asyncio.BaseProtocol, open(invoke_fd, "wb", buffering=0, closefd=owns))
        except BaseException:
            os.close(invoke_fd)
            os.close(result_fd)
            raise
        try:
            await self.loop.connect_read_pipe(lambda: self, open(result_fd, "rb", buffering=0, closefd=owns))
        except BaseException:
            os.close(result_fd)
            raise

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
            try:
                header = wire.read_header(head)
            except ValueError:  # not our protocol: the worker is broken
                self.kill()
                return
            kind = header.kind
            if kind == wire.RESULT:
                pending, self.pending = self.pending, None
                if pending is not None and not pending.done():
                    pending.set_result((header, payload))
            elif kind == wire.READY:
                if not self.ready.done():
                    self.ready.set_result((header, payload))
            elif kind == wire.OUT_OF_MEMORY:
                self.oom_rss_kb = header.rss_kb

    def connection_lost(self, exc) -> None:
        self._ended()

    # ------------------------------------------------------------------ actions

    def send_invoke(self, header: wire.InvokeHeader, payload: bytes) -> asyncio.Future:
        future = self.loop.create_future()
        self.pending = future
        if self.writer.is_closing():  # the process is gone and its result pipe not yet read to the end
            future.set_exception(WorkerLost())
        else:
            self.writer.writelines(wire.frame_parts(header, payload))
        return future

    def kill(self) -> None:
        """SIGKILL the process (if it has one yet) and drop the connection."""
        self.state = DEAD
        send_signal(self.pid, signal.SIGKILL)
        # may come again for a worker already killed (shutdown kills all): asyncio's transports
        # do not take a second abort
        if self.writer is not None and not self.writer.is_closing():
            self.writer.abort()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()  # a read pipe has nothing to drop (uvloop's has no abort)

    def close_gently(self) -> None:
        """Close the pipes: an idle worker sees end-of-input and exits by itself."""
        self.state = DEAD
        if self.writer is not None and not self.writer.is_closing():
            self.writer.close()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
