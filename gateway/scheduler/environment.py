"""The environment a worker process starts with (aws-contract.md §3.2)."""
from __future__ import annotations

import os
import secrets
import sys
import time
from typing import Mapping, Optional, Sequence

from gateway.scheduler.commands import RUNTIME_DIR
from gateway.sdks import python_sdk_path
from gateway.types import FunctionSpec

# Taken from lambdagate's own environment so that tools and locales keep working;
# nothing else of the user's shell leaks into a function.
_PASSTHROUGH = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT")
_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
_DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "defaultkey", "AWS_SECRET_ACCESS_KEY": "defaultsecret",
                      "AWS_SESSION_TOKEN": "defaultsessiontoken"}


def log_stream_name(version: str = "$LATEST") -> str:
    return f"{time.strftime('%Y/%m/%d', time.gmtime())}/[{version}]{secrets.token_hex(16)}"


def worker_environment(spec: FunctionSpec, *, runtime_api: str | None = None,
                       host_env: Mapping[str, str] = os.environ) -> dict:
    """Reserved Lambda variables, then the function's own; AWS's reserved names win."""
    env = {k: host_env[k] for k in _PASSTHROUGH if k in host_env}
    env.setdefault("LANG", "en_US.UTF-8")
    env.setdefault("TZ", ":UTC")
    env.update(spec.environment)
    if all(k in host_env for k in _CREDENTIALS[:2]):
        creds = {k: host_env[k] for k in _CREDENTIALS if k in host_env}
    else:
        creds = dict(_DUMMY_CREDENTIALS)
    env.update(creds)
    env["AWS_ACCESS_KEY"] = creds["AWS_ACCESS_KEY_ID"]
    reserved = {
        "_HANDLER": spec.handler,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name(),
        "LAMBDA_TASK_ROOT": spec.code_dir,
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_s)),
    }
    if spec.runtime.startswith(("python", "nodejs", "java", "ruby", "dotnet")):
        reserved["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
    if spec.log_format == "JSON":
        reserved["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
    if spec.log_level:
        reserved["AWS_LAMBDA_LOG_LEVEL"] = spec.log_level
    if runtime_api:
        reserved["AWS_LAMBDA_RUNTIME_API"] = runtime_api
    env.update(reserved)
    return env


def exec_worker_spec(spec: FunctionSpec, argv: list, runtime_api: str) -> dict:
    """What the zygote needs to exec a Runtime API runtime for this function."""
    return {"argv": argv, "env": worker_environment(spec, runtime_api=runtime_api), "code_dir": spec.code_dir}


def python_worker_spec(spec: FunctionSpec, memory_poll_ms: int, enforce_memory: bool,
                       sys_path: Optional[Sequence[str]] = None, python_version: Optional[str] = None) -> dict:
    """What the zygote needs to turn a fork into this function's worker. For a zygote of another
    Python version than lambdagate's: its interpreter's import path and version ("3.12")."""
    return {
        "env": worker_environment(spec),
        "code_dir": spec.code_dir,
        "handler": spec.handler,
        "log_format": spec.log_format,
        "log_level": spec.log_level or "",
        # after the code directory: the AWS SDK (boto3) lambdagate installed, as Lambda's runtime
        # has it, then the zygote's own path minus its working directory
        "sys_path": python_sdk_path(python_version) + (
            [p for p in sys.path if p and p != os.getcwd()] if sys_path is None else list(sys_path)),
        "memory_limit_kb": spec.memory_mb * 1024 if enforce_memory else 0,
        "memory_poll_ms": memory_poll_ms,
    }
