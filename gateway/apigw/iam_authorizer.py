"""AWS_IAM routes: callers sign their requests with Signature Version 4 for the `execute-api`
service, verified against the credentials the Lambda API's `--auth sigv4` uses (--credentials-file,
else $AWS_ACCESS_KEY_ID / $AWS_SECRET_ACCESS_KEY) by the same verifier
(gateway.sigv4). Every known key may invoke every route: IAM policies are not evaluated.

Refusals are API Gateway's, all 403: no signature ("Missing Authentication Token" on REST,
"Forbidden" on an HTTP API), a key nobody configured ("The security token included in the request
is invalid."), a signature that does not match (the message shows the canonical request and the
string to sign API Gateway computed, as AWS's does). The caller reaches the integration as
`requestContext.identity` (REST, payload 1.0) or `requestContext.authorizer.iam` (payload 2.0); a
REST integration does not see the Authorization header of an AWS_IAM method.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
from typing import Optional

from gateway.apigw import responses
from gateway.apigw.access import AccessRequest, AuthGrant, Denied
from gateway.errors import LambdagateError
from gateway.sigv4 import AuthFailure, SigV4Verifier, load_credentials
from gateway.types import ACCOUNT_ID

log = logging.getLogger("lambdagate")

SERVICE = "execute-api"
UNKNOWN_KEY = "The security token included in the request is invalid."


class IamAuthorizer:
    """Checks the SigV4 signature of requests to AWS_IAM routes (one object per API)."""

    def __init__(self, region: str, credentials_file: Optional[str]):
        try:
            credentials = load_credentials(credentials_file, os.environ)
        except LambdagateError:
            if credentials_file:
                raise
            # the rest of the API still works; these routes refuse every caller until keys are given
            log.warning("AWS_IAM routes need credentials to check callers against: --credentials-file PATH, or "
                        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment; without them every "
                        "signed request is refused (403)")
            credentials = {}
        self.verifier = SigV4Verifier(credentials, region, service=SERVICE)

    async def authorize(self, request: AccessRequest) -> AuthGrant:
        scope = request.scope
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        try:
            key_id = self.verifier.verify(scope["method"], raw_path, scope.get("query_string") or b"",
                                          scope["headers"], request.body)
        except AuthFailure as failure:
            raise Denied(_refusal(failure, request)) from None
        caller = caller_id(key_id)
        user_arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{key_id}"
        if request.route.api.kind == "REST":
            _drop_authorization(request.event)
        if request.v1:
            return AuthGrant(identity={"accessKey": key_id, "accountId": ACCOUNT_ID, "caller": caller,
                                       "user": caller, "userArn": user_arn})
        return AuthGrant(authorizer={"iam": {"accessKey": key_id, "accountId": ACCOUNT_ID, "callerId": caller,
                                             "cognitoIdentity": None, "principalOrgId": None,
                                             "userArn": user_arn, "userId": caller}})


def caller_id(key_id: str) -> str:
    """A stable IAM-style unique id for the user of an access key: AIDA and 17 of [A-Z2-7]."""
    digest = base64.b32encode(hashlib.sha256(key_id.encode()).digest()).decode()
    return "AIDA" + digest[:17]


def _refusal(failure: AuthFailure, request: AccessRequest):
    rest = request.route.api.kind == "REST"
    code = failure.code
    if code == "MissingAuthenticationTokenException":
        return responses.rest_missing_token(request.request_id) if rest else \
            responses.http_error(403, "Forbidden", request_id=request.request_id)
    message = UNKNOWN_KEY if code == "UnrecognizedClientException" else failure.message
    if failure.canonical_request is not None:
        message += (f"\n\nThe Canonical String for this request should have been\n'{failure.canonical_request}'"
                    f"\n\nThe String-to-Sign should have been\n'{failure.string_to_sign}'\n")
    if rest:
        return responses.rest_error(403, message, code, request_id=request.request_id)
    return responses.http_error(403, message, request_id=request.request_id)


def _drop_authorization(event: dict) -> None:
    # API Gateway does not pass an AWS_IAM method's Authorization header to a REST integration
    for field in ("headers", "multiValueHeaders"):
        values = event.get(field)
        if values:
            for name in [n for n in values if n.lower() == "authorization"]:
                del values[name]
