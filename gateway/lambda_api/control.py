"""The Lambda API's control operations (ListFunctions, GetFunction, configuration,
concurrency, event-invoke-config, InvokeAsync): the part of the service that is not
the Invoke hot path.

`ControlOperations` is an object that `LambdaApi` (endpoint.py) builds and owns; it is given
exactly what it uses: the template's functions and their concurrency controls (the scheduler,
through `gateway.types.ConcurrencyControl`), the event-invoke-configs (`EventInvokeConfigs`,
the AsyncInvoker), the endpoint's name resolver and Event acceptor (`Resolve`, `Accept`), a
request-id source and the account concurrency limit (`Config.account_concurrency`)."""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import os
import time
import uuid
from typing import Callable, Optional, Protocol, runtime_checkable
from urllib.parse import parse_qs

import orjson

from gateway.async_invoke.destinations import destination_from_arn
from gateway.lambda_api import errors as E
from gateway.lambda_api.model import CODE_CACHE_S, CodeInfo, code_info, last_modified, operation_for
from gateway.http_io import read_body
from gateway.types import (ACCOUNT_ID, ASYNC_PAYLOAD_LIMIT_BYTES, SYNC_PAYLOAD_LIMIT_BYTES, ConcurrencyControl,
                           DestinationSpec, EventInvokeConfig, FunctionSpec)

_JSON = (b"content-type", b"application/json")
LIST_PAGE_MAX = 50
UNRESERVED_MINIMUM = 100          # AWS keeps 100 (or the whole limit, if smaller) unreserved
DUMMY_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/lambdagate-local-execution-role"
# GetAccountSettings AccountLimit: AWS's default quotas
TOTAL_CODE_SIZE = 80530636800
CODE_SIZE_UNZIPPED = 262144000
CODE_SIZE_ZIPPED = 52428800
SUPPORTED = ("Invoke", "InvokeAsync", "ListFunctions", "GetFunction", "GetFunctionConfiguration",
             "GetAccountSettings", "GetFunctionConcurrency", "PutFunctionConcurrency",
             "DeleteFunctionConcurrency", "GetFunctionEventInvokeConfig", "PutFunctionEventInvokeConfig",
             "UpdateFunctionEventInvokeConfig", "DeleteFunctionEventInvokeConfig",
             "ListFunctionEventInvokeConfigs")


def event_payload(body: bytes, request_id: str) -> bytes:
    """The event to pass on: an empty body is `{}`; anything else must be JSON."""
    if not body:
        return b"{}"
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(E.invalid_json(str(exc), request_id)) from None
    return body


def json_response(status: int, obj, request_id: str) -> tuple:
    data = orjson.dumps(obj) if obj is not None else b""
    headers = [(b"x-amzn-requestid", request_id.encode()), _JSON]
    return status, headers, data


def empty_response(status: int, request_id: str) -> tuple:
    return status, [(b"x-amzn-requestid", request_id.encode())], b""


class Problem(Exception):
    """An AWS error response to send instead of the operation's result."""

    def __init__(self, response: tuple):
        super().__init__(response[0])
        self.response = response


# ---- what ControlOperations needs from its owners

class Resolve(Protocol):
    """The endpoint's name resolver: (spec, qualifier or None) for a FunctionName path label and a
    Qualifier parameter; raises Problem (a validation, not-found or access-denied answer naming the
    IAM `action`)."""

    def __call__(self, raw: str, qualifier: Optional[str], request_id: str,
                 action: str = "lambda:InvokeFunction") -> tuple: ...


class Accept(Protocol):
    """The endpoint's Event acceptor: stores one asynchronous invocation and answers `status`
    (or a service error when the event could not be stored)."""

    async def __call__(self, spec: FunctionSpec, body: bytes, request_id: str, invoked_arn: str,
                       status: int) -> tuple: ...


@runtime_checkable
class EventInvokeConfigs(Protocol):
    """The per-function EventInvokeConfig (gateway.async_invoke.AsyncInvoker)."""

    def event_invoke_config(self, spec: FunctionSpec) -> EventInvokeConfig: ...

    def has_event_invoke_config(self, spec: FunctionSpec) -> bool: ...

    def set_event_invoke_config(self, spec: FunctionSpec, config: Optional[EventInvokeConfig]) -> None: ...


class ControlOperations:
    """Every operation but Invoke; `handle()` answers one request."""

    def __init__(self, *, functions: Callable[[], list], concurrency: ConcurrencyControl,
                 event_configs: EventInvokeConfigs, resolve: Resolve, accept: Accept,
                 next_id: Callable[[], str], account_concurrency: int):
        """`functions()` lists the template's FunctionSpecs (Invoker.functions); `account_concurrency`
        is the account's concurrency limit (Config.account_concurrency)."""
        self._functions = functions
        self._concurrency_control = concurrency
        self._event_configs = event_configs
        self._resolve = resolve
        self._accept = accept
        self._next_id = next_id
        self._account_concurrency = int(account_concurrency)
        self._code: dict = {}                     # code_dir -> CodeInfo
        self._eic_modified: dict = {}             # FunctionName -> epoch s of the last Put/Update
        self._started_s = time.time()

    def _specs(self) -> list:
        return list(self._functions())

    async def handle(self, scope, receive, method: str, path: str) -> tuple:
        request_id = self._next_id()
        query = parse_qs(scope["query_string"].decode("latin-1")) if scope["query_string"] else {}
        parts = path.rstrip("/").split("/")
        # ['', version, 'functions', name, tail...]
        if len(parts) >= 3 and parts[2] == "functions":
            version = parts[1]
            name = parts[3] if len(parts) > 3 else None
            tail = "/".join(parts[4:])
            qualifier = query.get("Qualifier", [None])[0]
            if version == "2015-03-31":
                if name is None and method == "GET":
                    return await self._list_functions(query, request_id)
                if name is not None and not tail and method == "GET":
                    return await self._get_function(name, qualifier, request_id)
                if name is not None and tail == "configuration" and method == "GET":
                    spec, _ = self._resolve(name, qualifier, request_id, "lambda:GetFunctionConfiguration")
                    return json_response(200, await self._configuration(spec), request_id)
            elif version == "2017-10-31" and name is not None and tail == "concurrency":
                if method == "PUT":
                    return await self._put_concurrency(name, receive, request_id)
                if method == "DELETE":
                    spec, _ = self._resolve(name, None, request_id, "lambda:DeleteFunctionConcurrency")
                    self._concurrency_control.set_reserved_concurrency(spec.logical_id, None)
                    return empty_response(204, request_id)
            elif version == "2019-09-30" and name is not None and tail == "concurrency" and method == "GET":
                spec, _ = self._resolve(name, None, request_id, "lambda:GetFunctionConcurrency")
                return json_response(200, self._concurrency(spec), request_id)
            elif version == "2019-09-25" and name is not None and tail.startswith("event-invoke-config"):
                response = await self._event_invoke_config(method, name, tail, qualifier, receive, request_id)
                if response is not None:
                    return response
            elif version == "2014-11-13" and name is not None and tail == "invoke-async" and method == "POST":
                return await self._invoke_async(name, receive, request_id)
        elif method == "GET" and path.rstrip("/") == "/2016-08-19/account-settings":
            return json_response(200, await self._account_settings(), request_id)
        operation = operation_for(method, path, query)
        if operation is not None:
            return E.not_implemented(operation[0], method, operation[1], SUPPORTED, request_id)
        return E.unknown_operation(method, path, request_id)

    async def _read_json(self, receive, request_id: str) -> dict:
        body, _ = await read_body(receive, SYNC_PAYLOAD_LIMIT_BYTES)
        if body is None:
            raise Problem(E.lambda_error(413, "RequestEntityTooLargeException", "Request body too large",
                                          request_id=request_id))
        try:
            value = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise Problem(E.lambda_error(400, "SerializationException", f"Could not parse the request: {exc}",
                                          request_id=request_id)) from None
        if not isinstance(value, dict):
            raise Problem(E.lambda_error(400, "SerializationException", "The request body must be a JSON object",
                                          request_id=request_id))
        return value

    # ListFunctions / GetFunction / GetFunctionConfiguration

    async def _code_info(self, code_dir: str) -> CodeInfo:
        info = self._code.get(code_dir)
        if info is None or time.monotonic() - info.computed_at > CODE_CACHE_S:
            info = await asyncio.get_running_loop().run_in_executor(None, code_info, code_dir)
            self._code[code_dir] = info
        return info

    async def _configuration(self, spec: FunctionSpec) -> dict:
        code = await self._code_info(spec.code_dir)
        config = {
            "FunctionName": spec.function_name,
            "FunctionArn": spec.arn,
            "Runtime": spec.runtime,
            "Role": DUMMY_ROLE,
            "Handler": spec.handler,
            "CodeSize": code.size,
            "Description": "",
            "Timeout": int(spec.timeout_s) if float(spec.timeout_s).is_integer() else spec.timeout_s,
            "MemorySize": spec.memory_mb,
            "LastModified": last_modified(code.mtime),
            "CodeSha256": code.sha256,
            "Version": "$LATEST",
            "TracingConfig": {"Mode": "PassThrough"},
            "RevisionId": str(uuid.UUID(bytes=hashlib.sha256((code.sha256 + spec.function_name).encode())
                                        .digest()[:16], version=4)),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "Architectures": [spec.architecture],
            "EphemeralStorage": {"Size": spec.ephemeral_storage_mb},
            "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
            "LoggingConfig": {"LogFormat": spec.log_format, "LogGroup": f"/aws/lambda/{spec.function_name}"},
        }
        if spec.environment:
            config["Environment"] = {"Variables": dict(spec.environment)}
        if spec.log_format == "JSON":
            config["LoggingConfig"]["ApplicationLogLevel"] = spec.log_level or "INFO"
            config["LoggingConfig"]["SystemLogLevel"] = "INFO"
        return config

    async def _list_functions(self, query: dict, request_id: str) -> tuple:
        page = LIST_PAGE_MAX
        if "MaxItems" in query:
            raw = query["MaxItems"][0]
            try:
                page = int(raw)
            except ValueError:
                return E.invalid_parameter(f"Invalid MaxItems value: {raw}", request_id)
            if page < 1 or page > 10000:
                return E.validation(raw, "maxItems", "Member must have value between 1 and 10000", request_id)
            page = min(page, LIST_PAGE_MAX)
        specs = sorted({s.function_name: s for s in self._specs()}.values(), key=lambda s: s.function_name)
        start = 0
        marker = query.get("Marker", [None])[0]
        if marker:
            try:
                after = base64.urlsafe_b64decode(marker.encode() + b"==").decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return E.invalid_parameter("Invalid marker value", request_id)
            start = next((i for i, s in enumerate(specs) if s.function_name > after), len(specs))
        chosen = specs[start:start + page]
        functions = [await self._configuration(spec) for spec in chosen]
        result = {"Functions": functions}
        if start + page < len(specs):
            result["NextMarker"] = base64.urlsafe_b64encode(chosen[-1].function_name.encode()).decode().rstrip("=")
        return json_response(200, result, request_id)

    async def _get_function(self, name: str, qualifier: Optional[str], request_id: str) -> tuple:
        spec, _ = self._resolve(name, qualifier, request_id, "lambda:GetFunction")
        result = {
            "Configuration": await self._configuration(spec),
            "Code": {"RepositoryType": "S3", "Location": "file://" + os.path.abspath(spec.code_dir)},
        }
        concurrency = self._concurrency(spec)
        if concurrency:
            result["Concurrency"] = concurrency
        return json_response(200, result, request_id)

    # GetAccountSettings

    def _reserved(self, spec: FunctionSpec) -> Optional[int]:
        return self._concurrency_control.reserved_concurrency(spec.logical_id)

    def _reserved_total(self, exclude: Optional[str] = None) -> int:
        return sum(self._reserved(s) or 0 for s in {s.function_name: s for s in self._specs()}.values()
                   if s.function_name != exclude)

    async def _account_settings(self) -> dict:
        specs = list({s.function_name: s for s in self._specs()}.values())
        limit = self._account_concurrency
        code_size = 0
        for code_dir in {s.code_dir for s in specs}:
            code_size += (await self._code_info(code_dir)).size
        return {
            "AccountLimit": {"TotalCodeSize": TOTAL_CODE_SIZE, "CodeSizeUnzipped": CODE_SIZE_UNZIPPED,
                             "CodeSizeZipped": CODE_SIZE_ZIPPED, "ConcurrentExecutions": limit,
                             "UnreservedConcurrentExecutions": limit - self._reserved_total()},
            "AccountUsage": {"TotalCodeSize": code_size, "FunctionCount": len(specs)},
        }

    # Get/Put/DeleteFunctionConcurrency

    def _concurrency(self, spec: FunctionSpec) -> dict:
        reserved = self._reserved(spec)
        return {} if reserved is None else {"ReservedConcurrentExecutions": reserved}

    async def _put_concurrency(self, name: str, receive, request_id: str) -> tuple:
        body = await self._read_json(receive, request_id)
        spec, _ = self._resolve(name, None, request_id, "lambda:PutFunctionConcurrency")
        value = body.get("ReservedConcurrentExecutions")
        if value is None:
            return E.validation("null", "reservedConcurrentExecutions", "Member must not be null", request_id)
        if not isinstance(value, int) or isinstance(value, bool):
            return E.invalid_parameter(f"ReservedConcurrentExecutions must be an integer, got {value!r}", request_id)
        if value < 0:
            return E.invalid_parameter(f"1 validation error detected: Value '{value}' at "
                                       "'reservedConcurrentExecutions' failed to satisfy constraint: Member must "
                                       "have value greater than or equal to 0", request_id)
        limit = self._account_concurrency
        minimum = min(UNRESERVED_MINIMUM, limit)
        if limit - self._reserved_total(exclude=spec.function_name) - value < minimum:
            return E.invalid_parameter("Specified ReservedConcurrentExecutions for function decreases account's "
                                       f"UnreservedConcurrentExecution below its minimum value of [{minimum}].",
                                       request_id)
        self._concurrency_control.set_reserved_concurrency(spec.logical_id, value)
        return json_response(200, {"ReservedConcurrentExecutions": value}, request_id)

    # Get/Put/Update/Delete/ListFunctionEventInvokeConfig(s)

    def _eic_json(self, spec: FunctionSpec, config: EventInvokeConfig) -> dict:
        destinations = {}
        if config.on_success is not None:
            destinations["OnSuccess"] = {"Destination": config.on_success.arn}
        if config.on_failure is not None:
            destinations["OnFailure"] = {"Destination": config.on_failure.arn}
        return {"LastModified": self._eic_modified.get(spec.function_name, self._started_s),
                "FunctionArn": f"{spec.arn}:$LATEST",
                "MaximumRetryAttempts": config.maximum_retry_attempts,
                "MaximumEventAgeInSeconds": config.maximum_event_age_s,
                "DestinationConfig": destinations}

    async def _event_invoke_config(self, method: str, name: str, tail: str, qualifier: Optional[str], receive,
                                   request_id: str) -> Optional[tuple]:
        action = {"GET": "Get", "PUT": "Put", "POST": "Update", "DELETE": "Delete"}.get(method, "Get")
        spec, _ = self._resolve(name, qualifier, request_id, f"lambda:{action}FunctionEventInvokeConfig")
        ai = self._event_configs
        if tail == "event-invoke-config/list" and method == "GET":
            configs = [self._eic_json(spec, ai.event_invoke_config(spec))] if ai.has_event_invoke_config(spec) else []
            return json_response(200, {"FunctionEventInvokeConfigs": configs}, request_id)
        if tail != "event-invoke-config":
            return None
        if method == "GET":
            if not ai.has_event_invoke_config(spec):
                return E.lambda_error(404, "ResourceNotFoundException",
                                      f"The function {spec.arn} doesn't have an EventInvokeConfig",
                                      request_id=request_id)
            return json_response(200, self._eic_json(spec, ai.event_invoke_config(spec)), request_id)
        if method == "DELETE":
            if not ai.has_event_invoke_config(spec):
                return E.lambda_error(404, "ResourceNotFoundException",
                                      f"The function {spec.arn} doesn't have an EventInvokeConfig",
                                      request_id=request_id)
            ai.set_event_invoke_config(spec, None)
            return empty_response(204, request_id)
        if method not in ("PUT", "POST"):
            return None
        body = await self._read_json(receive, request_id)
        # Put replaces the whole configuration; Update (POST) changes only what it names
        base = ai.event_invoke_config(spec) if method == "POST" else EventInvokeConfig()
        config = self._parse_eic(body, base, request_id)
        ai.set_event_invoke_config(spec, config)
        self._eic_modified[spec.function_name] = time.time()
        return json_response(200, self._eic_json(spec, config), request_id)

    def _parse_eic(self, body: dict, base: EventInvokeConfig, request_id: str) -> EventInvokeConfig:
        retries = body.get("MaximumRetryAttempts", base.maximum_retry_attempts)
        age = body.get("MaximumEventAgeInSeconds", base.maximum_event_age_s)
        if not isinstance(retries, int) or not 0 <= retries <= 2:
            raise Problem(E.validation(retries, "maximumRetryAttempts",
                                        "Member must have value between 0 and 2", request_id))
        if not isinstance(age, int) or not 60 <= age <= 21600:
            raise Problem(E.validation(age, "maximumEventAgeInSeconds",
                                        "Member must have value between 60 and 21600", request_id))
        on_success, on_failure = base.on_success, base.on_failure
        destinations = body.get("DestinationConfig")
        if isinstance(destinations, dict):
            on_success = self._destination(destinations, "OnSuccess", on_success, request_id)
            on_failure = self._destination(destinations, "OnFailure", on_failure, request_id)
        if on_success is not None and on_success.type == "S3Bucket":
            raise Problem(E.invalid_parameter("S3 bucket destinations are supported only for on-failure "
                                               "destinations.", request_id))
        return EventInvokeConfig(maximum_retry_attempts=retries, maximum_event_age_s=age, on_success=on_success,
                                 on_failure=on_failure)

    def _destination(self, destinations: dict, key: str, current: Optional[DestinationSpec],
                     request_id: str) -> Optional[DestinationSpec]:
        if key not in destinations:
            return current
        arn = (destinations[key] or {}).get("Destination")
        if not arn:
            return None
        try:
            return destination_from_arn(arn)
        except ValueError as exc:
            raise Problem(E.invalid_parameter(str(exc), request_id)) from None

    # InvokeAsync (deprecated, still in boto3)

    async def _invoke_async(self, name: str, receive, request_id: str) -> tuple:
        body, size = await read_body(receive, ASYNC_PAYLOAD_LIMIT_BYTES)
        if body is None:
            return E.async_too_large(size, ASYNC_PAYLOAD_LIMIT_BYTES, request_id)
        spec, _ = self._resolve(name, None, request_id)
        body = event_payload(body, request_id)
        return await self._accept(spec, body, request_id, spec.arn, 202)
