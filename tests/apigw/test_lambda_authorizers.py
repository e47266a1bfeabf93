"""Lambda authorizers as API Gateway runs them (gateway.apigw.lambda_authorizers), on the real path.

A real Scheduler (workers forked from a zygote, isolation "none") runs the authorizer functions of
tests/fixtures/authorizers/authorizers.py and path_policies.py and an echoing integration; ApiGateway with
build_access's checks serves RouteSpecs built here on 127.0.0.1, and httpx talks to it. How often
an authorizer ran is read from the scheduler's totals, never from the handlers. The pieces alone
are in test_authorizer_identity.py and test_iam_policy.py.
"""
from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvloop

from gateway.apigw import events
from gateway.apigw.access_setup import build_access
from gateway.app import build_api_app
from gateway.config import Config
from gateway.http_protocol import ApiGatewayProtocol, http_server
from gateway.scheduler import Scheduler
from gateway.types import ApiSpec, AuthorizerSpec, FunctionSpec, RouteSpec
from support.servers import checkout_env

pytestmark = pytest.mark.integration   # starts real processes

HANDLERS = Path(__file__).resolve().parents[1] / "fixtures" / "authorizers"
REGION = "us-east-1"
REST = ApiSpec("AuthRestApi", "REST", "Prod", stage_variables={"tier": "gold"})
HTTP = ApiSpec("AuthHttpApi", "HTTP", "$default")
REST_ARN = f"arn:aws:execute-api:{REGION}:123456789012:{events.api_id_for('AuthRestApi')}/Prod"
HTTP_ARN = f"arn:aws:execute-api:{REGION}:123456789012:{events.api_id_for('AuthHttpApi')}/$default"

EXPLICIT_DENY = b'{"Message":"User is not authorized to access this resource with an explicit deny"}'
IMPLICIT_DENY = b'{"Message":"User is not authorized to access this resource"}'


def unique(kind: str) -> str:
    """An identity no other test uses (the authorizer caches span the module's server)."""
    return f"{kind}:{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- the real path

def _functions(code_dir: Path) -> list:
    def fn(name, handler, module="authorizers", **fields):
        return FunctionSpec(logical_id=name, function_name=name, handler=f"{module}.{handler}",
                            runtime="python3.11", code_dir=str(code_dir), **fields)
    return [fn("Echo", "echo"), fn("TokenAuth", "token"), fn("RequestAuth", "request"),
            fn("HttpSimpleAuth", "http_simple"), fn("HttpPolicyAuth", "http_policy"), fn("HttpV1Auth", "http_v1"),
            fn("ThrottledAuth", "token", reserved_concurrency=0), fn("SlowAuth", "slow", timeout_s=1),
            fn("PathPolicyAuth", "token", "path_policies"), fn("HttpPathPolicyAuth", "http_policy", "path_policies")]


def _routes() -> list:
    token = AuthorizerSpec("TokenAuthorizer", "TOKEN", function="TokenAuth",
                           identity_sources=("method.request.header.Authorization",),
                           validation_expression=r"[a-z]+:[A-Za-z0-9-]+", ttl_s=300)
    no_cache = AuthorizerSpec("TokenNoCache", "TOKEN", function="TokenAuth",
                              identity_sources=("method.request.header.X-Token",), ttl_s=0)
    short = AuthorizerSpec("TokenShortTtl", "TOKEN", function="TokenAuth",
                           identity_sources=("method.request.header.X-Token",), ttl_s=1)
    request = AuthorizerSpec("RequestAuthorizer", "REQUEST", function="RequestAuth", ttl_s=300, identity_sources=(
        "method.request.header.X-User", "method.request.querystring.tenant", "stageVariables.tier"))
    throttled = AuthorizerSpec("ThrottledAuthorizer", "TOKEN", function="ThrottledAuth", ttl_s=0)
    slow = AuthorizerSpec("SlowAuthorizer", "TOKEN", function="SlowAuth", ttl_s=0)
    simple = AuthorizerSpec("SimpleAuthorizer", "LAMBDA", function="HttpSimpleAuth", ttl_s=300,
                            identity_sources=("$request.header.Authorization",), simple_responses=True)
    policy = AuthorizerSpec("PolicyAuthorizer", "LAMBDA", function="HttpPolicyAuth", ttl_s=0,
                            identity_sources=("$request.header.Authorization",))
    v1 = AuthorizerSpec("V1Authorizer", "LAMBDA", function="HttpV1Auth", ttl_s=300, payload_format="1.0",
                        identity_sources=("$request.header.Authorization", "$request.querystring.tenant"))
    anyone = AuthorizerSpec("NoIdentity", "LAMBDA", function="HttpSimpleAuth", ttl_s=300, simple_responses=True)
    path_token = AuthorizerSpec("PathTokenAuthorizer", "TOKEN", function="PathPolicyAuth", ttl_s=300,
                                identity_sources=("method.request.header.X-Path-Token",))
    path_policy = AuthorizerSpec("PathPolicyAuthorizer", "LAMBDA", function="HttpPathPolicyAuth", ttl_s=300,
                                 identity_sources=("$request.header.X-Path-Token",))
    return [
        RouteSpec(REST, "GET", "/pets/{id}", "Echo", authorizer=token),
        RouteSpec(REST, "POST", "/pets/{id}", "Echo", authorizer=token),
        RouteSpec(REST, "GET", "/nocache", "Echo", authorizer=no_cache),
        RouteSpec(REST, "GET", "/shortttl", "Echo", authorizer=short),
        RouteSpec(REST, "GET", "/request/{id}", "Echo", authorizer=request),
        RouteSpec(REST, "GET", "/throttled", "Echo", authorizer=throttled),
        RouteSpec(REST, "GET", "/slow", "Echo", authorizer=slow),
        RouteSpec(REST, "GET", "/open", "Echo"),
        RouteSpec(HTTP, "GET", "/simple/{id}", "Echo", payload_format="2.0", authorizer=simple),
        RouteSpec(HTTP, "GET", "/simple-v1", "Echo", payload_format="1.0", authorizer=simple),
        RouteSpec(HTTP, "GET", "/policy/{id}", "Echo", payload_format="2.0", authorizer=policy),
        RouteSpec(HTTP, "GET", "/v1auth", "Echo", payload_format="1.0", authorizer=v1),
        RouteSpec(HTTP, "GET", "/v1auth-v2event", "Echo", payload_format="2.0", authorizer=v1),
        RouteSpec(HTTP, "GET", "/anyone", "Echo", payload_format="2.0", authorizer=anyone),
        RouteSpec(REST, "GET", "/admin", "Echo", authorizer=path_token),
        RouteSpec(REST, "GET", "/x/{p}/y", "Echo", authorizer=path_token),
        RouteSpec(HTTP, "GET", "/panel/admin", "Echo", payload_format="2.0", authorizer=path_policy),
        RouteSpec(HTTP, "GET", "/panel/{p}/y", "Echo", payload_format="2.0", authorizer=path_policy),
    ]


class AuthorizerServer:
    """A Scheduler and the API port on one uvloop loop in a thread, bound to 127.0.0.1:0."""

    def __init__(self, functions: list, routes: list, state_dir: Path):
        self.functions, self.routes, self.state_dir = functions, routes, state_dir
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.loop = uvloop.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.server = self.scheduler = None
        self.thread = threading.Thread(target=self._run, name="authorizer-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start() and stop()
            self.error = exc
        finally:
            self.ready.set()
            self.loop.close()

    async def _serve(self) -> None:
        config = Config(state_dir=str(self.state_dir), console_logs=False, isolation="none")
        self.scheduler = Scheduler(self.functions, config)
        await self.scheduler.start()
        try:
            access = build_access(self.routes, self.scheduler, region=REGION)
            self.server = http_server(build_api_app(self.routes, self.scheduler, access), "127.0.0.1", 0, config,
                                      ApiGatewayProtocol)
            serving = asyncio.ensure_future(self.server.serve(sockets=[self.listener]))
            while not self.server.started and not serving.done():
                await asyncio.sleep(0.005)
            self.ready.set()
            await serving
        finally:
            await self.scheduler.close()

    def start(self) -> "AuthorizerServer":
        self.thread.start()
        assert self.ready.wait(30), "the server did not start"
        assert self.error is None and self.server is not None and self.server.started, repr(self.error)
        return self

    def totals(self, function: str) -> dict:
        """The scheduler's totals for `function`, read on the server's loop."""
        async def read():
            return self.scheduler.totals(function)
        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(5)

    def invocations(self, function: str) -> int:
        return self.totals(function)["invocations"]

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)
        self.listener.close()
        assert not self.thread.is_alive(), "the server did not stop"
        if self.error is not None:
            raise self.error


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("authorizers")
    code_dir = root / "code"
    code_dir.mkdir()
    for module in ("authorizers.py", "path_policies.py"):     # workers never touch the repository
        shutil.copy(HANDLERS / module, code_dir / module)
    running = AuthorizerServer(_functions(code_dir), _routes(), root / "state").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as c:
        yield c


def integration_event(response: httpx.Response) -> dict:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


def counted(server, function: str):
    """A callable giving how many invocations of `function` happened since this call."""
    before = server.invocations(function)
    return lambda: server.invocations(function) - before


def assert_rest_error(response, status: int, body: bytes, error_type: str):
    assert response.status_code == status
    assert response.content == body
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-amzn-ErrorType"] == error_type
    assert response.headers["x-amzn-RequestId"]


# --------------------------------------------------------------------------- REST TOKEN

def test_an_allowed_token_reaches_the_integration_with_principal_and_stringified_context(server, client):
    echo = counted(server, "Echo")
    tok = unique("allow")
    event = integration_event(client.get("/pets/7", headers={"Authorization": tok}))
    authorizer = event["requestContext"]["authorizer"]
    latency_ms = authorizer.pop("integrationLatency")
    assert isinstance(latency_ms, int) and 0 <= latency_ms < 30_000
    assert authorizer == {"token": tok, "number": "7", "flag": "true", "ratio": "1.5",
                          "inputKeys": "authorizationToken,methodArn,type", "methodArn": f"{REST_ARN}/GET/pets/7",
                          "principalId": f"user-{tok}"}
    assert event["requestContext"]["apiId"] == events.api_id_for("AuthRestApi")
    assert echo() == 1


def test_the_method_arn_names_the_verb_and_the_path_as_requested(server, client):
    tok = unique("wildcard")
    first = integration_event(client.get("/pets/a-b_c", headers={"Authorization": tok}))
    assert first["requestContext"]["authorizer"]["methodArn"] == f"{REST_ARN}/GET/pets/a-b_c"


def test_an_explicit_deny_is_403_with_a_capital_m_and_the_integration_never_runs(server, client):
    echo, auth = counted(server, "Echo"), counted(server, "TokenAuth")
    response = client.get("/pets/7", headers={"Authorization": unique("deny")})
    assert_rest_error(response, 403, EXPLICIT_DENY, "AccessDeniedException")
    assert (echo(), auth()) == (0, 1)


def test_a_policy_for_another_method_is_an_implicit_deny(server, client):
    response = client.get("/pets/7", headers={"Authorization": unique("other")})
    assert_rest_error(response, 403, IMPLICIT_DENY, "AccessDeniedException")


def test_an_explicit_deny_beats_an_allow_in_the_same_policy(server, client):
    tok = unique("denyget")
    assert_rest_error(client.get("/pets/7", headers={"Authorization": tok}), 403, EXPLICIT_DENY,
                      "AccessDeniedException")
    assert client.post("/pets/7", headers={"Authorization": tok}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Bad Token!"},
                                     {"Authorization": "allow:ok but trailing"}],
                         ids=["missing", "empty", "validation", "partial-match"])
def test_no_token_or_one_the_validation_expression_refuses_is_401_without_invoking(server, client, headers):
    auth = counted(server, "TokenAuth")
    response = client.get("/pets/7", headers=headers)
    assert_rest_error(response, 401, b'{"message":"Unauthorized"}', "UnauthorizedException")
    assert auth() == 0


def test_the_function_raising_unauthorized_is_401(server, client):
    auth = counted(server, "TokenAuth")
    response = client.get("/pets/7", headers={"Authorization": unique("unauthorized")})
    assert_rest_error(response, 401, b'{"message":"Unauthorized"}', "UnauthorizedException")
    assert auth() == 1


@pytest.mark.parametrize("kind", ["boom", "noprincipal", "nopolicy", "badeffect", "nested", "notobject"])
def test_a_failing_function_or_an_unusable_output_is_an_authorizer_configuration_error(server, client, kind):
    echo = counted(server, "Echo")
    response = client.get("/pets/7", headers={"Authorization": unique(kind)})
    assert_rest_error(response, 500, b'{"message":null}', "AuthorizerConfigurationException")
    assert "database" not in response.text and "Traceback" not in response.text
    assert echo() == 0


def test_a_throttled_or_timed_out_authorizer_is_a_configuration_error(server, client):
    throttles = server.totals("ThrottledAuth")["throttles"]
    response = client.get("/throttled", headers={"Authorization": unique("allow")})
    assert_rest_error(response, 500, b'{"message":null}', "AuthorizerConfigurationException")
    assert server.totals("ThrottledAuth")["throttles"] == throttles + 1
    timeouts = server.totals("SlowAuth")["timeouts"]
    response = client.get("/slow", headers={"Authorization": unique("allow")})
    assert_rest_error(response, 500, b'{"message":null}', "AuthorizerConfigurationException")
    assert server.totals("SlowAuth")["timeouts"] == timeouts + 1


def test_the_open_route_needs_no_token(server, client):
    assert "authorizer" not in integration_event(client.get("/open"))["requestContext"]


# --------------------------------------------------------------------------- caching

def test_a_cached_token_is_not_asked_again_and_reports_no_latency(server, client):
    auth = counted(server, "TokenAuth")
    tok = unique("allow")
    first = integration_event(client.get("/pets/1", headers={"Authorization": tok}))
    second = integration_event(client.get("/pets/1", headers={"Authorization": tok}))
    assert auth() == 1
    assert second["requestContext"]["authorizer"]["integrationLatency"] == 0
    first["requestContext"]["authorizer"].pop("integrationLatency")
    second["requestContext"]["authorizer"].pop("integrationLatency")
    assert first["requestContext"]["authorizer"] == second["requestContext"]["authorizer"]
    assert client.get("/pets/1", headers={"Authorization": unique("allow")}).status_code == 200
    assert auth() == 2                          # another token is another cache entry


def test_a_cached_policy_naming_one_method_denies_the_others_as_on_aws(server, client):
    auth = counted(server, "TokenAuth")
    tok = unique("allow")
    assert client.get("/pets/1", headers={"Authorization": tok}).status_code == 200
    assert_rest_error(client.post("/pets/1", headers={"Authorization": tok}), 403, IMPLICIT_DENY,
                      "AccessDeniedException")
    assert_rest_error(client.get("/pets/2", headers={"Authorization": tok}), 403, IMPLICIT_DENY,
                      "AccessDeniedException")
    assert auth() == 1
    wildcard = unique("wildcard")
    assert client.get("/pets/1", headers={"Authorization": wildcard}).status_code == 200
    assert client.post("/pets/2", headers={"Authorization": wildcard}).status_code == 200
    assert auth() == 2


def test_a_cached_deny_stays_denied_without_asking_again(server, client):
    auth = counted(server, "TokenAuth")
    tok = unique("deny")
    for _ in range(3):
        assert client.get("/pets/3", headers={"Authorization": tok}).content == EXPLICIT_DENY
    assert auth() == 1


def test_errors_and_unauthorized_answers_are_not_cached(server, client):
    auth = counted(server, "TokenAuth")
    for kind, status in (("unauthorized", 401), ("boom", 500)):
        tok = unique(kind)
        assert [client.get("/pets/3", headers={"Authorization": tok}).status_code for _ in range(2)] == [status] * 2
    assert auth() == 4


def test_ttl_zero_asks_every_time(server, client):
    auth = counted(server, "TokenAuth")
    tok = unique("allow")
    for _ in range(3):
        event = integration_event(client.get("/nocache", headers={"X-Token": tok}))
        assert event["requestContext"]["authorizer"]["methodArn"] == f"{REST_ARN}/GET/nocache"
    assert auth() == 3


def test_a_cached_result_expires_after_its_ttl(server, client):
    auth = counted(server, "TokenAuth")
    tok = unique("allow")
    assert client.get("/shortttl", headers={"X-Token": tok}).status_code == 200
    assert client.get("/shortttl", headers={"X-Token": tok}).status_code == 200
    assert auth() == 1
    time.sleep(1.1)
    assert client.get("/shortttl", headers={"X-Token": tok}).status_code == 200
    assert auth() == 2


def test_concurrent_requests_with_one_token_share_one_invocation(server):
    auth = counted(server, "TokenAuth")
    tok = unique("slow")            # the authorizer takes 0.5 s: the requests overlap

    def get(_):
        with httpx.Client(base_url=server.base_url, timeout=30) as c:
            return c.get("/pets/5", headers={"Authorization": tok}).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(get, range(4))) == [200] * 4
    assert auth() == 1


# --------------------------------------------------------------------------- REST REQUEST

def test_a_request_authorizer_gets_the_request_without_its_body(server, client):
    auth = counted(server, "RequestAuth")
    user = unique("allow")
    event = integration_event(client.get("/request/42", params={"tenant": "acme"}, headers={"X-User": user}))
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["inputKeys"] == ("headers,httpMethod,methodArn,multiValueHeaders,"
                                       "multiValueQueryStringParameters,path,pathParameters,"
                                       "queryStringParameters,requestContext,resource,stageVariables,type")
    assert {k: authorizer[k] for k in ("user", "tenant", "tier", "type", "methodArn", "pathId", "principalId")} == {
        "user": user, "tenant": "acme", "tier": "gold", "type": "REQUEST",
        "methodArn": f"{REST_ARN}/GET/request/42", "pathId": "42", "principalId": user}
    assert auth() == 1


def test_a_request_authorizer_needs_every_identity_source(server, client):
    auth = counted(server, "RequestAuth")
    for params, headers in (({}, {"X-User": unique("allow")}), ({"tenant": "acme"}, {}),
                            ({"tenant": ""}, {"X-User": unique("allow")})):
        response = client.get("/request/1", params=params, headers=headers)
        assert_rest_error(response, 401, b'{"message":"Unauthorized"}', "UnauthorizedException")
    assert auth() == 0


def test_a_request_authorizer_caches_by_all_its_identity_values(server, client):
    auth = counted(server, "RequestAuth")
    user = unique("wildcard")
    for tenant in ("acme", "acme", "globex", "acme"):
        event = integration_event(client.get("/request/1", params={"tenant": tenant}, headers={"X-User": user}))
        assert event["requestContext"]["authorizer"]["tenant"] in ("acme", "globex")
    assert auth() == 2


# --------------------------------------------------------------------------- HTTP API

def test_http_simple_responses_put_the_context_under_lambda_unchanged(server, client):
    auth = counted(server, "HttpSimpleAuth")
    tok = unique("allow")
    event = integration_event(client.get("/simple/3", headers={"Authorization": tok}))
    context = event["requestContext"]["authorizer"]["lambda"]
    assert list(event["requestContext"]["authorizer"]) == ["lambda"]
    assert {k: v for k, v in context.items() if k != "inputKeys"} == {
        "identitySource": [tok], "routeArn": f"{HTTP_ARN}/GET/simple/3", "version": "2.0", "type": "REQUEST",
        "routeKey": "GET /simple/{id}", "number": 7, "list": [1, 2], "map": {"a": "b"}}
    assert context["inputKeys"] == sorted(["version", "type", "routeArn", "identitySource", "routeKey", "rawPath",
                                           "rawQueryString", "headers", "requestContext", "pathParameters"])
    assert auth() == 1


def test_http_simple_result_is_cached_across_the_routes_of_the_authorizer(server, client):
    auth = counted(server, "HttpSimpleAuth")
    tok = unique("allow")
    assert integration_event(client.get("/simple/1", headers={"Authorization": tok}))
    event = integration_event(client.get("/simple-v1", headers={"Authorization": tok}))
    authorizer = event["requestContext"]["authorizer"]            # a payload 1.0 event: flat
    assert authorizer["integrationLatency"] == 0 and authorizer["number"] == 7 and authorizer["identitySource"] == [tok]
    assert "lambda" not in authorizer and "principalId" not in authorizer
    assert auth() == 1


@pytest.mark.parametrize("kind, status, body", [
    ("deny", 403, b'{"message":"Forbidden"}'), ("unauthorized", 401, b'{"message":"Unauthorized"}'),
    ("boom", 500, b'{"message":"Internal Server Error"}'), ("notbool", 500, b'{"message":"Internal Server Error"}')])
def test_http_simple_refusals(server, client, kind, status, body):
    echo = counted(server, "Echo")
    response = client.get("/simple/1", headers={"Authorization": unique(kind)})
    assert (response.status_code, response.content) == (status, body)
    assert response.headers["content-type"] == "application/json" and response.headers["apigw-requestid"]
    assert echo() == 0


def test_http_missing_identity_is_401_without_invoking(server, client):
    auth = counted(server, "HttpSimpleAuth")
    response = client.get("/simple/1")
    assert (response.status_code, response.content) == (401, b'{"message":"Unauthorized"}')
    assert auth() == 0


def test_http_iam_policies_are_evaluated_against_the_route_arn(server, client):
    auth = counted(server, "HttpPolicyAuth")
    event = integration_event(client.get("/policy/8", headers={"Authorization": unique("allow")}))
    assert event["requestContext"]["authorizer"] == {"lambda": {"routeArn": f"{HTTP_ARN}/GET/policy/8",
                                                                "number": 7, "list": [1, 2]}}
    for kind in ("deny", "other"):
        response = client.get("/policy/8", headers={"Authorization": unique(kind)})
        assert (response.status_code, response.content) == (403, b'{"message":"Forbidden"}')
    tok = unique("allow")
    assert [client.get("/policy/8", headers={"Authorization": tok}).status_code for _ in range(2)] == [200, 200]
    assert auth() == 5                          # TTL 0: every request asks


def test_http_payload_1_0_authorizer_gets_comma_joined_identity_and_a_method_arn(server, client):
    auth = counted(server, "HttpV1Auth")
    tok = unique("allow")
    event = integration_event(client.get("/v1auth", params={"tenant": "acme"}, headers={"Authorization": tok}))
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer.pop("integrationLatency") >= 0
    inputs = authorizer.pop("inputKeys").split(",")
    assert authorizer == {"identitySource": f"{tok},acme", "authorizationToken": f"{tok},acme", "version": "1.0",
                          "methodArn": f"{HTTP_ARN}/GET/v1auth", "principalId": f"user-{tok}"}
    assert sorted(inputs) == sorted(["version", "type", "methodArn", "identitySource", "authorizationToken",
                                     "resource", "path", "httpMethod", "headers", "multiValueHeaders",
                                     "queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
                                     "stageVariables", "requestContext"])
    response = client.get("/v1auth", headers={"Authorization": tok})          # no tenant
    assert (response.status_code, response.content) == (401, b'{"message":"Unauthorized"}')
    assert auth() == 1


def test_http_payload_1_0_authorizer_on_a_2_0_integration(server, client):
    tok = unique("allow")
    event = integration_event(client.get("/v1auth-v2event", params={"tenant": "t"}, headers={"Authorization": tok}))
    context = event["requestContext"]["authorizer"]["lambda"]
    assert (context["methodArn"], context["identitySource"]) == (f"{HTTP_ARN}/GET/v1auth-v2event", f"{tok},t")
    assert "resource" in context["inputKeys"].split(",") and "body" not in context["inputKeys"].split(",")


def test_http_authorizer_without_identity_sources_runs_every_time(server, client):
    auth = counted(server, "HttpSimpleAuth")
    for _ in range(2):
        event = integration_event(client.get("/anyone", params={"kind": "allow"}))
        assert event["requestContext"]["authorizer"]["lambda"]["identitySource"] is None
    assert client.get("/anyone", params={"kind": "deny"}).status_code == 403
    assert auth() == 3



# --------------------------------------------------------------------------- the path a policy sees

# Spellings the route table serves from the denied route: trailing and repeated slashes,
# percent-encoded letters. Each must meet the policy's explicit Deny, fresh or from the cache.
REST_DENIED = ["/admin", "/admin/", "/%61dmin", "//admin", "/%61dmin/", "/x/%73ecret/y", "/x//secret/y/"]
HTTP_DENIED = ["/panel/admin", "/panel/admin/", "/panel/%61dmin", "//panel/admin", "/panel//admin",
               "/panel/%73ecret/y", "/panel/secret/y/"]


def _path_token() -> dict:
    return {"X-Path-Token": unique("path")}


@pytest.mark.parametrize("path", REST_DENIED)
def test_rest_explicit_deny_holds_for_every_spelling_of_the_denied_path(server, client, path):
    echo, auth = counted(server, "Echo"), counted(server, "PathPolicyAuth")
    fresh = client.get(server.base_url + path, headers=_path_token())
    assert_rest_error(fresh, 403, EXPLICIT_DENY, "AccessDeniedException")
    cached = _path_token()
    assert client.get("/x/public/y", headers=cached).status_code == 200        # the result is cached now
    assert_rest_error(client.get(server.base_url + path, headers=cached), 403, EXPLICIT_DENY,
                      "AccessDeniedException")
    assert (echo(), auth()) == (1, 2)


@pytest.mark.parametrize("path", HTTP_DENIED)
def test_http_explicit_deny_holds_for_every_spelling_of_the_denied_path(server, client, path):
    echo, auth = counted(server, "Echo"), counted(server, "HttpPathPolicyAuth")
    fresh = client.get(server.base_url + path, headers=_path_token())
    assert (fresh.status_code, fresh.content) == (403, b'{"message":"Forbidden"}')
    cached = _path_token()
    assert client.get("/panel/public/y", headers=cached).status_code == 200
    again = client.get(server.base_url + path, headers=cached)
    assert (again.status_code, again.content) == (403, b'{"message":"Forbidden"}')
    assert (echo(), auth()) == (1, 2)


def test_the_arn_names_the_decoded_path_while_the_event_keeps_its_own(server, client):
    event = integration_event(client.get(server.base_url + "//x/%70ublic/y/", headers=_path_token()))
    assert event["requestContext"]["authorizer"]["arn"] == f"{REST_ARN}/GET/x/public/y"
    assert event["path"] == "/x/%70ublic/y/"
    event = integration_event(client.get(server.base_url + "/panel/%70ublic//y", headers=_path_token()))
    assert event["requestContext"]["authorizer"]["lambda"]["arn"] == f"{HTTP_ARN}/GET/panel/public/y"
    assert event["rawPath"] == "/panel/public//y"


# --------------------------------------------------------------------------- settings refused at startup

BAD_REGEX_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  PetsApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth:
        DefaultAuthorizer: TokenAuth
        Authorizers:
          TokenAuth:
            FunctionArn: !GetAtt AuthFunction.Arn
            Identity:
              ValidationExpression: "([a-z"
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties: {Handler: app.handler, Runtime: python3.11, CodeUri: .}
  PetsFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: .
      Events:
        Get:
          Type: Api
          Properties: {RestApiId: !Ref PetsApi, Path: /pets, Method: get}
"""


def test_a_validation_expression_that_is_no_regex_stops_the_start_without_a_traceback(tmp_path):
    (tmp_path / "template.yaml").write_text(BAD_REGEX_TEMPLATE)
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {}\n")
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "start-api", "-p", "0", "--lambda-port", "0",
                           "--state-dir", str(tmp_path / "state")], cwd=tmp_path, env=checkout_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("lambdagate: error: ")]
    assert len(error) == 1, proc.stderr
    for fragment in ("TokenAuth", "ValidationExpression", "'([a-z'", "not a regular expression"):
        assert fragment in error[0], (fragment, error[0])
