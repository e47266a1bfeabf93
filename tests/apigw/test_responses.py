"""Lambda result -> HTTP response mapping, gateway errors and CORS."""
import base64

import orjson
import pytest

from gateway.apigw.cors import cors_origin_allowed, cors_preflight, cors_response_headers, is_preflight, rest_cors_preflight, strip_cors_headers
from gateway.apigw.responses import MalformedResponse, http_internal_error, http_not_found, http_payload_too_large, http_service_unavailable, http_throttled, map_http_response, map_rest_response, rest_content_length_exceeded, rest_error, rest_internal_error, rest_invoke_failed, rest_missing_token, rest_request_too_long, rest_throttled, rest_timeout
from gateway.types import CorsConfig


def j(obj):
    return orjson.dumps(obj)


def hdict(headers):
    out = {}
    for k, v in headers:
        out.setdefault(k.decode().lower(), []).append(v.decode())
    return out


# --------------------------------------------------------------------------- REST

def test_rest_basic():
    status, headers, body = map_rest_response(
        j({"statusCode": 201, "headers": {"X-A": "1"}, "body": "hello"}), None, ())
    assert status == 201 and body == b"hello"
    assert hdict(headers) == {"x-a": ["1"], "content-type": ["application/json"]}


def test_rest_default_content_type_only_when_missing():
    _, headers, _ = map_rest_response(j({"statusCode": 200, "headers": {"content-type": "text/html"}}), None, ())
    assert hdict(headers)["content-type"] == ["text/html"]
    _, headers, _ = map_rest_response(j({"statusCode": 200, "multiValueHeaders": {"Content-Type": ["text/csv"]}}),
                                      None, ())
    assert hdict(headers)["content-type"] == ["text/csv"]


def test_rest_headers_and_multivalue_merge():
    _, headers, _ = map_rest_response(j({
        "statusCode": 200,
        "headers": {"X-Solo": "s", "X-Both": "single", "x-case": "h"},
        "multiValueHeaders": {"X-Both": ["m1", "m2"], "Set-Cookie": ["a=1", "b=2"], "X-CASE": ["mv"]},
    }), None, ())
    d = hdict(headers)
    assert d["x-solo"] == ["s"]
    assert d["x-both"] == ["m1", "m2"]  # multiValueHeaders values win for a name in both
    assert d["x-case"] == ["mv"]  # names compare case-insensitively
    assert d["set-cookie"] == ["a=1", "b=2"]
    _, headers, _ = map_rest_response(j({"headers": {"X": "v"}, "multiValueHeaders": {"X": ["v"]}}), None, ())
    assert hdict(headers)["x"] == ["v"]  # an identical pair appears once


def test_rest_header_scalars_and_nulls():
    _, headers, _ = map_rest_response(j({"statusCode": 200, "headers": {"b": True, "n": 5, "z": None}}), None, ())
    d = hdict(headers)
    assert d["b"] == ["true"] and d["n"] == ["5"] and "z" not in d
    status, _, _ = map_rest_response(j({"statusCode": 200, "headers": None, "multiValueHeaders": None}), None, ())
    assert status == 200


def test_rest_missing_status_and_empty_object_are_200():
    assert map_rest_response(j({}), None, ())[0::2] == (200, b"")
    status, headers, body = map_rest_response(j({"headers": {"test-header": "value"}}), None, ())
    assert status == 200 and body == b"" and hdict(headers)["test-header"] == ["value"]


def test_rest_status_code_forms():
    assert map_rest_response(j({"statusCode": "201"}), None, ())[0] == 201
    assert map_rest_response(j({"statusCode": 404.0}), None, ())[0] == 404
    for bad in ("test", "20x", True, [200], {"a": 1}, 99, 600, "-200", 200.5):
        with pytest.raises(MalformedResponse):
            map_rest_response(j({"statusCode": bad}), None, ())


def test_rest_unknown_keys_are_malformed():
    for extra in ({"wrongValue": "value"}, {"cookies": ["a=1"]}, {"statusDescription": "Created"}, {"ok": True}):
        with pytest.raises(MalformedResponse):
            map_rest_response(j({"statusCode": 200, **extra}), None, ())


def test_rest_malformed_shapes():
    for payload in (b"not json", b"", b'"justAString"', b"[1,2]", b"null", b"42",
                    j({"statusCode": 200, "body": {"hey": "dude"}}),
                    j({"statusCode": 200, "body": ["a"]}),
                    j({"statusCode": 200, "multiValueHeaders": {"x": "not-a-list"}}),
                    j({"statusCode": 200, "headers": ["x"]}),
                    j({"statusCode": 200, "headers": {"x": {"nested": 1}}}),
                    j({"statusCode": 200, "isBase64Encoded": "maybe"})):
        with pytest.raises(MalformedResponse):
            map_rest_response(payload, "*/*", ("*/*",))


def test_rest_scalar_bodies_are_text():
    assert map_rest_response(j({"statusCode": 200, "body": 42}), None, ())[2] == b"42"
    assert map_rest_response(j({"statusCode": 200, "body": True}), None, ())[2] == b"true"
    assert map_rest_response(j({"statusCode": 200, "body": None}), None, ())[2] == b""


def test_rest_binary_decode_needs_flag_and_first_accept_match():
    data = bytes(range(256))
    resp = {"statusCode": 200, "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    types = ("image/png",)
    assert map_rest_response(j(resp), "image/png", types)[2] == data
    assert map_rest_response(j(resp), "image/png;q=0.8", types)[2] == data
    # the first Accept media type decides (browser-style Accept lists fail)
    assert map_rest_response(j(resp), "text/html,image/png;q=0.8", types)[2] == resp["body"].encode()
    assert map_rest_response(j(resp), "*/*", types)[2] == resp["body"].encode()
    assert map_rest_response(j(resp), None, types)[2] == resp["body"].encode()
    # not binary media types at all: passed through as text
    assert map_rest_response(j(resp), "image/png", ())[2] == resp["body"].encode()
    # wildcards on the configured side
    assert map_rest_response(j(resp), "image/png", ("image/*",))[2] == data
    assert map_rest_response(j(resp), None, ("*/*",))[2] == data
    # flag off: never decoded
    assert map_rest_response(j({**resp, "isBase64Encoded": False}), "image/png", types)[2] == resp["body"].encode()


def test_rest_base64encoded_alias():
    resp = {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "base64Encoded": True}
    assert map_rest_response(j(resp), "application/octet-stream", ("application/octet-stream",))[2] == b"\x00\x01"


def test_rest_invalid_base64_is_malformed():
    with pytest.raises(MalformedResponse):
        map_rest_response(j({"statusCode": 200, "body": "a", "isBase64Encoded": True}), "*/*", ("*/*",))


def test_rest_non_latin1_header_value_encoded_utf8():
    _, headers, body = map_rest_response(j({"headers": {"X-Name": "caf\u00e9\u2603"}, "body": "\u2603"}), None, ())
    assert (b"X-Name", "caf\u00e9\u2603".encode()) in headers
    assert body == "\u2603".encode()


# --------------------------------------------------------------------------- HTTP API 1.0

def test_http_v1_requires_status_code():
    for payload in (j({}), j({"headers": {"test-header": "value"}}), b'"justAString"', b"null", b"oops"):
        with pytest.raises(MalformedResponse):
            map_http_response(payload, "1.0")


def test_http_v1_ignores_unknown_keys_and_merges_headers():
    status, headers, body = map_http_response(j({
        "statusCode": "201", "wrongValue": "value", "body": "b",
        "headers": {"X-A": "1"}, "multiValueHeaders": {"X-B": ["1", "2"], "x-a": ["3"]}}), "1.0")
    assert status == 201 and body == b"b"
    d = hdict(headers)
    assert d["x-a"] == ["3"] and d["x-b"] == ["1", "2"] and d["content-type"] == ["application/json"]
    with pytest.raises(MalformedResponse):
        map_http_response(j({"statusCode": 200, "multiValueHeaders": {"x": "v"}}), "1.0")
    with pytest.raises(MalformedResponse):
        map_http_response(j({"statusCode": "test"}), "1.0")


def test_http_v1_always_decodes_base64():
    resp = {"statusCode": 200, "body": base64.b64encode(b"test-data").decode(), "isBase64Encoded": True}
    assert map_http_response(j(resp), "1.0")[2] == b"test-data"


# --------------------------------------------------------------------------- HTTP API 2.0

def test_http_v2_explicit():
    status, headers, body = map_http_response(j({
        "statusCode": 201, "headers": {"X-A": "1", "b": True}, "body": "ok",
        "cookies": ["a=1; Path=/", "b=2"], "multiValueHeaders": {"X-Ignored": ["x"]}, "extra": 1}), "2.0")
    assert status == 201 and body == b"ok"
    d = hdict(headers)
    assert d["set-cookie"] == ["a=1; Path=/", "b=2"]
    assert d["x-a"] == ["1"] and d["b"] == ["true"] and "x-ignored" not in d
    assert d["content-type"] == ["application/json"]


def test_http_v2_inference():
    # a dict without statusCode: the JSON the function returned, as is
    payload = b'{ "message": "Hello from Lambda!" }'
    assert map_http_response(payload, "2.0") == (200, [(b"content-type", b"application/json")], payload)
    assert map_http_response(b'"Hello from Lambda!"', "2.0")[2] == b"Hello from Lambda!"
    assert map_http_response(b"42", "2.0")[0::2] == (200, b"42")
    assert map_http_response(b"[1, 2]", "2.0")[2] == b"[1, 2]"
    assert map_http_response(b"null", "2.0")[0::2] == (200, b"null")
    assert map_http_response(b'""', "2.0")[0::2] == (200, b"")
    assert map_http_response(j({}), "2.0")[0::2] == (200, b"{}")
    assert map_http_response(j({"headers": {"x": "y"}}), "2.0")[0::2] == (200, b'{"headers":{"x":"y"}}')


def test_http_v2_error_object_and_malformed():
    with pytest.raises(MalformedResponse):
        map_http_response(j({"errorMessage": "boom", "errorType": "Exception"}), "2.0")
    for payload in (b"not json", b"", j({"statusCode": "test"}), j({"statusCode": 200, "cookies": {"a": "b"}}),
                    j({"statusCode": 200, "cookies": [1]}), j({"statusCode": 200, "body": {"a": 1}})):
        with pytest.raises(MalformedResponse):
            map_http_response(payload, "2.0")
    assert map_http_response(j({"statusCode": "201"}), "2.0")[0] == 201


def test_http_v2_decodes_base64_without_negotiation():
    resp = {"statusCode": 200, "body": base64.b64encode(b"\x00bin").decode(), "isBase64Encoded": True}
    assert map_http_response(j(resp), "2.0")[2] == b"\x00bin"
    resp["isBase64Encoded"] = False
    assert map_http_response(j(resp), "2.0")[2] == resp["body"].encode()


def test_http_v2_keeps_given_content_type():
    _, headers, _ = map_http_response(j({"statusCode": 200, "headers": {"Content-Type": "text/plain"}}), "2.0")
    assert hdict(headers)["content-type"] == ["text/plain"]


# --------------------------------------------------------------------------- errors

def test_rest_error_bodies_and_headers():
    status, headers, body = rest_missing_token()
    assert status == 403 and body == b'{"message":"Missing Authentication Token"}'
    assert hdict(headers) == {"content-type": ["application/json"],
                              "x-amzn-errortype": ["MissingAuthenticationTokenException"]}
    status, headers, body = rest_internal_error("rid-1")
    assert status == 502 and body == b'{"message": "Internal server error"}'
    assert hdict(headers)["x-amzn-requestid"] == ["rid-1"]
    assert hdict(headers)["x-amzn-errortype"] == ["InternalServerErrorException"]
    assert rest_invoke_failed()[0::2] == (500, b'{"message": "Internal server error"}')
    assert rest_throttled()[0::2] == (429, b'{"message":"Too Many Requests"}')
    assert hdict(rest_throttled()[1])["x-amzn-errortype"] == ["TooManyRequestsException"]
    assert rest_timeout()[0::2] == (504, b'{"message": "Endpoint request timed out"}')
    status, headers, body = rest_request_too_long()
    assert (status, body) == (413, b'{"message": "Request Too Long"}')
    assert hdict(headers)["x-amzn-errortype"] == ["BadRequestException"]
    status, headers, body = rest_content_length_exceeded()
    assert (status, body) == (413, b"HTTP content length exceeded 10485760 bytes.")
    assert hdict(headers)["content-type"] == ["text; charset=utf-8"]
    assert rest_error(400, 'say "hi"')[2] == b'{"message":"say \\"hi\\""}'


def test_error_headers_are_fresh_lists():
    a = rest_missing_token()
    a[1].append((b"x", b"y"))
    assert (b"x", b"y") not in rest_missing_token()[1]


def test_http_error_bodies():
    assert http_internal_error()[0::2] == (500, b'{"message":"Internal Server Error"}')
    assert http_not_found("id=")[0::2] == (404, b'{"message":"Not Found"}')
    assert hdict(http_not_found("id=")[1]) == {"content-type": ["application/json"], "apigw-requestid": ["id="]}
    assert http_throttled()[0::2] == (429, b'{"message":"Too Many Requests"}')
    assert http_payload_too_large()[0] == 413
    assert http_service_unavailable()[0::2] == (503, b'{"message":"Service Unavailable"}')


# --------------------------------------------------------------------------- CORS

CORS = CorsConfig(allow_origins=("https://app.example.com",), allow_methods=("GET", "POST"),
                  allow_headers=("content-type", "authorization"), expose_headers=("x-total",),
                  allow_credentials=True, max_age_s=600)


def test_preflight_allowed_origin():
    req = [(b"origin", b"https://app.example.com"), (b"access-control-request-method", b"POST")]
    assert is_preflight("OPTIONS", req) and not is_preflight("GET", req)
    status, headers, body = cors_preflight(CORS, req)
    assert status == 204 and body == b""
    assert hdict(headers) == {
        "access-control-allow-origin": ["https://app.example.com"],
        "access-control-allow-credentials": ["true"],
        "access-control-allow-methods": ["GET,POST"],
        "access-control-allow-headers": ["content-type,authorization"],
        "access-control-max-age": ["600"],
    }


def test_preflight_disallowed_origin_or_missing_method_has_no_cors_headers():
    assert cors_preflight(CORS, [(b"origin", b"https://evil.example"),
                                 (b"access-control-request-method", b"GET")]) == (204, [], b"")
    assert cors_preflight(CORS, {"Origin": "https://app.example.com"}) == (204, [], b"")
    assert not is_preflight("OPTIONS", {"Origin": "https://app.example.com"})


def test_preflight_wildcard_origin_and_mapping_headers():
    cors = CorsConfig(allow_origins=("*",), allow_methods=("*",))
    status, headers, _ = cors_preflight(cors, {"Origin": "http://x", "Access-Control-Request-Method": "PUT"})
    d = hdict(headers)
    assert d["access-control-allow-origin"] == ["*"] and d["access-control-allow-methods"] == ["*"]
    assert "access-control-max-age" not in d and "access-control-allow-credentials" not in d


def test_cors_response_headers_and_strip():
    assert cors_origin_allowed(CORS, "https://APP.example.com") == "https://APP.example.com"
    assert cors_origin_allowed(CORS, None) is None
    d = hdict(cors_response_headers(CORS, "https://app.example.com"))
    assert d == {"access-control-allow-origin": ["https://app.example.com"],
                 "access-control-allow-credentials": ["true"], "access-control-expose-headers": ["x-total"]}
    assert cors_response_headers(CORS, "https://other") == []
    stripped = strip_cors_headers([(b"Access-Control-Allow-Origin", b"*"), (b"x-a", b"1"),
                                   (b"access-control-max-age", b"5")])
    assert stripped == [(b"x-a", b"1")]


def test_rest_cors_preflight_mock_answer():
    cors = CorsConfig(allow_origins=("*",), allow_headers=("Content-Type",), max_age_s=0)
    status, headers, body = rest_cors_preflight(cors, ["GET", "POST"])
    assert status == 200 and body == b"{}"
    d = hdict(headers)
    assert d["access-control-allow-origin"] == ["*"]
    assert d["access-control-allow-methods"] == ["GET,OPTIONS,POST"]
    assert d["access-control-allow-headers"] == ["Content-Type"]
    assert d["access-control-max-age"] == ["0"]
    assert "access-control-allow-credentials" not in d
    d = hdict(rest_cors_preflight(cors, ["ANY"])[1])
    assert d["access-control-allow-methods"] == ["DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"]
    cors2 = CorsConfig(allow_origins=("https://a.com",), allow_methods=("GET",), allow_credentials=True)
    d = hdict(rest_cors_preflight(cors2, ["POST"])[1])
    assert d["access-control-allow-methods"] == ["GET"] and d["access-control-allow-credentials"] == ["true"]
    assert "access-control-allow-headers" not in d and "access-control-max-age" not in d
