"""What stands between a request and its integration: API Gateway's access control, per route.

A route with nothing configured has no RouteAccess and costs the hot path one dict probe. For a
guarded route the checks run in API Gateway's order, each able to end the request with its own
gateway response:

1. stage and method throttling (429 ``Too Many Requests``);
2. the authorizer: Lambda (TOKEN, REQUEST, HTTP API payload 1.0/2.0), JWT, Cognito user pools,
   AWS_IAM (401, 403, 500);
3. the API key and its usage plan: throttle and quota (403 ``Forbidden``, 429);
4. the request validator (400), without invoking the function.

The checks read and amend the proxy event being built (headers, query strings, path parameters,
stage variables, requestContext), so that what the authorizer saw and granted reaches the
integration's ``requestContext.authorizer`` and ``requestContext.identity`` as on AWS.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

from gateway.apigw import responses
from gateway.apigw.authorizer_identity import header_value
from gateway.types import RouteSpec

Response = tuple  # (status, headers, body), as gateway.apigw.responses builds them


class Denied(Exception):
    """A check refused the request; `response` is API Gateway's answer to the client."""

    def __init__(self, response: Response):
        super().__init__(response[0])
        self.response = response


@dataclass(slots=True)
class AccessRequest:
    """One request as the checks see it."""
    scope: dict             # the ASGI scope: method, raw_path, query_string, headers, client
    body: bytes             # the request body as received
    event: dict             # the proxy event (REST/payload 1.0 or HTTP API 2.0) being built
    route: RouteSpec
    v1: bool                # True: REST or HTTP API payload 1.0 event shape
    request_id: str


@dataclass(slots=True)
class AuthGrant:
    """What an authorizer let through, for the integration's event."""
    authorizer: Optional[dict] = None        # requestContext.authorizer as the integration sees it
    identity: Optional[dict] = None          # requestContext.identity fields to set (REST / 1.0 events)
    usage_identifier_key: Optional[str] = None   # the API key a Lambda authorizer chose (key source AUTHORIZER)


class Throttle:
    """API Gateway's token bucket: `burst` requests at once, refilled at `rate_per_s`."""

    __slots__ = ("rate_per_s", "burst", "_tokens", "_last_s")

    def __init__(self, rate_per_s: float, burst: int):
        self.rate_per_s, self.burst = float(rate_per_s), int(burst)
        self._tokens, self._last_s = float(burst), time.monotonic()

    def take(self, now_s: Optional[float] = None) -> bool:
        """Take one token; False when the bucket is empty (the request is throttled)."""
        now_s = time.monotonic() if now_s is None else now_s
        elapsed_s = now_s - self._last_s
        if elapsed_s < 0:       # a clock read taken before the last one: nothing to refill
            elapsed_s = 0.0
        else:
            self._last_s = now_s
        tokens = min(self.burst, self._tokens + elapsed_s * self.rate_per_s)
        if tokens < 1.0:
            self._tokens = tokens
            return False
        self._tokens = tokens - 1.0
        return True


class RouteAccess:
    """The checks of one route, built once at startup (gateway.apigw.access_setup)."""

    __slots__ = ("route", "throttle", "authorizer", "keys", "validator", "rest")

    def __init__(self, route: RouteSpec, throttle: Optional[Throttle], authorizer: Any, keys: Any,
                 validator: Any):
        self.route = route
        self.throttle = throttle
        self.authorizer = authorizer        # .authorize(AccessRequest) -> AuthGrant, awaitable; raises Denied
        self.keys = keys                    # .check(AccessRequest, key_value) -> dict of identity fields; raises Denied
        self.validator = validator          # .check(AccessRequest) -> None; raises Denied
        self.rest = route.api.kind == "REST"

    async def check(self, request: AccessRequest) -> Optional[Response]:
        """None when the request may proceed (its event amended), else the response that ends it."""
        if self.throttle is not None and not self.throttle.take():
            return responses.rest_throttled(request.request_id) if self.rest else \
                responses.http_throttled(request.request_id)
        try:
            context = request.event["requestContext"]
            grant = None
            if self.authorizer is not None:
                grant = await self.authorizer.authorize(request)
                if grant.authorizer is not None:
                    context["authorizer"] = grant.authorizer
                if grant.identity:
                    identity = context.get("identity")
                    if isinstance(identity, dict):
                        identity.update(grant.identity)
            if self.keys is not None:
                if self.route.api.api_key_source == "AUTHORIZER":
                    key = grant.usage_identifier_key if grant is not None else None
                else:
                    # the occurrence the integration's event shows, when a client repeats the header
                    key = header_value(request.scope["headers"], b"x-api-key", join=False)
                fields = self.keys.check(request, key)
                identity = context.get("identity")
                if fields and isinstance(identity, dict):
                    identity.update(fields)
            if self.validator is not None:
                self.validator.check(request)
        except Denied as denied:
            return denied.response
        return None

