"""API Gateway -> Lambda proxy events, built straight from an ASGI ``scope`` (aws-contract.md §1.1-§1.3, §1.5).

Pure functions on the request hot path: no web framework, no per-call regex, no uuid (ids come in).

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
_clf_cache: tuple[int, str] = (-1, "")

# HTTP API delivers these request bodies as text; everything else (incl. no Content-Type and
# form posts) is base64 (ministack PR #766, verified against AWS). Parameters such as charset
# are ignored; structured suffixes (+json, +xml) are not in the verified list and count as binary.
_HTTP_TEXT_TYPES = frozenset(("application/json", "application/xml", "application/javascript"))

_IDENTITY_NULL_KEYS_REST = (
    "accessKey", "accountId", "apiKey", "apiKeyId", "caller", "cognitoAuthenticationProvider",
    "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId",
)


# --------------------------------------------------------------------------- small helpers

def clf_time(now_ms: int) -> str:
    """``21/Apr/2020:15:08:21 +0000`` for an epoch in ms (cached per second)."""
    global _clf_cache
    sec = now_ms // 1000
    cached = _clf_cache
    if cached[0] == sec:
        return cached[1]
    t = time.gmtime(sec)
    text = (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")
    _clf_cache = (sec, text)
    return text


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


def _trace_id(now_ms: int) -> str:
    return f"Root=1-{now_ms // 1000:08x}-{random.getrandbits(96):024x}"


def _split_query(qs: str) -> tuple[Optional[dict], Optional[dict]]:
    """Single-valued (last wins) and multi-valued maps of the form-decoded query, or (None, None)."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for part in qs.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
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


def _host_parts(host: Optional[str]) -> tuple[str, str]:
    """domainName (the Host header without a port) and domainPrefix (its first label)."""
    if not host:
        host = "localhost"
    elif host[0] == "[":  # [::1]:3000
        host = host[: host.find("]") + 1] or host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host, host.split(".", 1)[0]


def _collect_headers(src: Iterable[tuple[bytes, bytes]], dropped: frozenset, title: bool,
                     raw_names: bool) -> dict[bytes, list]:
    """lower-cased name -> [display name, [values...]] in arrival order.

    ``raw_names``: ``src`` carries the client's casing (``raw_headers``); otherwise names are the
    ASGI lower-cased ones and ``title`` chooses Title-Case display names (REST) or lower-case (HTTP).
    """
    coll: dict[bytes, list] = {}
    for name, value in src:
        lname = name.lower() if raw_names else name
        if lname in dropped:
            continue
        entry = coll.get(lname)
        v = _dec(value)
        if entry is None:
            if raw_names and title:
                display = name.decode("latin-1")
            elif title:
                display = _title(lname)
            else:
                display = lname.decode("latin-1")
            coll[lname] = [display, [v]]
        else:
            entry[1].append(v)
    return coll


def _set_header(coll: dict, lname: bytes, title: bool, value: str) -> None:
    entry = coll.get(lname)
    if entry is None:
        coll[lname] = [_title(lname) if title else lname.decode("latin-1"), [value]]
    else:
        entry[1] = [value]


def _add_gateway_headers(coll: dict, scope: dict, title: bool, now_ms: int, peer: str) -> None:
    """Headers API Gateway adds on the way in: X-Forwarded-For/-Port/-Proto and X-Amzn-Trace-Id."""
    xff = coll.get(b"x-forwarded-for")
    if xff is None:
        _set_header(coll, b"x-forwarded-for", title, peer)
    else:
        xff[1] = [", ".join(xff[1] + [peer])]
    scheme = scope.get("scheme") or "http"
    server = scope.get("server")
    port = server[1] if server and len(server) > 1 and server[1] is not None else (
        443 if scheme == "https" else 80)
    _set_header(coll, b"x-forwarded-port", title, str(port))
    _set_header(coll, b"x-forwarded-proto", title, scheme)
    if b"x-amzn-trace-id" not in coll:
        _set_header(coll, b"x-amzn-trace-id", title, _trace_id(now_ms))


def _first(coll: dict, lname: bytes) -> Optional[str]:
    entry = coll.get(lname)
    return entry[1][0] if entry is not None else None


def _peer(scope: dict) -> str:
    client = scope.get("client")
    return client[0] if client else "127.0.0.1"


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
    api = route.api
    http_api = api.kind == "HTTP"
    stage = api.stage_name
    method = scope["method"]
    decoded_path = scope.get("path") or "/"
    peer = _peer(scope)

    if http_api:
        coll = _collect_headers(scope.get("headers") or (), _HTTP_DROPPED, False, False)
        _set_header(coll, b"content-length", False, str(len(body)))
    elif raw_headers is not None:
        coll = _collect_headers(raw_headers, _REST_DROPPED, True, True)
    else:
        coll = _collect_headers(scope.get("headers") or (), _REST_DROPPED, True, False)
    _add_gateway_headers(coll, scope, not http_api, now_ms, peer)

    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for display, values in coll.values():
        headers[display] = values[-1]  # duplicates: last value in `headers`, all in multiValueHeaders
        multi_headers[display] = values

    if http_api:
        path = decoded_path if stage == "$default" else f"/{stage}{decoded_path}"
        context_path = path
        params = path_params or None
    else:
        raw_path_b = scope.get("raw_path")
        raw_path = _dec(raw_path_b) if raw_path_b else decoded_path
        context_path = f"/{stage}{raw_path}"
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
        content_type = _first(coll, b"content-type")
        if http_api:
            b64 = http_body_is_binary(content_type)
        else:
            b64 = rest_body_is_binary(content_type, api.binary_media_types)
        body_text: Optional[str] = (base64.b64encode(body).decode("ascii") if b64
                                    else body.decode("utf-8", "replace"))
    else:
        body_text = None
        b64 = False

    host, prefix = _host_parts(_first(coll, b"host"))
    user_agent = _first(coll, b"user-agent")
    resource = route.path

    if http_api:
        identity: dict[str, Any] = {
            "accessKey": None, "accountId": None, "caller": None,
            "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
            "cognitoIdentityId": None, "cognitoIdentityPoolId": None, "principalOrgId": None,
            "sourceIp": peer, "user": None, "userAgent": user_agent, "userArn": None,
        }
        request_context: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": api_id_for(api.logical_id),
            "authorizer": {"claims": None, "scopes": None},
            "domainName": host,
            "domainPrefix": prefix,
            "extendedRequestId": extended_request_id,
            "httpMethod": method,
            "identity": identity,
            "path": context_path,
            "protocol": _protocol(scope),
            "requestId": request_id,
            "requestTime": clf_time(now_ms),
            "requestTimeEpoch": now_ms,
            "resourceId": None,
            "resourcePath": resource,
            "stage": stage,
        }
    else:
        identity = dict.fromkeys(_IDENTITY_NULL_KEYS_REST)
        identity["sourceIp"] = peer
        identity["user"] = None
        identity["userAgent"] = user_agent
        identity["userArn"] = None
        request_context = {
            "accountId": ACCOUNT_ID,
            "apiId": api_id_for(api.logical_id),
            "deploymentId": _deployment_id_for(api.logical_id),
            "domainName": host,
            "domainPrefix": prefix,
            "extendedRequestId": extended_request_id,
            "httpMethod": method,
            "identity": identity,
            "path": context_path,
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": clf_time(now_ms),
            "requestTimeEpoch": now_ms,
            "resourceId": _resource_id_for(api.logical_id, resource),
            "resourcePath": resource,
            "stage": stage,
        }
        if route.operation_name:
            request_context["operationName"] = route.operation_name

    event: dict[str, Any] = {}
    if http_api:
        event["version"] = "1.0"
    event["resource"] = resource
    event["path"] = path
    event["httpMethod"] = method
    event["headers"] = headers
    event["multiValueHeaders"] = multi_headers
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = multi_query
    event["pathParameters"] = params
    event["stageVariables"] = dict(api.stage_variables) if api.stage_variables else None
    event["requestContext"] = request_context
    event["body"] = body_text
    event["isBase64Encoded"] = b64
    return event


def _protocol(scope: dict) -> str:
    v = scope.get("http_version") or "1.1"
    return "HTTP/2.0" if v == "2" else f"HTTP/{v}"


# --------------------------------------------------------------------------- HTTP API payload 2.0

def build_http_event(scope: dict, body: bytes, route: RouteSpec, path_params: Optional[dict], *,
                     request_id: str, now_ms: int) -> dict:
    """The HTTP API payload format 2.0 event: empty fields omitted, lower-cased comma-joined headers,
    cookies taken out of the headers, decoded ``rawPath`` with the named-stage prefix."""
    api = route.api
    stage = api.stage_name
    method = scope["method"]
    decoded_path = scope.get("path") or "/"
    raw_path = decoded_path if stage == "$default" else f"/{stage}{decoded_path}"
    peer = _peer(scope)

    coll = _collect_headers(scope.get("headers") or (), _HTTP_DROPPED, False, False)
    cookie_entry = coll.pop(b"cookie", None)
    _set_header(coll, b"content-length", False, str(len(body)))
    _add_gateway_headers(coll, scope, False, now_ms, peer)
    headers = {display: (values[0] if len(values) == 1 else ",".join(values))
               for display, values in coll.values()}

    qs_b = scope.get("query_string")
    raw_qs = _dec(qs_b) if qs_b else ""
    query = None
    if raw_qs:
        _, multi = _split_query(raw_qs)
        if multi:
            query = {k: (v[0] if len(v) == 1 else ",".join(v)) for k, v in multi.items()}

    host, prefix = _host_parts(headers.get("host"))
    route_key = "$default" if route.path == "$default" else f"{route.method} {route.path}"

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_qs,
    }
    if cookie_entry is not None:
        cookies = [c.strip() for value in cookie_entry[1] for c in value.split(";") if c.strip()]
        if cookies:
            event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id_for(api.logical_id),
        "domainName": host,
        "domainPrefix": prefix,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": _protocol(scope),
            "sourceIp": peer,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": clf_time(now_ms),
        "timeEpoch": now_ms,
    }
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
