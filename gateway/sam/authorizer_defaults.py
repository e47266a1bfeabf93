"""What API Gateway assumes for an authorizer setting a template leaves out, and the bounds it
holds the setting to: one place for SAM's `Auth` (gateway.sam.sam_auth), OpenAPI documents
(gateway.sam.openapi_auth) and raw CloudFormation (gateway.sam.cfn_rest_apis, cfn_http_apis)."""
from __future__ import annotations

from typing import Any, Callable, Optional

from gateway.errors import TemplateError
from gateway.sam.authorizer_settings import compile_validation_expression
from gateway.types import AuthorizerSpec

Fail = Callable[[str, str], Exception]              # (message, property) -> the exception to raise

# authorizerResultTtlInSeconds (SAM: Identity.ReauthorizeEvery) is at most an hour on both kinds
MAX_RESULT_TTL_S = 3600
# Left out, a REST API caches results for 300 s (the API reference: "If this field is not set, the
# default value is 300"). An HTTP API caches only when it is given: its Lambda authorizer guide
# says caching is enabled "by specifying an authorizerResultTtlInSeconds", the ApiGatewayV2
# reference states no default, and SAM writes the field only from ReauthorizeEvery.
REST_RESULT_TTL_S = 300
HTTP_RESULT_TTL_S = 0

# where a token is read from when a Cognito, TOKEN or JWT authorizer names no identity source
REST_TOKEN_SOURCE = "method.request.header.Authorization"
HTTP_TOKEN_SOURCE = "$request.header.Authorization"

IAM = "AWS_IAM"          # the authorization type, and the scheme name SAM gives IAM authorization
# IAM authorization: SigV4 signatures are checked on every request, nothing is cached
IAM_AUTHORIZER = AuthorizerSpec(name=IAM, type=IAM, ttl_s=0)


def default_result_ttl_s(http: bool) -> int:
    """The result TTL of a Lambda authorizer whose template leaves it out."""
    return HTTP_RESULT_TTL_S if http else REST_RESULT_TTL_S


def iam_authorizer(name: str = IAM) -> AuthorizerSpec:
    """IAM authorization under the name the template gives it (an OpenAPI scheme's name, else AWS_IAM)."""
    return IAM_AUTHORIZER if name == IAM else AuthorizerSpec(name=name, type=IAM, ttl_s=0)


def result_ttl_s(value: Any, http: bool, fail: Fail, prop: str) -> int:
    """A Lambda authorizer's result TTL as written (AuthorizerResultTtlInSeconds,
    authorizerResultTtlInSeconds, ReauthorizeEvery): whole seconds from 0 to MAX_RESULT_TTL_S, a
    number or its text; the API kind's default when left out."""
    if value is None:
        return default_result_ttl_s(http)
    ttl = value
    if isinstance(value, str):
        try:
            ttl = float(value.strip())
        except ValueError:
            ttl = None
    if isinstance(value, bool) or not isinstance(ttl, (int, float)) or not float(ttl).is_integer() \
            or not 0 <= ttl <= MAX_RESULT_TTL_S:
        raise fail(f"must be a whole number of seconds from 0 to {MAX_RESULT_TTL_S}, not {value!r}", prop)
    return int(ttl)


def validation_expression(value: Any, fail: Fail, prop: str) -> Optional[str]:
    """A TOKEN or Cognito authorizer's identity validation expression, compiled now as the runtime
    will compile it, so that a bad one stops the load naming its resource and property; None when
    it is absent or empty (no check)."""
    if value is None or value == "":
        return None
    try:
        compile_validation_expression(value, prop)
    except TemplateError as exc:
        said = exc.message
        raise fail(said[len(prop) + 2:] if said.startswith(f"{prop}: ") else said, prop) from None
    return value
