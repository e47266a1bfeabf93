"""Builds each guarded route's RouteAccess once, at startup: one authorizer object per API
authorizer (so its result cache spans the routes it guards, as on AWS), one token bucket per
throttled method, one key registry for the whole port."""
from __future__ import annotations

import logging
from typing import Iterable, Mapping, Optional

from gateway.apigw.access import RouteAccess, Throttle
from gateway.types import ApiKeySpec, Invoker, RouteSpec, UsagePlanSpec

log = logging.getLogger("lambdagate")


def build_access(routes: Iterable[RouteSpec], invoker: Invoker, *, region: str,
                 api_keys: Iterable[ApiKeySpec] = (), usage_plans: Iterable[UsagePlanSpec] = (),
                 api_keys_file: Optional[str] = None, jwks_files: Optional[Mapping[str, str]] = None,
                 credentials_file: Optional[str] = None) -> dict[int, RouteAccess]:
    """RouteAccess by id(route) for every route that has something to check."""
    routes = [r for r in routes if r.guarded]
    if not routes:
        return {}
    authorizers: dict[tuple[str, str], object] = {}
    keys = jwks = None
    access: dict[int, RouteAccess] = {}
    for route in routes:
        authorizer = None
        spec = route.authorizer
        if spec is not None:
            key = (route.api.logical_id, spec.name)
            authorizer = authorizers.get(key)
            if authorizer is None:
                if spec.type in ("TOKEN", "REQUEST", "LAMBDA"):
                    from gateway.apigw.lambda_authorizers import LambdaAuthorizer
                    authorizer = LambdaAuthorizer(spec, route.api, invoker, region)
                elif spec.type in ("JWT", "COGNITO_USER_POOLS"):
                    from gateway.apigw.jwt_authorizers import JwksStore, JwtAuthorizer
                    if jwks is None:
                        jwks = JwksStore(jwks_files or {})
                    authorizer = JwtAuthorizer(spec, jwks)
                elif spec.type == "AWS_IAM":
                    from gateway.apigw.iam_authorizer import IamAuthorizer
                    authorizer = IamAuthorizer(region=region, credentials_file=credentials_file)
                else:
                    raise ValueError(f"authorizer {spec.name}: unknown type {spec.type!r}")
                authorizers[key] = authorizer
        # stage and method limits apply to each method on its own ("per-API, per-stage throttling
        # limits are applied at the API method level"): one bucket per route
        throttle = None if route.throttle is None else Throttle(route.throttle.rate_per_s, route.throttle.burst)
        route_keys = None
        if route.api_key_required:
            if keys is None:
                from gateway.apigw.usage_plans import ApiKeys
                keys = ApiKeys(tuple(api_keys), tuple(usage_plans), api_keys_file)
            route_keys = keys
        validator = None
        if route.validation is not None:
            from gateway.apigw.request_validation import RequestValidator
            validator = RequestValidator(route.validation)
        access[id(route)] = RouteAccess(route, throttle, authorizer, route_keys, validator)
    return access
