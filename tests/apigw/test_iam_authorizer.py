"""AWS_IAM routes: requests signed by botocore's SigV4Auth for execute-api reach the function with
the caller in their event; unsigned, tampered and unknown-key requests get API Gateway's 403s.
Driven through the API Gateway surface (routes built here, access from build_access, a fake
Invoker) in-process, and once over real sockets through lambdagate's HTTP protocol."""
from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import gateway.http_protocol as http_protocol
from gateway.apigw.access_setup import build_access
from gateway.apigw.iam_authorizer import caller_id
from gateway.app import build_api_app
from gateway.config import Config
from gateway.errors import LambdagateError
from gateway.sigv4 import BAD_SIGNATURE
from gateway.types import ACCOUNT_ID, ApiSpec, AuthorizerSpec, RouteSpec
from support.fakes import FakeInvoker
from support.servers import TestClient
from support.wire import WireServer

KEY, SECRET = "AKIDEXECUTEAPITEST01", "execute/api+secret/0123456789abcdefghijk"
SECOND_KEY, SECOND_SECRET = "AKIDEXECUTEAPITEST02", "second+secret/0123456789abcdefghijklmn"
REGION = "us-east-1"
IAM = AuthorizerSpec(name="AWS_IAM", type="AWS_IAM")
REST_API = ApiSpec("ServerlessRestApi", "REST", "Prod")
HTTP_API = ApiSpec("ServerlessHttpApi", "HTTP", "$default")
ROUTES = [RouteSpec(REST_API, "ANY", "/items/{id}", "Items", authorizer=IAM),
          RouteSpec(HTTP_API, "ANY", "/v2/items/{id}", "ItemsV2", payload_format="2.0", authorizer=IAM),
          RouteSpec(HTTP_API, "GET", "/v1/items/{id}", "ItemsV1", payload_format="1.0", authorizer=IAM)]
BASE = "http://testserver"


@pytest.fixture
def credentials_file(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n\n"
                    f"[ci]\naws_access_key_id = {SECOND_KEY}\naws_secret_access_key = {SECOND_SECRET}\n")
    return str(path)


@pytest.fixture
def api(credentials_file):
    """(client, invoker): the API Gateway surface with AWS_IAM on every route."""
    invoker = FakeInvoker()
    access = build_access(ROUTES, invoker, region=REGION, credentials_file=credentials_file)
    with TestClient(build_api_app(ROUTES, invoker, access)) as client:
        yield client, invoker


def signed(method: str, url: str, body: bytes = b"", headers=None, key=KEY, secret=SECRET, token=None,
           service="execute-api") -> dict:
    """The headers botocore adds to sign the request for `service` (Authorization, X-Amz-Date, ...)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret, token), service, REGION).add_auth(request)
    return dict(request.headers.items())


def send(client, method: str, path: str, body: bytes = b"", sign_path=None, sign_body=None, **sign_options):
    """Send `method path` signed for `sign_path`/`sign_body` (default: what is sent)."""
    headers = signed(method, BASE + (sign_path or path), body if sign_body is None else sign_body, **sign_options)
    return client.request(method, path, content=body, headers=headers)


def test_a_signed_rest_request_reaches_the_function_with_the_caller_as_its_identity(api):
    client, invoker = api
    response = send(client, "GET", "/items/7?expand=owner&tag=a")
    assert response.status_code == 200, response.text
    event = invoker.last_event
    identity = event["requestContext"]["identity"]
    assert {k: identity[k] for k in ("accessKey", "accountId", "caller", "user", "userArn")} == {
        "accessKey": KEY, "accountId": ACCOUNT_ID, "caller": caller_id(KEY), "user": caller_id(KEY),
        "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{KEY}"}
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", identity["caller"])
    # the signature stays with API Gateway; the rest of the signing headers reach the function
    assert not any(name.lower() == "authorization" for name in event["headers"])
    assert not any(name.lower() == "authorization" for name in event["multiValueHeaders"])
    assert any(name.lower() == "x-amz-date" for name in event["headers"])


def test_every_configured_key_may_call_and_gets_its_own_identity(api):
    client, invoker = api
    assert send(client, "GET", "/items/1", key=SECOND_KEY, secret=SECOND_SECRET).status_code == 200
    identity = invoker.last_event["requestContext"]["identity"]
    assert identity["accessKey"] == SECOND_KEY and identity["caller"] == caller_id(SECOND_KEY) != caller_id(KEY)


def test_a_signed_http_api_request_gets_the_caller_under_authorizer_iam(api):
    client, invoker = api
    body = b'{"name": "widget", "price": 3}'
    response = send(client, "POST", "/v2/items/9", body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert invoker.last_event["requestContext"]["authorizer"] == {"iam": {
        "accessKey": KEY, "accountId": ACCOUNT_ID, "callerId": caller_id(KEY), "cognitoIdentity": None,
        "principalOrgId": None, "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{KEY}", "userId": caller_id(KEY)}}
    assert invoker.last_event["body"] == body.decode()


def test_payload_1_0_gets_the_caller_as_its_identity(api):
    client, invoker = api
    assert send(client, "GET", "/v1/items/3").status_code == 200
    assert invoker.last_event["requestContext"]["identity"]["accessKey"] == KEY


def test_temporary_credentials_sign_with_their_session_token(api):
    client, invoker = api
    response = send(client, "GET", "/items/5", token="FwoGZXIvYXdzEXAMPLEsessiontoken")
    assert response.status_code == 200
    assert invoker.last_event["headers"]["X-Amz-Security-Token"] == "FwoGZXIvYXdzEXAMPLEsessiontoken"


@pytest.mark.parametrize("path, sent_path, body, sent_body", [
    ("/items/7", "/items/7", b'{"n": 1}', b'{"n": 2}'),                 # body
    ("/items/7", "/items/8", b"", b""),                                  # path
    ("/items/7?q=1", "/items/7?q=2", b"", b""),                          # query string
    ("/v2/items/7", "/v2/items/7", b"original", b"tampered"),            # HTTP API body
])
def test_a_tampered_request_gets_the_signature_mismatch_with_what_api_gateway_computed(api, path, sent_path,
                                                                                       body, sent_body):
    client, invoker = api
    response = send(client, "PUT", sent_path, sent_body, sign_path=path, sign_body=body)
    assert response.status_code == 403
    message = response.json()["message"]
    assert message.startswith(BAD_SIGNATURE + "\n\nThe Canonical String for this request should have been\n'PUT\n"
                              + urlsplit(sent_path).path + "\n")
    assert "\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n" in message
    if sent_path.startswith("/items"):
        assert response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert invoker.calls == []


def test_a_wrong_secret_is_a_signature_mismatch(api):
    client, _ = api
    response = send(client, "GET", "/items/7", secret="not-the-secret")
    assert response.status_code == 403
    assert response.json()["message"].startswith(BAD_SIGNATURE)


def test_an_unknown_key_is_an_invalid_security_token(api):
    client, invoker = api
    for path in ("/items/7", "/v2/items/7"):
        response = send(client, "GET", path, key="AKIDNOBODYCONFIGURED", secret="whatever")
        assert response.status_code == 403
        assert response.json() == {"message": "The security token included in the request is invalid."}
    assert invoker.calls == []


def test_unsigned_requests_get_missing_authentication_token_on_rest_and_forbidden_on_http(api):
    client, invoker = api
    rest = client.get("/items/7")
    assert rest.status_code == 403
    assert rest.json() == {"message": "Missing Authentication Token"}
    assert rest.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    http = client.get("/v2/items/7")
    assert http.status_code == 403
    assert http.json() == {"message": "Forbidden"}
    assert invoker.calls == []


def test_a_signature_for_another_service_or_a_bearer_token_is_refused(api):
    client, invoker = api
    lambda_signed = send(client, "GET", "/items/7", service="lambda")
    assert lambda_signed.status_code == 403
    assert "execute-api" in lambda_signed.json()["message"]
    bearer = client.get("/items/7", headers={"Authorization": "Bearer eyJhbGciOi.x.y"})
    assert bearer.status_code == 403
    assert bearer.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert invoker.calls == []


def test_without_any_credentials_signed_requests_are_refused_and_the_start_says_why(monkeypatch, caplog):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    caplog.set_level(logging.WARNING, logger="lambdagate")
    invoker = FakeInvoker()
    access = build_access(ROUTES, invoker, region=REGION)
    assert any("--credentials-file" in r.getMessage() and "AWS_IAM" in r.getMessage() for r in caplog.records)
    with TestClient(build_api_app(ROUTES, invoker, access)) as client:
        response = send(client, "GET", "/items/7")
    assert response.status_code == 403
    assert response.json() == {"message": "The security token included in the request is invalid."}


def test_keys_from_the_environment_are_used_without_a_file(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SECOND_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECOND_SECRET)
    invoker = FakeInvoker()
    with TestClient(build_api_app(ROUTES, invoker, build_access(ROUTES, invoker, region=REGION))) as client:
        assert send(client, "GET", "/items/7", key=SECOND_KEY, secret=SECOND_SECRET).status_code == 200
        assert send(client, "GET", "/items/7").status_code == 403


def test_an_unreadable_credentials_file_stops_the_start(tmp_path):
    with pytest.raises(LambdagateError, match="credentials file"):
        build_access(ROUTES, FakeInvoker(), region=REGION, credentials_file=str(tmp_path / "missing"))


def test_signed_requests_over_real_sockets(credentials_file):
    """The path as the client sent it (percent-encoded) is what the signature covers."""
    invoker = FakeInvoker()
    access = build_access(ROUTES, invoker, region=REGION, credentials_file=credentials_file)
    server = WireServer(ROUTES, invoker, 5.0, http_protocol.ApiGatewayProtocol)
    server.server = http_protocol.http_server(build_api_app(ROUTES, invoker, access), "127.0.0.1", server.port,
                                              Config(http_keep_alive_s=5.0), http_protocol.ApiGatewayProtocol)
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            for method, path, body in (("GET", "/items/a%20b%2Fc?x=1&y=%20z", b""),
                                       ("POST", "/v2/items/%C3%BC", b'{"k": "v"}')):
                url = server.base_url + path
                response = http.request(method, path, content=body, headers=signed(method, url, body))
                assert response.status_code == 200, response.text
            forged = signed("GET", server.base_url + "/items/other")
            refused = http.get("/items/a%20b", headers=forged)
            assert refused.status_code == 403
            assert refused.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    finally:
        server.stop()
    assert invoker.functions_called == ["Items", "ItemsV2"]
    assert invoker.calls[0].event["pathParameters"] == {"id": "a%20b%2Fc"}
