"""A worker's Runtime API endpoint serves only that worker's process tree, tested as the attack:
a function that knows a sibling's AWS_LAMBDA_RUNTIME_API asks it for the next invocation. It is
refused with 403 and a log line; the sibling answers its own client. (Where isolation is on, a
sibling's /proc/<pid>/environ is out of reach, but every endpoint is a port on the shared loopback,
so a function can still find one by trying ports: here the victim gives its address away.)
And a second concurrent /next on one endpoint is refused, never replaces the first."""
from __future__ import annotations

import asyncio
import http.client
import json
import stat
import sys

import pytest
import uvloop

from gateway import wire
from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.scheduler.runtime_api import RuntimeEndpoint
from gateway.types import FunctionSpec

pytestmark = pytest.mark.integration   # starts real processes

RUNTIME_LOOP = f"""#!{sys.executable}
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    answer = handle(event)
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=json.dumps(answer).encode(),
                                                  method="POST")).read()
"""

VICTIM = RUNTIME_LOOP.replace("while True:", """def handle(event):
    if event.get("tell_address"):
        return os.environ["AWS_LAMBDA_RUNTIME_API"]
    return 'answered-by-victim'

while True:""")

THIEF = RUNTIME_LOOP.replace("while True:", '''def handle(event):
    import urllib.error
    victim_api = event["victim_api"]
    try:
        with urllib.request.urlopen(f"http://{victim_api}/2018-06-01/runtime/invocation/next", timeout=5) as r:
            return {"status": r.status, "stole": r.headers.get("Lambda-Runtime-Aws-Request-Id")}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "error": json.loads(exc.read()).get("errorType")}

while True:''')


def _function(tmp_path, name, bootstrap):
    code = tmp_path / name
    code.mkdir()
    path = code / "bootstrap"
    path.write_text(bootstrap)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FunctionSpec(name, name, "function.handler", "provided.al2023", str(code), timeout_s=10)


def test_a_function_cannot_take_a_siblings_invocations(tmp_path, caplog):
    async def main():
        sched = Scheduler([_function(tmp_path, "Victim", VICTIM), _function(tmp_path, "Thief", THIEF)],
                          Config(state_dir=str(tmp_path), console_logs=False))
        await sched.start()
        try:
            first = await sched.invoke("Victim", b"{}")
            assert json.loads(first.payload) == "answered-by-victim"
            told = await sched.invoke("Victim", b'{"tell_address": true}')
            victim_api = json.loads(told.payload)
            assert victim_api.startswith("127.0.0.1:"), victim_api
            theft = asyncio.ensure_future(sched.invoke("Thief", json.dumps({"victim_api": victim_api}).encode()))
            await asyncio.sleep(0.3)            # the thief is at the victim's door when a client calls
            victims = await asyncio.gather(*(sched.invoke("Victim", b"{}") for _ in range(3)))
            return await theft, victims
        finally:
            await sched.close()

    theft, victims = uvloop.run(main())
    assert not theft.failed, theft.payload
    assert json.loads(theft.payload) == {"status": 403, "error": "Forbidden"}
    assert [json.loads(v.payload) for v in victims] == ["answered-by-victim"] * 3
    lines = [r.getMessage() for r in caplog.records if "Runtime API of Victim" in r.getMessage()]
    assert lines and "not of that execution environment" in lines[0] and "answered 403" in lines[0]


def test_a_second_concurrent_next_is_refused_and_the_first_keeps_its_place():
    async def main():
        endpoint = RuntimeEndpoint(lambda _: None)
        port = int((await endpoint.start()).rsplit(":", 1)[1])
        loop = asyncio.get_running_loop()

        def get_next():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/2018-06-01/runtime/invocation/next")
            response = conn.getresponse()
            out = response.status, response.read()
            conn.close()
            return out

        try:
            first = loop.run_in_executor(None, get_next)
            for _ in range(200):
                if endpoint.waiting is not None:
                    break
                await asyncio.sleep(0.005)
            second_status, second_body = await loop.run_in_executor(None, get_next)
            outcome = loop.create_future()
            endpoint.dispatch(wire.invoke_header("req-1", 1_900_000_000_000, "arn:aws:lambda:::function:f"),
                              b'{"n": 1}', outcome)
            return second_status, json.loads(second_body), await first
        finally:
            endpoint.close()

    second_status, second_body, first = uvloop.run(main())
    assert second_status == 403 and second_body["errorType"] == "InvalidStateTransition"
    assert first == (200, b'{"n": 1}')
