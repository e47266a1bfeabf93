"""Lambda's platform log lines (START, END, REPORT, INIT_START) and where they go:
the console and one log file per function. Writes are buffered and flushed
shortly after, so a busy gateway pays for one write per batch, not per line."""
from __future__ import annotations

import asyncio
import hashlib
import os
import sys
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
    """The console and per-function log files, flushed together soon after a write."""

    def __init__(self, log_dir: Optional[str], console: Optional[TextIO] = sys.stderr, flush_delay_s: float = 0.02):
        self.log_dir = log_dir
        self.console = console
        self.flush_delay_s = flush_delay_s
        self._files: dict = {}
        self._console_text: list = []   # written at the next flush: one console write per batch
        self._pending = False
        self._closed = False
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)

    def _file(self, function_name: str):
        f = self._files.get(function_name)
        if f is None and self.log_dir:
            f = open(os.path.join(self.log_dir, f"{function_name}.log"), "a", encoding="utf-8", buffering=1 << 16)
            self._files[function_name] = f
        return f

    def write(self, function_name: str, text: str) -> None:
        if self._closed:  # lambdagate has stopped: a late invocation's log has nowhere to go
            return
        f = self._file(function_name)
        if f is not None:
            f.write(text)
        if self.console is not None:
            self._console_text.append(text)
        if not self._pending:
            self._pending = True
            try:
                asyncio.get_running_loop().call_later(self.flush_delay_s, self.flush)
            except RuntimeError:
                self.flush()

    def flush(self) -> None:
        self._pending = False
        for f in self._files.values():
            f.flush()
        if self.console is not None and self._console_text:
            text = "".join(self._console_text)
            self._console_text.clear()
            try:
                self.console.write(text)
                self.console.flush()
            except ValueError:  # the console was closed under us (interpreter shutdown)
                pass

    def close(self) -> None:
        self.flush()
        self._closed = True
        for f in self._files.values():
            f.close()
        self._files.clear()
