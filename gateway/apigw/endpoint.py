"""The API Gateway HTTP surface: request in, event out, function result back as HTTP.

A raw ASGI endpoint on the hot path: events are built straight from the scope,
one write of headers and one of body per response. Depends only on the Invoker
protocol, so tests can drive it with a fake.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Optional

import orjson

import _core
from gateway.apigw import cors, events, responses
from gateway.apigw.access import AccessRequest
from gateway.apigw.routing import RouteTable
from gateway.errors import FunctionNotFound, LambdagateError, PayloadTooLarge, Throttled
from gateway.http_io import RAW_HEADERS_KEY, ClientGone, body_framing, read_body, respond
from gateway.types import INTEGRATION_PROXY, Invoker, RouteSpec

log = logging.getLogger("lambdagate")

MAX_BODY_BYTES = 10 * 1024 * 1024          # API Gateway's payload limit
REST_INTEGRATION_TIMEOUT_S = 29.0
HTTP_INTEGRATION_TIMEOUT_S = 30.0


class ApiGateway:
    """ASGI app serving every Api/HttpApi route of a template on one port."""

    def __init__(self, routes, invoker: Invoker, access: Optional[dict] = None):
        self.table = routes if isinstance(routes, RouteTable) else RouteTable(routes)
        self.invoker = invoker
        self._access = access or {}     # id(route) -> RouteAccess (gateway.apigw.access_setup)
        self._ids = _core.IdGenerator(os.urandom(16))
        self._has_cors = any(r.api.cors is not None for r in self.table.routes)
        self._background: set = set()   # invocations that outlived API Gateway's integration timeout
        self._integration_timeout_s = {}
        for route in self.table.routes:
            try:
                timeout_s = invoker.function(route.function).timeout_s
            except FunctionNotFound:
                continue
            limit_s = REST_INTEGRATION_TIMEOUT_S if route.api.kind == "REST" else HTTP_INTEGRATION_TIMEOUT_S
            if timeout_s > limit_s:
                self._integration_timeout_s[id(route)] = limit_s

    async def __call__(self, scope, receive, send) -> None:
        try:
            response = await self._handle(scope, receive)
        except ClientGone:
            return
        except Exception:  # a bug of lambdagate's: logged here, an AWS-shaped 500 for the client
            log.exception("%s %s: unexpected error", scope.get("method"), scope.get("path"))
            response = responses.rest_error(500, "Internal server error", "InternalServerErrorException", spaced=True)
        await respond(scope, send, response)

    async def _handle(self, scope, receive):
        """The response (status, headers, body) to one request."""
        method = scope["method"]
        raw_path = scope.get("raw_path")
        # the table splits segments before decoding, so an encoded %2F stays in its segment
        match = self.table.match(method, raw_path.decode("latin-1") if raw_path else scope["path"])
        if match is None:
            return self._unmatched(scope)
        route, path_params = match
        api = route.api
        rest = api.kind == "REST"
        if api.cors is not None and method == "OPTIONS" and route.method != "OPTIONS":
            if not rest and cors.is_preflight(method, scope["headers"]):
                return cors.cors_preflight(api.cors, scope["headers"])
            if rest:
                return cors.rest_cors_preflight(api.cors, self.table.methods_for(scope["path"]))

        v1 = rest or route.payload_format == "1.0"
        request_id = self._ids.next_id() if v1 else self._ids.next_short_id()
        declared, may_have_body = body_framing(scope)
        if declared is not None and declared > MAX_BODY_BYTES:
            body = None  # API Gateway refuses an oversized body without reading it
        elif may_have_body:
            body = (await read_body(receive, MAX_BODY_BYTES))[0]
        else:
            body = b""
        if body is None:
            return responses.rest_content_length_exceeded() if rest else responses.http_payload_too_large(request_id)
        now_ms = time.time_ns() // 1_000_000
        if v1:
            event = events.build_rest_event(scope, body, route, path_params, request_id=request_id,
                                           extended_request_id=self._ids.next_short_id(), now_ms=now_ms,
                                           raw_headers=scope.get(RAW_HEADERS_KEY))
        else:
            event = events.build_http_event(scope, body, route, path_params, request_id=request_id, now_ms=now_ms)
        if self._access:
            access = self._access.get(id(route))
            if access is not None:
                denied = await access.check(AccessRequest(scope, body, event, route, v1, request_id))
                if denied is not None:
                    return denied
        if route.integration != INTEGRATION_PROXY:
            if route.static_response is not None:
                return _static_response(route.static_response, request_id)
            # reported at startup: only Lambda proxy integrations and fixed MOCK answers run locally
            return responses.rest_invoke_failed(request_id) if rest else responses.http_internal_error(request_id)
        response = await self._invoke(route, orjson.dumps(event), scope, request_id, _trace_root(event["headers"]))
        if not rest and api.cors is not None:
            status, headers, out = response
            origin = _header(scope, b"origin")
            response = status, cors.strip_cors_headers(headers) + cors.cors_response_headers(api.cors, origin), out
        return response

    async def _invoke(self, route: RouteSpec, payload: bytes, scope, request_id: str, trace_root: Optional[str]):
        rest = route.api.kind == "REST"
        try:
            limit_s = self._integration_timeout_s.get(id(route))
            if limit_s is None:
                result = await self.invoker.invoke(route.function, payload, trace_root=trace_root)
            else:
                # the invocation goes on after API Gateway gives up, as on AWS
                task = asyncio.ensure_future(self.invoker.invoke(route.function, payload, trace_root=trace_root))
                self._background.add(task)
                task.add_done_callback(_forget_task(self._background))
                try:
                    result = await asyncio.wait_for(asyncio.shield(task), limit_s)
                except asyncio.TimeoutError:
                    return responses.rest_timeout(request_id) if rest else responses.http_service_unavailable(request_id)
        except Throttled:
            # the function is throttled by Lambda (reserved or account concurrency), not the API by
            # API Gateway: "If the Lambda API rejects the invocation request, API Gateway returns a 500"
            return responses.rest_invoke_failed(request_id) if rest else responses.http_internal_error(request_id)
        except PayloadTooLarge:
            return responses.rest_request_too_long(request_id) if rest else responses.http_payload_too_large(request_id)
        except LambdagateError as exc:
            log.error("%s %s: invoking %s failed: %s", scope["method"], scope["path"], route.function, exc)
            return responses.rest_invoke_failed(request_id) if rest else responses.http_internal_error(request_id)
        if result.failed:
            return responses.rest_internal_error(request_id) if rest else responses.http_internal_error(request_id)
        try:
            if rest:
                response = responses.map_rest_response(result.payload, _header(scope, b"accept"),
                                                   route.api.binary_media_types)
                response[1].append((b"x-amzn-RequestId", request_id.encode()))
            else:
                response = responses.map_http_response(result.payload, route.payload_format)
                response[1].append((b"apigw-requestid", request_id.encode()))
            return response
        except responses.MalformedResponse as exc:
            log.error("Execution failed due to configuration error: Malformed Lambda proxy response "
                      "(%s %s -> %s: %s)", scope["method"], scope["path"], route.function, exc)
            return responses.rest_internal_error(request_id) if rest else responses.http_internal_error(request_id)

    def _unmatched(self, scope):
        method, path = scope["method"], scope["path"]
        if self._has_cors and method == "OPTIONS":
            # a REST resource with Cors has the OPTIONS method SAM generates; an HTTP API with
            # CorsConfiguration answers preflights even where no route exists
            methods = self.table.methods_for(path)
            for declared in methods:
                match = self.table.match(declared if declared != "ANY" else "GET", path)
                if match is not None and match[0].api.kind == "REST" and match[0].api.cors is not None:
                    return cors.rest_cors_preflight(match[0].api.cors, methods)
            if cors.is_preflight(method, scope["headers"]):
                for route in self.table.routes:
                    if route.api.kind == "HTTP" and route.api.cors is not None:
                        return cors.cors_preflight(route.api.cors, scope["headers"])
        request_id = self._ids.next_id()
        if self.table.not_found_kind(path) == "HTTP":
            return responses.http_not_found(request_id)
        return responses.rest_missing_token(request_id)


def _static_response(fixed: tuple, request_id: str):
    """A MOCK integration's fixed answer, with the request id API Gateway adds to every response."""
    status, headers, body = fixed
    out = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    out.append((b"x-amzn-RequestId", request_id.encode()))
    return status, out, body


def _trace_root(event_headers: dict) -> Optional[str]:
    """`Root=1-...` of the X-Amzn-Trace-Id the event carries, shared with the function's trace."""
    value = event_headers.get("X-Amzn-Trace-Id") or event_headers.get("x-amzn-trace-id")
    if value and value.startswith("Root="):
        return value.split(";", 1)[0]
    return None


def _forget_task(tasks: set):
    def done(task) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an invocation that API Gateway stopped waiting for failed: %s", task.exception())
    return done


def _header(scope, name: bytes) -> Optional[str]:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
