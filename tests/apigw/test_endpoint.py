"""The API Gateway HTTP surface (gateway.app.build_api_app) driven in-process with a fake Invoker.

What API Gateway itself decides, seen from HTTP: which function a request reaches and with which
event shape, how function failures, malformed results, missing routes, throttling, oversized
bodies and unexpected invoker errors are answered, CORS, and the headers every response carries.
Routes come from tests/gateway/apps/surface/template.yaml through the real SAM loader.
Event-builder and response-mapping details are unit-tested in tests/aws/; not repeated here.
"""
from __future__ import annotations

import re

import pytest

from gateway.sam.template import load_template
from gateway.errors import FunctionNotFound, LambdagateError, PayloadTooLarge, Throttled
from support.fakes import FakeInvoker
from support.servers import APPS, EXAMPLES

TEMPLATE = load_template(APPS / "surface" / "template.yaml")
TEN_MB = 10 * 1024 * 1024
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

REST_502 = b'{"message": "Internal server error"}'
HTTP_500 = b'{"message":"Internal Server Error"}'


def routes_of(*api_ids):
    return [r for r in TEMPLATE.routes if r.api.logical_id in api_ids]


ALL_ROUTES = [r for r in TEMPLATE.routes if r.api.logical_id != "OpenRestApi"]
REST_ROUTES = routes_of("ServerlessRestApi")                 # /pets, /pets/{petId}
HTTP_ROUTES = routes_of("ServerlessHttpApi")                 # /v2/pets/{petId}, /v1format/{name}, $default
HTTP_NO_DEFAULT = [r for r in HTTP_ROUTES if r.path != "$default"]
REST_CORS_ROUTES = routes_of("ShopRestApi")
HTTP_CORS_ROUTES = routes_of("ShopHttpApi")


@pytest.fixture
def rest(asgi_client, fake_invoker):
    return asgi_client(REST_ROUTES, fake_invoker)


@pytest.fixture
def http(asgi_client, fake_invoker):
    return asgi_client(HTTP_NO_DEFAULT, fake_invoker)


# --------------------------------------------------------------------------- routing and event shapes

@pytest.mark.parametrize("method, path, function", [
    ("GET", "/pets", "Pets"),
    ("GET", "/pets/7", "Pets"),
    ("GET", "/v2/pets/7", "PetsV2"),
    ("GET", "/v1format/abc", "LegacyFormat"),
    ("GET", "/items/3", "GetItem"),
    ("POST", "/items", "CreateItem"),
    ("GET", "/items", "ListItems"),
    ("DELETE", "/files/a/b.txt", "Files"),
    ("GET", "/nothing/here", "Fallback"),       # the HTTP API's $default route
    ("PATCH", "/pets", "Fallback"),             # method not declared on /pets: falls through to $default
])
def test_request_reaches_the_declared_function(asgi_client, fake_invoker, method, path, function):
    client = asgi_client(ALL_ROUTES, fake_invoker)
    response = client.request(method, path)
    assert response.status_code == 200
    assert fake_invoker.functions_called == [function]


def test_routes_of_the_pets_example_reach_their_functions(asgi_client, fake_invoker):
    template = load_template(EXAMPLES / "pets-api" / "template.yaml")
    client = asgi_client(template.routes, fake_invoker)
    expected = [("GET", "/pets", "PetsFunction"), ("POST", "/pets", "PetsFunction"),
                ("GET", "/pets/1", "PetsFunction"), ("GET", "/v2/pets/1", "PetsFunction"),
                ("GET", "/badge/rex", "ImageFunction"), ("GET", "/v2/badge/rex", "ImageFunction"),
                ("PUT", "/files/a/b", "ProxyFunction"), ("GET", "/somewhere/else", "ProxyFunction")]
    for method, path, _ in expected:
        assert client.request(method, path).status_code == 200, (method, path)
    assert fake_invoker.functions_called == [f for _, _, f in expected]


def test_api_route_receives_a_rest_v1_event(rest, fake_invoker):
    rest.get("/pets/42?kind=dog&kind=cat", headers={"X-Trace": "t1"})
    event = fake_invoker.last_event
    assert "version" not in event                      # Mangum tells REST from HTTP API 1.0 by this
    assert event["resource"] == "/pets/{petId}"
    assert event["path"] == "/pets/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"petId": "42"}
    assert event["queryStringParameters"] == {"kind": "cat"}
    assert event["multiValueQueryStringParameters"] == {"kind": ["dog", "cat"]}
    assert event["multiValueHeaders"]["X-Trace"] == ["t1"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["resourcePath"] == "/pets/{petId}" and ctx["stage"] == "Prod" and ctx["httpMethod"] == "GET"
    assert UUID.match(ctx["requestId"])


def test_httpapi_route_receives_a_v2_event(http, fake_invoker):
    http.get("/v2/pets/42?kind=dog&kind=cat", headers={"X-Trace": "t1", "Cookie": "a=1; b=2"})
    event = fake_invoker.last_event
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /v2/pets/{petId}"
    assert event["rawPath"] == "/v2/pets/42"
    assert event["rawQueryString"] == "kind=dog&kind=cat"
    assert event["queryStringParameters"] == {"kind": "dog,cat"}
    assert event["pathParameters"] == {"petId": "42"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-trace"] == "t1" and "cookie" not in event["headers"]
    assert "httpMethod" not in event and "multiValueHeaders" not in event
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["stage"] == "$default"


def test_payload_format_1_0_route_receives_a_v1_event_with_version(http, fake_invoker):
    http.get("/v1format/abc", headers={"X-Trace": "t1"})
    event = fake_invoker.last_event
    assert event["version"] == "1.0"
    assert event["httpMethod"] == "GET"
    assert event["resource"] == "/v1format/{name}"
    assert event["pathParameters"] == {"name": "abc"}
    assert event["headers"]["x-trace"] == "t1"
    assert all(name == name.lower() for name in event["headers"])   # HTTP API lower-cases header names
    assert event["requestContext"]["authorizer"] == {"claims": None, "scopes": None}
    assert event["queryStringParameters"] is None


def test_function_response_is_sent_as_declared(rest, http, fake_invoker):
    fake_invoker.script["Pets"] = FakeInvoker.ok({"id": 7}, status=201, headers={"X-Custom": "yes"})
    response = rest.get("/pets/7")
    assert response.status_code == 201
    assert response.json() == {"id": 7}
    assert response.headers["x-custom"] == "yes"
    fake_invoker.script["PetsV2"] = FakeInvoker.raw(b'{"id": 7}')      # 2.0 inference: bare object -> 200 JSON
    response = http.get("/v2/pets/7")
    assert response.status_code == 200
    assert response.json() == {"id": 7}
    assert response.headers["content-type"] == "application/json"


# --------------------------------------------------------------------------- failures

TRACEBACK_MARKERS = ("Traceback", "/var/task/app.py", "raise ValueError", "secret-detail-1234", "stackTrace",
                     "errorMessage", "ValueError")


def _assert_no_leak(response):
    text = response.content.decode("latin-1") + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"{marker!r} leaked into the response"


@pytest.mark.parametrize("result", [
    pytest.param(FakeInvoker.error("ValueError", "secret-detail-1234"), id="unhandled-exception"),
    pytest.param(FakeInvoker.error("Sandbox.Timedout", "RequestId: x Error: Task timed out after 3.00 seconds",
                                   stack=(), status="timeout"), id="timeout"),
    pytest.param(FakeInvoker.error("Runtime.ExitError", "RequestId: x Error: Runtime exited with error: exit "
                                   "status 1", stack=()), id="crash"),
])
def test_function_failure_is_a_gateway_error(rest, http, fake_invoker, result):
    fake_invoker.script["Pets"] = result
    fake_invoker.script["PetsV2"] = result
    fake_invoker.script["LegacyFormat"] = result
    response = rest.get("/pets")
    assert response.status_code == 502
    assert response.content == REST_502
    assert response.headers["content-type"] == "application/json"
    _assert_no_leak(response)
    for path in ("/v2/pets/1", "/v1format/x"):
        response = http.get(path)
        assert response.status_code == 500
        assert response.content == HTTP_500
        _assert_no_leak(response)


@pytest.mark.parametrize("payload", [
    b"not json at all",
    b'"a bare string"',
    b'{"statusCode": 200, "body": {"not": "a string"}}',
    b'{"statusCode": "teapot", "body": ""}',
    b'{"statusCode": 200, "body": "", "unexpected": 1}',
])
def test_malformed_rest_proxy_response_is_502(rest, fake_invoker, payload):
    fake_invoker.script["Pets"] = FakeInvoker.raw(payload)
    response = rest.get("/pets")
    assert response.status_code == 502
    assert response.content == REST_502


@pytest.mark.parametrize("path, payload", [
    ("/v2/pets/1", b"not json at all"),
    ("/v2/pets/1", b'{"statusCode": 200, "body": ["list"]}'),
    ("/v2/pets/1", b'{"statusCode": 200, "cookies": "a=1"}'),
    ("/v1format/x", b'{"body": "statusCode is required in 1.0"}'),
])
def test_malformed_http_api_response_is_500(http, fake_invoker, path, payload):
    fake_invoker.script["PetsV2"] = FakeInvoker.raw(payload)
    fake_invoker.script["LegacyFormat"] = FakeInvoker.raw(payload)
    response = http.get(path)
    assert response.status_code == 500
    assert response.content == HTTP_500


@pytest.mark.parametrize("method, path", [("GET", "/nowhere"), ("GET", "/pets/1/extra"), ("POST", "/pets"),
                                          ("GET", "/")])
def test_no_rest_route_is_403_missing_authentication_token(rest, fake_invoker, method, path):
    response = rest.request(method, path)
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert fake_invoker.calls == []


@pytest.mark.parametrize("method, path", [("GET", "/nowhere"), ("POST", "/v2/pets/1"), ("GET", "/")])
def test_no_http_api_route_is_404_not_found(http, fake_invoker, method, path):
    response = http.request(method, path)
    assert response.status_code == 404
    assert response.content == b'{"message":"Not Found"}'
    assert fake_invoker.calls == []


def test_a_function_lambda_throttles_is_a_500_as_on_aws(rest, http, fake_invoker):
    """Lambda's throttle is not API Gateway's: "If the Lambda API rejects the invocation request,
    API Gateway returns a 500" (Lambda developer guide, services-apigateway-errors)."""
    fake_invoker.script["Pets"] = Throttled("ReservedFunctionConcurrentInvocationLimitExceeded")
    fake_invoker.script["PetsV2"] = Throttled("ConcurrentInvocationLimitExceeded")
    response = rest.get("/pets")
    assert response.status_code == 500
    assert response.content == b'{"message": "Internal server error"}'
    assert response.headers["x-amzn-errortype"] == "InternalServerErrorException"
    response = http.get("/v2/pets/1")
    assert response.status_code == 500
    assert response.content == b'{"message":"Internal Server Error"}'


@pytest.mark.parametrize("chunked", [
    pytest.param(False, id="content-length"),
    # TestClient delivers a generator body as one ASGI message without Content-Length: the limit
    # must hold for a body that arrives whole, not only for one counted chunk by chunk
    pytest.param(True, id="one-message-no-content-length"),
])
@pytest.mark.parametrize("api", ["rest", "http"])
def test_body_over_10_mb_is_413_without_invoking(request, fake_invoker, api, chunked):
    client = request.getfixturevalue(api)
    path = "/pets" if api == "rest" else "/v2/pets/1"
    body = b"x" * (TEN_MB + 1)
    if chunked:
        def chunks():
            for i in range(0, len(body), 1 << 20):
                yield body[i:i + (1 << 20)]
        response = client.request("GET", path, content=chunks())
    else:
        response = client.request("GET", path, content=body)
    assert response.status_code == 413
    assert fake_invoker.calls == []


def test_rest_body_over_10_mb_has_api_gateways_plain_text_answer(rest):
    response = rest.request("GET", "/pets", content=b"x" * (TEN_MB + 1))
    assert response.status_code == 413
    assert response.content == b"HTTP content length exceeded 10485760 bytes."


def test_body_of_exactly_10_mb_is_accepted(rest, fake_invoker):
    fake_invoker.script["Pets"] = lambda event: FakeInvoker.ok({"length": len(event["body"])})
    response = rest.request("GET", "/pets", content=b"y" * TEN_MB)
    assert response.status_code == 200
    assert response.json() == {"length": TEN_MB}


def test_event_over_lambda_payload_limit_is_413(rest, http, fake_invoker):
    fake_invoker.script["Pets"] = PayloadTooLarge(7_000_000, 6_291_456)
    fake_invoker.script["PetsV2"] = PayloadTooLarge(7_000_000, 6_291_456)
    assert rest.get("/pets").status_code == 413
    assert http.get("/v2/pets/1").status_code == 413


@pytest.mark.parametrize("exc", [LambdagateError("zygote went away"), FunctionNotFound("Pets")],
                         ids=["LambdagateError", "FunctionNotFound"])
def test_unexpected_invoker_error_is_answered_and_the_app_keeps_serving(rest, http, fake_invoker, exc):
    fake_invoker.script["Pets"] = exc
    fake_invoker.script["PetsV2"] = exc
    response = rest.get("/pets")
    assert response.status_code in (500, 502)
    assert response.json() == {"message": "Internal server error"}
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert "zygote" not in response.text
    response = http.get("/v2/pets/1")
    assert response.status_code == 500
    assert response.content == HTTP_500
    del fake_invoker.script["Pets"], fake_invoker.script["PetsV2"]
    assert rest.get("/pets").status_code == 200
    assert http.get("/v2/pets/1").status_code == 200


def test_integration_timeout_answers_before_the_function_ends(asgi_client, monkeypatch):
    import asyncio

    import gateway.apigw.endpoint as apigateway

    monkeypatch.setattr(apigateway, "REST_INTEGRATION_TIMEOUT_S", 0.2)
    monkeypatch.setattr(apigateway, "HTTP_INTEGRATION_TIMEOUT_S", 0.2)
    invoker = FakeInvoker(timeouts={"Pets": 60, "PetsV2": 60})

    async def slow(event):
        await asyncio.sleep(1.5)
        return FakeInvoker.ok({"late": True})

    invoker.script["Pets"] = invoker.script["PetsV2"] = slow
    client = asgi_client(REST_ROUTES + HTTP_NO_DEFAULT, invoker)
    response = client.get("/pets")
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}
    response = client.get("/v2/pets/1")
    assert response.status_code == 503


# --------------------------------------------------------------------------- headers every response carries

def _check_framing(response):
    if response.status_code in (204, 304):   # no content, and a 204 carries no Content-Length (RFC 9110 8.6)
        assert response.content == b""
        assert response.status_code == 304 or "content-length" not in response.headers
    else:
        assert int(response.headers["content-length"]) == len(response.content)


def test_rest_responses_carry_content_length_and_request_id(rest, fake_invoker):
    responses = [rest.get("/pets")]
    ids = [responses[0].headers["x-amzn-RequestId"]]
    assert fake_invoker.last_event["requestContext"]["requestId"] == ids[0]
    fake_invoker.script["Pets"] = FakeInvoker.error()
    responses += [rest.get("/pets"), rest.get("/nowhere")]
    fake_invoker.script["Pets"] = Throttled("ConcurrentInvocationLimitExceeded")
    responses += [rest.get("/pets"), rest.request("GET", "/pets", content=b"z" * (TEN_MB + 1))]
    assert [r.status_code for r in responses] == [200, 502, 403, 500, 413]
    for response in responses:
        _check_framing(response)
    # the 10 MB answer is API Gateway's plain-text front-door reply (no request id known to be sent)
    ids = [r.headers["x-amzn-RequestId"] for r in responses[:-1]]
    assert all(UUID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_http_api_responses_carry_content_length_and_request_id(http, fake_invoker):
    responses = [http.get("/v2/pets/1")]
    assert fake_invoker.last_event["requestContext"]["requestId"] == responses[0].headers["apigw-requestid"]
    fake_invoker.script["PetsV2"] = FakeInvoker.error()
    responses += [http.get("/v2/pets/1"), http.get("/nowhere")]
    fake_invoker.script["PetsV2"] = Throttled("ConcurrentInvocationLimitExceeded")
    responses += [http.get("/v2/pets/1"), http.request("GET", "/v2/pets/1", content=b"z" * (TEN_MB + 1))]
    assert [r.status_code for r in responses] == [200, 500, 404, 500, 413]
    for response in responses:
        _check_framing(response)
        assert response.headers["apigw-requestid"]
    assert len({r.headers["apigw-requestid"] for r in responses}) == len(responses)


def test_function_framing_headers_do_not_override_the_real_length(rest, fake_invoker):
    fake_invoker.script["Pets"] = FakeInvoker.ok("abc", headers={"Content-Length": "999",
                                                                  "Content-Type": "text/plain"})
    response = rest.get("/pets")
    assert response.status_code == 200
    assert response.content == b"abc"
    assert response.headers.get_list("content-length") == ["3"]


# --------------------------------------------------------------------------- CORS

ORIGIN = "https://app.example"


def test_http_api_preflight_is_answered_without_invoking(asgi_client, fake_invoker):
    client = asgi_client(HTTP_CORS_ROUTES, fake_invoker)
    for path in ("/items", "/no/such/route"):
        response = client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "content-type"})
        assert response.status_code == 204, path
        assert response.content == b""
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert set(response.headers["access-control-allow-methods"].split(",")) >= {"GET", "POST"}
        assert response.headers["access-control-allow-headers"] == "content-type"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["access-control-max-age"] == "300"
        _check_framing(response)
    assert fake_invoker.calls == []


def test_http_api_preflight_from_other_origin_gets_no_cors_headers(asgi_client, fake_invoker):
    client = asgi_client(HTTP_CORS_ROUTES, fake_invoker)
    response = client.options("/items", headers={"Origin": "https://evil.example",
                                                  "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in response.headers
    assert fake_invoker.calls == []


def test_http_api_adds_cors_headers_and_drops_the_functions_own(asgi_client, fake_invoker):
    client = asgi_client(HTTP_CORS_ROUTES, fake_invoker)
    fake_invoker.script["ListItems"] = FakeInvoker.ok(
        [], headers={"Access-Control-Allow-Origin": "*", "access-control-allow-methods": "DELETE",
                     "Access-Control-Expose-Headers": "x-secret", "X-Total": "0"})
    response = client.get("/items", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers.get_list("access-control-allow-origin") == [ORIGIN]
    assert response.headers.get_list("access-control-expose-headers") == ["x-total"]
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-methods" not in response.headers
    assert response.headers["x-total"] == "0"
    assert fake_invoker.functions_called == ["ListItems"]

    response = client.get("/items")                    # not a CORS request: no CORS headers at all
    assert not [k for k in response.headers if k.lower().startswith("access-control-")]


def test_rest_cors_options_is_answered_by_the_mock_method(asgi_client, fake_invoker):
    client = asgi_client(REST_CORS_ROUTES, fake_invoker)
    response = client.options("/files/a/b", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert response.json() == {}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "OPTIONS" in response.headers["Access-Control-Allow-Methods"].split(",")
    _check_framing(response)
    assert fake_invoker.calls == []


def test_rest_cors_options_on_a_resource_with_only_get_and_post(asgi_client, fake_invoker):
    client = asgi_client(REST_CORS_ROUTES, fake_invoker)
    # no AllowMethods configured: SAM's generated OPTIONS method allows the resource's methods + OPTIONS
    for path, methods in (("/items", "GET,OPTIONS,POST"), ("/items/3", "GET,OPTIONS")):
        response = client.options(path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert response.status_code == 200, path
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert response.headers["Access-Control-Allow-Methods"] == methods
    assert fake_invoker.calls == []


def test_rest_cors_allow_methods_default_to_the_resources_methods(asgi_client, fake_invoker):
    client = asgi_client(routes_of("OpenRestApi"), fake_invoker)
    response = client.options("/things", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert fake_invoker.calls == []
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"


def test_rest_cors_leaves_the_functions_headers_alone(asgi_client, fake_invoker):
    # REST proxy integrations get no CORS headers from API Gateway: the function sends its own
    client = asgi_client(REST_CORS_ROUTES, fake_invoker)
    fake_invoker.script["ListItems"] = FakeInvoker.ok([], headers={"Access-Control-Allow-Origin": "*"})
    response = client.get("/items", headers={"Origin": ORIGIN})
    assert response.headers.get_list("access-control-allow-origin") == ["*"]


def test_request_ids_are_unique_across_many_requests(rest, http, fake_invoker):
    for _ in range(20):
        rest.get("/pets")
        http.get("/v2/pets/1")
    ids = [event["requestContext"]["requestId"] for _, event, _ in fake_invoker.calls]
    assert len(ids) == 40 and len(set(ids)) == 40

