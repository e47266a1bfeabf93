"""API Gateway event builders: shapes checked against real captured events (spec/events/)."""
import base64
import json
import re
from pathlib import Path

import orjson

from gateway.apigw.events import build_http_event, build_rest_event, clf_time
from gateway.types import ApiSpec, RouteSpec

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
NOW_MS = 1589522469693  # 15/May/2020:06:01:09 +0000

REST_API = ApiSpec("ServerlessRestApi", "REST", "Prod")
HTTP_API = ApiSpec("ServerlessHttpApi", "HTTP", "$default")


def sample(name):
    return json.loads((EVENTS / name).read_text())


def scope(method="GET", path="/", *, raw_path=None, query=b"", headers=(), client=("192.168.0.1", 41234),
          server=("127.0.0.1", 3000), scheme="http", http_version="1.1"):
    return {
        "type": "http", "method": method, "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode(),
        "query_string": query, "headers": list(headers), "client": client, "server": server,
        "scheme": scheme, "http_version": http_version,
    }


def rest(s, body=b"", route=None, params=None, **kw):
    route = route or RouteSpec(REST_API, "ANY", "/{proxy+}", "Fn")
    kw.setdefault("request_id", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
    kw.setdefault("extended_request_id", "EXT-id=")
    kw.setdefault("now_ms", NOW_MS)
    return build_rest_event(s, body, route, params, **kw)


def http(s, body=b"", route=None, params=None, **kw):
    route = route or RouteSpec(HTTP_API, "ANY", "$default", "Fn", payload_format="2.0")
    kw.setdefault("request_id", "LV7fzho-PHcEJPw=")
    kw.setdefault("now_ms", NOW_MS)
    return build_http_event(s, body, route, params, **kw)


def types_of(d):
    return {k: type(v).__name__ for k, v in d.items()}


# --------------------------------------------------------------------------- golden shapes

def test_rest_event_matches_captured_shape():
    gold = sample("apigw-v1-rest-proxy.json")
    api = ApiSpec("MyApi", "REST", "testStage", stage_variables={"stageVariableName": "stageVariableValue"})
    route = RouteSpec(api, "ANY", "/{proxy+}", "Fn")
    s = scope("POST", "/hello/world", query=b"name=me", headers=[
        (b"accept", b"*/*"), (b"content-type", b"application/json"),
        (b"host", b"gy415nuibc.execute-api.us-east-1.amazonaws.com"),
        (b"user-agent", b"PostmanRuntime/2.4.5"), (b"headername", b"headerValue")])
    ev = rest(s, b'{\r\n\t"a": 1\r\n}', route, {"proxy": "hello/world"})

    # The capture lacks isBase64Encoded (real events carry it: aws-contract.md §9).
    assert set(ev) == set(gold) | {"isBase64Encoded"}
    assert ev["isBase64Encoded"] is False
    for key in gold:
        if key != "requestContext":
            assert type(ev[key]) is type(gold[key]), key
    for key in ("resource", "path", "httpMethod", "queryStringParameters",
                "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body"):
        assert ev[key] == gold[key], key

    # requestContext: the capture has `authorizer` (a Lambda authorizer ran); current AWS adds
    # deploymentId and extendedRequestId (LocalStack AWS-validated snapshots, 2024).
    rc, grc = ev["requestContext"], gold["requestContext"]
    assert set(rc) == (set(grc) - {"authorizer"}) | {"deploymentId", "extendedRequestId"}
    for key in set(grc) & set(rc):
        if key != "identity":
            assert type(rc[key]) is type(grc[key]), key
    assert rc["path"] == "/testStage/hello/world"
    assert rc["stage"] == "testStage" and rc["resourcePath"] == "/{proxy+}"
    assert rc["requestTime"] == "15/May/2020:06:01:09 +0000" and rc["requestTimeEpoch"] == NOW_MS
    assert rc["domainName"] == "gy415nuibc.execute-api.us-east-1.amazonaws.com"
    assert rc["domainPrefix"] == "gy415nuibc"
    assert rc["protocol"] == "HTTP/1.1" and rc["httpMethod"] == "POST"

    # identity: the capture's cognito/caller values come from an authorized caller; ours are null.
    # principalOrgId is in current events (AWS docs, LocalStack snapshots) but not in this 2016 capture.
    ident, gident = rc["identity"], grc["identity"]
    assert set(ident) == set(gident) | {"principalOrgId"}
    assert ident["sourceIp"] == "192.168.0.1" and ident["userAgent"] == "PostmanRuntime/2.4.5"
    assert all(v is None for k, v in ident.items() if k not in ("sourceIp", "userAgent"))

    # Headers API Gateway adds (the capture also has the CloudFront ones of an edge API).
    for name in ("X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto", "X-Amzn-Trace-Id"):
        assert name in ev["headers"]
    assert set(ev["headers"]) == set(ev["multiValueHeaders"])
    assert orjson.loads(orjson.dumps(ev)) == ev


def test_http_event_matches_captured_default_route_shape():
    gold = sample("apigw-v2-http-default-route.json")
    s = scope("GET", "/", headers=[(b"accept", b"*/*"), (b"host", b"aaaaaaaaaa.execute-api.us-west-2.amazonaws.com"),
                                    (b"user-agent", b"curl/7.58.0")], client=("1.2.3.4", 5000))
    ev = http(s)
    assert set(ev) == set(gold)
    assert types_of(ev) == types_of(gold)
    # Headers: exactly the captured set, content-length "0" included for a body-less GET.
    assert set(ev["headers"]) == set(gold["headers"])
    assert ev["headers"]["content-length"] == "0"
    assert ev["headers"]["x-forwarded-for"] == "1.2.3.4"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", ev["headers"]["x-amzn-trace-id"])
    assert ev["headers"]["x-amzn-trace-id"][7:15] == f"{NOW_MS // 1000:08x}"
    # requestContext: `authentication` exists only with mutual TLS.
    rc, grc = ev["requestContext"], gold["requestContext"]
    assert set(rc) == set(grc) - {"authentication"}
    assert types_of(rc) == {k: v for k, v in types_of(grc).items() if k != "authentication"}
    assert set(rc["http"]) == set(grc["http"]) and types_of(rc["http"]) == types_of(grc["http"])
    for key in ("routeKey", "stage", "domainPrefix", "domainName", "accountId"):
        assert rc[key] == grc[key]
    assert rc["http"] == {**grc["http"], "protocol": "HTTP/1.1"}
    for key in ("version", "routeKey", "rawPath", "rawQueryString", "isBase64Encoded"):
        assert ev[key] == gold[key]


def test_http_event_matches_captured_full_shape():
    gold = sample("apigw-v2-http-full.json")
    api = ApiSpec("HttpApi", "HTTP", "$default",
                  stage_variables={"stageVariable1": "value1", "stageVariable2": "value2"})
    route = RouteSpec(api, "POST", "/my/{parameter1}", "Fn", payload_format="2.0")
    s = scope("POST", "/my/path", query=b"parameter1=value1&parameter1=value2&parameter2=value", headers=[
        (b"header1", b"value1"), (b"header2", b"value1"), (b"header2", b"value2"),
        (b"cookie", b"cookie1; cookie2"), (b"content-type", b"application/json"),
        (b"host", b"id.execute-api.us-east-1.amazonaws.com"), (b"user-agent", b"agent")])
    body = b'{"message": "hello world", "username": "tom"}'
    ev = http(s, body, route, {"parameter1": "value1"})
    assert set(ev) == set(gold)
    assert types_of(ev) == types_of(gold)
    for key in ("version", "rawPath", "rawQueryString", "cookies", "queryStringParameters", "body",
                "pathParameters", "isBase64Encoded", "stageVariables"):
        assert ev[key] == gold[key], key
    assert ev["routeKey"] == "POST /my/{parameter1}" == ev["requestContext"]["routeKey"]
    assert ev["headers"]["header1"] == "value1" and ev["headers"]["header2"] == "value1,value2"
    assert "cookie" not in ev["headers"]
    # authentication (mTLS) and authorizer (JWT) are only present when those features are used.
    assert set(ev["requestContext"]) == set(gold["requestContext"]) - {"authentication", "authorizer"}


def test_http_api_payload_1_0_event():
    api = ApiSpec("HttpApi", "HTTP", "dev")
    route = RouteSpec(api, "GET", "/my/{name}", "Fn", payload_format="1.0")
    s = scope("GET", "/my/caf\u00e9 x", raw_path=b"/my/caf%C3%A9%20x", query=b"a=1&a=2",
              headers=[(b"Host", b"id.execute-api.us-east-1.amazonaws.com"), (b"X-Custom", b"v"),
                       (b"cookie", b"k=v"), (b"user-agent", b"ua")])
    s["headers"] = [(k.lower(), v) for k, v in s["headers"]]
    ev = rest(s, b"", route, {"name": "caf\u00e9 x"}, request_id="Yabc=", extended_request_id="Yabc=")
    assert list(ev)[0] == "version" and ev["version"] == "1.0"
    assert set(ev) == {"version", "resource", "path", "httpMethod", "headers", "multiValueHeaders",
                       "queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
                       "stageVariables", "requestContext", "body", "isBase64Encoded"}
    assert all(k == k.lower() for k in ev["headers"]) and all(k == k.lower() for k in ev["multiValueHeaders"])
    assert ev["headers"]["cookie"] == "k=v"  # 1.0 keeps the Cookie header
    assert ev["headers"]["content-length"] == "0"
    assert ev["path"] == "/dev/my/caf\u00e9 x"  # decoded, with the named-stage prefix
    assert ev["pathParameters"] == {"name": "caf\u00e9 x"}
    assert ev["queryStringParameters"] == {"a": "2"}
    assert ev["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    rc = ev["requestContext"]
    # Doc sample (http-api-develop-integrations-lambda.md, 1.0): no deploymentId/operationName.
    assert set(rc) == {"accountId", "apiId", "authorizer", "domainName", "domainPrefix", "extendedRequestId",
                       "httpMethod", "identity", "path", "protocol", "requestId", "requestTime",
                       "requestTimeEpoch", "resourceId", "resourcePath", "stage"}
    assert rc["authorizer"] == {"claims": None, "scopes": None}
    assert rc["resourceId"] is None and rc["stage"] == "dev" and rc["path"] == "/dev/my/caf\u00e9 x"
    assert set(rc["identity"]) == {
        "accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
        "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId", "sourceIp", "user", "userAgent",
        "userArn"}
    assert rc["identity"]["userAgent"] == "ua" and rc["requestId"] == "Yabc="


def test_http_1_0_body_uses_http_api_binary_rule_and_no_operation_name():
    api = ApiSpec("HttpApi", "HTTP", "$default", binary_media_types=("*/*",))
    route = RouteSpec(api, "POST", "/x", "Fn", payload_format="1.0", operation_name="Op")
    ev = rest(scope("POST", "/x", headers=[(b"content-type", b"text/plain")]), b"hi", route)
    assert ev["body"] == "hi" and ev["isBase64Encoded"] is False
    assert "operationName" not in ev["requestContext"]
    ev = rest(scope("POST", "/x", headers=[(b"content-type", b"application/x-www-form-urlencoded")]), b"a=1", route)
    assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"a=1"


# --------------------------------------------------------------------------- null / omitted

def test_rest_nulls_when_absent():
    ev = rest(scope("GET", "/hello"), route=RouteSpec(REST_API, "GET", "/hello", "Fn"))
    for key in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
                "stageVariables", "body"):
        assert ev[key] is None, key
    assert ev["isBase64Encoded"] is False
    assert "version" not in ev  # Mangum tells REST from HTTP API by this (aws-contract.md §1.10)
    assert ev["requestContext"]["identity"]["userAgent"] is None


def test_http_omits_empty_fields():
    ev = http(scope("GET", "/"))
    for key in ("cookies", "queryStringParameters", "body", "pathParameters", "stageVariables"):
        assert key not in ev, key
    assert ev["rawQueryString"] == "" and ev["isBase64Encoded"] is False
    assert ev["requestContext"]["http"]["userAgent"] == ""


def test_rest_path_parameters_and_stage_variables_present():
    api = ApiSpec("Api", "REST", "Prod", stage_variables={"v": "1"})
    ev = rest(scope("GET", "/pets/7"), route=RouteSpec(api, "GET", "/pets/{id}", "Fn"), params={"id": "7"})
    assert ev["pathParameters"] == {"id": "7"} and ev["stageVariables"] == {"v": "1"}


def test_query_only_separators_is_null():
    ev = rest(scope("GET", "/", query=b"&&"))
    assert ev["queryStringParameters"] is None and ev["multiValueQueryStringParameters"] is None
    ev2 = http(scope("GET", "/", query=b"&&"))
    assert "queryStringParameters" not in ev2 and ev2["rawQueryString"] == "&&"


# --------------------------------------------------------------------------- headers and queries

def test_rest_duplicate_headers_last_wins_and_multi_keeps_all():
    ev = rest(scope(headers=[(b"x-a", b"1"), (b"x-a", b"2"), (b"accept", b"*/*")]))
    assert ev["headers"]["X-A"] == "2"
    assert ev["multiValueHeaders"]["X-A"] == ["1", "2"]
    assert ev["multiValueHeaders"]["Accept"] == ["*/*"]


def test_rest_keeps_client_casing_with_raw_headers():
    raw = [(b"tEsT-HEADeR", b"aValUE"), (b"User-Agent", b"ua"), (b"cache-control", b"no-cache")]
    s = scope(headers=[(k.lower(), v) for k, v in raw])
    ev = rest(s, raw_headers=raw)
    assert ev["headers"]["tEsT-HEADeR"] == "aValUE"
    assert ev["headers"]["cache-control"] == "no-cache"
    assert ev["requestContext"]["identity"]["userAgent"] == "ua"
    # without raw headers: canonical Title-Case
    ev = rest(s)
    assert "Test-Header" in ev["headers"] and "Cache-Control" in ev["headers"]


def test_rest_drops_content_length_and_connection():
    s = scope("POST", headers=[(b"content-length", b"2"), (b"connection", b"keep-alive"), (b"content-type", b"text/plain")])
    ev = rest(s, b"hi")
    assert "Content-Length" not in ev["headers"] and "Connection" not in ev["headers"]
    assert ev["headers"]["Content-Type"] == "text/plain"


def test_forwarded_headers_and_source_ip():
    s = scope(headers=[(b"x-forwarded-for", b"10.0.0.1")], client=("172.16.0.9", 999), server=("0.0.0.0", 8443),
              scheme="https")
    ev = rest(s)
    assert ev["headers"]["X-Forwarded-For"] == "10.0.0.1, 172.16.0.9"
    assert ev["headers"]["X-Forwarded-Port"] == "8443" and ev["headers"]["X-Forwarded-Proto"] == "https"
    assert ev["requestContext"]["identity"]["sourceIp"] == "172.16.0.9"
    ev2 = http(s)
    assert ev2["headers"]["x-forwarded-for"] == "10.0.0.1, 172.16.0.9"
    assert ev2["requestContext"]["http"]["sourceIp"] == "172.16.0.9"


def test_client_trace_id_is_kept():
    ev = rest(scope(headers=[(b"x-amzn-trace-id", b"Root=1-abc")]))
    assert ev["headers"]["X-Amzn-Trace-Id"] == "Root=1-abc"


def test_http_headers_lower_case_and_comma_joined():
    ev = http(scope(headers=[(b"x-multi", b"a"), (b"x-multi", b"b"), (b"accept", b"*/*")]))
    assert ev["headers"]["x-multi"] == "a,b" and ev["headers"]["accept"] == "*/*"


def test_query_values_decoded():
    q = b"email=test%2Balias%40gmail.com&plus=test+alias&sp=foo%20bar&k%20x=1&flag"
    ev = rest(scope(query=q))
    assert ev["queryStringParameters"] == {"email": "test+alias@gmail.com", "plus": "test alias",
                                           "sp": "foo bar", "k x": "1", "flag": ""}
    ev2 = http(scope(query=q))
    assert ev2["rawQueryString"] == q.decode()
    assert ev2["queryStringParameters"]["email"] == "test+alias@gmail.com"


def test_http_cookies_from_several_cookie_headers():
    ev = http(scope(headers=[(b"cookie", b"a=1; b=2"), (b"cookie", b"c=3")]))
    assert ev["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in ev["headers"]


# --------------------------------------------------------------------------- paths and stages

def test_rest_path_keeps_percent_encoding_and_params_raw():
    route = RouteSpec(REST_API, "GET", "/files/{name}", "Fn")
    s = scope("GET", "/files/a/b c", raw_path=b"/files/a%2Fb%20c")
    ev = rest(s, route=route, params={"name": "a/b c"})
    assert ev["path"] == "/files/a%2Fb%20c"
    assert ev["requestContext"]["path"] == "/Prod/files/a%2Fb%20c"
    assert ev["pathParameters"] == {"name": "a%2Fb%20c"}


def test_rest_greedy_params_raw():
    s = scope("GET", "/x/test+alias@gmail.com/y", raw_path=b"/x/test%2Balias@gmail.com/y")
    ev = rest(s, params={"proxy": "x/test+alias@gmail.com/y"})
    assert ev["pathParameters"] == {"proxy": "x/test%2Balias@gmail.com/y"}


def test_rest_without_raw_path_uses_path():
    s = scope("GET", "/hello")
    s["raw_path"] = None
    assert rest(s)["path"] == "/hello"


def test_rest_trailing_and_double_slashes():
    ev = rest(scope("GET", "/test-path/"), params={"proxy": "test-path"})
    assert ev["path"] == "/test-path/" and ev["requestContext"]["path"] == "/Prod/test-path/"
    ev = rest(scope("GET", "//hardcoded"), route=RouteSpec(REST_API, "GET", "/hardcoded", "Fn"))
    assert ev["path"] == "/hardcoded" and ev["requestContext"]["path"] == "/Prod//hardcoded"


def test_http_raw_path_decoded_and_stage_prefix():
    s = scope("GET", "/a b/c", raw_path=b"/a%20b/c")
    ev = http(s)
    assert ev["rawPath"] == "/a b/c" and ev["requestContext"]["http"]["path"] == "/a b/c"
    assert ev["requestContext"]["stage"] == "$default"
    named = RouteSpec(ApiSpec("H", "HTTP", "dev"), "GET", "/a b/c", "Fn", payload_format="2.0")
    ev = http(s, route=named)
    assert ev["rawPath"] == "/dev/a b/c" and ev["requestContext"]["http"]["path"] == "/dev/a b/c"
    assert ev["requestContext"]["stage"] == "dev" and ev["routeKey"] == "GET /a b/c"


def test_rest_path_has_no_stage_prefix():
    ev = rest(scope("GET", "/hello"), route=RouteSpec(REST_API, "GET", "/hello", "Fn"))
    assert ev["path"] == "/hello" and ev["requestContext"]["path"] == "/Prod/hello"
    assert ev["resource"] == "/hello" == ev["requestContext"]["resourcePath"]


# --------------------------------------------------------------------------- bodies

def test_rest_body_binary_by_binary_media_types():
    api = ApiSpec("Api", "REST", "Prod", binary_media_types=("image/*", "application/octet-stream"))
    route = RouteSpec(api, "POST", "/u", "Fn")
    data = bytes(range(256))
    for ct in (b"image/png", b"application/octet-stream", b"Image/JPEG; q=1"):
        ev = rest(scope("POST", "/u", headers=[(b"content-type", ct)]), data, route)
        assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == data, ct
    ev = rest(scope("POST", "/u", headers=[(b"content-type", b"application/json; charset=utf-8")]), b'{"a":1}', route)
    assert ev["isBase64Encoded"] is False and ev["body"] == '{"a":1}'
    ev = rest(scope("POST", "/u"), b"x", route)  # no Content-Type
    assert ev["isBase64Encoded"] is False and ev["body"] == "x"


def test_rest_body_all_binary_with_star_star():
    api = ApiSpec("Api", "REST", "Prod", binary_media_types=("*/*",))
    ev = rest(scope("POST", "/u", headers=[(b"content-type", b"application/json")]), b"{}",
              RouteSpec(api, "POST", "/u", "Fn"))
    assert ev["isBase64Encoded"] is True and ev["body"] == base64.b64encode(b"{}").decode()


def test_rest_default_is_text():
    ev = rest(scope("POST", headers=[(b"content-type", b"image/png")]), b"\x89PNG")
    assert ev["isBase64Encoded"] is False


def test_http_body_base64_rule():
    text = [b"text/plain", b"text/html; charset=utf-8", b"application/json", b"application/json; charset=utf-8",
            b"application/xml", b"application/javascript"]
    binary = [b"application/octet-stream", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x",
              b"image/png", b"application/vnd.api+json", None]
    for ct in text + binary:
        hs = [(b"content-type", ct)] if ct else []
        ev = http(scope("POST", "/", headers=hs), b"payload")
        if ct in text:
            assert ev["isBase64Encoded"] is False and ev["body"] == "payload", ct
        else:
            assert ev["isBase64Encoded"] is True and base64.b64decode(ev["body"]) == b"payload", ct


def test_http_empty_body_without_content_type():
    ev = http(scope("POST", "/"), b"")
    assert "body" not in ev and ev["isBase64Encoded"] is False


# --------------------------------------------------------------------------- ids, names, misc

def test_ids_and_time_are_passed_through():
    ev = rest(scope(), request_id="r-1", extended_request_id="e-1", now_ms=1587481701067)
    rc = ev["requestContext"]
    assert rc["requestId"] == "r-1" and rc["extendedRequestId"] == "e-1"
    assert rc["requestTimeEpoch"] == 1587481701067 and rc["requestTime"] == "21/Apr/2020:15:08:21 +0000"
    ev2 = http(scope(), request_id="abc=", now_ms=1587481701067)
    assert ev2["requestContext"]["requestId"] == "abc="
    assert ev2["requestContext"]["time"] == "21/Apr/2020:15:08:21 +0000"
    assert ev2["requestContext"]["timeEpoch"] == 1587481701067
    other = rest(scope(), request_id="r-2")
    assert other["requestContext"]["requestId"] == "r-2"


def test_api_ids_stable_and_distinct():
    a = rest(scope())["requestContext"]
    b = rest(scope())["requestContext"]
    c = rest(scope(), route=RouteSpec(ApiSpec("Other", "REST", "Prod"), "ANY", "/{proxy+}", "Fn"))["requestContext"]
    assert a["apiId"] == b["apiId"] != c["apiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", a["apiId"]) and a["accountId"] == "123456789012"


def test_operation_name_only_when_set():
    assert "operationName" not in rest(scope())["requestContext"]
    route = RouteSpec(REST_API, "GET", "/", "Fn", operation_name="ListThings")
    assert rest(scope(), route=route)["requestContext"]["operationName"] == "ListThings"


def test_domain_from_host_header():
    rc = rest(scope(headers=[(b"host", b"localhost:3000")]))["requestContext"]
    assert rc["domainName"] == "localhost" and rc["domainPrefix"] == "localhost"
    rc = rest(scope())["requestContext"]
    assert rc["domainName"] == "localhost"


def test_http_route_key_for_explicit_route_and_protocol():
    route = RouteSpec(HTTP_API, "ANY", "/{proxy+}", "Fn", payload_format="2.0")
    ev = http(scope(http_version="2"), route=route, params={"proxy": "a/b"})
    assert ev["routeKey"] == "ANY /{proxy+}" and ev["pathParameters"] == {"proxy": "a/b"}
    assert ev["requestContext"]["http"]["protocol"] == "HTTP/2.0"


def test_clf_time():
    assert clf_time(0) == "01/Jan/1970:00:00:00 +0000"
    assert clf_time(1583349317135) == "04/Mar/2020:19:15:17 +0000"


def test_invalid_utf8_body_is_replaced_not_crashing():
    ev = rest(scope("POST", headers=[(b"content-type", b"text/plain")]), b"\xff\xfe")
    assert ev["isBase64Encoded"] is False and isinstance(ev["body"], str)
    orjson.dumps(ev)
