"""API Gateway -> Lambda proxy events, built straight from an ASGI ``scope`` (aws-contract.md §1.1-§1.3, §1.5).

Pure functions on the request hot path: no web framework, no per-call regex, no uuid (ids come in).
Their memo caches (per route, per second, per Host value) hold only values derived from the key.

``scope`` is an ASGI HTTP scope: ``method``, ``path`` (decoded str, *without* any stage prefix),
``raw_path`` (percent-encoded bytes or None), ``query_string`` (bytes), ``headers`` (list of
(lower-cased name bytes, value bytes)), ``client`` ((host, port)), ``server`` ((host, port)),
``scheme`` and ``http_version``.
"""
from __future__ import annotations

import base64
import hashlib
import random
import time
from functools import lru_cache
from typing import Any, Iterable, Optional, Sequence
from urllib.parse import unquote_plus

from gateway.types import ACCOUNT_ID, RouteSpec

__all__ = [
    "build_rest_event",
    "build_http_event",
    "media_type_matches",
    "rest_body_is_binary",
    "http_body_is_binary",
    "api_id_for",
    "clf_time",
]

# Request headers API Gateway does not pass to a REST integration (absent from real captures even
# for requests that carried them: LocalStack AWS-validated snapshots of REST proxy events).
_REST_DROPPED = frozenset((b"content-length", b"connection"))
# Hop-by-hop header not forwarded to an HTTP API integration either.
_HTTP_DROPPED = frozenset((b"connection",))

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# (epoch second, its CLF time, its X-Amzn-Trace-Id prefix): both change once a second
_clock: tuple[int, str, str] = (-1, "", "")

# HTTP API delivers these request bodies as text; everything else (incl. no Content-Type and
# form posts) is base64 (ministack PR #766, verified against AWS). Parameters such as charset
# are ignored; structured suffixes (+json, +xml) are not in the verified list and count as binary.
_HTTP_TEXT_TYPES = frozenset(("application/json", "application/xml", "application/javascript"))

# requestContext.identity: all null but sourceIp and userAgent (no authorizer, no IAM caller)
_IDENTITY_REST = dict.fromkeys((
    "accessKey", "accountId", "apiKey", "apiKeyId", "caller", "cognitoAuthenticationProvider",
    "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId",
    "sourceIp", "user", "userAgent", "userArn"))
_IDENTITY_HTTP = dict.fromkeys((
    "accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
    "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId", "sourceIp", "user", "userAgent", "userArn"))


# --------------------------------------------------------------------------- small helpers

def clf_time(now_ms: int) -> str:
    """``21/Apr/2020:15:08:21 +0000`` for an epoch in ms (cached per second)."""
    sec = now_ms // 1000
    clock = _clock
    return clock[1] if clock[0] == sec else _tick(sec)[1]


def _tick(sec: int) -> tuple[int, str, str]:
    """The clock cache for a new second (callers check ``_clock[0]`` first, inline)."""
    global _clock
    t = time.gmtime(sec)
    text = (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")
    _clock = (sec, text, f"Root=1-{sec:08x}-")
    return _clock


def _id_chars(seed: str, n: int) -> str:
    digest = int.from_bytes(hashlib.sha1(seed.encode()).digest(), "big")
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for _ in range(n):
        digest, rem = divmod(digest, 36)
        out.append(alphabet[rem])
    return "".join(out)


@lru_cache(maxsize=256)
def api_id_for(logical_id: str) -> str:
    """A stable 10-character API id derived from the API's logical id (AWS ids look like ``gy415nuibc``)."""
    return _id_chars("api:" + logical_id, 10)


@lru_cache(maxsize=256)
def _deployment_id_for(logical_id: str) -> str:
    return _id_chars("deployment:" + logical_id, 6)


@lru_cache(maxsize=4096)
def _resource_id_for(logical_id: str, path: str) -> str:
    return _id_chars(f"resource:{logical_id}:{path}", 6)


@lru_cache(maxsize=512)
def _title(lname: bytes) -> str:
    """Canonical Title-Case for a lower-cased header name: ``content-type`` -> ``Content-Type``."""
    return "-".join(p[:1].upper() + p[1:] for p in lname.decode("latin-1").split("-"))


def _dec(b: bytes) -> str:
    try:
        return b.decode()
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _media_type(content_type: Optional[str]) -> str:
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def media_type_matches(media_type: str, binary_media_types: Iterable[str]) -> bool:
    """True when ``media_type`` (already without parameters) matches one of ``binaryMediaTypes``.

    Entries may be exact (``image/png``), a subtype wildcard (``image/*``) or ``*/*``. The wildcard
    sits on the configured side only: a client asking for ``*/*`` does not match ``image/png``.
    """
    for bt in binary_media_types:
        if bt == "*/*":
            return True
        if not media_type:
            continue
        bt = bt.lower()
        if bt == media_type:
            return True
        if bt.endswith("/*") and media_type.startswith(bt[:-1]):
            return True
    return False


def rest_body_is_binary(content_type: Optional[str], binary_media_types: Sequence[str]) -> bool:
    """REST: the request body is base64-encoded when its Content-Type matches binaryMediaTypes."""
    if not binary_media_types:
        return False
    return media_type_matches(_media_type(content_type), binary_media_types)


def http_body_is_binary(content_type: Optional[str]) -> bool:
    """HTTP API: text only for ``text/*``, application/json, application/xml, application/javascript."""
    mt = _media_type(content_type)
    if not mt:
        return True
    return not (mt.startswith("text/") or mt in _HTTP_TEXT_TYPES)


_getrandbits = random.getrandbits  # the module's shared generator: random.seed() still applies


def _trace_id(trace_prefix: str) -> str:
    """``Root=1-<epoch s hex>-<96 random bits hex>``; ``trace_prefix`` is the per-second part
    (``_clock[2]``). ``to_bytes().hex()`` is the same 24 lower-case digits as ``:024x``, 3x faster."""
    return trace_prefix + _getrandbits(96).to_bytes(12, "big").hex()


def _split_query(qs: str) -> tuple[Optional[dict], Optional[dict]]:
    """Single-valued (last wins) and multi-valued maps of the form-decoded query, or (None, None)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    encoded = "%" in qs or "+" in qs  # one scan of the whole query instead of four per parameter
    for part in qs.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        if encoded:
            if "%" in k or "+" in k:
                k = unquote_plus(k)
            if "%" in v or "+" in v:
                v = unquote_plus(v)
        single[k] = v
        lst = multi.get(k)
        if lst is None:
            multi[k] = [v]
        else:
            lst.append(v)
    if not single:
        return None, None
    return single, multi


@lru_cache(maxsize=4096)
def _template_segments(template: str) -> tuple[str, ...]:
    return tuple(s for s in template.split("/") if s)


def _raw_path_params(template: str, raw_path: str) -> dict[str, str]:
    """Path parameters taken from the percent-encoded path (REST keeps the encoding in them)."""
    segs = [s for s in raw_path.split("/") if s]
    out: dict[str, str] = {}
    for i, t in enumerate(_template_segments(template)):
        if len(t) > 2 and t[0] == "{" and t[-1] == "}":
            name = t[1:-1]
            if name.endswith("+"):
                out[name[:-1]] = "/".join(segs[i:])
                break
            if i < len(segs):
                out[name] = segs[i]
    return out


# Host header -> (domainName, domainPrefix): clients send a handful of distinct Host values
_hosts: dict[Optional[str], tuple[str, str]] = {}


def _host_parts(host: Optional[str]) -> tuple[str, str]:
    """domainName (the Host header without a port) and domainPrefix (its first label)."""
    parts = _hosts.get(host)
    if parts is None:
        name = host
        if not name:
            name = "localhost"
        elif name[0] == "[":  # [::1]:3000
            name = name[: name.find("]") + 1] or name
        elif name.count(":") == 1:
            name = name.split(":", 1)[0]
        parts = (name, name.split(".", 1)[0])
        if len(_hosts) >= 256:  # bounded: any client can send any Host
            _hosts.clear()
        _hosts[host] = parts
    return parts


_PROTOCOLS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0", "2": "HTTP/2.0"}


def _protocol(scope: dict) -> str:
    v = scope.get("http_version") or "1.1"
    return _PROTOCOLS.get(v) or f"HTTP/{v}"


def _forwarded_port(scope: dict, scheme: str) -> str:
    server = scope.get("server")
    return str(server[1] if server and len(server) > 1 and server[1] is not None else (
        443 if scheme == "https" else 80))


# --------------------------------------------------------------------------- per-route constants
#
# What an event takes from its route alone is computed once per RouteSpec (routes live as long as
# the process): the requestContext with the route's keys filled in and the per-request ones None,
# which each request copies (dict.copy keeps the key order, assigning an existing key keeps its
# place), and the stage prefix of paths. Keyed by id(route); the entry holds the route, so the id
# cannot be reused by another object while the entry exists.
_routes_v1: dict[int, tuple[RouteSpec, dict, str]] = {}
_routes_v2: dict[int, tuple[RouteSpec, dict, str]] = {}


def _route_consts(route: RouteSpec, v2: bool) -> tuple[RouteSpec, dict, str]:
    api = route.api
    stage = api.stage_name
    common = {"accountId": ACCOUNT_ID, "apiId": api_id_for(api.logical_id)}
    if v2:
        route_key = "$default" if route.path == "$default" else f"{route.method} {route.path}"
        context = dict(common, domainName=None, domainPrefix=None, http=None, requestId=None,
                       routeKey=route_key, stage=stage, time=None, timeEpoch=None)
    elif api.kind == "HTTP":
        context = dict(common, authorizer=None, domainName=None, domainPrefix=None, extendedRequestId=None,
                       httpMethod=None, identity=None, path=None, protocol=None, requestId=None,
                       requestTime=None, requestTimeEpoch=None, resourceId=None, resourcePath=route.path,
                       stage=stage)
    else:
        context = dict(common, deploymentId=_deployment_id_for(api.logical_id), domainName=None,
                       domainPrefix=None, extendedRequestId=None, httpMethod=None, identity=None, path=None,
                       protocol="HTTP/1.1", requestId=None, requestTime=None, requestTimeEpoch=None,
                       resourceId=_resource_id_for(api.logical_id, route.path), resourcePath=route.path,
                       stage=stage)
        if route.operation_name:
            context["operationName"] = route.operation_name
    prefix = "" if stage == "$default" and (v2 or api.kind == "HTTP") else "/" + stage
    cache = _routes_v2 if v2 else _routes_v1
    if len(cache) >= 4096:  # routes made per call (tests, tools) must not pile up
        cache.clear()
    entry = cache[id(route)] = (route, context, prefix)
    return entry


# --------------------------------------------------------------------------- payload 1.0 headers
#
# One pass fills ``names`` (lower-cased name -> (display name, values list)), ``headers`` (display
# name -> last value) and ``multi`` (display name -> the values list). Two names share a display
# name only for odd input (Title-Case of names an ASGI server did not lower-case); the slot then
# belongs to the later-arriving name (``multi[display] is values``), as in a per-name collection.

def _v1_headers(src: Iterable[tuple[bytes, bytes]], dropped: frozenset, raw: bool,
                title: bool) -> tuple[dict, dict, dict]:
    """``raw``: ``src`` carries the client's casing (``raw_headers``, shown as sent); otherwise
    names are the ASGI lower-cased ones shown in Title-Case (``title``, REST) or as they are."""
    names: dict[bytes, tuple[str, list]] = {}
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in src:
        lname = name.lower() if raw else name
        if lname in dropped:
            continue
        try:
            v = value.decode()
        except UnicodeDecodeError:
            v = value.decode("latin-1")
        entry = names.get(lname)
        if entry is None:
            display = name.decode("latin-1") if raw else _title(lname) if title else lname.decode("latin-1")
            values = [v]
            names[lname] = (display, values)
            headers[display] = v
            multi[display] = values
        else:
            display, values = entry
            values.append(v)
            if multi[display] is values:
                headers[display] = v
    return names, headers, multi


def _v1_put(names: dict, headers: dict, multi: dict, lname: bytes, display: str, value: str) -> None:
    """Set a header to the one ``value``: in place when the client sent it, else added under
    ``display``. ``names`` is left as it was: nothing looks these names up afterwards."""
    entry = names.get(lname)
    if entry is not None:
        display, values = entry
        if multi[display] is not values:  # odd input: another name owns the display slot
            return
    headers[display] = value
    multi[display] = [value]


_GATEWAY_SET = frozenset((b"x-forwarded-for", b"x-forwarded-port", b"x-forwarded-proto", b"x-amzn-trace-id"))
_GATEWAY_NAMES = {True: ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Amzn-Trace-Id"),
                  False: ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id")}


def _v1_gateway_headers(names: dict, headers: dict, multi: dict, title: bool, scope: dict, peer: str,
                        trace_prefix: str) -> None:
    """Headers API Gateway adds on the way in: X-Forwarded-For/-Port/-Proto and X-Amzn-Trace-Id."""
    xff_name, port_name, proto_name, trace_name = _GATEWAY_NAMES[title]
    scheme = scope.get("scheme") or "http"
    port = _forwarded_port(scope, scheme)
    if names.keys().isdisjoint(_GATEWAY_SET):  # the common case: four new headers (as _v1_put adds them)
        trace = _trace_id(trace_prefix)
        headers[xff_name], headers[port_name], headers[proto_name], headers[trace_name] = peer, port, scheme, trace
        multi[xff_name], multi[port_name], multi[proto_name], multi[trace_name] = [peer], [port], [scheme], [trace]
        return
    xff = names.get(b"x-forwarded-for")
    _v1_put(names, headers, multi, b"x-forwarded-for", xff_name,
            peer if xff is None else ", ".join(xff[1] + [peer]))
    _v1_put(names, headers, multi, b"x-forwarded-port", port_name, port)
    _v1_put(names, headers, multi, b"x-forwarded-proto", proto_name, scheme)
    if b"x-amzn-trace-id" not in names:
        _v1_put(names, headers, multi, b"x-amzn-trace-id", trace_name, _trace_id(trace_prefix))


# --------------------------------------------------------------------------- REST / payload 1.0

def build_rest_event(scope: dict, body: bytes, route: RouteSpec, path_params: Optional[dict], *,
                     request_id: str, extended_request_id: str, now_ms: int,
                     raw_headers: Optional[Sequence[tuple[bytes, bytes]]] = None) -> dict:
    """The REST proxy event (payload format 1.0), or the HTTP API 1.0 event for an HTTP API route.

    REST: header names keep the client's casing when ``raw_headers`` is given (else canonical
    Title-Case), ``path`` keeps the client's percent-encoding and has no stage prefix, path
    parameters keep their encoding. HTTP API 1.0: ``version: "1.0"``, lower-cased header names,
    decoded ``path`` with the named-stage prefix, ``authorizer: {claims: null, scopes: null}``.
    """
    cached = _routes_v1.get(id(route))
    if cached is None or cached[0] is not route:
        cached = _route_consts(route, False)
    _, context_template, path_prefix = cached
    api = route.api
    http_api = api.kind == "HTTP"
    method = scope["method"]
    decoded_path = scope.get("path") or "/"
    client = scope.get("client")
    peer = client[0] if client else "127.0.0.1"
    sec = now_ms // 1000
    clock = _clock if _clock[0] == sec else _tick(sec)

    if http_api:
        names, headers, multi = _v1_headers(scope.get("headers") or (), _HTTP_DROPPED, False, False)
        _v1_put(names, headers, multi, b"content-length", "content-length", str(len(body)))
    elif raw_headers is not None:
        names, headers, multi = _v1_headers(raw_headers, _REST_DROPPED, True, True)
    else:
        names, headers, multi = _v1_headers(scope.get("headers") or (), _REST_DROPPED, False, True)
    _v1_gateway_headers(names, headers, multi, not http_api, scope, peer, clock[2])

    if http_api:
        path = context_path = path_prefix + decoded_path
        params = path_params or None
    else:
        raw_path_b = scope.get("raw_path")
        if raw_path_b:
            try:
                raw_path = raw_path_b.decode()
            except UnicodeDecodeError:
                raw_path = raw_path_b.decode("latin-1")
        else:
            raw_path = decoded_path
        context_path = path_prefix + raw_path
        path = raw_path
        if "//" in path:  # API Gateway merges repeated slashes in `path` (not in requestContext.path)
            segs = [s for s in path.split("/") if s]
            path = "/" + "/".join(segs) + ("/" if segs and path.endswith("/") else "")
        params = path_params or None
        if params and "%" in raw_path:
            params = _raw_path_params(route.path, raw_path) or params

    qs_b = scope.get("query_string")
    if qs_b:
        query, multi_query = _split_query(_dec(qs_b))
    else:
        query = multi_query = None

    if body:
        entry = names.get(b"content-type")
        content_type = entry[1][0] if entry is not None else None
        if http_api:
            b64 = http_body_is_binary(content_type)
        else:
            b64 = rest_body_is_binary(content_type, api.binary_media_types)
        body_text: Optional[str] = (base64.b64encode(body).decode("ascii") if b64
                                    else body.decode("utf-8", "replace"))
    else:
        body_text = None
        b64 = False

    entry = names.get(b"host")
    host, prefix = _host_parts(entry[1][0] if entry is not None else None)
    identity = (_IDENTITY_HTTP if http_api else _IDENTITY_REST).copy()
    identity["sourceIp"] = peer
    entry = names.get(b"user-agent")
    identity["userAgent"] = entry[1][0] if entry is not None else None
    context = context_template.copy()
    if http_api:
        context["authorizer"] = {"claims": None, "scopes": None}
        context["protocol"] = _protocol(scope)
    context["domainName"] = host
    context["domainPrefix"] = prefix
    context["extendedRequestId"] = extended_request_id
    context["httpMethod"] = method
    context["identity"] = identity
    context["path"] = context_path
    context["requestId"] = request_id
    context["requestTime"] = clock[1]
    context["requestTimeEpoch"] = now_ms

    event: dict[str, Any] = {
        "resource": route.path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": multi, "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query, "pathParameters": params,
        "stageVariables": dict(api.stage_variables) if api.stage_variables else None,
        "requestContext": context, "body": body_text, "isBase64Encoded": b64,
    }
    if http_api:  # "version" comes first (Mangum tells the two apart by it)
        event = {"version": "1.0", **event}
    return event


# --------------------------------------------------------------------------- HTTP API payload 2.0

def build_http_event(scope: dict, body: bytes, route: RouteSpec, path_params: Optional[dict], *,
                     request_id: str, now_ms: int) -> dict:
    """The HTTP API payload format 2.0 event: empty fields omitted, lower-cased comma-joined headers,
    cookies taken out of the headers, decoded ``rawPath`` with the named-stage prefix."""
    cached = _routes_v2.get(id(route))
    if cached is None or cached[0] is not route:
        cached = _route_consts(route, True)
    _, context_template, path_prefix = cached
    api = route.api
    method = scope["method"]
    raw_path = path_prefix + (scope.get("path") or "/")
    client = scope.get("client")
    peer = client[0] if client else "127.0.0.1"
    sec = now_ms // 1000
    clock = _clock if _clock[0] == sec else _tick(sec)

    # lower-case ASGI names: the name is the display name; cookies leave the headers
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    cookie_values: list[str] = []
    for name, value in scope.get("headers") or ():
        if name in _HTTP_DROPPED:
            continue
        try:
            v = value.decode()
        except UnicodeDecodeError:
            v = value.decode("latin-1")
        if name == b"cookie":
            cookie_values.append(v)
            continue
        display = name.decode("latin-1")
        if display in headers:
            repeated.setdefault(display, [headers[display]]).append(v)
        else:
            headers[display] = v
    for display, values in repeated.items():  # repeated names: values comma-joined in place
        headers[display] = ",".join(values)
    headers["content-length"] = str(len(body))
    xff = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = peer if xff is None else ", ".join(repeated.get("x-forwarded-for", [xff]) + [peer])
    scheme = scope.get("scheme") or "http"
    headers["x-forwarded-port"] = _forwarded_port(scope, scheme)
    headers["x-forwarded-proto"] = scheme
    if "x-amzn-trace-id" not in headers:
        headers["x-amzn-trace-id"] = _trace_id(clock[2])

    qs_b = scope.get("query_string")
    raw_qs = _dec(qs_b) if qs_b else ""
    query = None
    if raw_qs:
        _, multi = _split_query(raw_qs)
        if multi:
            query = {k: (v[0] if len(v) == 1 else ",".join(v)) for k, v in multi.items()}

    host, prefix = _host_parts(headers.get("host"))
    route_key = context_template["routeKey"]

    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path, "rawQueryString": raw_qs}
    cookies = [c.strip() for value in cookie_values for c in value.split(";") if c.strip()]
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    context = context_template.copy()
    context["domainName"] = host
    context["domainPrefix"] = prefix
    context["http"] = {"method": method, "path": raw_path, "protocol": _protocol(scope), "sourceIp": peer,
                       "userAgent": headers.get("user-agent", "")}
    context["requestId"] = request_id
    context["time"] = clock[1]
    context["timeEpoch"] = now_ms
    event["requestContext"] = context
    if body:
        b64 = http_body_is_binary(headers.get("content-type"))
        event["body"] = base64.b64encode(body).decode("ascii") if b64 else body.decode("utf-8", "replace")
    else:
        b64 = False
    if path_params:
        event["pathParameters"] = path_params
    event["isBase64Encoded"] = b64
    if api.stage_variables:
        event["stageVariables"] = dict(api.stage_variables)
    return event
