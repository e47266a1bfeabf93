"""The loop a Python worker runs after the zygote forks it: the Init phase (import
the handler), then one invocation at a time until the gateway closes the invocation pipe.

Behaviour follows AWS's Python runtime (awslambdaric): the same context, error
objects, fault types and messages, log formats and marshalling rules.
"""
from __future__ import annotations

import importlib
import io
import json
import logging
import os
import random
import resource
import signal
import sys
import threading
import time
import traceback
from decimal import Decimal

try:
    import orjson
except ImportError:   # a bare interpreter (a function's Python version other than lambdagate's): the same bytes
    from gateway.runtime import stdlib_json as orjson

from gateway import wire
from gateway.runtime.context import ContextError, LambdaContext, static_fields
from gateway.runtime.logformat import CurrentInvocation, log_error, setup_logging

_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_THIS_FILE = os.path.abspath(__file__)
RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024 + 100   # Lambda's response limit (RIE's MaxPayloadSize)
UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in "
    "rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed "
    "runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To "
    "determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this "
    "error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily "
    "rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)


class Fault(Exception):
    """A Runtime.* failure with AWS's type, message and (optional) stack trace."""

    def __init__(self, error_type: str, message: str, trace=None):
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace


def error_object(message, error_type, trace, request_id="") -> dict:
    return {"errorMessage": message or "", "errorType": error_type or "", "requestId": request_id or "",
            "stackTrace": trace or []}


def exception_object(exc: BaseException, request_id: str = "") -> dict:
    frames = traceback.extract_tb(exc.__traceback__)
    # drop the runtime's own frames from the front, as AWS drops bootstrap.py's
    while frames and frames[0].filename == _THIS_FILE:
        frames = frames[1:]
    return error_object(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def load_handler(handler: str):
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise Fault("Runtime.BuiltInModuleConflict",
                        f"Cannot use built-in module {module_name} as a handler module")
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from None
    except SyntaxError as exc:
        trace = ['  File "%s" Line %s\n    %s' % (exc.filename, exc.lineno, exc.text)]
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'") from None


def _decimal_default(value):
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def marshal(result) -> bytes:
    """The response bytes: raw for bytes, else JSON (stdlib rules where orjson is stricter)."""
    if isinstance(result, (bytes, bytearray)):
        return bytes(result)
    try:
        return orjson.dumps(result, option=_ORJSON_OPTIONS)
    except TypeError:
        pass
    try:
        return json.dumps(result, default=_decimal_default, allow_nan=True).encode()
    except (TypeError, ValueError, OverflowError) as exc:
        raise Fault("Runtime.MarshalError", f"Unable to marshal response: {exc}") from None


def unmarshal(payload):
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            return json.loads(bytes(payload))
        except ValueError as exc:
            raise Fault("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from None


class MemoryWatchdog(threading.Thread):
    """Kills the worker when its resident memory passes the function's MemorySize.

    Samples /proc/self/statm every poll interval while user code runs (Init or an
    invocation), and ten times less often while the worker waits, so idle workers
    cost next to nothing. Before the SIGKILL it tells the gateway, so the invocation
    fails as Runtime.OutOfMemory and not as a crash.
    """

    IDLE_FACTOR = 10

    def __init__(self, limit_kb: int, poll_s: float, send, current: CurrentInvocation):
        super().__init__(name="lambdagate-memory", daemon=True)
        self.limit_kb, self.poll_s, self.send, self.current = limit_kb, poll_s, send, current
        self.page_kb = os.sysconf("SC_PAGE_SIZE") // 1024

    def run(self):
        fd = os.open("/proc/self/statm", os.O_RDONLY)
        current, busy_s, idle_s = self.current, self.poll_s, self.poll_s * self.IDLE_FACTOR
        while True:
            time.sleep(busy_s if current.busy else idle_s)
            rss_kb = int(os.pread(fd, 128, 0).split()[1]) * self.page_kb
            if rss_kb > self.limit_kb:
                try:
                    self.send(wire.frame_parts(wire.out_of_memory_header(rss_kb)))
                finally:
                    os.kill(os.getpid(), signal.SIGKILL)


class WorkerLoop:
    """What a Python worker process does: Init, then invocation frames in, result frames out."""

    def __init__(self, spec: dict, invoke_fd: int, result_fd: int):
        self.spec = spec
        self.reader = open(invoke_fd, "rb", buffering=65536)
        self.result_fd = result_fd
        self.send_lock = threading.Lock()
        self.current = CurrentInvocation()
        self.log_format = spec.get("log_format") or "Text"

    def send(self, parts) -> None:
        """One frame up the result pipe, whole (the memory watchdog's thread sends too)."""
        with self.send_lock:
            written = os.writev(self.result_fd, parts)
            if written < sum(map(len, parts)):  # more than the pipe's buffer took, or a signal mid-write
                rest = memoryview(b"".join(parts))[written:]
                while rest:
                    rest = rest[os.write(self.result_fd, rest):]

    def init(self):
        """The Init phase: returns the handler, or reports the failure and exits."""
        setup_logging(self.current, self.log_format, self.spec.get("log_level") or "")
        try:
            return load_handler(self.spec["handler"])
        except Fault as fault:
            error = error_object(fault.message, fault.error_type, fault.trace)
        except Exception as exc:
            error = exception_object(exc)
        logging.warning(UNHANDLED_WARNING)
        log_error(error, self.log_format)
        self.send(wire.frame_parts(wire.ready_header(os.getpid(), error["errorType"],
                                                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss),
                                   orjson.dumps(error)))
        raise SystemExit(1)

    def serve(self) -> None:
        handler = self.init()
        self.current.busy = False
        self.send(wire.frame_parts(wire.ready_header(os.getpid())))
        current, reader, send, log_format = self.current, self.reader, self.send, self.log_format
        monotonic_ns, environ, fstat = time.monotonic_ns, os.environ, os.fstat
        getrusage, RUSAGE_SELF = resource.getrusage, resource.RUSAGE_SELF
        read_frame, frame_parts, result_header = wire.read_frame, wire.frame_parts, wire.result_header
        static = static_fields()
        while True:
            try:
                header, payload = read_frame(reader)
            except EOFError:
                return
            current.request_id = request_id = header.request_id
            trace_id = header.trace_id
            if trace_id:
                environ["_X_AMZN_TRACE_ID"] = trace_id
            else:
                environ.pop("_X_AMZN_TRACE_ID", None)
            error_type = None
            current.busy = True
            start_ns = monotonic_ns()
            try:
                context = LambdaContext(request_id, header.deadline_ms, header.invoked_arn, header.client_context,
                                        header.cognito, None, static)
                out = marshal(handler(unmarshal(payload), context))
            except ContextError as exc:
                error = error_object(str(exc), "Runtime.LambdaContextUnmarshalError", None, request_id)
            except Fault as fault:
                error = error_object(fault.message, fault.error_type, fault.trace, request_id)
            except Exception as exc:
                error = exception_object(exc, request_id)
            else:
                error = None
            duration_ns = monotonic_ns() - start_ns
            current.busy = False
            if error is None and len(out) > RESPONSE_LIMIT_BYTES:
                # the gateway answers Function.ResponseSizeTooLarge; no need to ship the bytes
                error_type, out = "Function.ResponseSizeTooLarge", b""
            if error is not None:
                log_error(error, log_format)
                error_type = error["errorType"]
                out = orjson.dumps(error)
            # the log file's size tells the gateway whether there is output to collect,
            # so an invocation that printed nothing costs the gateway no system call
            send(frame_parts(result_header(request_id, error_type, duration_ns, getrusage(RUSAGE_SELF).ru_maxrss,
                                           fstat(1).st_size), out))


def _install_stdio(log_fd: int) -> None:
    """stdout and stderr both go, unbuffered, to the log file the gateway reads."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace",
                                  write_through=True)


def _forget_platform_modules() -> None:
    # The handler's code directory comes first on sys.path; a user package named
    # like one of ours must not resolve to the copy the zygote imported.
    for name in list(sys.modules):
        if name in ("gateway", "_core") or name.startswith(("gateway.", "_core.")):
            del sys.modules[name]


def run(spec: dict, invoke_fd: int, result_fd: int, log_fd: int) -> int:
    """Entry point in the freshly forked child; returns the process exit status."""
    _install_stdio(log_fd)
    # as on AWS, where the code directory is read-only: no __pycache__ beside the user's code,
    # and no stale bytecode served after an edit within the same second
    sys.dont_write_bytecode = True
    os.environ.clear()
    os.environ.update(spec["env"])
    code_dir = spec["code_dir"]
    os.chdir(code_dir)
    sys.path[:] = [code_dir] + [p for p in spec["sys_path"] if p != code_dir]
    random.seed()
    for fd in (invoke_fd, result_fd):  # not for the handler's own child processes
        os.set_inheritable(fd, False)
    worker = WorkerLoop(spec, invoke_fd, result_fd)
    if spec.get("memory_limit_kb"):
        MemoryWatchdog(spec["memory_limit_kb"], spec.get("memory_poll_ms", 10) / 1000, worker.send,
                       worker.current).start()
    _forget_platform_modules()
    try:
        worker.serve()
        return 0
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code & 0xFF
        print(code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
