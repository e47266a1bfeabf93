"""APIs declared as raw CloudFormation resources, served by a real `lambdagate start-api` process:
the functions their methods and routes name answer, unmatched requests and integrations lambdagate
does not run get API Gateway's own answers."""
from __future__ import annotations

import httpx
import pytest

from support.cfn_templates import CFN_FIXTURES, CORS_ITEMS, HTTP_500, REST_500


@pytest.fixture(scope="module")
def rest_server(module_start_api):
    return module_start_api(CFN_FIXTURES / "rest_pets.yaml", name="cfn-rest")


@pytest.fixture(scope="module")
def cors_server(module_start_api):
    return module_start_api(CFN_FIXTURES / "rest_cors.yaml", name="cfn-cors")


@pytest.fixture(scope="module")
def http_server(module_start_api):
    return module_start_api(CFN_FIXTURES / "http_routes.yaml", name="cfn-http")


@pytest.fixture(scope="module")
def quick_server(module_start_api):
    return module_start_api(CFN_FIXTURES / "http_quick.yaml", name="cfn-quick")


def call(server, method: str, path: str) -> httpx.Response:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        return client.request(method, path)


@pytest.mark.integration
def test_rest_api_serves_its_methods_through_start_api(rest_server):
    pets = call(rest_server, "GET", "/pets")
    assert pets.status_code == 200, pets.text
    seen = pets.json()
    assert (seen["function"], seen["resource"], seen["stage"], seen["stageVariables"]) == (
        "pets-handler", "/pets", "v1", {"greeting": "hello"})
    toys = call(rest_server, "PATCH", "/pets/7/toys").json()
    assert (toys["function"], toys["resource"], toys["pathParameters"]) == (
        "PetFunction", "/pets/{petId}/toys", {"petId": "7"})
    assert call(rest_server, "POST", "/pets").json()["function"] == "pets-handler"   # by its :live alias
    assert call(rest_server, "GET", "/").json()["resource"] == "/"


@pytest.mark.integration
@pytest.mark.parametrize("method, path", [("GET", "/nope"), ("DELETE", "/pets"), ("GET", "/pets/7/toys/1")])
def test_rest_api_answers_unmatched_requests_403(rest_server, method, path):
    response = call(rest_server, method, path)
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


@pytest.mark.integration
@pytest.mark.parametrize("method, path", [("GET", "/ext/anything/at/all"), ("GET", "/legacy")])
def test_rest_api_answers_unsupported_integrations_500(rest_server, method, path):
    response = call(rest_server, method, path)
    assert response.status_code == 500
    assert response.json() == REST_500


@pytest.mark.integration
def test_a_cors_preflight_gets_the_mock_answer_and_the_get_beside_it_reaches_the_function(cors_server):
    with httpx.Client(base_url=cors_server.base_url, timeout=30) as client:
        preflight = client.options("/items", headers={"Origin": "https://app.example.com",
                                                      "Access-Control-Request-Method": "GET",
                                                      "Access-Control-Request-Headers": "authorization"})
        got = client.get("/items", headers={"Origin": "https://app.example.com"})
    assert preflight.status_code == 200, preflight.text
    assert preflight.content == b"" and preflight.headers["content-type"] == "application/json"
    for name, value in CORS_ITEMS[1]:
        assert preflight.headers[name] == value
    assert preflight.headers["x-amzn-RequestId"]
    assert got.status_code == 200, got.text
    seen = got.json()
    assert (seen["function"], seen["resource"], seen["stage"]) == ("items-handler", "/items", "prod")
    assert "access-control-allow-origin" not in got.headers      # the proxy's headers are the function's own
    # the startup warnings leave the preflight alone and name the methods that do answer 500
    warnings = cors_server.stderr_text()
    assert "OPTIONS /items" not in warnings
    assert "GET /echo (EchoGet) has a MOCK integration" in warnings


@pytest.mark.integration
def test_mock_answers_through_start_api(cors_server):
    with httpx.Client(base_url=cors_server.base_url, timeout=30) as client:
        status = client.get("/status")
        landing = client.get("/", headers={"Accept": "text/html"})
        echo = client.get("/echo", params={"scope": "internal"})
        broken = client.get("/broken")
    assert (status.status_code, status.headers["retry-after"], status.json()) == (503, "120", {"up": False})
    assert (landing.status_code, landing.headers["content-type"]) == (200, "text/html")
    assert landing.text.startswith("<html>")
    for answer in (echo, broken):            # not fixed / API Gateway's own configuration error
        assert (answer.status_code, answer.json()) == (500, REST_500)
        assert answer.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


@pytest.mark.integration
def test_http_api_serves_its_routes_through_start_api(http_server):
    item = call(http_server, "GET", "/items/42")
    assert item.status_code == 200, item.text
    seen = item.json()
    assert (seen["function"], seen["version"], seen["routeKey"], seen["pathParameters"], seen["stageVariables"]) == (
        "items-handler", "2.0", "GET /items/{id}", {"id": "42"}, {"color": "blue"})
    legacy = call(http_server, "POST", "/legacy/a/b").json()
    assert (legacy["function"], legacy["version"], legacy["resource"], legacy["pathParameters"]) == (
        "LegacyFunction", "1.0", "/legacy/{proxy+}", {"proxy": "a/b"})


@pytest.mark.integration
@pytest.mark.parametrize("method, path", [("GET", "/nope"), ("DELETE", "/items"), ("GET", "/legacy/a")])
def test_http_api_answers_unmatched_requests_404(http_server, method, path):
    response = call(http_server, method, path)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


@pytest.mark.integration
def test_http_api_answers_unsupported_integrations_500(http_server):
    response = call(http_server, "GET", "/ext/x")
    assert response.status_code == 500
    assert response.json() == HTTP_500


@pytest.mark.integration
def test_quick_create_apis_serve_their_routes(quick_server):
    anything = call(quick_server, "PUT", "/any/path").json()
    assert (anything["function"], anything["version"], anything["routeKey"]) == ("HelloFunction", "2.0", "$default")
    greet = call(quick_server, "GET", "/greet").json()
    assert (greet["version"], greet["resource"], greet["stageVariables"]) == ("1.0", "/greet", {"mood": "cheerful"})
