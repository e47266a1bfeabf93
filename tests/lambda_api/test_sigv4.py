"""`--auth sigv4`: the Lambda API verifies AWS Signature Version 4 with botocore's signer as the
reference, and refuses callers as AWS does. The attack from the tracker (wrong keys setting a
function's concurrency to 0) is performed and shown to fail."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials

from gateway.errors import LambdagateError
from gateway.sigv4 import AuthFailure, SigV4Verifier, load_credentials
from support.lambda_server import InProcessServer, write_template

KEY, SECRET = "AKIDLAMBDAGATETEST01", "s3cr3t/lambdagate+test/key/0123456789abcd"
REGION = "us-east-1"


def signed(method: str, url: str, body: bytes = b"", headers=None, key=KEY, secret=SECRET, region=REGION) -> tuple:
    """(method, raw path, query, ASGI headers, body) of a request botocore signed."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret), "lambda", region).add_auth(request)
    parts = urlsplit(url)
    asgi = [(b"host", parts.netloc.encode())]
    asgi += [(name.lower().encode(), value.encode("latin-1") if isinstance(value, str) else value)   # as sent
             for name, value in request.headers.items()]
    return method, parts.path.encode(), parts.query.encode(), asgi, body


VERIFIER = SigV4Verifier({KEY: SECRET}, REGION)
BASE = "http://127.0.0.1:3001"


@pytest.mark.parametrize("method,url,body", [
    ("POST", BASE + "/2015-03-31/functions/echo/invocations", b'{"a": 1}'),
    ("POST", BASE + "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho/"
                    "invocations?Qualifier=%24LATEST", b"{}"),
    ("GET", BASE + "/2015-03-31/functions/?MaxItems=10&Marker=abc%3D%3D", b""),
    ("PUT", BASE + "/2017-10-31/functions/echo/concurrency", b'{"ReservedConcurrentExecutions": 0}'),
    ("POST", BASE + "/2015-03-31/functions/echo/invocations", "{\"\u00fc\": \"\u4e2d\"}".encode()),
])
def test_requests_botocore_signed_are_accepted(method, url, body):
    assert VERIFIER.verify(*signed(method, url, body, {"X-Amz-Invocation-Type": "Event"})) == KEY


def test_each_tampered_part_breaks_the_signature():
    method, path, query, headers, body = signed("POST", BASE + "/2015-03-31/functions/echo/invocations?Qualifier=1",
                                                b'{"n": 1}', {"X-Amz-Invocation-Type": "Event"})
    tampered = [
        ("PUT", path, query, headers, body),
        (method, b"/2015-03-31/functions/other/invocations", query, headers, body),
        (method, path, b"Qualifier=2", headers, body),
        (method, path, query, headers, b'{"n": 2}'),
        (method, path, query, [(n, b"RequestResponse" if n == b"x-amz-invocation-type" else v) for n, v in headers],
         body),
    ]
    for request in tampered:
        with pytest.raises(AuthFailure) as info:
            VERIFIER.verify(*request)
        assert (info.value.code, info.value.status) == ("InvalidSignatureException", 403)


def test_a_signature_with_non_ascii_characters_is_refused_not_crashed():
    method, path, query, headers, body = signed("POST", BASE + "/2015-03-31/functions/echo/invocations", b"{}")
    forged = []
    for name, value in headers:
        if name == b"authorization":
            value = value.rsplit(b"Signature=", 1)[0] + b"Signature=" + "é".encode("latin-1") * 64
        forged.append((name, value))
    with pytest.raises(AuthFailure) as info:
        VERIFIER.verify(method, path, query, forged, body)
    assert (info.value.code, info.value.status) == ("InvalidSignatureException", 403)


def test_wrong_secret_unknown_key_missing_header_and_other_region_are_refused_as_aws_does():
    url = BASE + "/2015-03-31/functions/echo/invocations"
    cases = [
        (signed("POST", url, b"{}", secret="wrong"), "InvalidSignatureException", 403),
        (signed("POST", url, b"{}", key="AKIDNOBODYKNOWS00000"), "UnrecognizedClientException", 403),
        (signed("POST", url, b"{}", region="eu-west-1"), "InvalidSignatureException", 403),
    ]
    unsigned = list(signed("POST", url, b"{}"))
    unsigned[3] = [(n, v) for n, v in unsigned[3] if n != b"authorization"]
    cases.append((tuple(unsigned), "MissingAuthenticationTokenException", 403))
    for request, code, status in cases:
        with pytest.raises(AuthFailure) as info:
            VERIFIER.verify(*request)
        assert (info.value.code, info.value.status) == (code, status)


def test_a_signature_more_than_15_minutes_away_has_expired():
    request = signed("POST", BASE + "/2015-03-31/functions/echo/invocations", b"{}")
    for offset_s in (16 * 60, -16 * 60):        # the service's clock 16 minutes after, or before, the signer's
        later = SigV4Verifier({KEY: SECRET}, REGION, clock=lambda: time.time() + offset_s)
        with pytest.raises(AuthFailure, match="Signature expired") as info:
            later.verify(*request)
        assert info.value.code == "InvalidSignatureException"
    almost = SigV4Verifier({KEY: SECRET}, REGION, clock=lambda: time.time() + 14 * 60)
    assert almost.verify(*request) == KEY


def test_credentials_come_from_a_file_with_every_profile_or_from_the_environment(tmp_path):
    path = tmp_path / "credentials"
    path.write_text(f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n\n"
                    "[ci]\naws_access_key_id=AKIDSECOND\naws_secret_access_key=second\n")
    assert load_credentials(str(path), {}) == {KEY: SECRET, "AKIDSECOND": "second"}
    assert load_credentials(None, {"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "B"}) == {"A": "B"}
    with pytest.raises(LambdagateError, match="needs credentials"):
        load_credentials(None, {})
    with pytest.raises(LambdagateError, match="cannot read"):
        load_credentials(str(tmp_path / "missing"), {})


# --------------------------------------------------------------------------- over HTTP, with boto3

@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda-api-sigv4")
    credentials = root / "credentials"
    credentials.write_text(f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n")
    server = InProcessServer(write_template(str(root)), str(root / ".lambdagate"), auth="sigv4",
                             credentials_file=str(credentials)).start()
    yield server
    server.stop()


def client_for(server, key=KEY, secret=SECRET, unsigned=False):
    config = BotoConfig(retries={"max_attempts": 0}, **({"signature_version": UNSIGNED} if unsigned else {}))
    return boto3.client("lambda", endpoint_url=server.url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, config=config)


@pytest.mark.integration
def test_wrong_keys_cannot_set_a_functions_concurrency(guarded_server):
    attacker = client_for(guarded_server, secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        attacker.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=0)
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    owner = client_for(guarded_server)
    assert "ReservedConcurrentExecutions" not in owner.get_function_concurrency(FunctionName="echo")
    result = owner.invoke(FunctionName="echo", Payload=b'{"signed": true}')
    assert result["StatusCode"] == 200 and b'"signed":true' in result["Payload"].read().replace(b" ", b"")


@pytest.mark.integration
def test_unknown_keys_and_unsigned_callers_are_refused(guarded_server):
    stranger = client_for(guarded_server, key="AKIDSTRANGER0000000", secret="whatever")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        stranger.invoke(FunctionName="echo", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    anonymous = client_for(guarded_server, unsigned=True)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        anonymous.list_functions()
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert guarded_server.app.api.refusals.refusals >= 2


def test_loopback_hosts_are_told_apart():
    from gateway.server import _is_loopback
    assert all(_is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(_is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.7", "example.com"))


@pytest.mark.integration
def test_binding_beyond_loopback_without_auth_warns(tmp_path):
    """Started on all interfaces for a moment (no traffic is sent) to read its startup lines."""
    import subprocess
    import sys

    from support.servers import EXAMPLES, free_port, wait_for

    log_path = tmp_path / "stderr.txt"
    with open(log_path, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "start-lambda", "-t",
                                 str(EXAMPLES / "hello-world" / "template.yaml"), "-p", str(free_port()),
                                 "--host", "0.0.0.0", "--state-dir", str(tmp_path / "state"), "--no-reload"],
                                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_for(lambda: "Lambda API on" in log_path.read_text() or proc.poll() is not None, 30, "startup lines")
    finally:
        proc.terminate()
        proc.wait(20)
    text = log_path.read_text()
    assert "accepts any caller" in text and "--auth sigv4" in text


def test_a_claimed_body_hash_cannot_stand_in_for_another_body():
    import hashlib
    body = b'{"ReservedConcurrentExecutions": 10}'
    method, path, query, headers, _ = signed("PUT", BASE + "/2017-10-31/functions/echo/concurrency", body,
                                             {"X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()})
    assert VERIFIER.verify(method, path, query, headers, body) == KEY
    with pytest.raises(AuthFailure):
        VERIFIER.verify(method, path, query, headers, b'{"ReservedConcurrentExecutions": 0}')


def test_a_query_with_plus_and_a_latin1_header_verify_as_botocore_signed_them():
    request = signed("GET", BASE + "/2015-03-31/functions/?Marker=a+b&MaxItems=5", b"", {"X-Custom": "\u00e0  la\xa0x"})
    assert VERIFIER.verify(*request) == KEY
