"""Lambda authorizers' pieces without a server: identity sources read off real events
(gateway.apigw.authorizer_identity), what an authorizer's settings make of it, the bounded result
cache, and the usage-plan key an authorizer picks (gateway.apigw.lambda_authorizers, with the
suite's FakeInvoker answering as the function). The real path is in test_lambda_authorizers.py."""
from __future__ import annotations

import asyncio
from urllib.parse import unquote

import orjson
import pytest

from gateway.apigw import events
from gateway.apigw.access import AccessRequest, Denied
from gateway.apigw.authorizer_identity import parse_identity_sources
from gateway.apigw.lambda_authorizers import (MAX_CACHED_IDENTITIES, MAX_DECISIONS_PER_RESULT,
                                              MAX_REMEMBERED_PATH_CHARS, LambdaAuthorizer, ResultCache)
from gateway.errors import TemplateError
from gateway.sam.authorizer_settings import compile_validation_expression
from gateway.types import ApiSpec, AuthorizerSpec, RouteSpec
from support.fakes import FakeInvoker

REGION = "us-east-1"
REST = ApiSpec("AuthRestApi", "REST", "Prod", stage_variables={"tier": "gold"})
HTTP = ApiSpec("AuthHttpApi", "HTTP", "$default")


# --------------------------------------------------------------------------- unit: identity sources

def _scope(method="GET", path="/pets/7", query=b"", headers=()):
    """`path` as the client sent it: the ASGI server decodes `path` and keeps `raw_path`."""
    return {"type": "http", "method": method, "path": unquote(path), "raw_path": path.encode(), "query_string": query,
            "headers": [(k.lower(), v) for k, v in headers], "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 3000), "scheme": "http", "http_version": "1.1"}


def _request(route: RouteSpec, scope: dict, params=None) -> AccessRequest:
    v1 = route.api.kind == "REST" or route.payload_format == "1.0"
    if v1:
        event = events.build_rest_event(scope, b"", route, params, request_id="rid", extended_request_id="xid",
                                        now_ms=1_700_000_000_000)
    else:
        event = events.build_http_event(scope, b"", route, params, request_id="rid", now_ms=1_700_000_000_000)
    return AccessRequest(scope, b"", event, route, v1, "rid")


def _values(expressions, route, scope, params=None):
    request = _request(route, scope, params)
    return [s.value(request) for s in parse_identity_sources(expressions, join_repeated=route.api.kind == "HTTP")]


def test_identity_sources_in_both_spellings_read_headers_case_insensitively():
    route = RouteSpec(REST, "GET", "/pets/{id}", "Echo")
    scope = _scope(query=b"tenant=acme&Tenant=other", headers=[(b"Authorization", b"tok"), (b"X-User", b"ann")])
    assert _values(["method.request.header.authorization", "$request.header.X-USER",
                    "method.request.querystring.tenant", "stageVariables.tier", "context.httpMethod",
                    "$context.identity.sourceIp"], route, scope) == ["tok", "ann", "acme", "gold", "GET", "127.0.0.1"]


def test_missing_or_empty_sources_have_no_value_and_query_names_are_case_sensitive():
    route = RouteSpec(REST, "GET", "/pets/{id}", "Echo")
    scope = _scope(query=b"Tenant=acme&empty=", headers=[(b"authorization", b"")])
    assert _values(["method.request.header.Authorization", "method.request.header.X-User",
                    "method.request.querystring.tenant", "method.request.querystring.empty",
                    "stageVariables.nothing", "context.no.such"], route, scope) == [None] * 6


def test_repeated_values_rest_takes_the_last_http_api_joins_them():
    headers = [(b"x-user", b"a"), (b"x-user", b"b")]
    scope = _scope(path="/things", query=b"t=1&t=2", headers=headers)
    rest = RouteSpec(REST, "GET", "/things", "Echo")
    assert _values(["method.request.header.X-User", "method.request.querystring.t"], rest, scope) == ["b", "2"]
    assert _values(["method.request.multivalueheader.X-User", "method.request.multivaluequerystring.t"],
                   rest, scope) == ["a,b", "1,2"]
    for payload in ("1.0", "2.0"):
        http = RouteSpec(HTTP, "GET", "/things", "Echo", payload_format=payload)
        assert _values(["$request.header.x-user", "$request.querystring.t"], http, scope) == ["a,b", "1,2"]


def test_http_api_context_variables_read_either_event_shape():
    expressions = ["$context.routeKey", "$context.httpMethod", "$context.identity.sourceIp", "$context.stage"]
    for payload in ("1.0", "2.0"):
        route = RouteSpec(HTTP, "POST", "/orders/{id}", "Echo", payload_format=payload)
        scope = _scope(method="POST", path="/orders/9")
        assert _values(expressions, route, scope, {"id": "9"}) == ["POST /orders/{id}", "POST", "127.0.0.1",
                                                                   "$default"]


@pytest.mark.parametrize("expression", ["method.request.path.id", "header.Authorization", "$request.body.x",
                                        "method.request.header.", 7])
def test_an_expression_that_is_no_identity_source_is_refused_naming_where(expression):
    with pytest.raises(TemplateError, match="identity source") as info:
        parse_identity_sources([expression], join_repeated=False, where="authorizer A, IdentitySource")
    assert str(info.value).startswith("authorizer A, IdentitySource: ")


@pytest.mark.parametrize("spec, api, setting", [
    (AuthorizerSpec("BadSource", "REQUEST", function="F", identity_sources=("method.request.body.x",)), REST,
     "IdentitySource"),
    (AuthorizerSpec("BadSource", "LAMBDA", function="F", identity_sources=("$request.header.A, $body",)), HTTP,
     "IdentitySource"),
    (AuthorizerSpec("BadSource", "TOKEN", function="F", identity_sources=("method.request.querystring.t",)), REST,
     "IdentitySource"),
    (AuthorizerSpec("BadRegex", "TOKEN", function="F", validation_expression="([a-z"), REST,
     "IdentityValidationExpression"),
    (AuthorizerSpec("BadRegex", "TOKEN", function="F", validation_expression="a{4294967296}"), REST,
     "IdentityValidationExpression"),
])
def test_bad_settings_stop_the_start_with_a_template_error_naming_authorizer_and_setting(spec, api, setting):
    with pytest.raises(TemplateError) as info:
        LambdaAuthorizer(spec, api, None, REGION)
    assert str(info.value).startswith(f"authorizer {spec.name}, {setting}: ")
    assert info.value.__context__ is None or info.value.__suppress_context__   # no chained traceback


def test_the_validation_expression_check_is_one_shared_piece():
    where = "authorizer A, IdentityValidationExpression"
    assert compile_validation_expression(r"Bearer [a-z]+", where).fullmatch("Bearer abc")
    with pytest.raises(TemplateError, match=r"^authorizer A, IdentityValidationExpression: '\(\[a-z' is not a "
                                            r"regular expression: unterminated character set"):
        compile_validation_expression("([a-z", where)
    long_and_broken = "(" + "a" * 5000
    with pytest.raises(TemplateError) as info:
        compile_validation_expression(long_and_broken, where)
    assert len(str(info.value)) < 300          # the message quotes the setting, not all of it


def test_a_token_authorizer_defaults_to_the_authorization_header():
    default = LambdaAuthorizer(AuthorizerSpec("A", "TOKEN", function="F"), REST, None, REGION)
    assert [s.expression for s in default.sources] == ["method.request.header.Authorization"]


def test_caching_needs_a_ttl_and_an_identity_source():
    def cache_of(**fields):
        return LambdaAuthorizer(AuthorizerSpec("A", **fields), HTTP if fields["type"] == "LAMBDA" else REST,
                                None, REGION).cache
    assert cache_of(type="TOKEN", function="F", ttl_s=300) is not None
    assert cache_of(type="TOKEN", function="F", ttl_s=0) is None
    assert cache_of(type="REQUEST", function="F", ttl_s=300) is None
    assert cache_of(type="REQUEST", function="F", ttl_s=300,
                    identity_sources=("method.request.header.A",)) is not None
    assert cache_of(type="LAMBDA", function="F", ttl_s=300) is None
    assert cache_of(type="LAMBDA", function="F", ttl_s=300,
                    identity_sources=("$request.header.A",)) is not None


# --------------------------------------------------------------------------- unit: the result cache

def test_the_cache_forgets_an_entry_after_its_ttl():
    cache = ResultCache(ttl_s=10)
    cache.put("tok", "result", now_s=100.0)
    assert cache.get("tok", now_s=109.9) == "result"
    assert cache.get("tok", now_s=110.0) is None
    assert len(cache) == 0


def test_the_cache_is_bounded_and_drops_the_oldest_first():
    cache = ResultCache(ttl_s=300, max_entries=3)
    for i in range(1000):
        cache.put(f"random-{i}", i, now_s=float(i))
    assert len(cache) == 3
    assert [cache.get(f"random-{i}", now_s=1000.0) for i in (996, 997, 998, 999)] == [None, 997, 998, 999]
    cache.put("random-997", "renewed", now_s=1000.0)        # a renewed entry becomes the youngest
    cache.put("new", "x", now_s=1000.0)
    assert cache.get("random-998", now_s=1000.0) is None
    assert cache.get("random-997", now_s=1000.0) == "renewed"


# --------------------------------------------------------------------------- unit: the usage-plan key

def _authorize_with(output) -> object:
    fake = FakeInvoker(["KeyAuth"])
    fake.script["KeyAuth"] = lambda event: FakeInvoker.raw(orjson.dumps(output(event)))
    authorizer = LambdaAuthorizer(AuthorizerSpec("K", "TOKEN", function="KeyAuth", ttl_s=0), REST, fake, REGION)
    route = RouteSpec(REST, "GET", "/pets/{id}", "Echo")
    request = _request(route, _scope(headers=[(b"authorization", b"tok")]), {"id": "7"})
    try:
        return asyncio.run(authorizer.authorize(request))
    except Denied as denied:
        return denied.response


def _allow(event, **extra):
    return {"principalId": "p", "policyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": event["methodArn"]}]}, **extra}


def test_the_usage_identifier_key_an_authorizer_returns_reaches_the_grant():
    grant = _authorize_with(lambda event: _allow(event, usageIdentifierKey="plan-key-1"))
    assert grant.usage_identifier_key == "plan-key-1"
    assert grant.authorizer["principalId"] == "p" and grant.authorizer["integrationLatency"] >= 0
    assert _authorize_with(_allow).usage_identifier_key is None


def test_a_usage_identifier_key_that_is_not_a_string_is_a_configuration_error():
    status, headers, body = _authorize_with(lambda event: _allow(event, usageIdentifierKey=["k"]))
    assert (status, body) == (500, b'{"message":null}')
    assert (b"x-amzn-ErrorType", b"AuthorizerConfigurationException") in headers


# --------------------------------------------------------------------------- unit: the path a policy sees

def _path_policy(event):
    """Allow the stage, Deny GET/admin and any ARN with a secret segment (as path_policies.py)."""
    arn = event.get("methodArn") or event["routeArn"]
    prefix = "/".join(arn.split("/", 2)[:2])
    statements = [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": prefix + "/*"},
                  {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": prefix + "/GET/admin"},
                  {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*/secret/*"}]
    return FakeInvoker.raw(orjson.dumps({"principalId": "p", "policyDocument": {"Statement": statements}}))


def _path_authorizer(api: ApiSpec, kind: str = "TOKEN"):
    fake = FakeInvoker(["PathAuth"])
    fake.script["PathAuth"] = _path_policy
    source = "method.request.header.Authorization" if api is REST else "$request.header.Authorization"
    spec = AuthorizerSpec("PathAuthorizer", kind if api is REST else "LAMBDA", function="PathAuth", ttl_s=300,
                          identity_sources=(source,))
    return LambdaAuthorizer(spec, api, fake, REGION), fake


def _answer(authorizer, route, raw_path, params=None, token=b"tok"):
    """The grant, or Denied's response, for GET raw_path."""
    request = _request(route, _scope(path=raw_path, headers=[(b"authorization", token)]), params)
    try:
        return asyncio.run(authorizer.authorize(request))
    except Denied as denied:
        return denied.response


ARN_PREFIX = {"REST": f"arn:aws:execute-api:{REGION}:123456789012:{events.api_id_for('AuthRestApi')}/Prod",
              "HTTP": f"arn:aws:execute-api:{REGION}:123456789012:{events.api_id_for('AuthHttpApi')}/$default"}


@pytest.mark.parametrize("api", [REST, HTTP], ids=["REST", "HTTP"])
@pytest.mark.parametrize("raw_path, template, params, arn_path", [
    ("/admin", "/admin", None, "/GET/admin"),
    ("/admin/", "/admin", None, "/GET/admin"),
    ("/%61dmin", "/admin", None, "/GET/admin"),
    ("//admin", "/admin", None, "/GET/admin"),
    ("/x/%73ecret/y", "/x/{p}/y", {"p": "secret"}, "/GET/x/secret/y"),
], ids=["plain", "trailing-slash", "encoded", "double-slash", "encoded-segment"])
def test_a_deny_meets_every_spelling_of_the_path_fresh_and_cached(api, raw_path, template, params, arn_path):
    authorizer, fake = _path_authorizer(api)
    payload = "2.0" if api is HTTP else "1.0"
    route = RouteSpec(api, "GET", template, "Echo", payload_format=payload)
    for _ in range(2):                  # the function's answer, then the cached result's decision
        status, _, body = _answer(authorizer, route, raw_path, params)
        assert status == 403
        if api is REST:
            assert body == b'{"Message":"User is not authorized to access this resource with an explicit deny"}'
    assert len(fake.calls) == 1
    arn = fake.calls[0].event["methodArn" if api is REST else "routeArn"]
    assert arn == ARN_PREFIX[api.kind] + arn_path
    allowed = _answer(authorizer, RouteSpec(api, "GET", "/x/{p}/y", "Echo", payload_format=payload), "/x/%70ublic/y/",
                      {"p": "public"})
    assert not isinstance(allowed, tuple)          # the same cached policy lets the rest of the stage in


def test_a_request_authorizer_sees_the_event_path_as_sent_and_the_arn_as_routed():
    authorizer, fake = _path_authorizer(REST, kind="REQUEST")
    route = RouteSpec(REST, "GET", "/x/{p}/y", "Echo")
    assert not isinstance(_answer(authorizer, route, "/x/%70ublic/y", {"p": "public"}), tuple)
    event = fake.calls[0].event
    assert (event["path"], event["methodArn"]) == ("/x/%70ublic/y", ARN_PREFIX["REST"] + "/GET/x/public/y")


# --------------------------------------------------------------------------- unit: what the cache retains

def test_remembered_decisions_stay_bounded_under_many_long_distinct_paths():
    authorizer, fake = _path_authorizer(REST)
    route = RouteSpec(REST, "GET", "/files/{proxy+}", "Echo")
    long_tail = "a" * 10_000

    async def attack():
        denied = 0
        for identity in range(8):
            token = f"deny-me-{identity}".encode()
            for i in range(80):
                for tail in (f"{i}-{long_tail}", f"secret/{i}-{long_tail}", f"short-{i}"):
                    request = _request(route, _scope(path="/files/" + tail, headers=[(b"authorization", token)]),
                                       {"proxy": tail})
                    try:
                        await authorizer.authorize(request)
                    except Denied:
                        denied += 1
        return denied

    # every long path was still evaluated: the secret ones were denied, each time
    assert asyncio.run(attack()) == 8 * 80
    assert len(fake.calls) == 8                          # one invocation per identity: the cache works
    results = [entry[1] for entry in authorizer.cache.entries.values()]
    assert len(results) == 8
    kept = [target for result in results for target in result.decisions]
    assert all(len(result.decisions) <= MAX_DECISIONS_PER_RESULT for result in results)
    assert kept and all(len(path) <= MAX_REMEMBERED_PATH_CHARS for _, path in kept)
    assert sum(len(path) for _, path in kept) <= 8 * MAX_DECISIONS_PER_RESULT * MAX_REMEMBERED_PATH_CHARS
    # the most a full cache can hold in remembered paths: tens of MB, not gigabytes
    assert MAX_CACHED_IDENTITIES * MAX_DECISIONS_PER_RESULT * MAX_REMEMBERED_PATH_CHARS <= 32 * 1024 * 1024
