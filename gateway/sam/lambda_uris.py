"""Which function of the template a Lambda ARN or an API Gateway invocation URI invokes: one
reading for integrations and authorizers alike, whether SAM (FunctionArn), an OpenAPI document
(uri, authorizerUri) or raw CloudFormation (Uri, IntegrationUri, AuthorizerUri) names them."""
from __future__ import annotations

import re
from typing import Mapping, Optional

from gateway.types import FunctionSpec

_INVOCATIONS = re.compile(r"/functions/(.+)/invocations")
_FUNCTION_NAME = re.compile(r"(?:^|:)function:([^:/]+)")
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([^}]*)\}")


def function_invoked_by(uri: str, functions: Mapping[str, FunctionSpec],
                        stage_variables: Optional[Mapping[str, str]] = None) -> tuple[Optional[str], str]:
    """(the logical id of the template function `uri` invokes, "") or (None, why it invokes none).

    `uri` (resolved): arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/<Lambda ARN>/invocations,
    or the Lambda ARN itself, possibly qualified (:alias, :version), possibly with
    ${stageVariables.x} taken from `stage_variables`. The ARN's function name is matched against
    each function's FunctionName, then against logical ids (a function without FunctionName)."""
    found = _INVOCATIONS.search(uri)
    arn = found.group(1) if found else uri
    variables = stage_variables or {}
    unset = [name for name in _STAGE_VARIABLE.findall(arn) if name not in variables]
    if unset:
        return None, f"{arn} takes its function from stage variable {unset[0]}, which the stage does not set"
    arn = _STAGE_VARIABLE.sub(lambda m: str(variables[m.group(1)]), arn)
    found = _FUNCTION_NAME.search(arn)
    if found is None:
        return None, f"{uri} is not a Lambda function URI"
    name = found.group(1)
    for lid, spec in functions.items():
        if spec.function_name == name:
            return lid, ""
    if name in functions:
        return name, ""
    return None, f"{arn} is not a function of this template"
