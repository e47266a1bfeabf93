"""Lambda proxy results -> HTTP responses, and API Gateway's own error responses (CORS is in
apigw_cors.py).

aws-contract.md §1.4 (response mapping), §1.5 (binary), §1.7 (errors). Every function
returns ``(status, headers, body)`` with ``headers`` a fresh list of ``(name bytes, value bytes)``.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Optional, Sequence

import orjson

from gateway.apigw.events import media_type_matches

__all__ = [
    "MalformedResponse",
    "map_rest_response",
    "map_http_response",
    "rest_error",
    "http_error",
    "rest_internal_error",
    "rest_invoke_failed",
    "rest_missing_token",
    "rest_throttled",
    "rest_request_too_long",
    "rest_content_length_exceeded",
    "rest_timeout",
    "http_internal_error",
    "http_not_found",
    "http_throttled",
    "http_payload_too_large",
    "http_service_unavailable",
]

Headers = list[tuple[bytes, bytes]]
Response = tuple[int, Headers, bytes]


class MalformedResponse(ValueError):
    """The function's result is not a valid proxy response (REST answers 502, HTTP API 500)."""


# Keys a REST proxy response may carry; anything else is "Malformed Lambda proxy response" (502).
# base64Encoded is accepted as an alias of isBase64Encoded (SAM: found "by trial"; aws-sam-cli#2434).
_REST_KEYS = frozenset(("statusCode", "body", "headers", "multiValueHeaders", "isBase64Encoded",
                        "base64Encoded"))
# Header names are tokens (RFC 9110 5.1, 5.6.2) and values hold no control characters but tab
# (5.5). Checked on the names joined with ":" (not a token character: one more than the
# separators means a name held one) and the values joined with tab.
_TOKENS = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?::[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*")
_BAD_VALUE_BYTES = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")


# --------------------------------------------------------------------------- value coercion

def _status(value: Any) -> int:
    """statusCode: an int, or a string of digits (AWS accepts ``"201"``, rejects ``"test"``)."""
    if isinstance(value, bool):
        raise MalformedResponse("statusCode must be an integer")
    if isinstance(value, int):
        code = value
    elif isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()):
            raise MalformedResponse(f"statusCode {value!r} is not an integer")
        code = int(text)
    elif isinstance(value, float) and value.is_integer():
        code = int(value)
    else:
        raise MalformedResponse(f"statusCode {value!r} is not an integer")
    if not 100 <= code <= 599:
        raise MalformedResponse(f"statusCode {code} is not a valid HTTP status")
    return code


def _text(value: Any, what: str) -> str:
    """A string field; booleans and numbers are rendered as their JSON text, objects are malformed."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return orjson.dumps(value).decode()
    raise MalformedResponse(f"{what} must be a string, not {type(value).__name__}")


def _flag(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise MalformedResponse("isBase64Encoded must be a boolean")


def _body(value: Any) -> str:
    return "" if value is None else _text(value, "body")


def _enc(s: str) -> bytes:
    try:
        return s.encode("latin-1")
    except UnicodeEncodeError:
        return s.encode("utf-8")


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError) as exc:
        raise MalformedResponse(f"body is not valid base64: {exc}") from None


def _merge_headers(headers: Any, multi: Any) -> dict[str, list[str]]:
    """``headers`` + ``multiValueHeaders``: for a name present in both (case-insensitively) the
    ``multiValueHeaders`` values replace the single value (LocalStack's AWS-validated snapshot
    ``invoke-api-multi-headers-overwrite``; the docs' "only the values from multiValueHeaders").
    Raises for malformed fields; the result's names are distinct case-insensitively."""
    merged: dict[str, tuple[str, list[str]]] = {}
    if headers is not None:
        if not isinstance(headers, dict):
            raise MalformedResponse("headers must be an object")
        for name, value in headers.items():
            if value is not None:
                merged[name.lower()] = (name, [_text(value, f"header {name}")])
    if multi is not None:
        if not isinstance(multi, dict):
            raise MalformedResponse("multiValueHeaders must be an object")
        for name, values in multi.items():
            if values is None:
                continue
            if not isinstance(values, list):
                raise MalformedResponse(f"multiValueHeaders[{name!r}] must be a list")
            merged[name.lower()] = (name, [_text(v, f"header {name}") for v in values if v is not None])
    return dict(merged.values())


def _load(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise MalformedResponse("the function's result is not JSON") from None


# Framing headers are API Gateway's to set: a function's value would contradict the body sent.
_FRAMING = frozenset(("content-length", "transfer-encoding", "connection"))


def _first_accept(accept: Optional[str]) -> str:
    if not accept:
        return ""
    return accept.split(",", 1)[0].split(";", 1)[0].strip().lower()


_SCALARS = (bool, int, float)  # values _text renders (it raises for the rest)
_PLAIN, _CONTENT_TYPE, _FRAMED = 0, 1, 2
# response header name -> (lower-cased, encoded, kind); a function sends the same few names
_names: dict[str, tuple[str, bytes, int]] = {}


def _name_info(name: str) -> tuple[str, bytes, int]:
    info = _names.get(name)
    if info is None:
        lname = name.lower()
        kind = _FRAMED if lname in _FRAMING else _CONTENT_TYPE if lname == "content-type" else _PLAIN
        info = (lname, _enc(name), kind)
        if len(_names) >= 1024:
            _names.clear()
        _names[name] = info
    return info


def _encode_headers(headers: Any, multi: Any, cookies: Optional[list], ct_name: bytes) -> Optional[Headers]:
    """The response headers: ``headers`` and ``multiValueHeaders`` values as strings, then one
    set-cookie per cookie (an already checked list of strings), framing headers left out, and
    ``ct_name: application/json`` last when no Content-Type was given.

    None when ``_merge_headers`` must decide first: a name repeated case-insensitively (merging
    keeps one of them), a value that is neither a string nor a number, a field of the wrong type
    (it raises). Its result then always goes through: names distinct, values strings."""
    out: Headers = []
    seen: set[str] = set()
    has_ct = False
    if headers is not None:
        if type(headers) is not dict:
            return None
        for name, value in headers.items():
            if type(value) is not str:
                if value is None:
                    continue
                if type(value) not in _SCALARS:
                    return None
                value = _text(value, "")
            lname, bname, kind = _names.get(name) or _name_info(name)
            if lname in seen:
                return None
            seen.add(lname)
            if kind:
                if kind == _FRAMED:
                    continue
                has_ct = True
            try:
                out.append((bname, value.encode("latin-1")))
            except UnicodeEncodeError:
                out.append((bname, value.encode("utf-8")))
    if multi is not None:
        if type(multi) is not dict:
            return None
        for name, values in multi.items():
            if values is None:
                continue
            if type(values) is not list:
                return None
            lname, bname, kind = _names.get(name) or _name_info(name)
            if lname in seen:
                return None
            seen.add(lname)
            for value in values:
                if type(value) is not str:
                    if value is None:
                        continue
                    if type(value) not in _SCALARS:
                        return None
                    value = _text(value, "")
                if kind:
                    if kind == _FRAMED:
                        continue
                    has_ct = True
                try:
                    out.append((bname, value.encode("latin-1")))
                except UnicodeEncodeError:
                    out.append((bname, value.encode("utf-8")))
    for cookie in cookies or ():
        try:
            out.append((b"set-cookie", cookie.encode("latin-1")))
        except UnicodeEncodeError:
            out.append((b"set-cookie", cookie.encode("utf-8")))
    # the function's names and values must not break the HTTP framing (CR, LF, NUL, a name
    # that is not a token...); two scans over the joined names and values check them all
    if out and (_TOKENS.fullmatch(names := b":".join([name for name, _ in out])) is None
                or names.count(b":") != len(out) - 1       # a ":" inside a name
                or _BAD_VALUE_BYTES.search(b"\t".join([value for _, value in out]))):
        raise MalformedResponse("a header name or value holds characters HTTP does not allow")
    if not has_ct:
        out.append((ct_name, b"application/json"))
    return out


def _headers_of(headers: Any, multi: Any, ct_name: bytes) -> Headers:
    if headers is None and multi is None:
        return [(ct_name, b"application/json")]
    out = _encode_headers(headers, multi, None, ct_name)
    return _encode_headers(None, _merge_headers(headers, multi), None, ct_name) if out is None else out


# --------------------------------------------------------------------------- response mapping
#
# Each mapper reads and checks the fields in the same order (status, headers, cookies, body,
# isBase64Encoded), so a malformed result always fails with the same message. orjson gives exact
# types: ``type(x) is int`` / ``is str`` take the common case inline, the helpers the rest.

def map_rest_response(payload: bytes, accept: Optional[str],
                      binary_media_types: Sequence[str]) -> Response:
    """A REST API (AWS_PROXY) response from the function's JSON result.

    Raises MalformedResponse (-> 502 ``Internal server error``) for: not JSON, not an object, any
    key outside statusCode/body/headers/multiValueHeaders/isBase64Encoded/base64Encoded, a
    statusCode that is not an integer (digit strings are accepted), an object or list body, a
    multiValueHeaders entry that is not a list. No statusCode -> 200 (``{}`` answers 200, empty).
    A base64 body is decoded only when isBase64Encoded is true and the *first* media type of the
    client's Accept header matches binaryMediaTypes; otherwise the base64 text is sent as is.
    """
    obj = _load(payload)
    if type(obj) is not dict:
        raise MalformedResponse("a REST proxy response must be a JSON object")
    if not _REST_KEYS.issuperset(obj):
        extra = sorted(set(obj) - _REST_KEYS)
        raise MalformedResponse(f"unexpected keys in the proxy response: {', '.join(extra)}")
    status = obj.get("statusCode")
    if status is None:
        status = 200
    elif not (type(status) is int and 100 <= status <= 599):
        status = _status(status)
    headers = _headers_of(obj.get("headers"), obj.get("multiValueHeaders"), b"Content-Type")
    text = obj.get("body")
    if type(text) is not str:
        text = _body(text)
    b64 = obj.get("isBase64Encoded")
    if b64 is None:
        b64 = obj.get("base64Encoded")
    if (b64 is not None and b64 is not False and _flag(b64) and binary_media_types
            and media_type_matches(_first_accept(accept), binary_media_types)):
        return status, headers, _b64decode(text)
    return status, headers, text.encode()


def map_http_response(payload: bytes, payload_format: str) -> Response:
    """An HTTP API response from the function's result, for payload format ``"1.0"`` or ``"2.0"``.

    1.0: a JSON object with a statusCode (missing -> malformed), headers + multiValueHeaders merged,
    unknown keys ignored. 2.0: an object with a statusCode is used as given (``cookies`` -> one
    ``set-cookie`` each, multiValueHeaders ignored); any other JSON value is inferred as status
    200, ``content-type: application/json`` and the value as the body (a string as its text,
    anything else - objects, arrays, numbers, ``null`` - as the JSON the function returned).
    A 2.0 object without statusCode but with ``errorMessage`` is treated as a failed invocation
    (AWS answers 500 for it; LocalStack AWS-validated test). Base64 bodies are always decoded.
    Raises MalformedResponse (-> 500 ``Internal Server Error``).
    """
    obj = _load(payload)
    if payload_format == "1.0":
        if type(obj) is not dict:
            raise MalformedResponse("a payload 1.0 response must be a JSON object")
        status = obj.get("statusCode")
        if status is None:
            raise MalformedResponse("statusCode is required")
        if not (type(status) is int and 100 <= status <= 599):
            status = _status(status)
        headers = _headers_of(obj.get("headers"), obj.get("multiValueHeaders"), b"Content-Type")
    elif type(obj) is not dict or obj.get("statusCode") is None:
        if type(obj) is dict and "errorMessage" in obj:
            raise MalformedResponse("the function returned an error object")
        body = obj.encode() if type(obj) is str else payload.strip()
        return 200, [(b"content-type", b"application/json")], body
    else:
        status = obj["statusCode"]
        if not (type(status) is int and 100 <= status <= 599):
            status = _status(status)
        fields, cookies = obj.get("headers"), obj.get("cookies")
        if cookies is None:
            headers = _headers_of(fields, None, b"content-type")
        elif type(cookies) is list and all(type(c) is str for c in cookies):
            headers = _encode_headers(fields, None, cookies, b"content-type")
        else:
            headers = None
        if headers is None:  # the headers are checked before the cookies
            merged = _merge_headers(fields, None)
            if cookies is not None and (not isinstance(cookies, list)
                                        or not all(isinstance(c, str) for c in cookies)):
                raise MalformedResponse("cookies must be a list of strings")
            headers = _encode_headers(None, merged, cookies, b"content-type")
    text = obj.get("body")
    if type(text) is not str:
        text = _body(text)
    b64 = obj.get("isBase64Encoded")
    if b64 is not None and b64 is not False and _flag(b64):
        return status, headers, _b64decode(text)
    return status, headers, text.encode()


# --------------------------------------------------------------------------- API Gateway's own errors

def rest_error(status: int, message: str, error_type: Optional[str] = None, *,
               request_id: Optional[str] = None, spaced: bool = False) -> Response:
    """A REST gateway response: ``{"message":"..."}`` (``spaced``: ``{"message": "..."}``, the form
    of integration failures), Content-Type application/json, x-amzn-RequestId, x-amzn-ErrorType."""
    body = (b'{"message": ' if spaced else b'{"message":') + orjson.dumps(message) + b"}"
    headers: Headers = [(b"Content-Type", b"application/json")]
    if request_id:
        headers.append((b"x-amzn-RequestId", request_id.encode()))
    if error_type:
        headers.append((b"x-amzn-ErrorType", error_type.encode()))
    return status, headers, body


def http_error(status: int, message: str, *, request_id: Optional[str] = None) -> Response:
    """An HTTP API error: ``{"message":"..."}``, content-type application/json, apigw-requestid."""
    headers: Headers = [(b"content-type", b"application/json")]
    if request_id:
        headers.append((b"apigw-requestid", request_id.encode()))
    return status, headers, b'{"message":' + orjson.dumps(message) + b"}"


def rest_internal_error(request_id: Optional[str] = None) -> Response:
    """502: function error, function timeout, malformed proxy response."""
    return rest_error(502, "Internal server error", "InternalServerErrorException",
                      request_id=request_id, spaced=True)


def rest_invoke_failed(request_id: Optional[str] = None) -> Response:
    """500: the Lambda Invoke call itself was rejected (permissions, function missing)."""
    return rest_error(500, "Internal server error", "InternalServerErrorException",
                      request_id=request_id, spaced=True)


def rest_missing_token(request_id: Optional[str] = None) -> Response:
    """403: no resource/method matched."""
    return rest_error(403, "Missing Authentication Token", "MissingAuthenticationTokenException",
                      request_id=request_id)


def rest_throttled(request_id: Optional[str] = None) -> Response:
    """429: THROTTLED gateway response."""
    return rest_error(429, "Too Many Requests", "TooManyRequestsException", request_id=request_id)


def rest_request_too_long(request_id: Optional[str] = None) -> Response:
    """413: the event exceeds Lambda's 6 MB invoke payload limit (koki-develop/lgtm-generator#10 capture)."""
    return rest_error(413, "Request Too Long", "BadRequestException", request_id=request_id, spaced=True)


def rest_content_length_exceeded(limit: int = 10485760) -> Response:
    """413 for a request body over API Gateway's 10 MB limit: plain text, no JSON (same capture)."""
    return 413, [(b"Content-Type", b"text; charset=utf-8")], \
        f"HTTP content length exceeded {limit} bytes.".encode()


def rest_timeout(request_id: Optional[str] = None) -> Response:
    """504: integration timeout reached before the function finished."""
    return rest_error(504, "Endpoint request timed out", None, request_id=request_id, spaced=True)


def http_internal_error(request_id: Optional[str] = None) -> Response:
    """500: function error, timeout or malformed response on an HTTP API."""
    return http_error(500, "Internal Server Error", request_id=request_id)


def http_not_found(request_id: Optional[str] = None) -> Response:
    return http_error(404, "Not Found", request_id=request_id)


def http_throttled(request_id: Optional[str] = None) -> Response:
    return http_error(429, "Too Many Requests", request_id=request_id)


def http_payload_too_large(request_id: Optional[str] = None) -> Response:
    """413 on an HTTP API (body text unconfirmed)."""
    return http_error(413, "Request Entity Too Large", request_id=request_id)


def http_service_unavailable(request_id: Optional[str] = None) -> Response:
    """503: HTTP API integration timeout (30 s) reached (body text unconfirmed)."""
    return http_error(503, "Service Unavailable", request_id=request_id)
