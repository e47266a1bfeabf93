"""lambdagate's Node.js and Java runtime clients, run as real processes against a tiny
Runtime API double (not lambdagate's server: that one is tested elsewhere).

The double serves queued events on GET /2018-06-01/runtime/invocation/next and records
what the runtime posts to .../response, .../error and /runtime/init/error.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

import pytest

from gateway.errors import RuntimeUnavailable
from gateway.scheduler import commands
from gateway.scheduler.commands import runtime_available, runtime_command

pytestmark = pytest.mark.integration   # starts real processes

HAVE_NODE = shutil.which("node") is not None
HAVE_JAVA = shutil.which("javac") is not None and shutil.which("java") is not None
needs_node = pytest.mark.skipif(not HAVE_NODE, reason="node is not installed")
needs_java = pytest.mark.skipif(not HAVE_JAVA, reason="javac/java (a JDK) is not installed")

PREFIX = "/2018-06-01/runtime/"


# ---------------------------------------------------------------------------- the Runtime API double

class RuntimeApiDouble:
    """Serves events in order; records posts as (kind, request_id, headers, body, monotonic time)."""

    def __init__(self, events: list, close_after_post: bool = False):
        self.events = list(events)
        self.close_after_post = close_after_post
        self.delivered: dict = {}  # request id -> monotonic time of delivery
        self.posts: list = []
        self.cond = threading.Condition()
        self.stopped = False
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body: bytes = b"", headers: Optional[dict] = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != PREFIX + "invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                with double.cond:
                    while not double.events and not double.stopped:
                        double.cond.wait(0.2)
                    if double.stopped:
                        self.close_connection = True
                        return
                    event = double.events.pop(0)
                    double.delivered[event["id"]] = time.monotonic()
                self._reply(200, event["body"], event["headers"])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == PREFIX + "init/error":
                    record = ("init_error", None, headers, body, time.monotonic())
                else:
                    m = re.fullmatch(PREFIX + r"invocation/([^/]+)/(response|error)", self.path)
                    if not m:
                        return self._reply(404, b'{"errorType":"NotFound"}')
                    record = (m.group(2), m.group(1), headers, body, time.monotonic())
                with double.cond:
                    double.posts.append(record)
                    double.cond.notify_all()
                if double.close_after_post:  # the runtime must open a new connection for `next`
                    self.close_connection = True
                    return self._reply(202, b'{"status":"OK"}', {"Connection": "close"})
                self._reply(202, b'{"status":"OK"}')

            def handle(self):
                try:
                    super().handle()
                except (ConnectionError, OSError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def wait(self, count: int, proc: subprocess.Popen, timeout: float) -> None:
        """Until `count` posts arrived, an init error arrived, or the process ended."""
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.posts) < count and not any(p[0] == "init_error" for p in self.posts):
                if proc.poll() is not None or time.monotonic() > end:
                    break
                self.cond.wait(0.05)

    def init_error_seen(self) -> bool:
        return any(p[0] == "init_error" for p in self.posts)

    def close(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def event(body=None, *, request_id: Optional[str] = None, deadline_in_ms: int = 30000, **extra) -> dict:
    request_id = request_id or str(uuid.uuid4())
    headers = {
        "Lambda-Runtime-Aws-Request-Id": request_id,
        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + deadline_in_ms),
        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
    }
    for key, value in extra.items():
        headers["Lambda-Runtime-" + key.replace("_", "-")] = value
    raw = body if isinstance(body, bytes) else json.dumps({} if body is None else body).encode()
    return {"id": request_id, "body": raw, "headers": headers}


class Run:
    def __init__(self, api: RuntimeApiDouble, output: str, returncode: Optional[int]):
        self.api = api
        self.posts = api.posts
        self.output = output
        self.returncode = returncode

    def kinds(self) -> list:
        return [p[0] for p in self.posts]

    def body(self, index: int = 0):
        return json.loads(self.posts[index][3])

    def header(self, index: int, name: str) -> Optional[str]:
        return self.posts[index][2].get(name.lower())

    @property
    def init_error(self):
        errors = [p for p in self.posts if p[0] == "init_error"]
        return (errors[0][2].get("lambda-runtime-function-error-type"), json.loads(errors[0][3])) if errors else None


def lambda_env(api: RuntimeApiDouble, code_dir: str, handler: str, runtime: str, extra: Optional[dict]) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": code_dir,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
    }
    env.update(extra or {})
    return env


def run(runtime: str, code_dir: str, handler: str, events: list, *, posts: Optional[int] = None,
        env: Optional[dict] = None, timeout: float = 15, exits: bool = False, close_after_post: bool = False) -> Run:
    """Start the worker command for `runtime`, serve `events`, stop it after `posts` posts."""
    argv = runtime_command(runtime, code_dir, handler)
    api = RuntimeApiDouble(events, close_after_post)
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, cwd=code_dir, env=lambda_env(api, code_dir, handler, runtime, env),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            api.wait(len(events) if posts is None else posts, proc, timeout)
            try:  # after an init error or a fatal error the runtime exits by itself
                returncode = proc.wait(5 if exits or api.init_error_seen() else 0.01)
            except subprocess.TimeoutExpired:
                returncode = None
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            api.close()
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    return Run(api, output, returncode)


def write_tree(root, files: dict) -> str:
    for name, text in files.items():
        path = os.path.join(str(root), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text).lstrip())
    return str(root)


@pytest.fixture(scope="module", autouse=True)
def java_cache(tmp_path_factory):
    """Compiled Java goes to a private XDG cache for these tests."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield os.environ["XDG_CACHE_HOME"]
    if old is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = old


# ---------------------------------------------------------------------------- commands

def test_provided_bootstrap_must_exist_and_be_executable(tmp_path):
    with pytest.raises(RuntimeUnavailable, match="bootstrap"):
        runtime_command("provided.al2023", str(tmp_path), "x")
    boot = tmp_path / "bootstrap"
    boot.write_text("#!/bin/sh\n")
    with pytest.raises(RuntimeUnavailable, match="not executable"):
        runtime_command("provided.al2", str(tmp_path), "x")
    boot.chmod(boot.stat().st_mode | stat.S_IXUSR)
    assert runtime_command("provided", str(tmp_path), "x") == [str(boot)]


def test_missing_executables_and_unknown_runtimes(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(commands.glob, "glob", lambda pattern: [])  # no JDKs under /usr/lib/jvm either
    with pytest.raises(RuntimeUnavailable, match=r"install Node.js .* to run nodejs20.x functions"):
        runtime_command("nodejs20.x", str(tmp_path), "index.handler")
    with pytest.raises(RuntimeUnavailable, match=r"'java' is not on PATH: install a JDK.* java21 functions"):
        runtime_command("java21", str(tmp_path), "a.B")
    ok, why = runtime_available("nodejs22.x")
    assert not ok and "install Node.js" in why
    with pytest.raises(RuntimeUnavailable, match="cannot run ruby3.3"):
        runtime_command("ruby3.3", str(tmp_path), "x")
    assert runtime_available("provided.al2")[0]


@needs_node
def test_node_command_line_and_memory_flags(tmp_path):
    node = shutil.which("node")
    assert runtime_command("nodejs20.x", str(tmp_path), "index.handler") == [
        node, "--expose-gc", "--max-http-header-size=81920", commands.NODE_BOOTSTRAP]
    assert runtime_command("nodejs22.x", str(tmp_path), "index.handler", memory_mb=1024)[3:5] == [
        "--max-semi-space-size=51", "--max-old-space-size=922"]  # AWS's bootstrap: new space = memory / 10


def test_provided_runtime_runs_its_bootstrap(tmp_path):
    """A `provided` function: its own bootstrap polls the Runtime API (here a Python script)."""
    code = write_tree(tmp_path, {"bootstrap": f"""
        #!{sys.executable}
        import json, os, urllib.request
        api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
        while True:
            with urllib.request.urlopen(api + "next") as r:
                rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.load(r)
            body = json.dumps({{"echo": event, "handler": os.environ["_HANDLER"]}}).encode()
            urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body)).read()
        """})
    os.chmod(os.path.join(code, "bootstrap"), 0o755)
    r = run("provided.al2023", code, "my.handler", [event({"a": 1})])
    assert r.kinds() == ["response"] and r.body() == {"echo": {"a": 1}, "handler": "my.handler"}


# ---------------------------------------------------------------------------- Node.js

NODE_APP = {
    "index.js": """
        exports.handler = async (event, context) => {
          console.log('hello %d', 42, { a: 1 });
          console.warn('line1\\nline2');
          return { got: event, id: context.awsRequestId };
        };
        exports.nested = { deep: { fn: async () => 'nested ok' } };
        exports.callback = (event, context, callback) => {
          if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
          setTimeout(() => console.log('timer fired'), event.delayMs);
          callback(null, { waited: context.callbackWaitsForEmptyEventLoop });
        };
        exports.callbackError = (event, context, callback) => callback(new TypeError('bad input'));
        exports.syncValue = () => 42;
        exports.throwsError = async () => { throw new RangeError('boom'); };
        exports.throwsString = async () => { throw 'oops'; };
        exports.throwsSync = () => { throw new Error('sync boom'); };
        exports.legacySucceed = (event, context) => context.succeed({ legacy: true });
        exports.context = async (event, context) => ({
          remaining: context.getRemainingTimeInMillis(),
          memory: context.memoryLimitInMB,
          functionName: context.functionName,
          functionVersion: context.functionVersion,
          arn: context.invokedFunctionArn,
          logGroupName: context.logGroupName,
          logStreamName: context.logStreamName,
          requestId: context.awsRequestId,
          clientContext: context.clientContext,
          identity: context.identity,
          waits: context.callbackWaitsForEmptyEventLoop,
          trace: process.env._X_AMZN_TRACE_ID,
        });
        exports.uncaught = async () => { setTimeout(() => { throw new Error('late failure'); }, 10); await new Promise(() => {}); };
        exports.rejection = async () => { Promise.reject(new Error('nobody listens')); await new Promise((r) => setTimeout(r, 200)); return 1; };
        exports.neverSettles = async () => new Promise(() => {});
        exports.lateThrow = async () => { setTimeout(() => { throw new Error('after the response'); }, 300); return 'ok'; };
        exports.streaming = awslambda.streamifyResponse(async (event, responseStream, context) => {
          responseStream.setContentType('text/plain');
          responseStream.write('chunk1 ');
          responseStream.end('chunk2');
        });
        exports.notAFunction = 3;
        exports.nodePath = async () => ({ nodePath: process.env.NODE_PATH, lib: require('esm/helper.cjs').name, gc: typeof gc });
    """,
    "esm/helper.cjs": """
        module.exports.name = 'found through NODE_PATH';
    """,
    "esm/app.mjs": """
        export const handler = async (event) => ({ esm: true, event });
    """,
    "mod/package.json": '{"type": "module"}',
    "mod/lib.js": """
        import path from 'node:path';
        export const handler = async () => ({ typeModule: path.basename(import.meta.url) });
    """,
    "common.cjs": """
        module.exports.handler = async () => 'from cjs';
    """,
    "broken.js": """
        exports.handler = async () => { return 1 +; };
    """,
    "needsdep.js": """
        const x = require('some-missing-package');
        exports.handler = async () => x;
    """,
    "initfail.js": """
        throw new Error('init went wrong');
    """,
}


@pytest.fixture(scope="module")
def node_app(tmp_path_factory):
    return write_tree(tmp_path_factory.mktemp("node-app"), NODE_APP)


@needs_node
def test_node_async_handler_two_invocations_and_console_format(node_app):
    r = run("nodejs20.x", node_app, "index.handler", [event({"n": 1}, request_id="req-1"), event({"n": 2}, request_id="req-2")])
    assert r.kinds() == ["response", "response"]
    assert r.body(0) == {"got": {"n": 1}, "id": "req-1"}
    assert r.body(1) == {"got": {"n": 2}, "id": "req-2"}
    assert r.posts[0][1] == "req-1" and r.header(0, "content-type") == "application/json"
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\treq-1\tINFO\thello 42 \{ a: 1 \}$", r.output, re.M), r.output
    assert re.search(r"\treq-2\tWARN\tline1\rline2$", r.output, re.M), r.output


@needs_node
def test_node_json_log_format(node_app):
    r = run("nodejs20.x", node_app, "index.handler", [event({}, request_id="req-j")], env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    lines = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert {"level": "INFO", "requestId": "req-j", "message": "hello 42 { a: 1 }"}.items() <= lines[0].items()
    assert lines[0]["timestamp"].endswith("Z") and lines[1]["level"] == "WARN"


@needs_node
@pytest.mark.parametrize("handler, expected", [
    ("esm/app.handler", {"esm": True, "event": {"k": "v"}}),
    ("mod/lib.handler", {"typeModule": "lib.js"}),
    ("common.handler", "from cjs"),
    ("index.nested.deep.fn", "nested ok"),
    ("index.legacySucceed", {"legacy": True}),
    ("index.syncValue", None),  # a non-async handler's return value is ignored (Node <= 22)
    ("index.nodePath", {"lib": "found through NODE_PATH", "gc": "function"}),
])
def test_node_module_kinds_and_handler_paths(node_app, handler, expected):
    r = run("nodejs20.x", node_app, handler, [event({"k": "v"})])
    assert r.kinds() == ["response"], r.output
    if handler == "index.nodePath":
        expected = dict(expected, nodePath=node_app)
    assert r.body() == expected


@needs_node
def test_node_callback_waits_for_empty_event_loop(node_app):
    r = run("nodejs20.x", node_app, "index.callback", [event({"delayMs": 400}, request_id="w")])
    assert r.kinds() == ["response"] and r.body() == {"waited": True}
    assert r.posts[0][4] - r.api.delivered["w"] >= 0.35  # posted once the timer ran
    assert "timer fired" in r.output


@needs_node
def test_node_callback_without_waiting(node_app):
    r = run("nodejs20.x", node_app, "index.callback", [event({"delayMs": 3000, "noWait": True}, request_id="nw")])
    assert r.kinds() == ["response"] and r.body() == {"waited": False}
    assert r.posts[0][4] - r.api.delivered["nw"] < 1.5


@needs_node
@pytest.mark.parametrize("handler, error_type, message, has_trace", [
    ("index.throwsError", "RangeError", "boom", True),
    ("index.throwsString", "string", "oops", False),
    ("index.throwsSync", "Error", "sync boom", True),
    ("index.callbackError", "TypeError", "bad input", True),
])
def test_node_handler_errors(node_app, handler, error_type, message, has_trace):
    r = run("nodejs20.x", node_app, handler, [event({}, request_id="e1"), event({}, request_id="e2")])
    assert r.kinds() == ["error", "error"], r.output  # the runtime keeps serving after an error
    body = r.body()
    assert body["errorType"] == error_type and body["errorMessage"] == message
    assert set(body) == {"errorType", "errorMessage", "trace"}
    if has_trace:
        assert body["trace"][0] == f"{error_type}: {message}" and "index.js" in body["trace"][1]
    else:
        assert body["trace"] == []
    assert re.search(r"\te1\tERROR\tInvoke Error \t\{\"errorType\":", r.output), r.output


@needs_node
@pytest.mark.parametrize("handler, error_type, message", [
    ("nothere.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'nothere'"),
    ("needsdep.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'some-missing-package'"),
    ("index.missing", "Runtime.HandlerNotFound", "index.missing is undefined or not exported"),
    ("index.notAFunction", "Runtime.HandlerNotFound", "index.notAFunction is not a function"),
    ("broken.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token"),
    ("index", "Runtime.MalformedHandlerName", "Bad handler"),
    ("../index.handler", "Runtime.MalformedHandlerName", "'../index.handler' is not a valid handler name."),
    ("initfail.handler", "Error", "init went wrong"),
])
def test_node_init_errors(node_app, handler, error_type, message):
    r = run("nodejs20.x", node_app, handler, [event({})])
    assert r.kinds() == ["init_error"], r.output
    header, body = r.init_error
    assert header == error_type and body["errorType"] == error_type
    assert body["errorMessage"].startswith(message), body
    assert isinstance(body["trace"], list)
    assert r.returncode == 129
    assert "\tundefined\tERROR\tUncaught Exception \t{" in r.output


@needs_node
def test_node_context(node_app):
    client_context = {"client": {"installation_id": "i-1", "app_title": "t"}, "custom": {"k": "v"}, "env": {"platform": "x"}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    r = run("nodejs20.x", node_app, "index.context", [
        event({}, request_id="ctx-1", deadline_in_ms=20000, Client_Context=json.dumps(client_context),
              Cognito_Identity=json.dumps(identity), Trace_Id="Root=1-5e1b4151-5ac6c58f5b5daa6532e9c2e3;Sampled=1"),
        event({}, request_id="ctx-2"),
    ])
    first, second = r.body(0), r.body(1)
    assert 15000 < first["remaining"] <= 20000
    assert first["memory"] == "256"  # a string, as on AWS
    assert first["functionName"] == "fn" and first["functionVersion"] == "$LATEST"
    assert first["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert first["logGroupName"] == "/aws/lambda/fn" and first["logStreamName"].startswith("2024/01/01/[$LATEST]")
    assert first["requestId"] == "ctx-1" and first["waits"] is True
    assert first["clientContext"] == client_context and first["identity"] == identity
    assert first["trace"] == "Root=1-5e1b4151-5ac6c58f5b5daa6532e9c2e3;Sampled=1"
    assert "clientContext" not in second and "identity" not in second and "trace" not in second


@needs_node
def test_node_uncaught_exception_posts_error_and_exits(node_app):
    r = run("nodejs20.x", node_app, "index.uncaught", [event({}), event({})], posts=1, exits=True)
    assert r.kinds() == ["error"] and r.body()["errorMessage"] == "late failure"
    assert r.returncode == 129 and "Uncaught Exception" in r.output


@needs_node
def test_node_uncaught_exception_while_waiting_for_next(node_app):
    """A timer of a finished invocation throws while `next` is pending: reported, then exit."""
    r = run("nodejs20.x", node_app, "index.lateThrow", [event({}, request_id="late")], posts=2, exits=True)
    assert r.kinds() == ["response", "error"] and r.posts[1][1] == "late"
    assert r.body(1)["errorMessage"] == "after the response" and r.returncode == 129


@needs_node
def test_node_unhandled_rejection(node_app):
    r = run("nodejs20.x", node_app, "index.rejection", [event({}), event({})], posts=1, exits=True)
    assert r.kinds() == ["error"]
    body = r.body()
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert body["errorMessage"] == "Error: nobody listens"
    assert r.returncode == 128


@needs_node
@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs24.x"])
def test_node_promise_that_never_settles(node_app, runtime):
    r = run(runtime, node_app, "index.neverSettles", [event({}), event({})])
    assert r.kinds() == ["error", "error"]
    assert r.body()["errorType"] == "Runtime.NodeJsExit"


@needs_node
def test_node_streaming_handler_is_buffered(node_app):
    r = run("nodejs20.x", node_app, "index.streaming", [event({})])
    assert r.kinds() == ["response"]
    assert r.posts[0][3] == b"chunk1 chunk2" and r.header(0, "content-type") == "text/plain"


@needs_node
def test_node24_rejects_callback_handlers_and_returns_sync_values(node_app):
    r = run("nodejs24.x", node_app, "index.callback", [event({})])
    assert r.init_error[0] == "Runtime.CallbackHandlerDeprecated"
    r = run("nodejs24.x", node_app, "index.syncValue", [event({})])
    assert r.kinds() == ["response"] and r.body() == 42


# ---------------------------------------------------------------------------- Java

JAVA_APP = {
    "src/example/Echo.java": """
        package example;

        import com.amazonaws.services.lambda.runtime.Context;
        import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
        import java.io.IOException;
        import java.io.InputStream;
        import java.io.OutputStream;

        public class Echo implements RequestStreamHandler {
            @Override
            public void handleRequest(InputStream input, OutputStream output, Context context) throws IOException {
                context.getLogger().log("echo " + context.getAwsRequestId() + "\\n");
                System.out.println("stdout line");
                input.transferTo(output);
            }
        }
    """,
    "src/example/Info.java": """
        package example;

        import com.amazonaws.services.lambda.runtime.Context;
        import java.util.LinkedHashMap;
        import java.util.Map;

        public class Info {
            public Map<String, Object> handle(Map<String, Object> event, Context context) {
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("event", event);
                out.put("requestId", context.getAwsRequestId());
                out.put("remaining", context.getRemainingTimeInMillis());
                out.put("memory", context.getMemoryLimitInMB());
                out.put("functionName", context.getFunctionName());
                out.put("version", context.getFunctionVersion());
                out.put("arn", context.getInvokedFunctionArn());
                out.put("logGroup", context.getLogGroupName());
                out.put("appTitle", context.getClientContext() == null ? null : context.getClientContext().getClient().getAppTitle());
                out.put("custom", context.getClientContext() == null ? null : context.getClientContext().getCustom());
                out.put("identityId", context.getIdentity() == null ? null : context.getIdentity().getIdentityId());
                return out;
            }
        }
    """,
    "src/example/Fail.java": """
        package example;

        import java.io.InputStream;
        import java.io.OutputStream;

        public class Fail {
            public void handleRequest(InputStream in, OutputStream out) {
                throw new IllegalStateException("java boom");
            }
        }
    """,
    "src/example/Greeter.java": """
        package example;

        import com.amazonaws.services.lambda.runtime.Context;
        import com.amazonaws.services.lambda.runtime.RequestHandler;
        import java.util.List;

        public class Greeter implements RequestHandler<Greeter.Person, Greeter.Greeting> {
            public static class Person {
                private String name;
                private List<Integer> scores;
                public void setName(String name) { this.name = name; }
                public void setScores(List<Integer> scores) { this.scores = scores; }
            }

            public static class Greeting {
                private final String text;
                private final int total;
                Greeting(String text, int total) { this.text = text; this.total = total; }
                public String getText() { return text; }
                public int getTotal() { return total; }
                public String getNothing() { return null; }
            }

            @Override
            public Greeting handleRequest(Person p, Context context) {
                return new Greeting("hello " + p.name, p.scores.stream().mapToInt(Integer::intValue).sum());
            }
        }
    """,
    "src/example/Broken.java": """
        package example;

        import com.amazonaws.services.lambda.runtime.Context;
        import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
        import java.io.InputStream;
        import java.io.OutputStream;

        public class Broken implements RequestStreamHandler {
            public Broken() {
                throw new IllegalArgumentException("bad configuration");
            }

            public void handleRequest(InputStream in, OutputStream out, Context context) {
            }
        }
    """,
}


@pytest.fixture(scope="module")
def java_app(tmp_path_factory):
    code = write_tree(tmp_path_factory.mktemp("java-app"), JAVA_APP)
    if HAVE_JAVA:
        runtime_command("java17", code, "example.Echo")  # compile now, not inside a timed test
    return code


@needs_java
def test_java_command_line(java_app):
    argv = runtime_command("java17", java_app, "example.Echo")
    assert os.path.basename(argv[0]) == "java" and argv[-1] == "lambdagate.runtime.Bootstrap"
    assert "-XX:+UseSerialGC" in argv and "-Xshare:auto" in argv
    classpath = argv[argv.index("-cp") + 1].split(os.pathsep)
    cache = os.path.join(os.environ["XDG_CACHE_HOME"], "lambdagate", "java")
    assert classpath[0].startswith(os.path.join(cache, "bootstrap-"))
    assert classpath[1:3] == [java_app, os.path.join(java_app, "lib", "*")]
    assert classpath[3].startswith(os.path.join(cache, "user-"))
    assert os.path.isfile(os.path.join(classpath[3], "example", "Echo.class"))
    assert runtime_command("java17", java_app, "example.Echo") == argv  # cached: same directories
    assert "-XX:TieredStopAtLevel=1" in argv  # java17+, as AWS
    assert "-XX:TieredStopAtLevel=1" not in runtime_command("java11", java_app, "example.Echo")
    assert runtime_command("java17", java_app, "example.Echo", memory_mb=512)[1] == "-XX:MaxHeapSize=445645k"


JDK25 = next((h for h in sorted(glob.glob("/usr/lib/jvm/*")) if commands._release_major(h) == "25"), None)


@needs_java
@pytest.mark.skipif(JDK25 is None, reason="no JDK 25 under /usr/lib/jvm")
def test_java25_runs_on_a_jdk_25(java_app):
    argv = runtime_command("java25", java_app, "example.Echo")
    assert argv[0] == os.path.join(JDK25, "bin", "java")
    r = run("java25", java_app, "example.Echo", [event({"on": 25})])
    assert r.kinds() == ["response"] and r.body() == {"on": 25}, r.output


@needs_java
def test_java_stream_handler_echo(java_app):
    r = run("java17", java_app, "example.Echo", [event({"x": [1, 2]}, request_id="j-1"), event(b'"second"', request_id="j-2")])
    assert r.kinds() == ["response", "response"], r.output
    assert r.body(0) == {"x": [1, 2]} and r.body(1) == "second"
    assert "echo j-1\n" in r.output and "stdout line" in r.output


@needs_java
def test_java_json_log_format(java_app):
    r = run("java17", java_app, "example.Fail::handleRequest", [event({}, request_id="jj")],
            env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    lines = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert lines and lines[0]["level"] == "ERROR" and lines[0]["AWSRequestId"] == "jj"
    assert lines[0]["message"].startswith("java boom: java.lang.IllegalStateException\n")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[0]["timestamp"])


@needs_java
def test_java_pojo_method_and_context(java_app):
    r = run("java21", java_app, "example.Info::handle", [
        event({"k": "v", "n": 3}, request_id="ji", deadline_in_ms=60000,
              Client_Context=json.dumps({"client": {"app_title": "app"}, "custom": {"c": "d"}, "env": {}}),
              Cognito_Identity=json.dumps({"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"}))])
    assert r.kinds() == ["response"], r.output
    body = r.body()
    assert body["event"] == {"k": "v", "n": 3} and body["requestId"] == "ji"
    assert 50000 < body["remaining"] <= 60000 and body["memory"] == 256
    assert body["functionName"] == "fn" and body["version"] == "$LATEST" and body["logGroup"] == "/aws/lambda/fn"
    assert body["arn"].endswith(":function:fn")
    assert body["appTitle"] == "app" and body["custom"] == {"c": "d"} and body["identityId"] == "cid"


@needs_java
def test_java_request_handler_beans(java_app):
    r = run("java17", java_app, "example.Greeter", [event({"name": "Ada", "scores": [1, 2, 3], "extra": True})])
    assert r.kinds() == ["response"], r.output
    assert r.body() == {"text": "hello Ada", "total": 6}


@needs_java
def test_java_exception(java_app):
    r = run("java17", java_app, "example.Fail::handleRequest", [event({}), event({})])
    assert r.kinds() == ["error", "error"], r.output
    body = r.body()
    assert body["errorType"] == "java.lang.IllegalStateException" and body["errorMessage"] == "java boom"
    assert body["stackTrace"][0].startswith("example.Fail.handleRequest(Fail.java:")
    assert not any("lambdagate" in line for line in body["stackTrace"])
    assert r.header(0, "Lambda-Runtime-Function-Error-Type") == "Runtime.UserException"
    assert "java boom: java.lang.IllegalStateException\njava.lang.IllegalStateException: java boom" in r.output


@needs_java
def test_java_class_not_found_fails_each_invocation(java_app):
    r = run("java17", java_app, "example.Nope::handleRequest", [event({}), event({})])
    assert r.kinds() == ["error", "error"], r.output  # as AWS: not an init error
    assert r.body(0) == {"errorMessage": "Class not found: example.Nope", "errorType": "java.lang.ClassNotFoundException"}
    assert r.header(0, "Lambda-Runtime-Function-Error-Type") == "Runtime.BadFunctionCode"


@needs_java
def test_java_method_not_found(java_app):
    r = run("java17", java_app, "example.Echo::nope", [event({})])
    assert r.body() == {"errorMessage": "No public method named nope with appropriate method signature found on class example.Echo"}


@needs_java
def test_java_constructor_failure_is_an_init_error(java_app):
    r = run("java17", java_app, "example.Broken", [event({})])
    assert r.init_error == ("Runtime.BadFunctionCode",
                            {"errorMessage": "bad configuration", "errorType": "java.lang.IllegalArgumentException"})
    assert r.returncode == 1


@needs_java
def test_java_compile_error_is_reported(tmp_path):
    code = write_tree(tmp_path, {"example/Bad.java": "package example; public class Bad { int x = ; }"})
    with pytest.raises(RuntimeUnavailable, match=r"javac could not compile the Java sources(.|\n)*Bad\.java"):
        runtime_command("java17", code, "example.Bad")


@needs_java
def test_java_concurrent_compiles_agree(tmp_path):
    """Three processes compile the same sources at once: one cache directory, no torn output."""
    code = write_tree(tmp_path / "code", {"p/H.java": "package p; public class H { public String h() { return \"x\"; } }"})
    script = ("import json, sys; from gateway.scheduler.commands import runtime_command; "
              "print(json.dumps(runtime_command('java17', sys.argv[1], 'p.H::h')))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(commands.__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    procs = [subprocess.Popen([sys.executable, "-c", script, code], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    outs = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert outs[0] == outs[1] == outs[2]
    user_dir = outs[0][outs[0].index("-cp") + 1].split(os.pathsep)[-1]
    assert os.path.isfile(os.path.join(user_dir, "p", "H.class"))
    leftovers = [n for n in os.listdir(os.path.dirname(user_dir)) if n.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize("runtime, handler", [
    pytest.param("nodejs20.x", "esm/app.handler", marks=needs_node),
    pytest.param("java17", "example.Echo", marks=needs_java),
])
def test_large_payloads_and_closed_connections(node_app, java_app, runtime, handler):
    """3 MB events and results, and a server that closes the connection after each post."""
    big = {"blob": "x" * (3 * 1024 * 1024), "unicode": "h\u00e9llo \u2603"}
    code = node_app if runtime.startswith("node") else java_app
    r = run(runtime, code, handler, [event(big), event({"n": 2})], close_after_post=True)
    assert r.kinds() == ["response", "response"], r.output
    result = r.body(0)
    assert (result["event"] if runtime.startswith("node") else result) == big


def test_commands_module_is_small():
    with open(commands.__file__) as f:
        assert sum(1 for _ in f) < 220
