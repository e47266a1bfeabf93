"""The environment a worker process sees (aws-contract.md §3.2), and isolation between functions."""
from __future__ import annotations

import asyncio
import json
import os
import re
import time

import gateway.runtime
import pytest

pytestmark = pytest.mark.integration   # starts real processes

ENV_DUMP = """
import os, sys

def handler(event, context):
    if event.get("set"):
        os.environ.update(event["set"])
    return {"env": dict(os.environ), "cwd": os.getcwd(), "path0": sys.path[0],
            "stream": context.log_stream_name, "group": context.log_group_name}
"""

STREAM_RE = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/\[\$LATEST\]([0-9a-f]{32})$")
HOST_ONLY = "LAMBDAGATE_TEST_HOST_ONLY_VARIABLE"


def _invoke_all(run, open_scheduler, specs, events=None):
    async def body():
        async with open_scheduler(specs) as s:
            out = []
            for i, spec in enumerate(specs):
                event = (events or {}).get(i, {})
                out.append(json.loads((await s.invoke(spec.logical_id, json.dumps(event).encode())).payload))
            return out
    return run(body())


def test_reserved_variables_are_present_and_right(run, make_function, open_scheduler, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    spec = make_function(ENV_DUMP, name="EnvFn", function_name="env-function-name", memory_mb=256, timeout_s=7,
                         environment={"GREETING": "hello", "EMPTY": ""})
    today = time.strftime("%Y/%m/%d", time.gmtime())
    [out] = _invoke_all(run, open_scheduler, [spec])
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env-function-name"      # FunctionName, not the logical id
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/env-function-name"
    m = STREAM_RE.match(env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert m, env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert "/".join(m.group(1, 2, 3)) in (today, time.strftime("%Y/%m/%d", time.gmtime()))
    assert out["stream"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert out["group"] == env["AWS_LAMBDA_LOG_GROUP_NAME"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    # the runtime folder (/var/runtime on AWS): lambdagate's worker runtime and the runtime clients beside it
    runtime_dir = env["LAMBDA_RUNTIME_DIR"]
    assert os.path.realpath(runtime_dir) == os.path.realpath(os.path.dirname(gateway.runtime.__file__))
    assert os.path.isfile(os.path.join(runtime_dir, "worker.py"))
    assert os.path.isfile(os.path.join(runtime_dir, "nodejs", "bootstrap.mjs"))
    # the code directory is LAMBDA_TASK_ROOT, the working directory and the first import path
    code_dir = os.path.realpath(spec.code_dir)
    assert env["LAMBDA_TASK_ROOT"] == spec.code_dir
    assert os.path.realpath(out["cwd"]) == code_dir
    assert os.path.realpath(out["path0"]) == code_dir
    # no credentials in the host environment: SAM's dummy ones
    assert env["AWS_ACCESS_KEY_ID"] == "defaultkey"
    assert env["AWS_SECRET_ACCESS_KEY"] == "defaultsecret"
    assert env["AWS_SESSION_TOKEN"] == "defaultsessiontoken"
    assert env["AWS_ACCESS_KEY"] == env["AWS_ACCESS_KEY_ID"]
    # unreserved defaults
    assert env["LANG"]
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
    assert re.match(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$", env["_X_AMZN_TRACE_ID"])
    # the function's own variables, empty ones included
    assert env["GREETING"] == "hello"
    assert env["EMPTY"] == ""
    # not the Text/JSON switch unless asked for
    assert "AWS_LAMBDA_LOG_FORMAT" not in env


def test_host_credentials_and_region_are_passed_on(run, make_function, open_scheduler, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret/key")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")
    spec = make_function(ENV_DUMP, region="eu-west-3")
    [out] = _invoke_all(run, open_scheduler, [spec])
    env = out["env"]
    assert env["AWS_ACCESS_KEY_ID"] == "AKIATESTTESTTEST"
    assert env["AWS_ACCESS_KEY"] == "AKIATESTTESTTEST"
    assert env["AWS_SECRET_ACCESS_KEY"] == "secret/key"
    assert env["AWS_SESSION_TOKEN"] == "session-token"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-3"


def test_reserved_variables_cannot_be_overridden_by_the_function(run, make_function, open_scheduler):
    spec = make_function(ENV_DUMP, environment={"AWS_LAMBDA_FUNCTION_NAME": "spoofed", "_HANDLER": "x.y",
                                                "AWS_REGION": "mars-1", "LAMBDA_TASK_ROOT": "/nowhere"})
    [out] = _invoke_all(run, open_scheduler, [spec])
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == spec.function_name
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["LAMBDA_TASK_ROOT"] == spec.code_dir


def test_functions_see_only_their_own_variables(run, make_function, open_scheduler, monkeypatch):
    monkeypatch.setenv(HOST_ONLY, "leaked")            # set in the gateway's environment before start
    spec_a = make_function(ENV_DUMP, environment={"ONLY_A": "a", "SHARED": "from-a"})
    spec_b = make_function(ENV_DUMP, environment={"ONLY_B": "b", "SHARED": "from-b"})

    async def body():
        async with open_scheduler([spec_a, spec_b]) as s:
            # A changes its own os.environ; B runs at the same time, then A again on the same worker
            a1, b1 = await asyncio.gather(s.invoke(spec_a.logical_id, b'{"set": {"MUTATED_BY_A": "1"}}'),
                                          s.invoke(spec_b.logical_id, b"{}"))
            b2 = await s.invoke(spec_b.logical_id, b"{}")
            a2 = await s.invoke(spec_a.logical_id, b"{}")
            return [json.loads(r.payload)["env"] for r in (a1, b1, b2, a2)]

    env_a1, env_b1, env_b2, env_a2 = run(body())
    for env in (env_a1, env_a2):
        assert env["ONLY_A"] == "a" and env["SHARED"] == "from-a"
        assert "ONLY_B" not in env
        assert HOST_ONLY not in env
    for env in (env_b1, env_b2):
        assert env["ONLY_B"] == "b" and env["SHARED"] == "from-b"
        assert "ONLY_A" not in env
        assert HOST_ONLY not in env
        assert "MUTATED_BY_A" not in env
    assert env_a2["MUTATED_BY_A"] == "1"               # same environment, state kept between invocations


def test_each_function_imports_its_own_module_of_the_same_name(run, make_function, open_scheduler):
    spec_a = make_function("def handler(event, context):\n    return 'code of A'\n",
                           files={"helper.py": "NAME = 'helper of A'\n"})
    spec_b = make_function("import helper\ndef handler(event, context):\n    return helper.NAME\n",
                           files={"helper.py": "NAME = 'helper of B'\n"})
    out = _invoke_all(run, open_scheduler, [spec_a, spec_b, spec_a])
    assert out == ["code of A", "helper of B", "code of A"]


def test_a_user_module_named_like_lambdagates_package_is_the_users(run, make_function, open_scheduler):
    spec = make_function("import json\ndef handler(event, context):\n    return {'mine': True, 'file': __file__}\n",
                         module="gateway.py", handler="gateway.handler")
    [out] = _invoke_all(run, open_scheduler, [spec])
    assert out["mine"] is True
    assert os.path.realpath(out["file"]) == os.path.realpath(os.path.join(spec.code_dir, "gateway.py"))


SCHED_POLICY = """
import os

def handler(event, context):
    return {"policy": os.sched_getscheduler(0), "nice": os.nice(0)}
"""


def test_workers_run_under_sched_batch_at_the_gateways_niceness(run, make_function, open_scheduler):
    # a woken worker must not preempt the gateway; its CPU share (niceness) stays the same
    spec = make_function(SCHED_POLICY, name="PolicyFn")
    [out] = _invoke_all(run, open_scheduler, [spec])
    assert out["policy"] == os.SCHED_BATCH
    assert out["nice"] == os.nice(0)
    assert os.sched_getscheduler(0) == os.SCHED_OTHER   # the gateway itself is left as it was
