"""The handler contract of AWS's Python runtime (aws-contract.md §4): context, logging, errors,
marshalling, Init failures and process exits, through real workers."""
from __future__ import annotations

import datetime
import json
import os
import re

import pytest

pytestmark = pytest.mark.integration   # starts real processes

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ISO_MS_Z = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"


def invoke_each(run, open_scheduler, spec, events, **invoke_kwargs):
    """Invoke spec once per event (in order) on one scheduler; the InvokeResults."""
    async def body():
        async with open_scheduler([spec]) as s:
            return [await s.invoke(spec.logical_id, json.dumps(e).encode() if not isinstance(e, bytes) else e,
                                   want_log=True, **invoke_kwargs) for e in events]
    return run(body())


def function_output(result) -> list:
    """The lines between START and END of one invocation's log."""
    lines = result.log.decode().split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("START RequestId: "))
    end = next(i for i, line in enumerate(lines) if line.startswith("END RequestId: "))
    return lines[start + 1:end]


def report_of(result) -> str:
    return next(line for line in result.log.decode().split("\n") if line.startswith("REPORT RequestId: "))


# ----------------------------------------------------------------------------- context

CONTEXT = """
import time

def handler(event, context):
    r1 = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    r2 = context.get_remaining_time_in_millis()
    cc = context.client_context
    client = None
    if cc is not None and cc.client is not None:
        client = {k: getattr(cc.client, k) for k in ("installation_id", "app_title", "app_version_name",
                                                     "app_version_code", "app_package_name")}
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "memory_type": type(context.memory_limit_in_mb).__name__,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": [type(context.identity).__name__, context.identity.cognito_identity_id,
                     context.identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {"custom": cc.custom, "env": cc.env, "client": client},
        "remaining": [r1, r2],
    }
"""

CLIENT_CONTEXT = {
    "client": {"installation_id": "install-1", "app_title": "Title", "app_version_name": "1.2.3",
               "app_version_code": "123", "app_package_name": "com.example"},
    "custom": {"k": "v"},
    "env": {"platform": "Android"},
}


def test_context_attributes(run, make_function, open_scheduler):
    spec = make_function(CONTEXT, function_name="ctx-fn", memory_mb=192, timeout_s=3)
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    ctx = json.loads(result.payload)
    assert ctx["aws_request_id"] == result.request_id
    assert re.fullmatch(UUID, result.request_id)
    assert ctx["function_name"] == "ctx-fn"
    assert ctx["memory_limit_in_mb"] == "192"
    assert ctx["memory_type"] == "str"                      # a string, as on AWS
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ctx-fn"
    assert ctx["log_group_name"] == "/aws/lambda/ctx-fn"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", ctx["log_stream_name"])
    assert ctx["identity"] == ["CognitoIdentity", None, None]
    assert ctx["client_context"] is None
    r1, r2 = ctx["remaining"]
    assert 3000 - 500 < r1 <= 3000
    assert r2 < r1


def test_context_with_client_context_and_a_qualified_arn(run, make_function, open_scheduler):
    spec = make_function(CONTEXT, function_name="ctx-fn")
    arn = spec.arn + ":live"
    [result] = invoke_each(run, open_scheduler, spec, [{}], client_context=json.dumps(CLIENT_CONTEXT),
                           invoked_arn=arn)
    ctx = json.loads(result.payload)
    assert ctx["invoked_function_arn"] == arn
    assert ctx["client_context"] == CLIENT_CONTEXT


def test_unparseable_client_context_is_a_context_unmarshal_error(run, make_function, open_scheduler):
    spec = make_function(CONTEXT)
    [result] = invoke_each(run, open_scheduler, spec, [{}], client_context="{not json")
    error = json.loads(result.payload)
    assert error["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert error["errorMessage"].startswith("Unable to parse Client Context JSON: ")


# ----------------------------------------------------------------------------- logging

LOGGING = """
import logging, sys

def handler(event, context):
    print("printed line")
    logging.getLogger().warning("careful %s", 42)
    logging.getLogger().info("not shown at the default level")
    context.log("via context.log\\n")
    print("to stderr", file=sys.stderr)
    return "ok"
"""


def test_print_and_logging_appear_between_start_and_end_in_lambdas_text_format(run, make_function,
                                                                               open_scheduler):
    spec = make_function(LOGGING)
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    assert result.payload == b'"ok"'
    lines = function_output(result)
    assert lines[0] == "printed line"
    m = re.fullmatch(rf"\[WARNING\]\t({ISO_MS_Z})\t({UUID})\tcareful 42", lines[1])
    assert m, lines[1]
    assert m.group(2) == result.request_id
    stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - stamp).total_seconds()) < 60   # UTC, not local
    assert lines[2] == "via context.log"
    assert lines[3] == "to stderr"                          # stderr is captured too
    assert len(lines) == 4
    assert "not shown at the default level" not in result.log.decode()


def test_json_log_format(run, make_function, open_scheduler):
    spec = make_function(LOGGING + "\ndef failing(event, context):\n    raise KeyError('k')\n",
                         log_format="JSON")
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    lines = function_output(result)
    assert lines[0] == "printed line"                        # print() output is not wrapped
    record = json.loads(lines[1])
    assert re.fullmatch(ISO_MS_Z, record.pop("timestamp"))
    assert record == {"level": "WARNING", "message": "careful 42", "logger": "root",
                      "requestId": result.request_id}


def test_json_log_format_of_an_unhandled_error(run, make_function, open_scheduler):
    spec = make_function("def handler(event, context):\n    raise KeyError('k')\n", log_format="JSON")
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    [line] = [line for line in function_output(result) if line]
    record = json.loads(line)
    assert record["level"] == "ERROR"
    assert record["errorType"] == "KeyError"
    assert record["errorMessage"] == "'k'"
    assert record["requestId"] == result.request_id
    assert isinstance(record["stackTrace"], list) and record["stackTrace"]
    assert "timestamp" in record


# ----------------------------------------------------------------------------- errors from user code

RAISING = """
class CustomError(Exception):
    pass

def helper():
    raise CustomError("boom")

def handler(event, context):
    helper()
"""


def test_unhandled_exception_gives_awss_error_object_and_log_line(run, make_function, open_scheduler):
    spec = make_function(RAISING)
    app = os.path.join(spec.code_dir, "app.py")
    with open(app) as f:
        source = f.read().split("\n")
    call_line = source.index("    helper()") + 1
    raise_line = source.index('    raise CustomError("boom")') + 1
    [result] = invoke_each(run, open_scheduler, spec, [{}])

    assert result.status == "error"
    assert result.function_error == "CustomError"
    error = json.loads(result.payload)
    assert list(error) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert error["errorMessage"] == "boom"
    assert error["errorType"] == "CustomError"                 # the bare class name
    assert error["requestId"] == result.request_id
    # only the user's frames: none of lambdagate's runtime
    assert error["stackTrace"] == [
        f'  File "{app}", line {call_line}, in handler\n    helper()\n',
        f'  File "{app}", line {raise_line}, in helper\n    raise CustomError("boom")\n',
    ]
    nbsp = "\u00a0"
    expected_log = "\r".join([
        "[ERROR] CustomError: boom",
        "Traceback (most recent call last):",
        f'{nbsp * 2}File "{app}", line {call_line}, in handler',
        f"{nbsp * 4}helper()",
        f'{nbsp * 2}File "{app}", line {raise_line}, in helper',
        f'{nbsp * 4}raise CustomError("boom")',
    ])
    assert function_output(result) == [expected_log]
    assert report_of(result).endswith("\tStatus: error\tError Type: CustomError")


def test_worker_survives_a_handled_error(run, make_function, open_scheduler):
    # a token made at import names the environment (a handler's own pid is 2 in every PID namespace)
    code = "import uuid\nTOKEN = uuid.uuid4().hex\ndef handler(event, context):\n    if event.get('fail'):\n" \
           "        raise ValueError('x')\n    return TOKEN\n"
    spec = make_function(code)
    ok1, failed, ok2 = invoke_each(run, open_scheduler, spec, [{}, {"fail": True}, {}])
    assert failed.function_error == "ValueError"
    assert ok1.payload == ok2.payload                         # same environment before and after
    assert ok2.init_duration_ns == 0


# ----------------------------------------------------------------------------- Init failures

INIT_FAILURES = [
    pytest.param("missing.handler", None, "Runtime.ImportModuleError",
                 "Unable to import module 'missing': No module named 'missing'", id="import-module-error"),
    pytest.param("app.nope", "def handler(event, context):\n    return 1\n", "Runtime.HandlerNotFound",
                 "Handler 'nope' missing on module 'app'", id="handler-not-found"),
    pytest.param("apphandler", "def handler(event, context):\n    return 1\n", "Runtime.MalformedHandlerName",
                 "Bad handler 'apphandler': not enough values to unpack (expected 2, got 1)", id="malformed-name"),
    pytest.param("sys.handler", None, "Runtime.BuiltInModuleConflict",
                 "Cannot use built-in module sys as a handler module", id="builtin-module"),
    pytest.param("app.handler", "import nonexistent_dependency_xyz\ndef handler(event, context):\n    return 1\n",
                 "Runtime.ImportModuleError",
                 "Unable to import module 'app': No module named 'nonexistent_dependency_xyz'", id="missing-dep"),
]


@pytest.mark.parametrize("handler, code, error_type, message", INIT_FAILURES)
def test_init_failures(run, make_function, open_scheduler, handler, code, error_type, message):
    spec = make_function(code, handler=handler)
    first, second = invoke_each(run, open_scheduler, spec, [{}, {}])
    for result in (first, second):                              # init is retried on the next invocation
        assert result.status == "error"
        assert result.function_error == error_type
        assert result.init_duration_ns > 0
        error = json.loads(result.payload)
        assert error == {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
        log = result.log.decode()
        assert "LAMBDA_WARNING: Unhandled exception." in log
        assert f"[ERROR] {error_type}: {message}\rTraceback (most recent call last):\n" in log
        assert report_of(result).endswith(f"\tStatus: error\tError Type: {error_type}")


def test_syntax_error(run, make_function, open_scheduler):
    spec = make_function("def handler(event, context)\n    return 1\n")
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    error = json.loads(result.payload)
    assert error["errorType"] == result.function_error == "Runtime.UserCodeSyntaxError"
    assert error["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "line 1" in error["errorMessage"]
    [frame] = error["stackTrace"]
    assert frame.startswith(f'  File "{os.path.join(spec.code_dir, "app.py")}" Line 1\n    def handler(event, context)')


def test_exception_while_importing_the_module(run, make_function, open_scheduler):
    spec = make_function("raise RuntimeError('no config')\ndef handler(event, context):\n    return 1\n")
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    error = json.loads(result.payload)
    assert error["errorType"] == result.function_error == "RuntimeError"
    assert error["errorMessage"] == "no config"
    assert any(f'File "{os.path.join(spec.code_dir, "app.py")}", line 1' in frame for frame in error["stackTrace"])


def test_fixing_the_code_after_an_init_failure_needs_no_restart(run, make_function, open_scheduler):
    spec = make_function(None, handler="later.handler")

    async def body():
        async with open_scheduler([spec]) as s:
            failed = await s.invoke(spec.logical_id, b"{}")
            with open(os.path.join(spec.code_dir, "later.py"), "w") as f:
                f.write("def handler(event, context):\n    return 'fixed'\n")
            fixed = await s.invoke(spec.logical_id, b"{}")
            return failed, fixed

    failed, fixed = run(body())
    assert failed.function_error == "Runtime.ImportModuleError"
    assert fixed.status == "success" and fixed.payload == b'"fixed"'


def test_init_failure_log_has_an_init_report_line(run, make_function, open_scheduler):
    spec = make_function(None, handler="missing.handler")
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    lines = result.log.decode().split("\n")
    kinds = [line.split(" ", 1)[0].split("\t", 1)[0] for line in lines if line]
    # INIT_START, the runtime's warning and error, INIT_REPORT, then the invocation's START/END/REPORT
    assert kinds == ["INIT_START", "[WARNING]", "[ERROR]", "INIT_REPORT", "START", "END", "REPORT"], lines
    [init_report] = [line for line in lines if line.startswith("INIT_REPORT")]
    assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: (init|invoke)\tStatus: error\t"
                        r"Error Type: Runtime\.ImportModuleError", init_report), init_report


# ----------------------------------------------------------------------------- marshalling

RETURNS = """
import uuid

TOKEN = uuid.uuid4().hex      # made at import: names the environment (its pid is 2 in any PID namespace)

def handler(event, context):
    kind = event["kind"]
    if kind == "set":
        return {1, 2}
    if kind == "bytes":
        return b"\\x00\\xffraw bytes\\n"
    if kind == "none":
        return None
    if kind == "unicode":
        return {"text": "h\\u00e9llo \\u2603"}
    return TOKEN
"""


def test_return_values_are_marshalled_like_awslambdaric(run, make_function, open_scheduler):
    spec = make_function(RETURNS)
    pid1, as_set, as_bytes, as_none, as_unicode, pid2 = invoke_each(
        run, open_scheduler, spec, [{"kind": k} for k in ("pid", "set", "bytes", "none", "unicode", "pid")])
    assert as_set.function_error == "Runtime.MarshalError"
    assert json.loads(as_set.payload) == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError", "requestId": as_set.request_id, "stackTrace": []}
    assert as_bytes.status == "success"
    assert as_bytes.payload == b"\x00\xffraw bytes\n"           # raw, not JSON
    assert as_none.status == "success" and as_none.payload == b"null"
    assert json.loads(as_unicode.payload) == {"text": "h\u00e9llo \u2603"}
    assert pid1.payload == pid2.payload                          # a marshal error does not kill the worker


# ----------------------------------------------------------------------------- process exits

# TOKEN, made at import, names the execution environment (the handler's own pid is 2 in every PID namespace)
EXITING = """
import os, signal, sys, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    how = event.get("how")
    print("about to", how)
    if how == "sys.exit":
        sys.exit(3)
    if how == "os._exit":
        os._exit(0)
    if how == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    return TOKEN
"""


@pytest.mark.parametrize("how, reason", [
    ("sys.exit", "Runtime exited with error: exit status 3"),
    ("os._exit", "Runtime exited without providing a reason"),
    ("segv", "Runtime exited with error: signal: segmentation fault"),
])
def test_process_exit_during_an_invocation(run, make_function, open_scheduler, kit, how, reason):
    spec = make_function(EXITING)

    async def body():
        async with open_scheduler([spec]) as s:
            before = await s.invoke(spec.logical_id, b"{}")
            [old_pid] = s.worker_pids(spec.logical_id)
            crashed = await s.invoke(spec.logical_id, json.dumps({"how": how}).encode(), want_log=True)
            old_gone = await kit.async_still_there([old_pid], timeout_s=2.0)
            after = await s.invoke(spec.logical_id, b"{}")
            return before, crashed, after, old_gone, old_pid, s.worker_pids(spec.logical_id), s.totals(spec.logical_id)

    before, crashed, after, old_gone, old_pid, new_pids, totals = run(body())
    message = f"RequestId: {crashed.request_id} Error: {reason}"
    assert crashed.status == "error"
    assert crashed.function_error == "Runtime.ExitError"
    assert json.loads(crashed.payload) == {"errorType": "Runtime.ExitError", "errorMessage": message}
    lines = function_output(crashed)
    assert f"about to {how}" in lines
    assert message in lines
    assert report_of(crashed).endswith("\tStatus: error\tError Type: Runtime.ExitError")
    assert old_gone == []
    # the environment is reset: the next invocation works, on a new worker
    assert after.status == "success"
    assert json.loads(after.payload) != json.loads(before.payload)
    assert len(new_pids) == 1 and new_pids != [old_pid]
    assert after.init_duration_ns > 0
    assert totals["errors"] == 1 and totals["cold_starts"] == 2


def test_process_exit_during_init_names_the_request(run, make_function, open_scheduler):
    spec = make_function("import os\nos._exit(1)\ndef handler(event, context):\n    return 1\n")
    [result] = invoke_each(run, open_scheduler, spec, [{}])
    error = json.loads(result.payload)
    assert error["errorType"] == result.function_error == "Runtime.ExitError"
    assert f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 1" in error["errorMessage"]


def test_process_exit_during_init_is_an_exit_error(run, make_function, open_scheduler):
    spec = make_function("import os\nos._exit(1)\ndef handler(event, context):\n    return 1\n")
    first, second = invoke_each(run, open_scheduler, spec, [{}, {}])
    for result in (first, second):
        error = json.loads(result.payload)
        assert error["errorType"] == result.function_error == "Runtime.ExitError"
        assert error["errorMessage"].endswith("Runtime exited with error: exit status 1")
        assert result.init_duration_ns > 0
        assert report_of(result).endswith("\tStatus: error\tError Type: Runtime.ExitError")


# ----------------------------------------------------------------------------- payload limits

def test_request_over_6_mb_is_refused_before_any_worker_starts(run, make_function, open_scheduler):
    from gateway.errors import PayloadTooLarge

    spec = make_function(RETURNS)
    limit = 6 * 1024 * 1024

    async def body():
        async with open_scheduler([spec]) as s:
            try:
                await s.invoke(spec.logical_id, b'"' + b"x" * (limit - 1) + b'"')
                refused = None
            except PayloadTooLarge as exc:
                refused = exc
            return refused, s.worker_pids(), s.totals(spec.logical_id)

    refused, pids, totals = run(body())
    assert refused is not None and refused.size == limit + 1 and refused.limit == limit
    assert pids == []
    assert totals["invocations"] == 0


def test_response_over_the_limit_is_function_response_size_too_large(run, make_function, open_scheduler):
    code = "def handler(event, context):\n    return 'x' * event['n']\n"
    spec = make_function(code, memory_mb=512)
    limit = 6 * 1024 * 1024 + 100             # RIE's MaxPayloadSize, 6291556 bytes
    just_fits, too_big = invoke_each(run, open_scheduler, spec, [{"n": limit - 2}, {"n": limit - 1}])
    assert just_fits.status == "success" and len(just_fits.payload) == limit
    assert too_big.function_error == "Function.ResponseSizeTooLarge"
    assert json.loads(too_big.payload) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge"}
