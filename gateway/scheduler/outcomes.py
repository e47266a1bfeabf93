"""Error payloads and log lines the platform itself produces (aws-contract.md §3.5, §4.3)."""
from __future__ import annotations

import os
import signal
import time

import orjson

from gateway.types import RESPONSE_LIMIT_BYTES


# Go's names for signals, as the Lambda platform (written in Go) prints them.
_SIGNAL_NAMES = {
    signal.SIGKILL: "killed", signal.SIGSEGV: "segmentation fault", signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated", signal.SIGBUS: "bus error", signal.SIGFPE: "floating point exception",
    signal.SIGILL: "illegal instruction", signal.SIGINT: "interrupt", signal.SIGHUP: "hangup",
    signal.SIGPIPE: "broken pipe", signal.SIGQUIT: "quit", signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2", signal.SIGALRM: "alarm clock", signal.SIGTRAP: "trace/breakpoint trap",
}


def exit_reason(wait_status: int) -> str:
    """`exit status 1`, `signal: killed`, ... from a waitpid status."""
    if wait_status < 0:
        return "signal: killed"
    if os.WIFSIGNALED(wait_status):
        sig = os.WTERMSIG(wait_status)
        return "signal: " + _SIGNAL_NAMES.get(sig, f"signal {sig}")
    return f"exit status {os.WEXITSTATUS(wait_status)}"


def runtime_exit_message(request_id: str, wait_status: int) -> str:
    if wait_status >= 0 and os.WIFEXITED(wait_status) and os.WEXITSTATUS(wait_status) == 0:
        return f"RequestId: {request_id} Error: Runtime exited without providing a reason"
    return f"RequestId: {request_id} Error: Runtime exited with error: {exit_reason(wait_status)}"


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"


def timeout_payload(request_id: str, timeout_s: float) -> bytes:
    return orjson.dumps({"errorType": "Sandbox.Timedout", "errorMessage": timeout_message(request_id, timeout_s)})


def timeout_log_line(request_id: str, timeout_s: float) -> str:
    now_ms = time.time_ns() // 1_000_000
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms // 1000))
    return f"{stamp}.{now_ms % 1000:03d}Z {request_id} Task timed out after {timeout_s:.2f} seconds\n"


def crash_payload(error_type: str, message: str) -> bytes:
    return orjson.dumps({"errorType": error_type, "errorMessage": message})


def response_too_large_payload() -> bytes:
    """The function error of a response over Lambda's limit (Function.ResponseSizeTooLarge)."""
    return orjson.dumps({
        "errorMessage": f"Response payload size exceeded maximum allowed payload size ({RESPONSE_LIMIT_BYTES} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    })
