"""The Runtime API endpoint (state machine over real HTTP) and Runtime API workers
through the scheduler: a curl bootstrap as in AWS's custom-runtime tutorial, the
official awslambdaric client, and the platform failures (timeout, crash, memory)."""
import asyncio
import http.client
import json
import os
import shutil
import stat
import sys
import textwrap
import time

import pytest
import uvloop

from gateway import wire
from gateway.scheduler.runtime_api import RuntimeEndpoint
from gateway.errors import LambdagateError
from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.types import FunctionSpec

pytestmark = pytest.mark.integration   # starts real processes

HEADER = wire.invoke_header("req-1", 1_900_000_000_000, "arn:aws:lambda:us-east-1:123456789012:function:f",
                            '{"custom": {"a": 1}}', None, "Root=1-5e34a614-10bdxmplf1fb44f07bc535a1;Parent=1;Sampled=0")


def run(coro):
    return uvloop.run(coro)


async def _request(port, method, path, body=None, headers=None):
    def call():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        out = (resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        conn.close()
        return out
    return await asyncio.get_running_loop().run_in_executor(None, call)


# --------------------------------------------------------------------------- the endpoint alone

def test_endpoint_state_machine():
    async def main():
        ready = []
        endpoint = RuntimeEndpoint(ready.append)
        api = await endpoint.start()
        port = int(api.rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()
        try:
            # the runtime asks first (Init is over), the invocation arrives later
            pending_next = asyncio.ensure_future(_request(port, "GET", "/2018-06-01/runtime/invocation/next"))
            for _ in range(200):
                if ready:
                    break
                await asyncio.sleep(0.005)
            assert ready == [None]
            outcome = loop.create_future()
            endpoint.dispatch(HEADER, b'{"x": 1}', outcome)
            status, headers, body = await pending_next
            assert status == 200 and body == b'{"x": 1}'
            assert headers["lambda-runtime-aws-request-id"] == "req-1"
            assert headers["lambda-runtime-deadline-ms"] == "1900000000000"
            assert headers["lambda-runtime-invoked-function-arn"].endswith(":function:f")
            assert headers["lambda-runtime-trace-id"].startswith("Root=1-")
            assert json.loads(headers["lambda-runtime-client-context"]) == {"custom": {"a": 1}}
            assert "lambda-runtime-cognito-identity" not in headers
            assert headers["content-type"] == "application/json"

            # next again before answering: wrong lifecycle state
            status, _, body = await _request(port, "GET", "/2018-06-01/runtime/invocation/next")
            assert status == 403 and json.loads(body)["errorType"] == "InvalidStateTransition"
            # a wrong id
            status, _, body = await _request(port, "POST", "/2018-06-01/runtime/invocation/nope/response", b"{}")
            assert status == 400
            assert json.loads(body) == {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"}
            # the answer
            status, _, body = await _request(port, "POST", "/2018-06-01/runtime/invocation/req-1/response",
                                             b'{"ok": true}')
            assert status == 202 and json.loads(body) == {"status": "OK"}
            error_type, payload, duration_ns = await outcome
            assert error_type is None and payload == b'{"ok": true}' and duration_ns > 0
            # answering twice
            status, _, _ = await _request(port, "POST", "/2018-06-01/runtime/invocation/req-1/response", b"{}")
            assert status == 400
            status, _, _ = await _request(port, "POST", "/2018-06-01/runtime/invocation/req-1/error", b"{}")
            assert status == 400
            # init error after init
            status, _, body = await _request(port, "POST", "/2018-06-01/runtime/init/error", b"{}")
            assert status == 403
            # unknown path
            status, _, _ = await _request(port, "GET", "/2018-06-01/runtime/whatever")
            assert status == 404
        finally:
            endpoint.close()
    run(main())


def test_endpoint_error_and_oversized_response():
    async def main():
        endpoint = RuntimeEndpoint(lambda error: None)
        port = int((await endpoint.start()).rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()
        try:
            outcome = loop.create_future()
            endpoint.dispatch(HEADER, b"{}", outcome)
            status, headers, _ = await _request(port, "GET", "/2018-06-01/runtime/invocation/next")
            assert status == 200
            error = {"errorMessage": "boom", "errorType": "MyError", "stackTrace": []}
            status, _, _ = await _request(port, "POST", "/2018-06-01/runtime/invocation/req-1/error",
                                          json.dumps(error).encode(),
                                          {"Lambda-Runtime-Function-Error-Type": "Unhandled"})
            assert status == 202
            error_type, payload, _ = await outcome
            # the body's errorType wins: awslambdaric sends no header on invocation errors
            assert error_type == "MyError" and json.loads(payload) == error

            header = HEADER._replace(request_id="req-2")
            outcome = loop.create_future()
            endpoint.dispatch(header, b"{}", outcome)
            await _request(port, "GET", "/2018-06-01/runtime/invocation/next")
            big = b'"' + b"x" * (6 * 1024 * 1024 + 200) + b'"'
            status, _, body = await _request(port, "POST", "/2018-06-01/runtime/invocation/req-2/response", big)
            assert status == 413 and json.loads(body)["errorType"] == "RequestEntityTooLarge"
            error_type, payload, _ = await outcome
            assert error_type == "Function.ResponseSizeTooLarge"
        finally:
            endpoint.close()
    run(main())


def test_endpoint_init_error():
    async def main():
        seen = []
        endpoint = RuntimeEndpoint(seen.append)
        port = int((await endpoint.start()).rsplit(":", 1)[1])
        try:
            body = json.dumps({"errorMessage": "no module", "errorType": "Runtime.ImportModuleError"}).encode()
            status, _, _ = await _request(port, "POST", "/2018-06-01/runtime/init/error", body,
                                          {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
            assert status == 202
            assert seen == [("Runtime.ImportModuleError", body)]
            status, _, _ = await _request(port, "POST", "/2018-06-01/runtime/init/error", body)
            assert status == 403
        finally:
            endpoint.close()
    run(main())


# --------------------------------------------------------------------------- through the scheduler

# TOKEN names the execution environment ($$ would not: in a PID namespace it is the same in every one;
# the host's pids are Scheduler.worker_pids)
CURL_BOOTSTRAP = """\
#!/bin/sh
set -eu
HEADERS="$(mktemp)"
TOKEN="$(cat /proc/sys/kernel/random/uuid)"
while true; do
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "handling $REQUEST_ID"
  case "$EVENT_DATA" in
    *sleep*) sleep 5 ;;
    *crash*) exit 3 ;;
    *fail*) curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/error" \\
              -d '{"errorMessage":"shell failed","errorType":"ShellError"}' \\
              -H "Lambda-Runtime-Function-Error-Type: Unhandled" > /dev/null; continue ;;
  esac
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" \\
    -d "{\\"echo\\": $EVENT_DATA, \\"fn\\": \\"$AWS_LAMBDA_FUNCTION_NAME\\", \\"token\\": \\"$TOKEN\\"}" > /dev/null
done
"""


def _write_bootstrap(code_dir, text):
    path = code_dir / "bootstrap"
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _spec(code_dir, name="Shell", runtime="provided.al2023", timeout_s=1, memory_mb=128, handler="function.handler"):
    return FunctionSpec(name, name, handler, runtime, str(code_dir), timeout_s=timeout_s, memory_mb=memory_mb)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(pid, timeout_s=5.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed (.ci/run installs it)")
def test_curl_bootstrap_warm_error_timeout_crash(tmp_path):
    _write_bootstrap(tmp_path, CURL_BOOTSTRAP)

    async def main():
        sched = Scheduler([_spec(tmp_path)], Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            first = await sched.invoke("Shell", b'{"a": 1}', want_log=True)
            assert first.function_error is None, first.payload
            body = json.loads(first.payload)
            assert body["echo"] == {"a": 1} and body["fn"] == "Shell"
            assert first.init_duration_ns > 0
            assert f"handling {first.request_id}" in first.log.decode()
            [pid] = sched.worker_pids("Shell")
            second = await sched.invoke("Shell", b'{"a": 2}')
            assert json.loads(second.payload)["token"] == body["token"]  # warm: the same environment
            assert sched.worker_pids("Shell") == [pid]                   # ... and the same process
            assert second.init_duration_ns == 0

            failed = await sched.invoke("Shell", b'{"fail": 1}')
            assert failed.function_error == "ShellError"
            assert json.loads(failed.payload)["errorMessage"] == "shell failed"

            t0 = time.monotonic()
            timed_out = await sched.invoke("Shell", b'{"sleep": 1}', want_log=True)
            elapsed_s = time.monotonic() - t0
            assert timed_out.function_error == "Sandbox.Timedout"
            assert 1.0 <= elapsed_s < 2.0
            assert "Status: timeout" in timed_out.log.decode()
            assert _wait_gone(pid)

            after = await sched.invoke("Shell", b'{"a": 3}')
            assert after.function_error is None and after.init_duration_ns > 0
            assert json.loads(after.payload)["token"] != body["token"]
            assert sched.worker_pids("Shell") not in ([], [pid])
            crashed = await sched.invoke("Shell", b'{"crash": 1}')
            assert crashed.function_error == "Runtime.ExitError"
            assert json.loads(crashed.payload)["errorMessage"].endswith("Runtime exited with error: exit status 3")
            again = await sched.invoke("Shell", b'{"a": 4}')
            assert again.function_error is None
            totals = sched.totals("Shell")
            assert totals["invocations"] == 7 and totals["errors"] == 3 and totals["timeouts"] == 1
            pids = sched.worker_pids()
        finally:
            await sched.close()
        for pid in pids:
            assert _wait_gone(pid), f"worker {pid} outlived the scheduler"
        text = (tmp_path / "logs" / "Shell.log").read_text()
        assert text.count("START RequestId:") == 7 and text.count("REPORT RequestId:") == 7
    run(main())


def test_memory_limit_of_a_runtime_api_worker(tmp_path):
    # a Python bootstrap that allocates far past MemorySize when asked
    _write_bootstrap(tmp_path, textwrap.dedent(f"""\
        #!{sys.executable}
        import json, os, time, urllib.request
        api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
        while True:
            with urllib.request.urlopen(api + "next") as r:
                rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
            if event.get("hog"):
                hog = bytearray(400 * 1024 * 1024)
                hog[::4096] = b"x" * len(hog[::4096])
                time.sleep(2)
            urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=b'"ok"'))
        """))

    async def main():
        sched = Scheduler([_spec(tmp_path, timeout_s=10, memory_mb=128)],
                          Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            ok = await sched.invoke("Shell", b"{}")
            assert ok.payload == b'"ok"'
            oom = await sched.invoke("Shell", b'{"hog": true}', want_log=True)
            assert oom.function_error == "Runtime.OutOfMemory"
            assert "Error Type: Runtime.OutOfMemory" in oom.log.decode()
            assert (await sched.invoke("Shell", b"{}")).payload == b'"ok"'
        finally:
            await sched.close()
    run(main())


def test_awslambdaric_unmodified_matches_the_native_runtime(tmp_path):
    pytest.importorskip("awslambdaric")
    app = textwrap.dedent("""\
        import logging
        logging.getLogger().setLevel(logging.INFO)
        def handler(event, context):
            print("printed", event.get("n"))
            logging.getLogger().info("logged")
            if event.get("fail"):
                raise ValueError("bad input")
            return {"n": event.get("n"), "memory": context.memory_limit_in_mb, "name": context.function_name,
                    "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 3000,
                    "request_id": context.aws_request_id}
        """)
    ric_dir, native_dir = tmp_path / "ric", tmp_path / "native"
    for d in (ric_dir, native_dir):
        d.mkdir()
        (d / "app.py").write_text(app)
    _write_bootstrap(ric_dir, f'#!/bin/sh\nexec "{sys.executable}" -m awslambdaric "$_HANDLER"\n')

    async def main():
        specs = [_spec(ric_dir, "Ric", "provided.al2023", 3, handler="app.handler"),
                 _spec(native_dir, "Native", "python3.11", 3, handler="app.handler")]
        sched = Scheduler(specs, Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            results = {}
            for name in ("Ric", "Native"):
                ok = await sched.invoke(name, b'{"n": 7}', want_log=True)
                bad = await sched.invoke(name, b'{"fail": true}', want_log=True)
                results[name] = (ok, bad)
        finally:
            await sched.close()
        for name, (ok, bad) in results.items():
            body = json.loads(ok.payload)
            assert body == {"n": 7, "memory": "128", "name": name, "remaining_ok": True,
                            "request_id": ok.request_id}, name
            log = ok.log.decode()
            assert "printed 7" in log
            assert "[INFO]\t" in log and f"\t{ok.request_id}\tlogged" in log
            error = json.loads(bad.payload)
            assert bad.function_error == "ValueError"
            assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad input"
            assert error["requestId"] == bad.request_id
            assert any("raise ValueError" in frame for frame in error["stackTrace"])
            assert "[ERROR] ValueError: bad input\r" in bad.log.decode()
    run(main())


def test_runtime_not_installed_fails_only_that_function(tmp_path, monkeypatch):
    (tmp_path / "index.mjs").write_text("export const handler = async () => 'hi';\n")
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 'py'\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no node anywhere

    async def main():
        specs = [_spec(tmp_path, "Node", "nodejs20.x", handler="index.handler"),
                 _spec(tmp_path, "Py", "python3.11", handler="app.handler")]
        sched = Scheduler(specs, Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            node = await sched.invoke("Node", b"{}", want_log=True)
            py = await sched.invoke("Py", b"{}")
        finally:
            await sched.close()
        assert node.function_error == "Runtime.InvalidEntrypoint"
        message = json.loads(node.payload)["errorMessage"]
        assert "node" in message.lower() and "install" in message.lower()
        assert "install" in node.log.decode().lower()
        assert py.function_error is None and py.payload == b'"py"'
    run(main())


def test_missing_bootstrap_is_a_clear_error(tmp_path):
    async def main():
        sched = Scheduler([_spec(tmp_path)], Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            result = await sched.invoke("Shell", b"{}")
        finally:
            await sched.close()
        assert result.function_error == "Runtime.InvalidEntrypoint"
        assert "bootstrap" in json.loads(result.payload)["errorMessage"]
    try:
        run(main())
    except LambdagateError as exc:  # pragma: no cover - the failure must be a result, not an exception
        pytest.fail(f"invoke raised instead of answering: {exc}")


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_function_through_the_scheduler(tmp_path):
    (tmp_path / "index.mjs").write_text(textwrap.dedent("""\
        let count = 0;
        export const handler = async (event, context) => {
          count += 1;
          if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
          console.log("count", count);
          return { count, name: context.functionName, memory: context.memoryLimitInMB,
                   remaining: context.getRemainingTimeInMillis(), requestId: context.awsRequestId };
        };
        """))

    async def main():
        sched = Scheduler([_spec(tmp_path, "Node", "nodejs20.x", timeout_s=1, handler="index.handler")],
                          Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            first = await sched.invoke("Node", b"{}", want_log=True)
            second = await sched.invoke("Node", b"{}")
            t0 = time.monotonic()
            timed_out = await sched.invoke("Node", b'{"sleep": 5000}')
            elapsed_s = time.monotonic() - t0
            after = await sched.invoke("Node", b"{}")
        finally:
            await sched.close()
        body = json.loads(first.payload)
        assert body["name"] == "Node" and body["memory"] == "128" and body["requestId"] == first.request_id
        assert 500 < body["remaining"] <= 1000
        assert "\tINFO\tcount 1" in first.log.decode()
        assert json.loads(second.payload)["count"] == 2          # warm: module state kept
        assert timed_out.function_error == "Sandbox.Timedout" and 1.0 <= elapsed_s < 2.0
        assert json.loads(after.payload)["count"] == 1           # a new environment after the kill
    run(main())
