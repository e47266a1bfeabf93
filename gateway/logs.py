"""Lambda's platform log lines (START, END, REPORT, INIT_START) and where they go: the console and
one log file per function, rotated by size. The event loop only collects text; a writer thread
does the I/O a batch at a time, so a busy gateway pays for one hand-over per batch, not per line,
and never waits for a disk or a terminal."""
from __future__ import annotations

import asyncio
import codecs
import hashlib
import logging
import os
import sys
import threading
import time
from collections import deque
from typing import Optional, TextIO

from _core import format_ms

log = logging.getLogger("lambdagate")


def init_start_line(runtime: str) -> str:
    version = f"{runtime.replace('python', 'python:')}.lambdagate"
    arn_hash = hashlib.sha256(version.encode()).hexdigest()
    return f"INIT_START Runtime Version: {version}\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:{arn_hash}\n"


def init_report_line(init_ns: int, error_type: str, timed_out: bool = False) -> str:
    """The line AWS logs when the Init phase fails or runs out of time."""
    if timed_out:
        return f"INIT_REPORT Init Duration: {format_ms(init_ns)} ms\tPhase: init\tStatus: timeout\n"
    return f"INIT_REPORT Init Duration: {format_ms(init_ns)} ms\tPhase: init\tStatus: error\tError Type: {error_type}\n"


def report_line(request_id: str, duration_ns: int, billed_ms: int, memory_mb: int, max_used_mb: int,
                init_ns: int = 0, status: Optional[str] = None, error_type: Optional[str] = None) -> str:
    line = (f"REPORT RequestId: {request_id}\tDuration: {format_ms(duration_ns)} ms\tBilled Duration: {billed_ms} ms"
            f"\tMemory Size: {memory_mb} MB\tMax Memory Used: {max_used_mb} MB\t")
    if init_ns:
        line += f"Init Duration: {format_ms(init_ns)} ms\t"
    if status == "timeout":
        line += "Status: timeout\n"
    elif status == "error" and error_type:
        line += f"Status: error\tError Type: {error_type}\n"
    else:
        line += "\n"
    return line


def invocation_log(request_id: str, function_output, report: str, prefix: str = "",
                   version: str = "$LATEST"):
    """One invocation's whole log, START through REPORT: a str, or, when the output is a
    SpilledLog, the list [text before it, it, text after it] for LogSinks.write."""
    if function_output.__class__ is SpilledLog:
        output_end = function_output.after[-1:] if function_output.after else function_output.tail[-1:]
        if output_end and output_end != b"\n":
            function_output.after += b"\n"
        return [f"{prefix}START RequestId: {request_id} Version: {version}\n", function_output,
                f"END RequestId: {request_id}\n{report}"]
    text = function_output.decode("utf-8", "backslashreplace") if function_output else ""
    if text and not text.endswith("\n"):
        text += "\n"
    return f"{prefix}START RequestId: {request_id} Version: {version}\n{text}END RequestId: {request_id}\n{report}"


def with_more_output(output, more: bytes):
    """Function output (bytes or a SpilledLog) followed by `more` (a line the platform adds)."""
    if output.__class__ is SpilledLog:
        output.after += more
        return output
    return output + more


def log_text(log) -> str:
    """What an invocation's log (invocation_log's result) says, a spilled output by its tail."""
    if log.__class__ is str:
        return log
    before, spill, after = log
    return (before + "[... the first " + str(spill.size - len(spill.tail)) + " bytes of output are in the log file]\n"
            + (spill.tail + spill.after).decode("utf-8", "backslashreplace") + after)


MAX_EVENT_BYTES = 256 * 1024      # CloudWatch truncates a longer log event (a line of output)
_SPILL_CHUNK_BYTES = 1 << 20


class SpilledLog:
    """Function output too large to read on the event loop: the writer thread copies it from `fd`
    (a duplicate of the worker's log file, which the writer closes), `size` bytes, followed by
    `after`; then it empties the file and calls `then` on the loop (the worker's return to its
    pool waits for that). `tail` is its last bytes, for LogType=Tail."""
    __slots__ = ("fd", "size", "tail", "after", "then", "loop")

    def __init__(self, fd: int, size: int, tail: bytes):
        self.fd, self.size, self.tail = fd, size, tail
        self.after = b""
        self.then = None
        self.loop = None

    def pieces(self):
        """The output as text, each line cut at MAX_EVENT_BYTES, read a megabyte at a time."""
        decoder = codecs.getincrementaldecoder("utf-8")("backslashreplace")
        offset, line_bytes = 0, 0
        while offset < self.size:
            chunk = os.pread(self.fd, min(_SPILL_CHUNK_BYTES, self.size - offset), offset)
            if not chunk:
                break
            offset += len(chunk)
            first_nl = chunk.find(b"\n")
            head_len = len(chunk) if first_nl < 0 else first_nl
            if line_bytes + head_len < MAX_EVENT_BYTES and max(map(len, chunk.split(b"\n"))) < MAX_EVENT_BYTES:
                last_nl = chunk.rfind(b"\n")
                line_bytes = line_bytes + len(chunk) if last_nl < 0 else len(chunk) - last_nl - 1
                yield decoder.decode(chunk)
                continue
            out = bytearray()
            start = 0
            while start < len(chunk):
                nl = chunk.find(b"\n", start)
                end = len(chunk) if nl < 0 else nl + 1
                room = MAX_EVENT_BYTES - line_bytes
                if end - start <= room:
                    out += chunk[start:end]
                else:
                    if room > 0:
                        out += chunk[start:start + room]
                    if nl >= 0:
                        out += b"\n"
                line_bytes = 0 if nl >= 0 else line_bytes + (end - start)
                start = end
            yield decoder.decode(bytes(out))
        yield decoder.decode(self.after, final=True)

    def finish(self) -> None:
        """The copy is done (or dropped): empty the worker's log, close ours, let the worker go."""
        try:
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = -1
        if self.then is not None and self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self.then)
            except RuntimeError:  # the loop has closed: lambdagate stopped, the worker with it
                pass


LOG_INTERVAL_S = 1.0    # at most one refusal line per kind in this time; the rest are counted


class RefusalLog:
    """Warnings about refused clients, at most one a second per kind; the lines left out are
    counted in the next one, so that an attack cannot flood the log."""

    def __init__(self, name: str):
        self.name = name
        self._logged_s: dict = {}       # kind -> monotonic time of its last line
        self._suppressed: dict = {}     # kind -> refusals since that line
        self.refusals = 0               # every refusal, for tests and the exit summary

    def will_log(self, key: str) -> bool:
        """Whether a refusal of this kind now would be written (not counted into a later line)."""
        last = self._logged_s.get(key)
        return last is None or time.monotonic() - last >= LOG_INTERVAL_S

    def refused(self, client, reason: str, key: Optional[str] = None) -> None:
        self.refusals += 1
        key = key or reason
        now = time.monotonic()
        last = self._logged_s.get(key)
        if last is not None and now - last < LOG_INTERVAL_S:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        self._logged_s[key] = now
        more = self._suppressed.pop(key, 0)
        who = "%s:%d" % tuple(client[:2]) if client else "a client"
        log.warning("%s: %s: %s%s", self.name, who, reason, f" (and {more} more like it)" if more else "")


class LogSinks:
    """The console and per-function log files. The event loop only collects text; every ~20 ms the
    batch goes to a writer thread, which does the file and console I/O, so a flood of output or a
    slow terminal never stalls requests. Files rotate by size (`name.log` -> `name.log.1` ...),
    keeping `files_kept` of them. When the writer falls `max_pending_bytes` behind, further text is
    dropped and a line in the file says how much, rather than letting the gateway grow."""

    def __init__(self, log_dir: Optional[str], console: Optional[TextIO] = sys.stderr, flush_delay_s: float = 0.02,
                 *, max_file_bytes: int = 100 * 1024 * 1024, files_kept: int = 5,
                 max_pending_bytes: int = 64 * 1024 * 1024):
        self.log_dir = log_dir
        self.console = console
        self.flush_delay_s = flush_delay_s
        self.max_file_bytes = max_file_bytes
        self.files_kept = max(1, files_kept)
        self.max_pending_bytes = max_pending_bytes
        self._batch: dict = {}          # function name -> texts since the last flush, on the loop
        self._console_batch: list = []  # the same texts in order, for the console
        self._batch_bytes = 0
        self._pending = False
        self._closed = False
        self._queue: deque = deque()    # batches handed to the writer thread
        self._queued_bytes = 0          # guarded by _wake's lock
        self._dropped: dict = {}        # function name -> bytes dropped since the last note
        self._wake = threading.Condition()
        self._files: dict = {}          # function name -> [open file, its size]; the writer thread's
        self._stopping = False
        self._failed = False            # a write failed: said once
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="lambdagate-logs", daemon=True)
        self._thread.start()

    def write(self, function_name: str, text) -> None:
        """Log `text`: a str, or invocation_log's list with a SpilledLog in it."""
        if text.__class__ is not str:
            before, spill, after = text
            if self._closed:
                spill.finish()
                return
            spill.loop = asyncio.get_running_loop()
            self.write(function_name, before)
            self._batch[function_name].append(spill)
            if self.console is not None:
                self._console_batch.append(spill)
            self.write(function_name, after)
            return
        if self._closed:  # lambdagate has stopped: a late invocation's log has nowhere to go
            return
        texts = self._batch.get(function_name)
        if texts is None:
            texts = self._batch[function_name] = []
        texts.append(text)
        if self.console is not None:
            self._console_batch.append(text)
        self._batch_bytes += len(text)
        if not self._pending:
            self._pending = True
            try:
                asyncio.get_running_loop().call_later(self.flush_delay_s, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        """Hand what was written to the writer thread."""
        self._pending = False
        if not self._batch:
            return
        batch, console, size = self._batch, self._console_batch, self._batch_bytes
        self._batch, self._console_batch, self._batch_bytes = {}, [], 0
        with self._wake:
            if self._queued_bytes + size > self.max_pending_bytes:
                for name, texts in batch.items():
                    dropped = 0
                    for text in texts:
                        if text.__class__ is SpilledLog:
                            dropped += text.size
                            text.finish()
                        else:
                            dropped += len(text)
                    self._dropped[name] = self._dropped.get(name, 0) + dropped
            else:
                self._queue.append((batch, console, size))
                self._queued_bytes += size
            self._wake.notify()

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything flushed so far is written; False when the writer did not finish in time."""
        self.flush()
        deadline = time.monotonic() + timeout_s
        with self._wake:
            while self._queue or self._queued_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wake.wait(remaining)
        return True

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._closed = True
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(30)

    # ------------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if not self._queue:
                    break
                batch, console, size = self._queue.popleft()
                dropped, self._dropped = self._dropped, {}
            try:
                self._write_batch(batch, console, dropped)
            except Exception as exc:  # noqa: BLE001 - a full disk must not end the writer for good
                if not self._failed:
                    log.error("cannot write function logs to %s: %s", self.log_dir, exc)
                self._failed = True
                for texts in batch.values():
                    for text in texts:
                        if text.__class__ is SpilledLog and text.fd >= 0:
                            text.finish()
            with self._wake:
                self._queued_bytes -= size
                self._wake.notify_all()
        for entry in self._files.values():
            entry[0].close()
        self._files.clear()

    def _write_batch(self, batch: dict, console: list, dropped: dict) -> None:
        for name, size in dropped.items():
            self._append(name, [f"[lambdagate: {size} bytes of this function's log were dropped: the log writer "
                                f"was more than {self.max_pending_bytes // (1024 * 1024)} MB behind]\n"])
        spills = []
        for name, texts in batch.items():
            self._append(name, texts)
            spills += [t for t in texts if t.__class__ is SpilledLog]
        for entry in self._files.values():
            entry[0].flush()
        if console:
            try:
                for part in _runs(console):
                    if part.__class__ is SpilledLog:
                        for piece in part.pieces():
                            self.console.write(_for_terminal(piece))
                    else:
                        self.console.write(_for_terminal(part))
                self.console.flush()
            except (ValueError, OSError):  # the console was closed under us (interpreter shutdown)
                pass
        for spill in spills:
            if spill.fd >= 0:
                spill.finish()

    def _append(self, function_name: str, texts: list) -> None:
        """Write one function's texts, in as few writes as its file's rotations allow."""
        if not self.log_dir:
            return
        entry = self._files.get(function_name)
        if entry is None:
            path = os.path.join(self.log_dir, f"{function_name}.log")
            f = open(path, "a", encoding="utf-8", buffering=1 << 16)
            entry = self._files[function_name] = [f, f.tell()]
        limit = self.max_file_bytes
        size = entry[1]
        chunk: list = []
        for text in _expand(texts):
            n = len(text) if text.isascii() else len(text.encode("utf-8", "backslashreplace"))
            if size + n > limit and size:
                entry[0].write("".join(chunk))
                chunk = []
                entry = self._rotate(function_name, entry)
                size = 0
            chunk.append(text)
            size += n
        entry[0].write("".join(chunk))
        entry[1] = size

    def _rotate(self, function_name: str, entry: list) -> list:
        """name.log -> name.log.1 -> ... ; the oldest beyond files_kept goes."""
        entry[0].close()
        base = os.path.join(self.log_dir, f"{function_name}.log")
        for i in range(self.files_kept - 1, 0, -1):
            older = f"{base}.{i - 1}" if i > 1 else base
            if os.path.exists(older):
                os.replace(older, f"{base}.{i}")   # replaces, and so drops, the oldest kept
        if self.files_kept == 1:
            os.remove(base)
        f = open(base, "a", encoding="utf-8", buffering=1 << 16)
        entry[:] = [f, 0]
        return entry


def _expand(texts: list):
    """The texts, a SpilledLog's output streamed in their place."""
    for text in texts:
        if text.__class__ is SpilledLog:
            yield from text.pieces()
        else:
            yield text


def _for_terminal(text: str) -> str:
    """AWS's runtimes join a multi-line message (a traceback) with \\r into one log event; the log
    files and LogType=Tail keep that, and the console, read in a terminal, gets line breaks."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _runs(parts: list):
    """Consecutive str parts joined, SpilledLogs between them as they are."""
    run: list = []
    for part in parts:
        if part.__class__ is SpilledLog:
            if run:
                yield "".join(run)
                run = []
            yield part
        else:
            run.append(part)
    if run:
        yield "".join(run)
