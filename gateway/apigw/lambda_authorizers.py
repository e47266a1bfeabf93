"""Lambda authorizers as API Gateway runs them: REST TOKEN and REQUEST, HTTP API payload 1.0 and 2.0
(aws-contract.md §1.9).

Per request, in API Gateway's order:

1. the identity: the TOKEN header, or every identity source of a REQUEST / HTTP API authorizer.
   One missing or empty answers 401 without invoking the function; so does a TOKEN that the
   validation expression does not match as a whole.
2. the cache (``ttl_s`` > 0 and at least one identity source): a result is kept per identity
   values and serves every route the authorizer guards. A cached IAM policy is evaluated again
   against each request's method ARN, so a policy that names one method denies the others until it
   expires, as on AWS. Requests for one identity while its invocation runs share that invocation.
   The method ARN (REST ``methodArn``, HTTP API ``routeArn``) names the path the route table
   matched: percent-decoded, without repeated or trailing slashes, so that every spelling the
   router serves from one resource meets the same Allow or Deny (the event's own ``path`` and
   ``rawPath`` stay as they were sent).
3. the invocation: the function raising exactly ``Unauthorized`` answers 401; any other failure,
   a timeout, a throttle, or an output API Gateway cannot use answers 500 (REST
   ``{"message":null}``, AuthorizerConfigurationException; HTTP API ``Internal Server Error``).
4. the decision: an explicit Deny answers REST 403 ``{"Message":"User is not authorized to access
   this resource with an explicit deny"}``, no matching Allow 403 ``{"Message":"User is not
   authorized to access this resource"}`` (AccessDeniedException; capital M, as AWS sends them);
   HTTP API 403 ``{"message":"Forbidden"}`` for both and for ``isAuthorized: false``.
5. the grant: REST and payload 1.0 events get ``requestContext.authorizer`` = the context
   (REST: values stringified), ``principalId`` and ``integrationLatency`` (ms; 0 from the cache);
   HTTP API 2.0 events get ``requestContext.authorizer.lambda`` = the context (null without one).
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any, Optional

import orjson

from gateway.apigw import events, responses
from gateway.apigw.access import AccessRequest, AuthGrant, Denied
from gateway.apigw.authorizer_identity import IdentitySource, header_value, parse_identity_sources
from gateway.apigw.iam_policy import ALLOW, EXPLICIT_DENY, InvalidPolicy, Policy, parse_policy
from gateway.apigw.routing import normalized_path
from gateway.errors import LambdagateError
from gateway.sam.authorizer_settings import compile_validation_expression, invalid_setting
from gateway.types import ACCOUNT_ID, ApiSpec, AuthorizerSpec, Invoker

__all__ = ["LambdaAuthorizer", "ResultCache", "MAX_CACHED_IDENTITIES"]

log = logging.getLogger("lambdagate")

MAX_CACHED_IDENTITIES = 4096    # per authorizer: clients choose the tokens, memory must not follow
MAX_DECISIONS_PER_RESULT = 16   # (verb, path) pairs a cached policy remembers its answer for
# a longer path is evaluated every time instead: clients choose paths too, and 4096 identities x
# 16 decisions x a 256-char key stay near 20 MB where unbounded keys would reach gigabytes
MAX_REMEMBERED_PATH_CHARS = 256
# HTTP API: "Lambda authorizer response timeout 10000 ms" (quotas); a REST authorizer gets the
# integration timeout's 29 s
HTTP_AUTHORIZER_TIMEOUT_S = 10.0
REST_AUTHORIZER_TIMEOUT_S = 29.0

_EXPLICIT_DENY_BODY = b'{"Message":"User is not authorized to access this resource with an explicit deny"}'
_IMPLICIT_DENY_BODY = b'{"Message":"User is not authorized to access this resource"}'
_CONFIGURATION_ERROR_BODY = b'{"message":null}'

# the REST-shaped request fields an authorizer receives (REST REQUEST and HTTP API 1.0): no body
_V1_FIELDS = ("resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
              "multiValueQueryStringParameters", "pathParameters", "stageVariables")
_V2_OPTIONAL = ("cookies", "headers", "queryStringParameters")
_V2_OPTIONAL_AFTER_CONTEXT = ("pathParameters", "stageVariables")
_SCALARS = (str, bool, int, float)
_monotonic = time.monotonic


class _Unusable(ValueError):
    """The authorizer's output is not one API Gateway can use (answered 500)."""


class ResultCache:
    """Authorizer results by identity for `ttl_s` seconds; at most `max_entries`, the oldest
    dropped first (every entry lives equally long, so the oldest is also the next to expire)."""

    __slots__ = ("ttl_s", "max_entries", "entries")

    def __init__(self, ttl_s: float, max_entries: int = MAX_CACHED_IDENTITIES):
        self.ttl_s, self.max_entries = float(ttl_s), int(max_entries)
        self.entries: dict = {}

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key, now_s: Optional[float] = None):
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry[0] <= (_monotonic() if now_s is None else now_s):
            del self.entries[key]
            return None
        return entry[1]

    def put(self, key, value, now_s: Optional[float] = None) -> None:
        entries = self.entries
        entries.pop(key, None)      # a renewed entry moves to the young end
        while len(entries) >= self.max_entries:
            del entries[next(iter(entries))]
        entries[key] = ((_monotonic() if now_s is None else now_s) + self.ttl_s, value)


class _Result:
    """One usable authorizer answer: a policy (IAM responses) or a yes/no (HTTP API simple
    responses), with what the integration's event gets when it lets the request through."""

    __slots__ = ("policy", "authorized", "principal_id", "context", "usage_key", "latency_ms",
                 "decisions", "grants")

    def __init__(self, policy: Optional[Policy], authorized: bool, principal_id: Optional[str],
                 context: Optional[dict], usage_key: Optional[str], latency_ms: int):
        self.policy, self.authorized = policy, authorized
        self.principal_id, self.context, self.usage_key = principal_id, context, usage_key
        self.latency_ms = latency_ms
        self.decisions: dict[tuple, int] = {}    # (verb, path) -> decision
        # [v2 event fresh, v2 cached, v1 fresh, v1 cached]: built once each, shared by the
        # requests it serves (RouteAccess only reads a grant, and each event is serialised at once)
        self.grants: list = [None, None, None, None]

    def decide(self, target: tuple, method_arn: str) -> int:
        """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY for a request of `target` ((verb, path)),
        remembered when the path is short enough."""
        if self.policy is None:
            decision = ALLOW if self.authorized else EXPLICIT_DENY
        else:
            decision = self.policy.evaluate(method_arn)
        if len(target[1]) <= MAX_REMEMBERED_PATH_CHARS:
            if len(self.decisions) >= MAX_DECISIONS_PER_RESULT:
                self.decisions.clear()
            self.decisions[target] = decision
        return decision

    def grant(self, v1: bool, cached: bool) -> AuthGrant:
        slot = v1 * 2 + cached
        grant = self.grants[slot]
        if grant is None:
            if v1:
                authorizer = dict(self.context) if self.context else {}
                if self.principal_id is not None:
                    authorizer["principalId"] = self.principal_id
                authorizer["integrationLatency"] = 0 if cached else self.latency_ms
            else:
                authorizer = {"lambda": self.context}
            grant = self.grants[slot] = AuthGrant(authorizer=authorizer, usage_identifier_key=self.usage_key)
        return grant


# outcomes of an invocation that are not results
_UNAUTHORIZED = "unauthorized"
_FAILED = "failed"


class LambdaAuthorizer:
    """One Lambda authorizer of an API (built once by gateway.apigw.access_setup; its cache spans
    every route it guards)."""

    def __init__(self, spec: AuthorizerSpec, api: ApiSpec, invoker: Invoker, region: str):
        self.spec = spec
        self.invoker = invoker
        self.rest = api.kind == "REST"
        self.token = spec.type == "TOKEN"
        self.payload_v2 = not self.rest and spec.payload_format == "2.0"
        self.simple = self.payload_v2 and spec.simple_responses
        sources = spec.identity_sources
        if self.token and not sources:
            sources = ("method.request.header.Authorization",)
        self.sources: tuple[IdentitySource, ...] = parse_identity_sources(
            sources, join_repeated=not self.rest, where=f"authorizer {spec.name}, IdentitySource")
        self._token_header: Optional[bytes] = None
        self._validation: Optional[re.Pattern] = None
        if self.token:
            if len(self.sources) != 1 or self.sources[0].kind != "header":
                raise invalid_setting(f"authorizer {spec.name}, IdentitySource",
                                      f"a TOKEN authorizer takes its token from one header, "
                                      f"not {', '.join(spec.identity_sources)}")
            self._token_header = self.sources[0].header
            if spec.validation_expression:
                self._validation = compile_validation_expression(
                    spec.validation_expression, f"authorizer {spec.name}, IdentityValidationExpression")
        self._arn_prefix = (f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{events.api_id_for(api.logical_id)}/"
                            f"{api.stage_name}/")
        # AWS caches only with a TTL and something to key on
        self.cache: Optional[ResultCache] = ResultCache(spec.ttl_s) if spec.ttl_s > 0 and self.sources else None
        self._in_flight: dict = {}       # identity -> the task invoking the function for it
        self._background: set = set()    # invocations API Gateway stopped waiting for
        self._timeout_s = REST_AUTHORIZER_TIMEOUT_S if self.rest else HTTP_AUTHORIZER_TIMEOUT_S

    # ------------------------------------------------------------------ the request path

    async def authorize(self, request: AccessRequest) -> AuthGrant:
        """The grant for the integration's event; raises Denied with API Gateway's answer."""
        scope = request.scope
        values: Optional[tuple] = None
        if self._token_header is not None:
            # the last one, as the REST event shows it
            key = header_value(scope["headers"], self._token_header, False)
            if not key:
                raise Denied(self._unauthorized(request))
        else:
            values = tuple([source.value(request) for source in self.sources])
            if None in values:
                raise Denied(self._unauthorized(request))
            key = values
        # (verb, path after the stage): what the method ARN is made of, and the cached decisions'
        # key. The path is the one the route table matched: a policy denying GET/admin must see
        # /admin/, //admin and /%61dmin as the /admin they are routed to.
        raw_path = scope.get("raw_path")
        target = (scope["method"], normalized_path(raw_path.decode("latin-1") if raw_path else scope["path"]))
        cache = self.cache
        if cache is not None:
            # the cache hit, inline: it is the common case and must stay cheap
            entry = cache.entries.get(key)
            if entry is not None and entry[0] > _monotonic():
                result = entry[1]
                decision = result.decisions.get(target)
                if decision is None:
                    decision = result.decide(target, self._method_arn(target))
                if decision != ALLOW:
                    raise Denied(self._forbidden(request, decision))
                return result.grants[request.v1 * 2 + 1] or result.grant(request.v1, True)
        return await self._authorize_anew(request, key, values, target)

    async def _authorize_anew(self, request: AccessRequest, key, values: Optional[tuple],
                              target: tuple) -> AuthGrant:
        """Ask the function (or join the request already asking it for this identity)."""
        if values is None:
            if self._validation is not None and self._validation.fullmatch(key) is None:
                raise Denied(self._unauthorized(request))
            values = (key,)
        method_arn = self._method_arn(target)
        cache = self.cache
        if cache is None:
            outcome = await self._call(request, values, method_arn)
        else:
            task = self._in_flight.get(key)
            if task is None:
                task = asyncio.ensure_future(self._call(request, values, method_arn))
                self._in_flight[key] = task
                task.add_done_callback(self._settled(key))
            outcome = await asyncio.shield(task)
        if outcome is _UNAUTHORIZED:
            raise Denied(self._unauthorized(request))
        if outcome is _FAILED:
            raise Denied(self._configuration_error(request))
        decision = outcome.decisions.get(target)
        if decision is None:
            decision = outcome.decide(target, method_arn)
        if decision != ALLOW:
            raise Denied(self._forbidden(request, decision))
        return outcome.grant(request.v1, False)

    def _settled(self, key):
        def settled(task: asyncio.Task) -> None:
            self._in_flight.pop(key, None)
            if not task.cancelled() and task.exception() is None and isinstance(task.result(), _Result):
                self.cache.put(key, task.result())
        return settled

    def _method_arn(self, target: tuple) -> str:
        """arn:aws:execute-api:REGION:ACCOUNT:APIID/STAGE/VERB/path (the path without its leading slash)."""
        verb, path = target
        return self._arn_prefix + verb + "/" + (path[1:] if path.startswith("/") else path)

    # ------------------------------------------------------------------ the invocation

    async def _call(self, request: AccessRequest, values: tuple, method_arn: str):
        """A _Result, _UNAUTHORIZED or _FAILED; never raises (but CancelledError)."""
        spec = self.spec
        if not spec.function:
            log.error("authorizer %s names no function of this template: API Gateway cannot invoke it", spec.name)
            return _FAILED
        payload = orjson.dumps(self._input(request, values, method_arn))
        started_s = time.perf_counter()
        invocation = asyncio.ensure_future(self.invoker.invoke(spec.function, payload))
        try:
            result = await asyncio.wait_for(asyncio.shield(invocation), self._timeout_s)
        except asyncio.TimeoutError:
            self._keep(invocation)
            log.error("authorizer %s: %s did not answer within %.0f s", spec.name, spec.function, self._timeout_s)
            return _FAILED
        except asyncio.CancelledError:
            self._keep(invocation)
            raise
        except LambdagateError as exc:          # throttled, not found, payload too large...
            log.error("authorizer %s: invoking %s failed: %s", spec.name, spec.function, exc)
            return _FAILED
        latency_ms = int((time.perf_counter() - started_s) * 1000)
        if result.failed:
            message = _error_message(result.payload)
            if message == "Unauthorized":
                return _UNAUTHORIZED
            log.error("authorizer %s: %s failed (%s): %s", spec.name, spec.function, result.function_error, message)
            return _FAILED
        try:
            return self._result(result.payload, latency_ms)
        except _Unusable as exc:
            log.error("authorizer %s: Execution failed due to configuration error: %s", spec.name, exc)
            return _FAILED

    def _keep(self, invocation: asyncio.Future) -> None:
        """An invocation nobody waits for any more goes on, as on AWS, and is settled unseen."""
        self._background.add(invocation)
        invocation.add_done_callback(_forget(self._background))

    def _input(self, request: AccessRequest, values: tuple, method_arn: str) -> dict:
        """The event the authorizer function receives."""
        if self.token:
            return {"type": "TOKEN", "authorizationToken": values[0], "methodArn": method_arn}
        if self.payload_v2:
            event = request.event if not request.v1 else _rebuild(request, v2=True)
            body = {"version": "2.0", "type": "REQUEST", "routeArn": method_arn,
                    "identitySource": list(values) if values else None, "routeKey": event["routeKey"],
                    "rawPath": event["rawPath"], "rawQueryString": event["rawQueryString"]}
            for name in _V2_OPTIONAL:
                if name in event:
                    body[name] = event[name]
            body["requestContext"] = _without_authorizer(event["requestContext"])
            for name in _V2_OPTIONAL_AFTER_CONTEXT:
                if name in event:
                    body[name] = event[name]
            return body
        event = request.event if request.v1 else _rebuild(request, v2=False)
        if self.rest:
            body = {"type": "REQUEST", "methodArn": method_arn}
        else:
            joined = ",".join(values) if values else None
            body = {"version": "1.0", "type": "REQUEST", "methodArn": method_arn, "identitySource": joined,
                    "authorizationToken": joined}
        for name in _V1_FIELDS:
            body[name] = event.get(name)
        body["requestContext"] = _without_authorizer(event["requestContext"])
        return body

    def _result(self, payload: bytes, latency_ms: int) -> _Result:
        """The usable answer in the function's output; raises _Unusable."""
        try:
            out = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise _Unusable("the authorizer's result is not JSON") from None
        if type(out) is not dict:
            raise _Unusable("the authorizer's result is not a JSON object")
        context = out.get("context")
        if context is not None and type(context) is not dict:
            raise _Unusable("context must be an object")
        if self.simple:
            authorized = out.get("isAuthorized")
            if type(authorized) is not bool:
                raise _Unusable("a simple response needs isAuthorized: true or false")
            return _Result(None, authorized, None, context, None, latency_ms)
        principal_id = out.get("principalId")
        if type(principal_id) is not str:
            if principal_id is None or type(principal_id) not in _SCALARS:
                raise _Unusable("principalId is missing or not a string")
            principal_id = _text(principal_id)
        try:
            policy = parse_policy(out.get("policyDocument"))
        except InvalidPolicy as exc:
            raise _Unusable(f"invalid policyDocument: {exc}") from None
        if context and self.rest:
            context = _stringified(context)
        usage_key = out.get("usageIdentifierKey")
        if usage_key is not None and type(usage_key) is not str:
            raise _Unusable("usageIdentifierKey must be a string")
        return _Result(policy, False, principal_id, context, usage_key, latency_ms)

    # ------------------------------------------------------------------ API Gateway's answers

    def _unauthorized(self, request: AccessRequest):
        if self.rest:
            return responses.rest_error(401, "Unauthorized", "UnauthorizedException", request_id=request.request_id)
        return responses.http_error(401, "Unauthorized", request_id=request.request_id)

    def _forbidden(self, request: AccessRequest, decision: int):
        if self.rest:
            status, headers, _ = responses.rest_error(403, "", "AccessDeniedException", request_id=request.request_id)
            return status, headers, _EXPLICIT_DENY_BODY if decision == EXPLICIT_DENY else _IMPLICIT_DENY_BODY
        return responses.http_error(403, "Forbidden", request_id=request.request_id)

    def _configuration_error(self, request: AccessRequest):
        if self.rest:
            status, headers, _ = responses.rest_error(500, "", "AuthorizerConfigurationException",
                                                      request_id=request.request_id)
            return status, headers, _CONFIGURATION_ERROR_BODY
        return responses.http_internal_error(request.request_id)


# --------------------------------------------------------------------------- small pieces

def _forget(tasks: set):
    def done(task: asyncio.Future) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("an authorizer invocation API Gateway stopped waiting for failed: %s", task.exception())
    return done


def _error_message(payload: bytes) -> Optional[str]:
    """errorMessage of a function error's payload (None when it has none)."""
    try:
        error = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    message = error.get("errorMessage") if type(error) is dict else None
    return message if isinstance(message, str) else None


def _text(value: Any) -> str:
    """A context value as API Gateway passes it to a REST integration: true/false, numbers as JSON."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    return orjson.dumps(value).decode()


def _stringified(context: dict) -> dict:
    """REST: context values must be strings, numbers or booleans, and arrive as strings."""
    out = {}
    for key, value in context.items():
        if type(value) not in _SCALARS:
            raise _Unusable(f"context.{key} is {'null' if value is None else type(value).__name__}: "
                            f"a REST authorizer's context holds strings, numbers and booleans only")
        out[key] = _text(value)
    return out


def _without_authorizer(context: dict) -> dict:
    """requestContext as the authorizer sees it: nothing of any authorizer in it yet."""
    return {k: v for k, v in context.items() if k != "authorizer"} if "authorizer" in context else context


def _rebuild(request: AccessRequest, v2: bool) -> dict:
    """The request as the other event shape (an HTTP API route whose integration and authorizer
    use different payload formats): built from the same scope, with the same ids and time."""
    event, route = request.event, request.route
    params = event.get("pathParameters")
    if v2:
        now_ms = event["requestContext"]["requestTimeEpoch"]
        return events.build_http_event(request.scope, request.body, route, params, request_id=request.request_id,
                                       now_ms=now_ms)
    now_ms = event["requestContext"]["timeEpoch"]
    return events.build_rest_event(request.scope, request.body, route, params, request_id=request.request_id,
                                   extended_request_id=request.request_id, now_ms=now_ms)
