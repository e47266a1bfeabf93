"""Durability of accepted Event invocations across a SIGKILL of the gateway.

The server runs as `python -m gateway.cli start-lambda` (real CLI, real workers). A burst
of 1,000 Event invocations is sent from a thread pool; the gateway is killed with SIGKILL
in the middle of it and restarted on the same state directory. Every invocation that got
a 202 must have run at least once, and no zygote or worker may outlive the killed gateway.

A function cannot write to the host's files, and its log is written a batch at a time (a SIGKILL
can lose the last lines of an invocation that did run). So the evidence that an event ran is its
on-success destination record, which the gateway appends (fsync'd) before it deletes the event:
the record carries the handler's own response, which names the event.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from support.lambda_server import free_port, read_jsonl, wait_for, write_template
import pytest

pytestmark = pytest.mark.integration   # starts real processes

BURST = 1000
KILL_AFTER = 300          # accepted invocations before the SIGKILL
RAN_QUEUE = "arn:aws:sqs:us-east-1:123456789012:ran"
DURABLE = f"""
  Durable:
    Type: AWS::Serverless::Function
    Properties:
      Handler: handlers.record
      FunctionName: durable
      Environment: {{Variables: {{LOG_TAG: ran}}}}
      EventInvokeConfig:
        DestinationConfig:
          OnSuccess: {{Type: SQS, Destination: {RAN_QUEUE}}}
"""


def start_server(root, template, port):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(os.path.join(root, f"server-{port}.log"), "wb")
    # cwd = root, so the default state dir (.lambdagate) and --state-dir agree
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "start-lambda", "-t", template, "-p", str(port),
         "--state-dir", os.path.join(root, ".lambdagate"), "--no-reload", "--quiet"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()

    def ready():
        if process.poll() is not None:
            raise AssertionError(open(os.path.join(root, f"server-{port}.log")).read())
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/2015-03-31/functions/?MaxItems=1")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    assert wait_for(ready, timeout=30, interval=0.05), "the server did not come up"
    return process


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_accepted_events_survive_sigkill(tmp_path):
    root = str(tmp_path)
    template = write_template(root, extra=DURABLE)
    out = os.path.join(root, ".lambdagate", "destinations", "arn_aws_sqs_us-east-1_123456789012_ran.jsonl")
    port = free_port()
    server = start_server(root, template, port)
    accepted, lock = set(), threading.Lock()
    killed = threading.Event()
    local = threading.local()
    connections = []

    def send(i):
        if killed.is_set():
            return
        conn = getattr(local, "conn", None)
        try:
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                with lock:
                    connections.append(conn)
            conn.request("POST", "/2015-03-31/functions/durable/invocations", body=json.dumps({"id": i}),
                         headers={"X-Amz-Invocation-Type": "Event"})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            local.conn = None
            return
        if response.status == 202:
            with lock:
                accepted.add(i)
                if len(accepted) >= KILL_AFTER and not killed.is_set():
                    killed.set()
                    send.tree = descendants(server.pid)
                    os.kill(server.pid, signal.SIGKILL)

    send.tree = []
    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(send, range(BURST)))
    finally:
        for conn in connections:
            conn.close()
    server.wait(10)
    assert killed.is_set(), "the burst finished before the kill"
    assert len(send.tree) >= 1                       # at least the zygote
    # the zygote and every worker die with the gateway
    assert wait_for(lambda: not any(alive(pid) for pid in send.tree), timeout=10), \
        [pid for pid in send.tree if alive(pid)]

    server = start_server(root, template, port)
    try:
        def ran():
            # the ids the handler answered with, in records of a successful run
            return {r["responsePayload"]["id"] for r in read_jsonl(out)
                    if r["requestContext"]["condition"] == "Success" and r["responsePayload"]["ok"] is True}

        assert wait_for(lambda: accepted <= ran(), timeout=30, interval=0.1), \
            f"lost: {sorted(accepted - ran())[:20]}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
    assert len(accepted) >= KILL_AFTER
