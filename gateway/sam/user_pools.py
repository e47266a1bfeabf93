"""Cognito user pools as templates name them: the token issuer a pool's ARN stands for, and
whether a resolved value names a pool the template itself creates. Used by every reader of
Cognito and JWT authorizers (gateway.sam.sam_auth, openapi_auth, cfn_rest_apis, cfn_http_apis)."""
from __future__ import annotations

import re
from typing import Any, Collection, Optional

USER_POOL_TYPE = "AWS::Cognito::UserPool"
# arn:PARTITION:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID; the pool id is REGION_ID
# (cognito-idp's UserPoolIdType: [\w-]+_[0-9a-zA-Z]+)
_USER_POOL_ARN = re.compile(r"^arn:(aws[a-z-]*):cognito-idp:([a-z]+(?:-[a-z]+)+-\d+):(\d{12}):"
                            r"userpool/([\w-]+_[0-9a-zA-Z]+)$")
# the issuer is the pool's cognito-idp endpoint, whose DNS suffix is its partition's (botocore's
# partitions.json; cognito-idp's endpoint rules: https://cognito-idp.{Region}.{dnsSuffix})
_DNS_SUFFIXES = {"aws": "amazonaws.com", "aws-us-gov": "amazonaws.com", "aws-cn": "amazonaws.com.cn",
                 "aws-eusc": "amazonaws.eu", "aws-iso": "c2s.ic.gov", "aws-iso-b": "sc2s.sgov.gov",
                 "aws-iso-e": "cloud.adc-e.uk", "aws-iso-f": "csp.hci.ic.gov"}
USER_POOL_ARN_FORM = "arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID"


def cognito_issuer(arn: Any) -> Optional[str]:
    """The `iss` of a user pool's tokens, from the pool's ARN
    (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID -> https://cognito-idp.REGION.amazonaws.com/POOL_ID,
    the partition's own domain elsewhere: amazonaws.com.cn for aws-cn); None when `arn` is not a
    user pool ARN."""
    match = _USER_POOL_ARN.match(arn) if isinstance(arn, str) else None
    if match is None or match.group(1) not in _DNS_SUFFIXES:
        return None
    partition, region, _, pool_id = match.groups()
    return f"https://cognito-idp.{region}.{_DNS_SUFFIXES[partition]}/{pool_id}"


def template_pool_warning(pool: str) -> str:
    """What is said of an authorizer whose user pool the template itself creates (its issuer
    left empty: the runtime then takes the issuers given with --jwks)."""
    return (f"the user pool {pool} is created by this template, so the issuer of its tokens is known only once "
            "deployed; tokens are accepted from the issuers given with --jwks (or pass the deployed pool's ARN "
            "as a parameter)")


def user_pool_named(value: str, pools: Collection[str]) -> Optional[str]:
    """The logical id of the template's own user pool a resolved ARN or issuer names, else None.
    Locally Ref gives a pool's logical id and GetAtt Pool.Arn an ARN ending in it (sam local's
    way), never the id the pool gets once deployed."""
    tail = re.split(r"[/:]", value.rstrip("/"))[-1]
    return tail if tail in pools else None
