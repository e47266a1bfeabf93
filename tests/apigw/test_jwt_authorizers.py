"""JWT authorizers (HTTP API) and Cognito user-pool authorizers (REST), through the API Gateway
surface: routes built here, access from gateway.apigw.access_setup.build_access, a fake Invoker,
and the issuers' keys served over real HTTP on 127.0.0.1 (an openid-configuration naming a JWKS, and
a user pool's .well-known/jwks.json) or read from a --jwks file. Tokens are signed with PyJWT by RSA
keys made here; what the function's event carries is read from the invocation."""
from __future__ import annotations

import base64
import collections
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway.apigw.access_setup import build_access
from gateway.apigw.jwt_authorizers import JwksStore, JwtAuthorizer
from gateway.app import build_api_app
from gateway.errors import LambdagateError, TemplateError
from gateway.types import ApiSpec, AuthorizerSpec, RouteSpec
from support.fakes import FakeInvoker
from support.servers import TestClient

KEY_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AUDIENCE = "my-app-client"
POOL = "us-east-1_TestPool"
HTTP_API = ApiSpec("ServerlessHttpApi", "HTTP", "$default")
REST_API = ApiSpec("ServerlessRestApi", "REST", "Prod")


def jwk(private_key, kid: str) -> dict:
    return {**RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True), "kid": kid, "use": "sig", "alg": "RS256"}


def sign(claims: dict, key=KEY_A, kid: str = "key-a", algorithm: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class IssuerServer:
    """An identity provider's public documents over HTTP: path -> JSON, every GET counted by path."""

    def __init__(self):
        self.documents: dict = {}
        self.hits: collections.Counter = collections.Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] += 1
                document = server.documents.get(self.path)
                body = json.dumps(document).encode() if document is not None else b'{"message":"not found"}'
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def publish_openid(self, *keys: dict) -> str:
        """An OIDC issuer at the server's root with these keys; returns its issuer URL."""
        self.documents["/.well-known/openid-configuration"] = {"issuer": self.base, "jwks_uri": self.base + "/keys"}
        self.documents["/keys"] = {"keys": list(keys)}
        return self.base

    def publish_pool(self, *keys: dict) -> str:
        """A Cognito user pool (issuer https://cognito-idp.REGION.amazonaws.com/POOL, here on 127.0.0.1)."""
        self.documents[f"/{POOL}/.well-known/jwks.json"] = {"keys": list(keys)}
        return f"{self.base}/{POOL}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def issuer_server():
    server = IssuerServer()
    yield server
    server.close()


@pytest.fixture
def serve():
    """``serve(routes, jwks_files=None) -> (client, invoker, access)``: the API Gateway surface
    with the routes' access checks; clients closed at teardown."""
    clients = []

    def make(routes, jwks_files=None):
        invoker = FakeInvoker()
        access = build_access(routes, invoker, region="us-east-1", jwks_files=jwks_files)
        client = TestClient(build_api_app(routes, invoker, access))
        client.__enter__()
        clients.append(client)
        return client, invoker, access

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def jwt_spec(issuer: str, **overrides) -> AuthorizerSpec:
    fields = dict(name="OidcAuthorizer", type="JWT", identity_sources=("$request.header.Authorization",),
                  issuers=(issuer,), audience=(AUDIENCE,))
    fields.update(overrides)
    return AuthorizerSpec(**fields)


def http_routes(spec: AuthorizerSpec) -> list:
    return [RouteSpec(HTTP_API, "GET", "/me", "Me", payload_format="2.0", authorizer=spec),
            RouteSpec(HTTP_API, "GET", "/legacy", "Legacy", payload_format="1.0", authorizer=spec),
            RouteSpec(HTTP_API, "GET", "/orders", "Orders", payload_format="2.0", authorizer=spec,
                      authorization_scopes=("orders/read", "orders/admin"))]


def claims_for(issuer: str, **extra) -> dict:
    now = int(time.time())
    return {"iss": issuer, "sub": "user-1", "aud": AUDIENCE, "iat": now - 10, "exp": now + 600, **extra}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def challenge(response) -> str:
    return response.headers.get("www-authenticate", "")


# --------------------------------------------------------------------------- HTTP API JWT authorizer

@pytest.fixture
def oidc(issuer_server, serve):
    """(client, invoker, issuer, access, routes): an HTTP API whose JWT authorizer trusts the issuer on 127.0.0.1."""
    issuer = issuer_server.publish_openid(jwk(KEY_A, "key-a"))
    routes = http_routes(jwt_spec(issuer))
    client, invoker, access = serve(routes)
    return client, invoker, issuer, access, routes


def test_a_valid_token_reaches_the_function_with_its_claims_rendered_as_aws_renders_them(oidc):
    client, invoker, issuer, _, _ = oidc
    claims = claims_for(issuer, **{"cognito:groups": ["admin", "ops"], "email_verified": True,
                                   "address": {"city": "Seattle", "zip": "98101"}, "nickname": None,
                                   "scope": "profile email"})
    response = client.get("/me", headers=bearer(sign(claims)))
    assert response.status_code == 200
    authorizer = invoker.last_event["requestContext"]["authorizer"]
    rendered = authorizer["jwt"]["claims"]
    assert rendered == {"iss": issuer, "sub": "user-1", "aud": AUDIENCE, "iat": str(claims["iat"]),
                        "exp": str(claims["exp"]), "cognito:groups": "[admin ops]", "email_verified": "true",
                        "address": "map[city:Seattle zip:98101]", "scope": "profile email"}
    assert authorizer["jwt"]["scopes"] is None     # the route asks for no scopes


def test_payload_1_0_gets_the_claims_without_the_jwt_level(oidc):
    client, invoker, issuer, _, _ = oidc
    assert client.get("/legacy", headers=bearer(sign(claims_for(issuer)))).status_code == 200
    authorizer = invoker.last_event["requestContext"]["authorizer"]
    assert set(authorizer) == {"claims", "scopes"}
    assert authorizer["claims"]["sub"] == "user-1" and authorizer["scopes"] is None


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
def test_the_token_is_taken_with_or_without_its_bearer_prefix(oidc, prefix):
    client, invoker, issuer, _, _ = oidc
    response = client.get("/me", headers={"Authorization": prefix + sign(claims_for(issuer))})
    assert response.status_code == 200
    assert invoker.functions_called == ["Me"]


def test_no_token_is_401_without_invoking_the_function(oidc):
    client, invoker, _, _, _ = oidc
    for headers in ({}, {"Authorization": ""}, {"Authorization": "Bearer "}):
        response = client.get("/me", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
        assert response.headers["apigw-requestid"]
    assert invoker.calls == []


def test_the_documented_audience_refusal_is_answered_word_for_word(oidc):
    client, invoker, issuer, _, _ = oidc
    response = client.get("/me", headers=bearer(sign(claims_for(issuer, aud="someone-else"))))
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert challenge(response) == ('Bearer scope="" error="invalid_token" '
                                   'error_description="the token does not have a valid audience"')
    assert invoker.calls == []


def test_client_id_stands_in_for_a_missing_aud_but_not_for_a_wrong_one(oidc):
    client, _, issuer, _, _ = oidc
    access_token = claims_for(issuer, client_id=AUDIENCE)
    del access_token["aud"]
    assert client.get("/me", headers=bearer(sign(access_token))).status_code == 200
    # with both present, API Gateway evaluates aud
    both = claims_for(issuer, aud="someone-else", client_id=AUDIENCE)
    assert client.get("/me", headers=bearer(sign(both))).status_code == 401
    assert client.get("/me", headers=bearer(sign(claims_for(issuer, aud=["x", AUDIENCE])))).status_code == 200


@pytest.mark.parametrize("claims_change, description", [
    ({"exp": -7322}, r"token is expired by 2h2m\d+s"),      # the seconds depend on when the check runs
    ({"nbf": +600}, r"token is not valid yet"),
    ({"iat": +600}, r"Token used before issued"),
])
def test_time_claims_are_checked_against_now(oidc, claims_change, description):
    client, invoker, issuer, _, _ = oidc
    now = int(time.time())
    claims = claims_for(issuer, **{name: now + delta for name, delta in claims_change.items()})
    response = client.get("/me", headers=bearer(sign(claims)))
    assert response.status_code == 401
    assert re.fullmatch(f'Bearer scope="" error="invalid_token" error_description="{description}"',
                        challenge(response)), challenge(response)
    assert invoker.calls == []


def test_a_token_of_another_issuer_is_refused_without_asking_that_issuer(oidc):
    client, _, issuer, _, _ = oidc
    other = IssuerServer()
    try:
        other.publish_openid(jwk(KEY_A, "key-a"))
        response = client.get("/me", headers=bearer(sign(claims_for(other.base))))
        assert response.status_code == 401
        assert "invalid_token" in challenge(response)
        assert sum(other.hits.values()) == 0
    finally:
        other.close()


def test_a_signature_by_another_key_under_a_known_kid_is_refused(oidc):
    client, invoker, issuer, _, _ = oidc
    forged = sign(claims_for(issuer), key=KEY_B, kid="key-a")
    response = client.get("/me", headers=bearer(forged))
    assert response.status_code == 401
    assert "invalid_token" in challenge(response)
    tampered = sign(claims_for(issuer)).split(".")
    tampered[1] = b64url(json.dumps(claims_for(issuer, sub="admin")).encode())
    assert client.get("/me", headers=bearer(".".join(tampered))).status_code == 401
    assert invoker.calls == []


def test_alg_none_and_hmac_tokens_are_refused_whatever_they_claim(oidc):
    client, invoker, issuer, _, _ = oidc
    payload = b64url(json.dumps(claims_for(issuer)).encode())
    unsigned = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": "key-a"}).encode()) + "." + payload + "."
    hmac_token = jwt.encode(claims_for(issuer), "a-shared-secret-of-at-least-32-bytes!", algorithm="HS256",
                            headers={"kid": "key-a"})
    for token in (unsigned, hmac_token):
        response = client.get("/me", headers=bearer(token))
        assert response.status_code == 401
        assert "invalid_token" in challenge(response)
    assert invoker.calls == []


@pytest.mark.parametrize("token, description", [
    ("not-a-jwt", "token contains an invalid number of segments"),
    ("a.b.c", "the token is not a valid JWT"),
])
def test_garbage_tokens_are_401_with_a_description(oidc, token, description):
    client, _, _, _, _ = oidc
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 401
    assert f'error_description="{description}"' in challenge(response)


def test_an_unknown_kid_refetches_the_keys_once_the_interval_allows(oidc, issuer_server):
    client, _, issuer, access, routes = oidc
    assert client.get("/me", headers=bearer(sign(claims_for(issuer)))).status_code == 200
    assert issuer_server.hits["/keys"] == 1
    # the issuer rotates in key B; within the refetch interval its new kid is not looked up again
    issuer_server.documents["/keys"] = {"keys": [jwk(KEY_A, "key-a"), jwk(KEY_B, "key-b")]}
    rotated = sign(claims_for(issuer), key=KEY_B, kid="key-b")
    assert client.get("/me", headers=bearer(rotated)).status_code == 401
    assert issuer_server.hits["/keys"] == 1
    access[id(routes[0])].authorizer.jwks.refetch_interval_s = 0
    assert client.get("/me", headers=bearer(rotated)).status_code == 200
    assert issuer_server.hits["/keys"] == 2
    assert issuer_server.hits["/.well-known/openid-configuration"] == 1   # the jwks_uri is remembered


def test_forged_kids_do_not_hammer_the_issuer(oidc, issuer_server):
    client, _, issuer, _, _ = oidc
    for i in range(20):
        response = client.get("/me", headers=bearer(sign(claims_for(issuer), key=KEY_B, kid=f"forged-{i}")))
        assert response.status_code == 401
    assert issuer_server.hits["/keys"] == 1


def test_route_scopes_need_one_of_them_in_scope_or_scp(oidc):
    client, invoker, issuer, _, _ = oidc
    ok = client.get("/orders", headers=bearer(sign(claims_for(issuer, scope="profile orders/read"))))
    assert ok.status_code == 200
    assert invoker.last_event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["profile", "orders/read"]
    assert client.get("/orders", headers=bearer(sign(claims_for(issuer, scp=["orders/admin"])))).status_code == 200
    assert invoker.last_event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["orders/admin"]
    calls = len(invoker.calls)
    for claims in (claims_for(issuer, scope="profile email"), claims_for(issuer)):
        refused = client.get("/orders", headers=bearer(sign(claims)))
        assert refused.status_code == 403
        assert refused.json() == {"message": "Forbidden"}
        assert challenge(refused).startswith('Bearer scope="orders/read orders/admin" error="insufficient_scope"')
    assert len(invoker.calls) == calls


def test_a_query_string_identity_source_is_read_case_sensitively(issuer_server, serve):
    issuer = issuer_server.publish_openid(jwk(KEY_A, "key-a"))
    spec = jwt_spec(issuer, identity_sources=("$request.querystring.token",))
    client, invoker, _ = serve([RouteSpec(HTTP_API, "GET", "/q", "Q", payload_format="2.0", authorizer=spec)])
    token = sign(claims_for(issuer))
    assert client.get("/q", params={"token": token}).status_code == 200
    assert client.get("/q", params={"Token": token}).status_code == 401
    assert client.get("/q", headers=bearer(token)).status_code == 401


# --------------------------------------------------------------------------- offline: --jwks and fetch failures

def test_a_local_jwks_file_verifies_tokens_without_any_network(tmp_path, serve):
    issuer = "https://issuer.invalid/tenant"           # .invalid: nothing could ever be fetched from it
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(KEY_A, "key-a")]}))
    client, invoker, _ = serve(http_routes(jwt_spec(issuer)), jwks_files={issuer + "/": str(path)})
    assert client.get("/me", headers=bearer(sign(claims_for(issuer)))).status_code == 200
    assert invoker.last_event["requestContext"]["authorizer"]["jwt"]["claims"]["iss"] == issuer
    assert client.get("/me", headers=bearer(sign(claims_for(issuer), key=KEY_B))).status_code == 401


def test_an_unreachable_issuer_is_401_and_one_log_line_says_how_to_work_offline(serve, caplog):
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as probe:
        closed_port = probe.server_address[1]     # free again once closed: nothing listens there
    issuer = f"http://127.0.0.1:{closed_port}"
    routes = http_routes(jwt_spec(issuer))
    client, invoker, access = serve(routes)
    access[id(routes[0])].authorizer.jwks.refetch_interval_s = 0   # every request asks again
    caplog.set_level(logging.WARNING, logger="lambdagate")
    for _ in range(3):
        response = client.get("/me", headers=bearer(sign(claims_for(issuer))))
        assert response.status_code == 401
        assert "invalid_token" in challenge(response)
    lines = [r.getMessage() for r in caplog.records if issuer in r.getMessage()]
    assert len(lines) == 1, lines
    assert f"--jwks {issuer}=PATH" in lines[0] and "offline" in lines[0]
    assert invoker.calls == []


@pytest.mark.parametrize("content, complaint", [
    (None, "cannot read it"),
    ("{not json", "not JSON"),
    (json.dumps({"keys": []}), "holds no RSA signing key"),
    (json.dumps({"issuer": "x"}), "is not a JWKS"),
])
def test_a_bad_jwks_file_stops_the_start_with_a_clear_error(tmp_path, content, complaint):
    path = tmp_path / "jwks.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LambdagateError, match=complaint) as info:
        JwksStore({"https://issuer.example": str(path)})
    assert str(path) in str(info.value)


@pytest.mark.parametrize("source", ["$context.routeKey", "$request.body.token"])
def test_an_identity_source_that_is_no_header_or_query_is_refused_at_startup(source):
    with pytest.raises(TemplateError, match="identity source") as info:
        JwtAuthorizer(jwt_spec("https://issuer.example", identity_sources=(source,)), JwksStore({}))
    assert str(info.value).startswith("authorizer OidcAuthorizer, IdentitySource: ")


@pytest.mark.parametrize("expression, complaint", [("([a-z", "unterminated character set"),
                                                   ("a{4294967296}", "repetition number is too large")])
def test_a_validation_expression_that_is_no_regex_is_refused_at_startup(expression, complaint):
    spec = AuthorizerSpec(name="PoolAuthorizer", type="COGNITO_USER_POOLS", validation_expression=expression,
                          identity_sources=("method.request.header.Authorization",), issuers=("https://pool",))
    with pytest.raises(TemplateError, match=complaint) as info:
        JwtAuthorizer(spec, JwksStore({}))
    assert str(info.value).startswith(f"authorizer PoolAuthorizer, IdentityValidationExpression: {expression!r}")


# --------------------------------------------------------------------------- REST Cognito user pools

def cognito_spec(issuers: tuple) -> AuthorizerSpec:
    return AuthorizerSpec(name="PoolAuthorizer", type="COGNITO_USER_POOLS",
                          identity_sources=("method.request.header.Authorization",), issuers=issuers)


def rest_routes(spec: AuthorizerSpec) -> list:
    return [RouteSpec(REST_API, "GET", "/profile", "Profile", authorizer=spec),
            RouteSpec(REST_API, "GET", "/reports", "Reports", authorizer=spec,
                      authorization_scopes=("reports/read",))]


def id_token(issuer: str, **extra) -> dict:
    now = int(time.time())
    return {"sub": "5f3a", "aud": "pool-client", "email_verified": True, "token_use": "id", "auth_time": now - 60,
            "iss": issuer, "cognito:username": "jane", "exp": now + 600, "iat": now - 60,
            "email": "jane@example.com", **extra}


def access_token(issuer: str, scope: str, **extra) -> dict:
    now = int(time.time())
    return {"sub": "5f3a", "token_use": "access", "scope": scope, "auth_time": now - 60, "iss": issuer,
            "exp": now + 600, "iat": now - 60, "client_id": "pool-client", "username": "jane", **extra}


@pytest.fixture
def pool(issuer_server, serve):
    issuer = issuer_server.publish_pool(jwk(KEY_A, "pool-key"))
    client, invoker, _ = serve(rest_routes(cognito_spec((issuer,))))
    return client, invoker, issuer


def java_date(epoch_s: int) -> str:
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(epoch_s))


def test_an_id_token_reaches_the_function_with_its_claims_as_strings(pool, issuer_server):
    client, invoker, issuer = pool
    claims = id_token(issuer, **{"cognito:groups": ["admin", "ops"]})
    response = client.get("/profile", headers={"Authorization": sign(claims, kid="pool-key")})
    assert response.status_code == 200
    rendered = invoker.last_event["requestContext"]["authorizer"]
    assert rendered == {"claims": {
        "sub": "5f3a", "aud": "pool-client", "email_verified": "true", "token_use": "id",
        "auth_time": str(claims["auth_time"]), "iss": issuer, "cognito:username": "jane",
        "exp": java_date(claims["exp"]), "iat": java_date(claims["iat"]), "email": "jane@example.com",
        "cognito:groups": "admin,ops"}}
    assert issuer_server.hits[f"/{POOL}/.well-known/jwks.json"] == 1
    single = id_token(issuer, **{"cognito:groups": ["admin"]})
    assert client.get("/profile", headers=bearer(sign(single, kid="pool-key"))).status_code == 200
    assert invoker.last_event["requestContext"]["authorizer"]["claims"]["cognito:groups"] == "admin"


def test_java_dates_look_like_aws_captures():
    assert java_date(1513495692) == "Sun Dec 17 07:28:12 UTC 2017"


def test_a_method_without_scopes_takes_id_tokens_only(pool):
    client, invoker, issuer = pool
    response = client.get("/profile", headers=bearer(sign(access_token(issuer, "reports/read"), kid="pool-key")))
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert invoker.calls == []


def test_a_method_with_scopes_takes_access_tokens_carrying_one(pool):
    client, invoker, issuer = pool
    ok = client.get("/reports", headers=bearer(sign(access_token(issuer, "openid reports/read"), kid="pool-key")))
    assert ok.status_code == 200
    assert invoker.last_event["requestContext"]["authorizer"]["claims"]["scope"] == "openid reports/read"
    for claims in (access_token(issuer, "openid"), id_token(issuer)):
        refused = client.get("/reports", headers=bearer(sign(claims, kid="pool-key")))
        assert refused.status_code == 401
        assert refused.json() == {"message": "Unauthorized"}
    assert invoker.functions_called == ["Reports"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "garbage"}])
def test_no_or_a_garbage_token_is_401_on_rest(pool, headers):
    client, invoker, _ = pool
    response = client.get("/profile", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert "www-authenticate" not in response.headers
    assert invoker.calls == []


def test_expired_and_foreign_tokens_are_refused_by_the_pool(pool):
    client, _, issuer = pool
    expired = id_token(issuer, exp=int(time.time()) - 5)
    assert client.get("/profile", headers=bearer(sign(expired, kid="pool-key"))).status_code == 401
    foreign = id_token("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
    assert client.get("/profile", headers=bearer(sign(foreign, kid="pool-key"))).status_code == 401


def test_a_pool_unknown_locally_accepts_an_issuer_given_with_jwks(tmp_path, serve):
    issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Local"
    path = tmp_path / "pool-jwks.json"
    path.write_text(json.dumps({"keys": [jwk(KEY_A, "pool-key")]}))
    client, invoker, _ = serve(rest_routes(cognito_spec(())), jwks_files={issuer: str(path)})
    assert client.get("/profile", headers=bearer(sign(id_token(issuer), kid="pool-key"))).status_code == 200
    other = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Elsewhere"
    assert client.get("/profile", headers=bearer(sign(id_token(other), kid="pool-key"))).status_code == 401
    assert invoker.functions_called == ["Profile"]


# --------------------------------------------------------------------------- a token verified once

def test_a_repeated_token_is_verified_once_but_its_expiry_and_each_routes_scopes_still_apply(oidc, monkeypatch):
    client, invoker, issuer, access, routes = oidc
    authorizer = access[id(routes[0])].authorizer
    verifications = []
    verify = authorizer._verify_signature

    async def counted(token):
        verifications.append(token)
        return await verify(token)
    monkeypatch.setattr(authorizer, "_verify_signature", counted)

    expires_s = int(time.time()) + 2
    token = sign(claims_for(issuer, exp=expires_s, scope="orders/read"))
    for _ in range(3):
        assert client.get("/me", headers=bearer(token)).status_code == 200
    assert client.get("/orders", headers=bearer(token)).status_code == 200
    assert len(verifications) == 1          # one RSA verification for four requests
    other_scope = sign(claims_for(issuer, scope="profile"))
    assert client.get("/me", headers=bearer(other_scope)).status_code == 200
    refused = client.get("/orders", headers=bearer(other_scope))      # remembered, yet this route's scopes apply
    assert refused.status_code == 403 and 'error="insufficient_scope"' in challenge(refused)
    assert len(verifications) == 2

    time.sleep(max(0.0, expires_s + 1.05 - time.time()))     # past exp, in whole seconds as it is checked
    expired = client.get("/me", headers=bearer(token))
    assert expired.status_code == 401 and "token is expired" in challenge(expired)


def test_remembered_tokens_are_bounded(oidc, monkeypatch):
    from gateway.apigw import jwt_authorizers
    client, _, issuer, access, routes = oidc
    monkeypatch.setattr(jwt_authorizers, "MAX_VERIFIED_TOKENS", 5)
    tokens = [sign(claims_for(issuer, jti=str(i))) for i in range(12)]
    for token in tokens:
        assert client.get("/me", headers=bearer(token)).status_code == 200
    remembered = access[id(routes[0])].authorizer._verified_tokens
    assert list(remembered) == tokens[-5:]       # the newest five, oldest dropped first
