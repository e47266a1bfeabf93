"""Non-Python runtimes behind real API Gateway routes: `lambdagate start-api` serving a
Node.js function (REST and HTTP API) and a custom `provided` runtime, over HTTP."""
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = [pytest.mark.integration,   # starts real processes
              pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")]

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  NodeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: node/
      Handler: index.handler
      Runtime: nodejs20.x
      Events:
        Rest:
          Type: Api
          Properties: {Path: "/node/{name}", Method: get}
        Http:
          Type: HttpApi
          Properties: {Path: "/v2/node/{name}", Method: get}
  ShellFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: shell/
      Handler: unused
      Runtime: provided.al2023
      Events:
        Rest:
          Type: Api
          Properties: {Path: /shell, Method: post}
"""

NODE_HANDLER = """\
export const handler = async (event, context) => {
  console.log("serving", event.pathParameters.name);
  if (event.pathParameters.name === "boom") throw new Error("node failed");
  if (event.version === "2.0") return { hello: event.pathParameters.name, fn: context.functionName };
  return { statusCode: 200, headers: { "Content-Type": "application/json" },
           body: JSON.stringify({ hello: event.pathParameters.name, path: event.path }) };
};
"""

SHELL_BOOTSTRAP = f"""#!{sys.executable}
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
    body = json.dumps({{"statusCode": 201, "body": (event["body"] or "").upper()}}).encode()
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "index.mjs").write_text(NODE_HANDLER)
    (tmp_path / "shell").mkdir()
    boot = tmp_path / "shell" / "bootstrap"
    boot.write_text(SHELL_BOOTSTRAP)
    boot.chmod(boot.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    port = _free_port()
    console = open(tmp_path / "console.txt", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "start-api", "-t", str(tmp_path / "template.yaml"),
                             "-p", str(port), "--lambda-port", "0", "--no-reload", "--state-dir",
                             str(tmp_path / "state")], stdout=console, stderr=subprocess.STDOUT,
                            start_new_session=True)
    console.close()
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                pytest.fail(f"start-api did not start: {(tmp_path / 'console.txt').read_text()}")
            time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_node_function_behind_rest_and_http_routes(server):
    url, root = server
    with httpx.Client(base_url=url, timeout=20) as client:
        rest = client.get("/node/ada")
        assert rest.status_code == 200, rest.text
        assert rest.json() == {"hello": "ada", "path": "/node/ada"}
        v2 = client.get("/v2/node/bob")
        assert v2.status_code == 200 and v2.headers["content-type"] == "application/json"
        assert v2.json() == {"hello": "bob", "fn": "NodeFunction"}
        failed = client.get("/node/boom")
        assert failed.status_code == 502 and failed.json() == {"message": "Internal server error"}
        assert "node failed" not in failed.text
        failed_v2 = client.get("/v2/node/boom")
        assert failed_v2.status_code == 500 and failed_v2.json() == {"message": "Internal Server Error"}
    log_path, deadline = root / "state" / "logs" / "NodeFunction.log", time.monotonic() + 5
    log = ""
    while "node failed" not in log and time.monotonic() < deadline:  # log files are flushed in batches
        time.sleep(0.02)
        log = log_path.read_text() if log_path.exists() else ""
    assert "\tINFO\tserving ada" in log and "REPORT RequestId:" in log
    assert "node failed" in log  # the error goes to the log, not to the client


def test_custom_runtime_behind_a_rest_route(server):
    url, _ = server
    with httpx.Client(base_url=url, timeout=20) as client:
        response = client.post("/shell", content=b"make me loud")
    assert response.status_code == 201
    assert response.text == "MAKE ME LOUD"
