"""The Lambda API (rest-json, `2015-03-31`) that boto3 and the AWS CLI talk to with --endpoint-url.

Invoke is served by a raw ASGI handler (raw body bytes straight to the invoker, one
write of headers and one of body); the control operations are answered by a
`ControlOperations` object (control.py) that the endpoint owns. Operations lambdagate does
not emulate answer 501 `NotImplemented` naming the operation (the code `sam local
start-lambda` uses; botocore does not retry 501).

Asynchronous invocations (InvocationType=Event, InvokeAsync) are stored durably by
`gateway.async_invoke.AsyncInvoker` before 202 is returned; the app exposes it as
`app.state.async_invoker` with `await start()` / `await stop(grace_s)`. It also starts
through Starlette's lifespan, and on the first request if nobody started it.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
from typing import Optional
from urllib.parse import parse_qs

import orjson
from starlette.applications import Starlette

import _core
from gateway.async_invoke import AsyncInvoker
from gateway.config import Config
from gateway.lambda_api import errors as E
from gateway.http_guard import RefusalLog
from gateway.lambda_api.control import ControlOperations, Problem, empty_response, event_payload
from gateway.sigv4 import AuthFailure, SigV4Verifier, load_credentials
from gateway.errors import FunctionNotFound, LambdagateError, PayloadTooLarge, RuntimeUnavailable, Throttled
from gateway.http_io import ClientGone, read_body, respond
from gateway.types import (ACCOUNT_ID, ASYNC_PAYLOAD_LIMIT_BYTES, DEFAULT_REGION, SYNC_PAYLOAD_LIMIT_BYTES, FunctionSpec,
                           ManagedInvoker)

log = logging.getLogger("lambdagate")

INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"
LOG_TAIL_BYTES = 4096
CLIENT_CONTEXT_LIMIT = 3583

# NamespacedFunctionName (botocore service-2.json), anchored: name, partial ARN or ARN, optional qualifier
_FUNCTION_NAME = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_.-]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?")
# the Qualifier member (botocore service-2.json): 1-128 characters of this pattern
_QUALIFIER = re.compile(r"\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_$-]+")
QUALIFIER_MAX = 128
_NAME_PATTERN_TEXT = (r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
                      r"(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")

_JSON = (b"content-type", b"application/json")
_LATEST = (b"x-amz-executed-version", b"$LATEST")
_UNHANDLED = (b"x-amz-function-error", b"Unhandled")


def _header_value(value: bytes) -> str:
    return value.decode("latin-1")


class LambdaApi:
    """The raw ASGI endpoint behind `build_lambda_app`: Invoke here, every other operation in
    `self.control` (ControlOperations)."""

    def __init__(self, invoker: ManagedInvoker, async_invoker: AsyncInvoker, region: Optional[str] = None,
                 account_concurrency: int = Config.account_concurrency, verifier: Optional[SigV4Verifier] = None):
        """`account_concurrency` is the account's limit (Config.account_concurrency) that
        GetAccountSettings and PutFunctionConcurrency answer with; with a `verifier`, every request
        must be signed (Signature Version 4) with one of its credentials."""
        self.invoker = invoker
        self.verifier = verifier
        self.refusals = RefusalLog("Lambda API")
        self.async_invoker = async_invoker
        if region is None:
            specs = invoker.functions()
            region = specs[0].region if specs else DEFAULT_REGION
        self.region = region
        self._resolved: dict = {}                 # (FunctionName label, Qualifier) -> (spec, qualifier)
        self._ids = _core.IdGenerator(os.urandom(16))
        self.autostart = True                     # start the dispatcher on the first request if nobody did
        self.control = ControlOperations(functions=invoker.functions, concurrency=invoker,
                                         event_configs=async_invoker, resolve=self._resolve, accept=self._accept,
                                         next_id=self._ids.next_id, account_concurrency=account_concurrency)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope, receive, send) -> None:
        path = scope["path"]
        method = scope["method"]
        if self.autostart and not self.async_invoker.started and not self.async_invoker.closed:
            await self._autostart()
        if self.verifier is not None:
            try:
                receive = await self._authenticate(scope, receive)
            except ClientGone:
                return
            except Problem as problem:
                await respond(scope, send, problem.response)
                return
        try:
            if method == "POST" and path.startswith(INVOKE_PREFIX) and path.endswith(INVOKE_SUFFIX):
                response = await self._invoke(scope, receive, path[len(INVOKE_PREFIX):-len(INVOKE_SUFFIX)])
            else:
                response = await self.control.handle(scope, receive, method, path)
        except Problem as problem:
            response = problem.response
        except ClientGone:  # the client left mid-body: nothing was invoked, nobody to answer
            return
        except Exception as exc:  # noqa: BLE001 - an AWS-shaped 500 rather than a bare traceback
            log.exception("Lambda API %s %s failed", method, path)
            response = E.service_error(f"lambdagate failed to handle {method} {path}: {exc}")
        await respond(scope, send, response)

    async def _authenticate(self, scope, receive):
        """Check the request's signature (its body read whole, to hash it); a `receive` that hands
        the handlers the body again. Raises Problem with AWS's answer for a caller it refuses."""
        body, size = await read_body(receive, SYNC_PAYLOAD_LIMIT_BYTES)
        if body is None:
            raise Problem(E.sync_too_large(SYNC_PAYLOAD_LIMIT_BYTES, self._ids.next_id()))
        try:
            self.verifier.verify(scope["method"], scope.get("raw_path") or scope["path"].encode(),
                                 scope["query_string"], scope["headers"], body)
        except AuthFailure as refused:
            self.refusals.refused(scope.get("client"), f"{scope['method']} {scope['path']}: {refused.code}",
                                  key=refused.code)
            raise Problem(E.lambda_error(refused.status, refused.code, refused.message,
                                         request_id=self._ids.next_id())) from None
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()      # only a disconnect can follow
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _autostart(self) -> None:
        self.autostart = False
        try:
            await self.async_invoker.start()
        except Exception:  # noqa: BLE001 - Event invocations will report it
            log.exception("cannot start the asynchronous invocation store")
            self.autostart = True

    # ------------------------------------------------------------------ functions

    def _resolve(self, raw: str, qualifier: Optional[str], request_id: str,
                 action: str = "lambda:InvokeFunction") -> tuple:
        """(spec, qualifier or None) for a FunctionName path label plus a Qualifier parameter; raises
        Problem with AWS's answer for a malformed name or qualifier, or a function of another region
        or account (`action` is the IAM action that an AccessDeniedException names)."""
        resolved = self._resolved.get((raw, qualifier))
        if resolved is not None:  # names that resolved before: no regex on the Invoke path
            return resolved
        if len(raw) > 256:
            raise Problem(E.validation(raw, "functionName", "Member must have length less than or equal to 256",
                                       request_id))
        match = _FUNCTION_NAME.fullmatch(raw)
        if match is None:
            raise Problem(E.validation(raw, "functionName", "Member must satisfy regular expression pattern: "
                                        + _NAME_PATTERN_TEXT, request_id))
        if qualifier is not None:
            if not 1 <= len(qualifier) <= QUALIFIER_MAX:
                raise Problem(E.validation(qualifier, "qualifier", "Member must have length "
                                           + ("less than or equal to 128" if qualifier else "greater than or equal to 1"),
                                           request_id))
            if _QUALIFIER.fullmatch(qualifier) is None:
                raise Problem(E.validation(qualifier, "qualifier", "Member must satisfy regular expression pattern: "
                                           r"(|[a-zA-Z0-9$_-]+)", request_id))
        region = match.group("region")
        if region is not None and region != self.region:
            raise Problem(E.lambda_error(404, "ResourceNotFoundException", f"Functions from '{region}' are not "
                                         f"reachable in this region ('{self.region}')", request_id=request_id))
        account = match.group("account")
        if account is not None and account != ACCOUNT_ID:
            arn = f"arn:aws:lambda:{region or self.region}:{account}:function:{match.group('name')}"
            raise Problem(E.access_denied(action, arn, request_id))
        name, derived = match.group("name"), match.group("qualifier")
        if qualifier is not None and derived is not None and qualifier != derived:
            raise Problem(E.invalid_parameter("The derived qualifier from the function name does not match "
                                               "the specified qualifier.", request_id))
        qualifier = derived or qualifier
        region = match.group("region") or self.region
        try:
            spec = self.invoker.function(name)
        except FunctionNotFound:
            raise Problem(E.not_found(name, region, qualifier, request_id)) from None
        if qualifier is not None and qualifier != "$LATEST":
            # lambdagate serves $LATEST only: other versions and aliases do not exist, as on AWS
            raise Problem(E.not_found(spec.function_name, spec.region, qualifier, request_id))
        if len(self._resolved) < 4096:
            self._resolved[(raw, qualifier)] = (spec, qualifier)
        return spec, qualifier

    # ------------------------------------------------------------------ Invoke

    async def _invoke(self, scope, receive, raw_name: str) -> tuple:
        invocation_type = "RequestResponse"
        log_type = None
        client_context_b64 = None
        for key, value in scope["headers"]:
            if key == b"x-amz-invocation-type":
                invocation_type = _header_value(value)
            elif key == b"x-amz-log-type":
                log_type = _header_value(value)
            elif key == b"x-amz-client-context":
                client_context_b64 = value
        qualifier = None
        if scope["query_string"]:
            qualifier = parse_qs(scope["query_string"].decode("latin-1")).get("Qualifier", [None])[0]
        event = invocation_type == "Event"
        body, size = await read_body(receive, ASYNC_PAYLOAD_LIMIT_BYTES if event else SYNC_PAYLOAD_LIMIT_BYTES)
        request_id = self._ids.next_id()
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            return E.validation(invocation_type, "invocationType",
                                "Member must satisfy enum value set: [Event, RequestResponse, DryRun]", request_id)
        if log_type is not None and log_type not in ("None", "Tail"):
            return E.validation(log_type, "logType", "Member must satisfy enum value set: [None, Tail]", request_id)
        if body is None:
            return (E.async_too_large(size, ASYNC_PAYLOAD_LIMIT_BYTES, request_id) if event
                    else E.sync_too_large(SYNC_PAYLOAD_LIMIT_BYTES, request_id))
        spec, qualifier = self._resolve(raw_name, qualifier, request_id)
        body = event_payload(body, request_id)
        invoked_arn = spec.arn if qualifier is None else f"{spec.arn}:{qualifier}"
        if event:
            return await self._accept(spec, body, request_id, invoked_arn, 202)
        if invocation_type == "DryRun":
            return empty_response(204, request_id)
        client_context = None
        if client_context_b64:
            client_context = self._client_context(client_context_b64, request_id)
        return await self._run_sync(spec, body, request_id, invoked_arn, client_context, log_type == "Tail")

    def _client_context(self, value: bytes, request_id: str) -> str:
        if len(value) > CLIENT_CONTEXT_LIMIT:
            raise Problem(E.invalid_parameter(f"Client context must be at most {CLIENT_CONTEXT_LIMIT} bytes "
                                               f"once base64-encoded; got {len(value)}.", request_id))
        try:
            text = base64.b64decode(value, validate=True)
            decoded = orjson.loads(text)
        except (binascii.Error, ValueError):
            raise Problem(E.invalid_parameter("Client context must be a valid Base64-encoded JSON object.",
                                               request_id)) from None
        if not isinstance(decoded, dict):
            raise Problem(E.invalid_parameter("Client context must be a valid Base64-encoded JSON object.",
                                               request_id))
        return text.decode("utf-8")

    async def _run_sync(self, spec: FunctionSpec, body: bytes, request_id: str, invoked_arn: str,
                        client_context: Optional[str], tail: bool) -> tuple:
        try:
            result = await self.invoker.invoke(spec.logical_id, body, client_context=client_context,
                                               invoked_arn=invoked_arn, want_log=tail, request_id=request_id)
        except Throttled as exc:
            return E.throttled(exc.reason, request_id)
        except PayloadTooLarge as exc:
            return E.sync_too_large(exc.limit, request_id)
        except FunctionNotFound:
            return E.not_found(spec.function_name, spec.region, None, request_id)
        except RuntimeUnavailable as exc:
            return E.lambda_error(502, "InvalidRuntimeException", str(exc), request_id=request_id)
        except LambdagateError as exc:
            return E.service_error(str(exc), request_id)
        out = result.payload
        headers = [(b"x-amzn-requestid", result.request_id.encode()), _JSON, _LATEST]
        if result.failed:
            headers.append(_UNHANDLED)
        if tail:
            headers.append((b"x-amz-log-result", base64.b64encode(result.log[-LOG_TAIL_BYTES:])))
        return 200, headers, out

    async def _accept(self, spec: FunctionSpec, body: bytes, request_id: str, invoked_arn: str,
                      status: int) -> tuple:
        try:
            await self.async_invoker.accept(spec, body, request_id=request_id, invoked_arn=invoked_arn)
        except Exception as exc:  # noqa: BLE001 - not stored: the caller must know
            log.error("cannot store an Event invocation of %s: %s", spec.function_name, exc)
            return E.service_error(f"the event could not be stored: {exc}", request_id)
        return empty_response(status, request_id)


class LambdaApp(Starlette):
    """Starlette app whose HTTP requests go straight to LambdaApi (no routing layer on the hot path).

    `app.state.async_invoker` is the AsyncInvoker; servers that run uvicorn with
    lifespan="off" call `await app.state.async_invoker.start()` after the scheduler
    started and `await app.state.async_invoker.stop(grace_s)` before it closes."""

    def __init__(self, api: LambdaApi):
        super().__init__(lifespan=self._lifespan)
        self.api = api
        self.state.async_invoker = api.async_invoker
        self.state.lambda_api = api

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        await self.api.async_invoker.start()
        try:
            yield
        finally:
            await self.api.async_invoker.stop()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await self.api(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def build_lambda_app(invoker: ManagedInvoker, config: Optional[Config] = None) -> LambdaApp:
    """The Lambda API app over a ManagedInvoker (the scheduler, or a fake in tests); the region it
    answers for, the account concurrency limit and the asynchronous event store's settings come
    from `config`."""
    config = config or Config()
    verifier = None
    if config.auth == "sigv4":
        verifier = SigV4Verifier(load_credentials(config.credentials_file, os.environ), config.region)
    return LambdaApp(LambdaApi(invoker, AsyncInvoker(invoker, config), region=config.region,
                               account_concurrency=config.account_concurrency, verifier=verifier))
