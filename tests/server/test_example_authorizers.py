"""examples/authorizers as its README runs it: a real `start-api` with a local JWKS and an API keys
file, every route called over HTTP as the README's curl lines call it."""
from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import pytest

from support.servers import EXAMPLES, wait_for

pytestmark = pytest.mark.integration   # starts real processes

EXAMPLE = EXAMPLES / "authorizers"
ISSUER = "https://auth.example.com"
EXAMPLE_KEY = "lambdagate-example-key-0123456789"


def make_token(keys_dir, *args: str) -> str:
    """A token from the example's own token maker, its key kept in `keys_dir`."""
    return subprocess.run([sys.executable, str(EXAMPLE / "make_token.py"), "--dir", str(keys_dir), *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def token(keys_dir):
    return make_token(keys_dir)


@pytest.fixture(scope="module")
def server(module_start_api, keys_dir, token):
    return module_start_api(EXAMPLE / "template.yaml", "--jwks", f"{ISSUER}={keys_dir / 'jwks.json'}",
                            "--api-keys", str(EXAMPLE / "api-keys.json"), name="authorizers")


def get(server, path: str, **headers) -> httpx.Response:
    return httpx.get(server.base_url + path, headers=headers, timeout=15)


def invocations(server, function: str) -> int:
    return server.log_text(function).count("START RequestId")


def settled_invocations(server, function: str) -> int:
    """The function's invocations so far, once its log file (flushed shortly after each write) has
    stopped growing."""
    last = -1
    while True:
        now = invocations(server, function)
        if now == last:
            return now
        last = now
        time.sleep(0.3)


def authorizer_runs(server) -> int:
    return settled_invocations(server, "AuthorizerFunction")


def test_open_routes_need_nothing(server):
    for path in ("/open", "/http/open"):
        response = get(server, path)
        assert response.status_code == 200, response.text
        assert response.json() == {"path": path, "authorizer": None, "apiKey": None}


def test_token_authorizer_lets_in_refuses_and_turns_away(server):
    missing = get(server, "/protected")
    assert (missing.status_code, missing.json()) == (401, {"message": "Unauthorized"})
    # the ValidationExpression turns this token away before the authorizer function could run
    before = authorizer_runs(server)
    malformed = get(server, "/protected", Authorization="Bearer something")
    assert (malformed.status_code, malformed.json()) == (401, {"message": "Unauthorized"})
    assert authorizer_runs(server) == before

    allowed = get(server, "/protected", Authorization="allow-alice")
    assert allowed.status_code == 200, allowed.text
    context = allowed.json()["authorizer"]
    assert context["principalId"] == "alice"
    assert (context["user"], context["tier"], context["verified"]) == ("alice", "gold", "true")
    assert isinstance(context["integrationLatency"], int)

    denied = get(server, "/protected", Authorization="deny-bob")
    assert denied.status_code == 403
    assert denied.json() == {"Message": "User is not authorized to access this resource with an explicit deny"}


def test_the_authorizers_answer_is_cached_per_token(server):
    before = authorizer_runs(server)
    first = get(server, "/protected", Authorization="allow-carol")
    assert first.status_code == 200
    wait_for(lambda: invocations(server, "AuthorizerFunction") == before + 1, 10, "the authorizer's one run")
    runs = authorizer_runs(server)
    for _ in range(5):
        again = get(server, "/protected", Authorization="allow-carol")
        assert again.status_code == 200 and again.json()["authorizer"]["principalId"] == "carol"
    assert authorizer_runs(server) == runs          # answered from the cache: no new invocation
    other = get(server, "/protected", Authorization="allow-dave")
    assert other.json()["authorizer"]["principalId"] == "dave"
    wait_for(lambda: invocations(server, "AuthorizerFunction") == runs + 1, 10,
             "one more authorizer run for a new token")
    assert authorizer_runs(server) == runs + 1


def test_api_key_route(server):
    assert get(server, "/keyed").status_code == 403
    assert get(server, "/keyed", **{"x-api-key": "not-a-key-of-this-api-at-all"}).json() == {"message": "Forbidden"}
    allowed = get(server, "/keyed", **{"x-api-key": EXAMPLE_KEY})
    assert allowed.status_code == 200
    assert allowed.json()["apiKey"] == EXAMPLE_KEY


def test_the_usage_plans_generated_key_is_printed_and_works(server):
    printed = re.search(r"API key RestApiApiKey: (\w{40})", server.stderr_text())
    assert printed, server.stderr_text()
    response = get(server, "/keyed", **{"x-api-key": printed.group(1)})
    assert response.status_code == 200 and response.json()["apiKey"] == printed.group(1)


def test_validated_post(server):
    def post(body: str) -> httpx.Response:
        return httpx.post(server.base_url + "/pets", content=body, headers={"Content-Type": "application/json"},
                          timeout=15)
    before = settled_invocations(server, "CreatePetFunction")
    for bad in ('{"name": "Rex"}', '{"name": "Rex", "kind": "dragon"}', "not json"):
        response = post(bad)
        assert (response.status_code, response.json()) == (400, {"message": "Invalid request body"}), bad
    good = post('{"name": "Rex", "kind": "dog", "age": 3}')
    assert good.status_code == 201 and good.json() == {"created": {"name": "Rex", "kind": "dog", "age": 3}}
    # the invalid bodies never reached the function
    wait_for(lambda: invocations(server, "CreatePetFunction") == before + 1, 10, "the valid body's invocation")
    assert settled_invocations(server, "CreatePetFunction") == before + 1


def test_jwt_route(server, keys_dir, token):
    assert get(server, "/http/me").status_code == 401
    response = get(server, "/http/me", Authorization=f"Bearer {token}")
    assert response.status_code == 200, response.text
    jwt = response.json()["authorizer"]["jwt"]
    assert jwt["claims"]["iss"] == ISSUER and jwt["claims"]["sub"] == "alice"
    assert jwt["scopes"] == ["pets/read"]

    wrong_scope = get(server, "/http/me", Authorization=f"Bearer {make_token(keys_dir, '--scope', 'pets/write')}")
    assert (wrong_scope.status_code, wrong_scope.json()) == (403, {"message": "Forbidden"})
    expired = get(server, "/http/me", Authorization=f"Bearer {make_token(keys_dir, '--expires-in', '-60')}")
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert get(server, "/http/me", Authorization=f"Bearer {tampered}").status_code == 401


def test_route_table_says_what_each_route_requires(server):
    table = server.stderr_text()
    assert re.search(r"GET\s+/protected\s+WhoAmIFunction\s+REST RestApi .*TokenAuthorizer \(TOKEN\)", table)
    assert re.search(r"GET\s+/keyed\s+.*API key", table)
    assert re.search(r"GET\s+/http/me\s+.*LocalJwt \(JWT\), scopes pets/read", table)
    assert re.search(r"POST\s+/pets\s+CreatePetFunction\s+.*validated", table)
