"""Lambda's platform log lines (START, END, REPORT, INIT_START) and where they go: the console and
one log file per function, rotated by size. The event loop only collects text; a writer thread
does the I/O a batch at a time, so a busy gateway pays for one hand-over per batch, not per line,
and never waits for a disk or a terminal."""
from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
import time
from collections import deque
from typing import Optional, TextIO

from _core import format_ms


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


def invocation_log(request_id: str, function_output: bytes, report: str, prefix: str = "",
                   version: str = "$LATEST") -> str:
    """One invocation's whole log, START through REPORT."""
    text = function_output.decode("utf-8", "backslashreplace") if function_output else ""
    if text and not text.endswith("\n"):
        text += "\n"
    return f"{prefix}START RequestId: {request_id} Version: {version}\n{text}END RequestId: {request_id}\n{report}"


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
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="lambdagate-logs", daemon=True)
        self._thread.start()

    def write(self, function_name: str, text: str) -> None:
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
                    self._dropped[name] = self._dropped.get(name, 0) + sum(map(len, texts))
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
            self._write_batch(batch, console, dropped)
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
        for name, texts in batch.items():
            self._append(name, texts)
        for entry in self._files.values():
            entry[0].flush()
        if console:
            try:
                self.console.write("".join(console))
                self.console.flush()
            except (ValueError, OSError):  # the console was closed under us (interpreter shutdown)
                pass

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
        for text in texts:
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
