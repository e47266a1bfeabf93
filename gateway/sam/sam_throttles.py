"""Stage throttling of SAM APIs: a REST API's `MethodSettings` and an HTTP API's
`DefaultRouteSettings` / `RouteSettings` (plus the RouteSettings of its functions' HttpApi events),
read into the ThrottleSpec each route gets."""
from __future__ import annotations

from typing import Any, Callable, Optional

from gateway.types import ThrottleSpec

# What a stage gets for a limit it leaves unset: the account-level throttle of a Region
ACCOUNT_RATE_PER_S, ACCOUNT_BURST = 10000.0, 5000
ANY_PATH, ANY_METHOD = "/*", "*"

Limits = tuple[Optional[float], Optional[int]]       # (rate per second, burst); None: unset
Number = Callable[..., Any]                          # the loader's _number(value, lid, prop, low, high, default)
Fail = Callable[[str, str], Exception]               # (message, property) -> the exception to raise


def _limits(settings: dict, lid: str, prop: str, number: Number) -> Limits:
    rate = number(settings.get("ThrottlingRateLimit"), lid, f"{prop}.ThrottlingRateLimit", 0, float("inf"), None,
                  integer=False)
    burst = number(settings.get("ThrottlingBurstLimit"), lid, f"{prop}.ThrottlingBurstLimit", 0, float("inf"), None)
    return rate, burst


def _spec(*layers: Limits) -> Optional[ThrottleSpec]:
    """The most specific layer's value of each limit, the account's for one no layer sets; None
    when no layer sets either (the route is not throttled by its stage)."""
    rate = next((layer[0] for layer in layers if layer[0] is not None), None)
    burst = next((layer[1] for layer in layers if layer[1] is not None), None)
    if rate is None and burst is None:
        return None
    return ThrottleSpec(rate_per_s=float(ACCOUNT_RATE_PER_S if rate is None else rate),
                        burst=int(ACCOUNT_BURST if burst is None else burst))


class StageThrottles:
    """The throttling a stage's settings give each of its routes."""

    def __init__(self, default: Limits = (None, None)):
        self.default = default
        # REST: (METHOD or "*", path or "/*") -> limits; HTTP: route key ("GET /pets", "$default") -> limits
        self.settings: dict[Any, Limits] = {}

    def rest_route(self, method: str, path: str) -> Optional[ThrottleSpec]:
        """A REST method's throttle: its own MethodSettings entry over its path's, its verb's, then the
        stage-wide one ("/*" and "*")."""
        layers = [self.settings.get(key, (None, None)) for key in
                  ((method, path), (ANY_METHOD, path), (method, ANY_PATH), (ANY_METHOD, ANY_PATH))]
        return _spec(*layers, self.default)

    def http_route(self, route_key: str) -> Optional[ThrottleSpec]:
        """An HTTP API route's throttle: its RouteSettings entry over the stage's DefaultRouteSettings."""
        return _spec(self.settings.get(route_key, (None, None)), self.default)

    def add_http_route(self, route_key: str, settings: dict, lid: str, prop: str, number: Number) -> None:
        """An HttpApi event's RouteSettings: SAM merges them over the API's entry for that route."""
        rate, burst = _limits(settings, lid, prop, number)
        old_rate, old_burst = self.settings.get(route_key, (None, None))
        self.settings[route_key] = (old_rate if rate is None else rate, old_burst if burst is None else burst)


def rest_method_settings(raw: Any, lid: str, number: Number, fail: Fail) -> StageThrottles:
    """`MethodSettings` of an AWS::Serverless::Api: [{ResourcePath, HttpMethod, ThrottlingRateLimit,
    ThrottlingBurstLimit, ...}]; "/*" with "*" is the whole stage, a path is written as AWS stores it
    ("/~1pets~1{id}") or plainly ("/pets/{id}")."""
    throttles = StageThrottles()
    if raw is None:
        return throttles
    if not isinstance(raw, list):
        raise fail("must be a list of method settings", "MethodSettings")
    for index, entry in enumerate(raw):
        prop = f"MethodSettings[{index}]"
        if not isinstance(entry, dict):
            raise fail("must be a mapping with ResourcePath and HttpMethod", prop)
        path, method = entry.get("ResourcePath"), entry.get("HttpMethod")
        for key, value in (("ResourcePath", path), ("HttpMethod", method)):
            if not isinstance(value, str) or not value:
                raise fail('is required: a resource path ("/*" for all) and a method ("*" for all)',
                            f"{prop}.{key}")
        if not path.startswith("/"):
            raise fail(f"{path!r} must start with /", f"{prop}.ResourcePath")
        if path != ANY_PATH:
            path = "/" + path[1:].replace("~1", "/").lstrip("/")
        limits = _limits(entry, lid, prop, number)
        if limits != (None, None):
            throttles.settings[(method.upper(), path)] = limits
    throttles.default = throttles.settings.pop((ANY_METHOD, ANY_PATH), (None, None))
    return throttles


def http_route_settings(default_raw: Any, routes_raw: Any, lid: str, number: Number, fail: Fail) -> StageThrottles:
    """`DefaultRouteSettings` and `RouteSettings` ({"GET /pets": {...}}) of an AWS::Serverless::HttpApi."""
    if default_raw is not None and not isinstance(default_raw, dict):
        raise fail("must be a mapping", "DefaultRouteSettings")
    throttles = StageThrottles(_limits(default_raw or {}, lid, "DefaultRouteSettings", number))
    if routes_raw is None:
        return throttles
    if not isinstance(routes_raw, dict):
        raise fail('must be a mapping of route keys ("GET /pets") to settings', "RouteSettings")
    for route_key, settings in routes_raw.items():
        prop = f"RouteSettings.{route_key}"
        if not isinstance(settings, dict):
            raise fail("must be a mapping", prop)
        throttles.add_http_route(http_route_key(str(route_key)), settings, lid, prop, number)
    return throttles


def http_route_key(text: str) -> str:
    """A route key as API Gateway matches it: "GET /pets", "ANY /{proxy+}", "$default"."""
    method, _, path = text.strip().partition(" ")
    if not path:
        return method if method == "$default" else f"ANY {method}"
    return f"{method.upper()} {path.strip()}"


def route_key_of(method: str, path: str) -> str:
    return "$default" if path == "$default" else f"{method} {path}"
