"""APIs defined by OpenAPI documents, served by a real `lambdagate start-api` process."""
from __future__ import annotations

import shutil

import httpx
import pytest

from support.openapi_templates import HTTP_500, OPENAPI_FIXTURES, REST_500, USERS_PREFLIGHT


@pytest.mark.integration
def test_routes_of_an_imported_definition_are_served(tmp_path, start_api):
    shutil.copytree(OPENAPI_FIXTURES, tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    server = start_api(tmp_path / "app" / "cfn-body-template.yaml", "--no-reload")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        answer = client.get("/hello")
        assert answer.status_code == 200
        assert answer.json() == {"function": "HelloFunction", "route": "/hello"}
        answer = client.get("/http/hello")
        assert answer.status_code == 200
        assert answer.json() == {"function": "HelloFunction", "route": "GET /http/hello"}
        answer = client.get("/mocked")                        # a MOCK integration: API Gateway's 500
        assert (answer.status_code, answer.text) == (500, REST_500)
        answer = client.get("/http/status")                   # an HTTP_PROXY integration
        assert (answer.status_code, answer.text) == (500, HTTP_500)


@pytest.mark.integration
def test_a_definitions_cors_preflight_is_answered_and_its_get_reaches_the_function(tmp_path, start_api):
    shutil.copytree(OPENAPI_FIXTURES, tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    server = start_api(tmp_path / "app" / "cors-template.yaml", "--no-reload")
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        preflight = client.options("/users", headers={"Origin": "https://app.example.com",
                                                      "Access-Control-Request-Method": "GET"})
        users = client.get("/users")
        maintenance = client.get("/maintenance")
        whoami = client.get("/whoami")
    assert (preflight.status_code, preflight.content) == (200, b"")
    for name, value in USERS_PREFLIGHT[1]:
        assert preflight.headers[name] == value
    assert users.status_code == 200
    assert users.json() == {"function": "UsersFunction", "route": "/users"}
    assert (maintenance.status_code, maintenance.headers["retry-after"], maintenance.json()) == (
        503, "3600", {"maintenance": True})
    assert (whoami.status_code, whoami.text) == (500, REST_500)
