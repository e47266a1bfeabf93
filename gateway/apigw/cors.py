"""API Gateway's CORS (aws-contract.md §1.8): HTTP API CorsConfiguration preflights and response
headers, and the OPTIONS method SAM generates for a REST API's ``Cors``. Every function returns
``(status, headers, body)`` or headers as lists of ``(name bytes, value bytes)``."""
from __future__ import annotations

from typing import Iterable, Mapping, Optional, Sequence, Union

from gateway.types import CorsConfig

from gateway.apigw.responses import Headers, Response, _enc

RequestHeaders = Union[Mapping[str, str], Sequence[tuple[bytes, bytes]]]

__all__ = [
    "is_preflight",
    "cors_origin_allowed",
    "cors_preflight",
    "cors_response_headers",
    "strip_cors_headers",
    "rest_cors_preflight",
]

_ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _request_header(request_headers: RequestHeaders, name: str) -> Optional[str]:
    """A header from a Mapping (any casing) or an ASGI list of (lower-cased bytes, bytes)."""
    if isinstance(request_headers, Mapping):
        value = request_headers.get(name)
        if value is None:
            for k, v in request_headers.items():
                if k.lower() == name:
                    return v
        return value
    bname = name.encode()
    for k, v in request_headers:
        if k == bname or k.lower() == bname:
            return v.decode("latin-1")
    return None


def is_preflight(method: str, request_headers: RequestHeaders) -> bool:
    """A CORS preflight: OPTIONS with both Origin and Access-Control-Request-Method."""
    return (method == "OPTIONS" and _request_header(request_headers, "origin") is not None
            and _request_header(request_headers, "access-control-request-method") is not None)


def cors_origin_allowed(cors: CorsConfig, origin: Optional[str]) -> Optional[str]:
    """The Access-Control-Allow-Origin value for ``origin``: ``*`` when all origins are allowed,
    the origin itself when listed, else None (no CORS headers at all)."""
    if not origin:
        return None
    if "*" in cors.allow_origins:
        return "*"
    wanted = origin.rstrip("/").lower()
    for allowed in cors.allow_origins:
        if allowed.rstrip("/").lower() == wanted:
            return origin
    return None


def cors_preflight(cors: CorsConfig, request_headers: RequestHeaders) -> Response:
    """HTTP API with CorsConfiguration: API Gateway's own answer to a preflight (no route needed).

    204, empty body. The CORS headers appear only when the Origin is allowed and the request
    carries Access-Control-Request-Method; they are the configured lists, not echoes.
    """
    headers: Headers = []
    allow = cors_origin_allowed(cors, _request_header(request_headers, "origin"))
    if allow is not None and _request_header(request_headers, "access-control-request-method"):
        headers.append((b"access-control-allow-origin", _enc(allow)))
        if cors.allow_credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        if cors.allow_methods:
            headers.append((b"access-control-allow-methods", _enc(",".join(cors.allow_methods))))
        if cors.allow_headers:
            headers.append((b"access-control-allow-headers", _enc(",".join(cors.allow_headers))))
        if cors.max_age_s is not None:
            headers.append((b"access-control-max-age", str(cors.max_age_s).encode()))
    return 204, headers, b""


def cors_response_headers(cors: CorsConfig, origin: Optional[str]) -> Headers:
    """Headers an HTTP API adds to an integration response for a CORS request (allowed Origin)."""
    allow = cors_origin_allowed(cors, origin)
    if allow is None:
        return []
    out: Headers = [(b"access-control-allow-origin", _enc(allow))]
    if cors.allow_credentials:
        out.append((b"access-control-allow-credentials", b"true"))
    if cors.expose_headers:
        out.append((b"access-control-expose-headers", _enc(",".join(cors.expose_headers))))
    return out


def strip_cors_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """Drop the integration's Access-Control-* headers: with CORS configured, AWS ignores them."""
    return [(k, v) for k, v in headers if not k.lower().startswith(b"access-control-")]


def rest_cors_preflight(cors: CorsConfig, methods: Iterable[str] = ()) -> Response:
    """REST API ``Cors``: what the MOCK OPTIONS method SAM generates answers (SAMT swagger.py).

    200, ``{}``. Allow-Origin is the configured value whatever the request's Origin; Allow-Methods
    defaults to the path's methods plus OPTIONS (all methods when the path has ANY); Allow-Headers
    and Max-Age only when configured; Allow-Credentials only when true.
    """
    if cors.allow_methods:
        allow_methods = ",".join(cors.allow_methods)
    else:
        ms = {m.upper() for m in methods}
        allow_methods = ",".join(_ALL_METHODS if "ANY" in ms else sorted(ms | {"OPTIONS"}))
    headers: Headers = [(b"Content-Type", b"application/json"),
                        (b"Access-Control-Allow-Origin", _enc(",".join(cors.allow_origins)))]
    if cors.allow_headers:
        headers.append((b"Access-Control-Allow-Headers", _enc(",".join(cors.allow_headers))))
    headers.append((b"Access-Control-Allow-Methods", _enc(allow_methods)))
    if cors.max_age_s is not None:
        headers.append((b"Access-Control-Max-Age", str(cors.max_age_s).encode()))
    if cors.allow_credentials:
        headers.append((b"Access-Control-Allow-Credentials", b"true"))
    return 200, headers, b"{}"
