"""Unmodified client libraries as handlers, served by `lambdagate start-api` over real HTTP.

aws-lambda-powertools' APIGatewayRestResolver (behind Api routes) and APIGatewayHttpResolver
(behind HttpApi routes), and a FastAPI app wrapped with Mangum behind both. The handlers in
tests/gateway/apps/clients/src import the libraries installed in this interpreter: workers are
forked from a zygote started with the same sys.executable and sys.path.
"""
from __future__ import annotations

import httpx
import pytest

import aws_lambda_powertools  # noqa: F401  the handlers need these in this interpreter: fail loudly if absent
import fastapi  # noqa: F401
import mangum  # noqa: F401
from support.servers import copy_app

pytestmark = pytest.mark.integration   # starts real processes


@pytest.fixture(scope="module")
def rest_server(module_start_api, tmp_path_factory):
    template = copy_app("clients", tmp_path_factory.mktemp("rest"), "template-rest.yaml")
    return module_start_api(template, "--no-reload", name="rest")


@pytest.fixture(scope="module")
def http_server(module_start_api, tmp_path_factory):
    template = copy_app("clients", tmp_path_factory.mktemp("http"), "template-http.yaml")
    return module_start_api(template, "--no-reload", name="http")


@pytest.fixture(params=["rest", "http"])
def server(request):
    return request.getfixturevalue(f"{request.param}_server")


def client(server) -> httpx.Client:
    # the first request to each function imports the library in a fresh worker: be patient
    return httpx.Client(base_url=server.base_url, timeout=30)


# --------------------------------------------------------------------------- Powertools, REST resolver

def test_powertools_rest_path_query_and_headers(rest_server):
    with client(rest_server) as c:
        response = c.get("/pt/items/1", params=[("q", "abc"), ("tag", "a"), ("tag", "b")],
                         headers={"X-Client": "tests"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"item": {"id": "1", "name": "lamp"}, "q": "abc", "tags": ["a", "b"],
                               "client_header": "tests", "stage": "Prod", "source_ip": "127.0.0.1"}


def test_powertools_rest_json_post_status_headers_and_cookie(rest_server):
    with client(rest_server) as c:
        response = c.post("/pt/items", json={"id": "9", "name": "desk"})
    assert response.status_code == 201
    assert response.json() == {"id": "9", "name": "desk"}
    assert response.headers["x-created-by"] == "powertools-rest"
    assert response.headers.get_list("x-multi") == ["a", "b"]            # multiValueHeaders
    assert response.headers.get_list("set-cookie") == ["session=s-123; Path=/; HttpOnly; Secure"]
    assert response.cookies.get("session") == "s-123"


def test_powertools_rest_not_found_from_the_resolver(rest_server):
    with client(rest_server) as c:
        response = c.get("/pt/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Not found"}
    assert "x-amzn-ErrorType" not in response.headers                   # the app's 404, not the gateway's


def test_powertools_rest_unhandled_exception_is_502_without_details(rest_server):
    with client(rest_server) as c:
        response = c.get("/pt/boom")
        assert response.status_code == 502
        assert response.content == b'{"message": "Internal server error"}'
        assert "9876" not in response.text and "RuntimeError" not in response.text
        assert c.get("/pt/items/1").status_code == 200                  # the function still serves


# --------------------------------------------------------------------------- Powertools, HTTP API resolver

def test_powertools_http_path_query_cookies_and_headers(http_server):
    with client(http_server) as c:
        response = c.get("/pt/items/42", params=[("q", "abc"), ("tag", "a"), ("tag", "b")],
                         headers={"X-Client": "tests", "Cookie": "theme=dark; sid=1"})
    assert response.status_code == 200
    assert response.json() == {
        "item_id": "42", "q": "abc", "tags": "a,b", "cookies": ["theme=dark", "sid=1"],
        "client_header": "tests", "path": "/pt/items/42", "raw_path": "/pt/items/42",
        "route_key": "GET /pt/items/{item_id}", "source_ip": "127.0.0.1",
    }


def test_powertools_http_json_post_status_headers_and_cookies(http_server):
    with client(http_server) as c:
        response = c.post("/pt/items", json={"id": "9"})
    assert response.status_code == 201
    assert response.json() == {"created": {"id": "9"}}
    assert response.headers["x-created-by"] == "powertools-http"
    assert response.headers.get_list("set-cookie") == ["session=s-456; Path=/; HttpOnly; Secure",
                                                       "theme=dark; Path=/"]


def test_powertools_http_custom_status_and_content_type(http_server):
    with client(http_server) as c:
        response = c.get("/pt/teapot")
    assert response.status_code == 418
    assert response.headers["content-type"] == "text/plain"
    assert response.text == "short and stout"


def test_powertools_http_not_found_from_the_resolver(http_server):
    with client(http_server) as c:
        response = c.get("/pt/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Not found"}


# --------------------------------------------------------------------------- FastAPI + Mangum, both APIs

def test_fastapi_root(server):
    with client(server) as c:
        response = c.get("/")
    assert response.status_code == 200
    assert response.json() == {"app": "fastapi"}


def test_fastapi_path_and_query_params_headers_and_request_cookie(server):
    with client(server) as c:
        response = c.get("/users/7", params=[("verbose", "true"), ("tag", "x"), ("tag", "y")],
                         headers={"X-Client": "tests", "Cookie": "theme=dark; sid=1"})
    assert response.status_code == 200
    assert response.json() == {"user_id": 7, "verbose": True, "tags": ["x", "y"], "theme": "dark",
                               "client_header": "tests", "url_path": "/users/7"}
    assert response.headers["x-app"] == "fastapi"
    assert response.headers["content-type"] == "application/json"


def test_fastapi_json_post_201_with_set_cookie(server):
    with client(server) as c:
        response = c.post("/orders", params={"coupon": "C1"}, json={"item": "pen", "quantity": 2})
    assert response.status_code == 201
    assert response.json() == {"order": {"item": "pen", "quantity": 2}, "coupon": "C1"}
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1 and cookies[0].startswith("order_session=o-42;")
    assert "HttpOnly" in cookies[0]
    assert response.cookies.get("order_session") == "o-42"


def test_fastapi_validation_error_and_not_found(server):
    with client(server) as c:
        invalid = c.post("/orders", json={"item": "pen"})
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["body", "quantity"]
        missing = c.get("/no/such/page")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Not Found"}
        wrong_type = c.get("/users/not-a-number")
        assert wrong_type.status_code == 422
