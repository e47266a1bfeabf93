"""The events our gateway really sends, captured over HTTP (a handler echoes its event), compared
with captured AWS events in tests/fixtures/events/ key by key and type by type, recursively.

Every difference from a golden sample must be listed below with its reason; a new or vanished key,
or a changed value type, fails the comparison. Free-form maps (headers, query strings, path
parameters, stage variables) are data, not schema: only their value types are compared.
"""
from __future__ import annotations

import base64
import calendar
import json
import re
import time
from pathlib import Path

import httpx
import pytest

from support.servers import copy_app

pytestmark = pytest.mark.integration   # starts real processes

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CLF = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")
FREE_MAPS = {"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters",
             "pathParameters", "stageVariables"}


# --------------------------------------------------------------------------- intended differences

# REST proxy event vs apigw-v1-rest-proxy.json (a POST /hello/world?name=me through /{proxy+})
REST_MISSING = {
    "requestContext.authorizer",               # only present when an authorizer ran (§1.1); none here
}
REST_EXTRA = {
    "isBase64Encoded",                          # documented top-level key (§1.1); the 2016 sample predates it
    "requestContext.deploymentId",              # in current AWS captures (LocalStack AWS-validated snapshots)
    "requestContext.extendedRequestId",         # documented $context variable (§1.1)
    "requestContext.identity.principalOrgId",   # documented identity key (§1.1)
}
# identity fields the sample fills in (IAM/Cognito/API-key callers); an anonymous call has them null
REST_NULLED = {f"requestContext.identity.{k}": ("null", "string") for k in (
    "accessKey", "accountId", "apiKey", "apiKeyId", "caller", "cognitoAuthenticationProvider",
    "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "user", "userArn")}

# HTTP API 1.0 event vs the same REST sample
HTTP10_MISSING = {
    "requestContext.identity.apiKey",          # API keys are a REST-only feature (HTTP API 1.0 doc sample)
    "requestContext.identity.apiKeyId",
}
HTTP10_EXTRA = {"version", "isBase64Encoded", "requestContext.extendedRequestId",
                "requestContext.identity.principalOrgId"}
HTTP10_NULLED = {k: v for k, v in REST_NULLED.items() if not k.endswith(("apiKey", "apiKeyId"))}
HTTP10_NULLED["requestContext.resourceId"] = ("null", "string")   # HTTP APIs have no resources

# HTTP API 2.0 vs apigw-v2-http-default-route.json (GET / on $default, nothing optional)
V2_DEFAULT_MISSING = {
    "requestContext.authentication",           # mutual TLS only; lambdagate serves plain HTTP
}
# HTTP API 2.0 vs apigw-v2-http-full.json (cookies, query, body, path parameters, stage variables)
V2_FULL_MISSING = {
    "requestContext.authentication",           # mutual TLS only
    "requestContext.authorizer",               # JWT authorizer claims; no authorizer ran
}

# Headers a real edge-optimised REST API adds that cannot exist locally (no CloudFront in front)
EDGE_ONLY_HEADERS = {"via", "x-amz-cf-id", "cloudfront-forwarded-proto", "cloudfront-is-desktop-viewer",
                     "cloudfront-is-mobile-viewer", "cloudfront-is-smarttv-viewer", "cloudfront-is-tablet-viewer",
                     "cloudfront-viewer-country"}


def gold(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def compare(ours, golden, path: str = ""):
    """(missing key paths, extra key paths, {path: (our kind, golden kind)})."""
    missing, extra, kinds = set(), set(), {}

    def join(p, k):
        return f"{p}.{k}" if p else k

    def element_kinds(values):
        return {kind(v) if not isinstance(v, list) else "array of " + "|".join(sorted({kind(x) for x in v}))
                for v in values}

    def walk(o, g, p):
        if kind(o) != kind(g):
            kinds[p] = (kind(o), kind(g))
            return
        if p in FREE_MAPS:
            if element_kinds(o.values()) - element_kinds(g.values()):
                kinds[p] = (f"map of {sorted(element_kinds(o.values()))}", f"map of {sorted(element_kinds(g.values()))}")
            return
        if isinstance(g, dict):
            missing.update(join(p, k) for k in g.keys() - o.keys())
            extra.update(join(p, k) for k in o.keys() - g.keys())
            for k in g.keys() & o.keys():
                walk(o[k], g[k], join(p, k))
        elif isinstance(g, list) and {kind(x) for x in o} - {kind(x) for x in g}:
            kinds[p] = (f"array of {sorted({kind(x) for x in o})}", f"array of {sorted({kind(x) for x in g})}")

    walk(ours, golden, path)
    return missing, extra, kinds


# --------------------------------------------------------------------------- capture

@pytest.fixture(scope="module")
def echo(module_start_api, tmp_path_factory):
    template = copy_app("echo", tmp_path_factory.mktemp("echo"))
    server = module_start_api(template, "--no-reload", name="echo")
    with httpx.Client(base_url=server.base_url, timeout=15) as c:
        yield c


def capture(client: httpx.Client, method: str, path: str, **kw):
    """(event, response, ms before, ms after)."""
    before = time.time() * 1000
    response = client.request(method, path, **kw)
    after = time.time() * 1000
    assert response.status_code == 200, response.text
    return response.json(), response, before, after


def rest_event(echo, **kw):
    return capture(echo, "POST", "/rest/hello/world", params={"name": "me"}, json={"a": 1},
                   headers={"headerName": "headerValue"}, **kw)[0]


# --------------------------------------------------------------------------- shapes

def test_rest_event_shape_matches_the_captured_aws_event(echo):
    ours = rest_event(echo)
    missing, extra, kinds = compare(ours, gold("apigw-v1-rest-proxy.json"))
    assert missing == REST_MISSING
    assert extra == REST_EXTRA
    assert kinds == REST_NULLED
    # the headers API Gateway adds itself, as in the sample; edge-only ones are absent
    names = {k.lower() for k in ours["headers"]}
    assert {"host", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"} <= names
    assert not names & EDGE_ONLY_HEADERS
    assert ours["multiValueHeaders"].keys() == ours["headers"].keys()


def test_http_api_payload_1_0_event_shape(echo):
    ours = capture(echo, "GET", "/legacy/7", params={"name": "me"})[0]
    golden = gold("apigw-v1-rest-proxy.json")
    # the sample's authorizer is a Lambda authorizer's context; HTTP API 1.0 without one sends
    # {"claims": null, "scopes": null} (doc sample, §1.3): compared by value below
    del golden["requestContext"]["authorizer"]
    authorizer = ours["requestContext"].pop("authorizer")
    missing, extra, kinds = compare(ours, golden)
    assert missing == HTTP10_MISSING
    assert extra == HTTP10_EXTRA
    assert kinds == {**HTTP10_NULLED, "body": ("null", "string")}     # a GET has no body
    assert ours["version"] == "1.0"
    assert authorizer == {"claims": None, "scopes": None}
    assert ours["path"] == "/beta/legacy/7" and ours["requestContext"]["stage"] == "beta"


def test_v2_default_route_event_shape(echo):
    ours = capture(echo, "GET", "/")[0]
    missing, extra, kinds = compare(ours, gold("apigw-v2-http-default-route.json"))
    assert missing == V2_DEFAULT_MISSING
    assert extra == set()
    assert kinds == {}
    for absent in ("cookies", "queryStringParameters", "pathParameters", "body", "stageVariables"):
        assert absent not in ours                # omitted, not null, when empty (§1.2)
    assert ours["rawQueryString"] == ""
    assert ours["headers"]["content-length"] == "0"


def test_v2_full_event_shape(echo):
    ours = capture(echo, "POST", "/items/7?parameter1=value1&parameter1=value2&parameter2=value",
                   json={"message": "hello world"}, headers={"Cookie": "cookie1; cookie2"})[0]
    missing, extra, kinds = compare(ours, gold("apigw-v2-http-full.json"))
    assert missing == V2_FULL_MISSING
    assert extra == set()
    assert kinds == {}


# --------------------------------------------------------------------------- values

def test_request_ids_are_unique_and_match_the_response_header(echo):
    rest_ids, v2_ids = [], []
    for _ in range(5):
        event, response, _, _ = capture(echo, "GET", "/rest/x")
        rest_ids.append(event["requestContext"]["requestId"])
        assert UUID.match(rest_ids[-1])
        assert response.headers["x-amzn-RequestId"] == rest_ids[-1]
        event, response, _, _ = capture(echo, "GET", "/items/1")
        v2_ids.append(event["requestContext"]["requestId"])
        assert response.headers["apigw-requestid"] == v2_ids[-1]
    assert len(set(rest_ids)) == 5 and len(set(v2_ids)) == 5


def _clf_epoch_s(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%d/%b/%Y:%H:%M:%S +0000"))


def test_request_times_are_now(echo):
    event, _, before, after = capture(echo, "GET", "/rest/x")
    ctx = event["requestContext"]
    assert isinstance(ctx["requestTimeEpoch"], int)
    assert before - 2000 <= ctx["requestTimeEpoch"] <= after + 2000
    assert CLF.match(ctx["requestTime"])
    assert abs(_clf_epoch_s(ctx["requestTime"]) - ctx["requestTimeEpoch"] // 1000) <= 1
    event, _, before, after = capture(echo, "GET", "/items/1")
    ctx = event["requestContext"]
    assert isinstance(ctx["timeEpoch"], int)
    assert before - 2000 <= ctx["timeEpoch"] <= after + 2000
    assert CLF.match(ctx["time"])
    assert abs(_clf_epoch_s(ctx["time"]) - ctx["timeEpoch"] // 1000) <= 1


def test_source_ip_is_the_peer_and_x_forwarded_for_is_appended(echo):
    event = capture(echo, "GET", "/rest/x", headers={"X-Forwarded-For": "203.0.113.9"})[0]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"
    event = capture(echo, "GET", "/items/1", headers={"X-Forwarded-For": "203.0.113.9"})[0]
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    event = capture(echo, "GET", "/")[0]
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"


def test_multi_value_headers_and_query_strings(echo):
    headers = [("X-Multi", "a"), ("X-Multi", "b")]
    query = "k=1&k=2&single=x&enc=a%20b%2Bc&plus=a+b"
    rest = capture(echo, "GET", f"/rest/x?{query}", headers=headers)[0]
    assert rest["multiValueHeaders"]["X-Multi"] == ["a", "b"]
    assert rest["headers"]["X-Multi"] == "b"                             # last value wins
    assert rest["queryStringParameters"] == {"k": "2", "single": "x", "enc": "a b+c", "plus": "a b"}
    assert rest["multiValueQueryStringParameters"] == {"k": ["1", "2"], "single": ["x"], "enc": ["a b+c"],
                                                       "plus": ["a b"]}
    v2 = capture(echo, "GET", f"/items/1?{query}", headers=headers)[0]
    assert v2["headers"]["x-multi"] == "a,b"                             # comma-joined
    assert v2["rawQueryString"] == query                                 # still percent-encoded
    assert v2["queryStringParameters"] == {"k": "1,2", "single": "x", "enc": "a b+c", "plus": "a b"}
    no_query = capture(echo, "GET", "/rest/x")[0]
    assert no_query["queryStringParameters"] is None                     # null, not {}, for REST
    assert no_query["multiValueQueryStringParameters"] is None


def test_v2_cookies_come_out_of_the_headers(echo):
    event = capture(echo, "GET", "/items/1", headers={"Cookie": "c1=v1; c2=v2"})[0]
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    rest = capture(echo, "GET", "/rest/x", headers={"Cookie": "c1=v1; c2=v2"})[0]
    assert "cookies" not in rest
    assert rest["headers"]["Cookie"] == "c1=v1; c2=v2"                   # REST passes the header through


def test_header_name_casing(echo):
    sent = {"X-Mixed-Case": "1", "x-lower-only": "2", "Content-Type": "application/json"}
    rest = capture(echo, "POST", "/rest/x", headers=sent, content=b"{}")[0]
    # AWS keeps the client's casing for REST: lambdagate's server passes the names as received
    by_lower = {k.lower(): k for k in rest["headers"]}
    assert {"x-mixed-case", "x-lower-only", "content-type", "host", "user-agent"} <= by_lower.keys()
    assert len(by_lower) == len(rest["headers"])                         # no name twice in two casings
    for name in ("Host", "User-Agent", "Accept", "X-Mixed-Case", "Content-Type", "x-lower-only"):
        assert name in rest["headers"], f"{name} not kept as sent: {sorted(rest['headers'])}"
        assert name in rest["multiValueHeaders"]
    v2 = capture(echo, "POST", "/items/1", headers=sent, content=b"{}")[0]
    assert all(k == k.lower() for k in v2["headers"])                    # HTTP API: always lower-case
    v10 = capture(echo, "GET", "/legacy/1", headers=sent)[0]
    assert all(k == k.lower() for k in v10["headers"])
    assert all(k == k.lower() for k in v10["multiValueHeaders"])


def test_stage_prefix(echo):
    v2 = capture(echo, "GET", "/items/7")[0]
    assert v2["rawPath"] == "/beta/items/7"                              # named stage: prefixed
    assert v2["requestContext"]["http"]["path"] == "/beta/items/7"
    assert v2["requestContext"]["stage"] == "beta"
    assert v2["routeKey"] == v2["requestContext"]["routeKey"] == "ANY /items/{id}"
    assert v2["pathParameters"] == {"id": "7"}
    assert v2["stageVariables"] == {"stageVariable1": "value1", "stageVariable2": "value2"}
    default = capture(echo, "GET", "/some/where")[0]
    assert default["rawPath"] == "/some/where"                           # $default stage: no prefix
    assert default["requestContext"]["stage"] == "$default"
    rest = capture(echo, "GET", "/rest/a/b")[0]
    assert rest["path"] == "/rest/a/b"                                   # REST path: no stage
    assert rest["requestContext"]["stage"] == "testStage"
    assert rest["pathParameters"] == {"proxy": "a/b"}
    assert rest["stageVariables"] == {"stageVariableName": "stageVariableValue"}


def test_percent_encoding_of_paths(echo):
    rest = capture(echo, "GET", "/rest/a%20b/c")[0]
    assert rest["path"] == "/rest/a%20b/c"                               # REST keeps the client's encoding
    v2 = capture(echo, "GET", "/items/a%20b")[0]
    assert v2["rawPath"] == "/beta/items/a b"                            # HTTP API decodes
    assert v2["pathParameters"] == {"id": "a b"}


def test_bodies_text_and_base64(echo):
    blob = bytes(range(256))
    rest = capture(echo, "POST", "/rest/x", content="héllo".encode(), headers={"Content-Type": "text/plain"})[0]
    assert rest["body"] == "héllo" and rest["isBase64Encoded"] is False
    rest_bin = capture(echo, "POST", "/rest/x", content=blob, headers={"Content-Type": "image/png"})[0]
    assert rest_bin["isBase64Encoded"] is True                           # matches BinaryMediaTypes
    assert base64.b64decode(rest_bin["body"]) == blob
    v2_json = capture(echo, "POST", "/items/1", json={"k": "v"})[0]
    assert json.loads(v2_json["body"]) == {"k": "v"} and v2_json["isBase64Encoded"] is False
    v2_bin = capture(echo, "POST", "/items/1", content=blob, headers={"Content-Type": "application/octet-stream"})[0]
    assert v2_bin["isBase64Encoded"] is True
    assert base64.b64decode(v2_bin["body"]) == blob


def test_events_satisfy_powertools_strict_accessors(echo):
    from aws_lambda_powertools.utilities import data_classes
    rest = data_classes.APIGatewayProxyEvent(rest_event(echo))
    ctx = rest.request_context
    values = [rest.path, rest.http_method, ctx.account_id, ctx.api_id, ctx.http_method, ctx.path, ctx.protocol,
              ctx.request_id, ctx.request_time_epoch, ctx.resource_id, ctx.resource_path, ctx.stage,
              ctx.identity.source_ip, rest.resolved_query_string_parameters, rest.json_body]
    assert all(v is not None for v in values)
    v2 = data_classes.APIGatewayProxyEventV2(capture(echo, "GET", "/items/3?x=1", headers={"Cookie": "a=1"})[0])
    ctx = v2.request_context
    values = [v2.version, v2.route_key, v2.raw_path, v2.raw_query_string, ctx.http.method, ctx.http.path,
              ctx.http.protocol, ctx.http.source_ip, ctx.http.user_agent, ctx.account_id, ctx.api_id,
              ctx.domain_name, ctx.domain_prefix, ctx.request_id, ctx.route_key, ctx.stage, ctx.time,
              ctx.time_epoch, v2.cookies]
    assert all(v is not None for v in values)
    assert v2.path == "/items/3"                                          # Powertools strips /<stage>


def test_the_comparison_itself_sees_missing_extra_and_retyped_keys():
    golden = {"a": 1, "b": {"c": "x", "d": None}, "headers": {"H": "v"}, "e": [1, 2]}
    assert compare(golden, golden) == (set(), set(), {})
    ours = {"a": "1", "b": {"c": "x", "z": 0}, "headers": {"h": ["v"]}, "e": ["1"]}
    missing, extra, kinds = compare(ours, golden)
    assert missing == {"b.d"}
    assert extra == {"b.z"}
    assert set(kinds) == {"a", "headers", "e"}
