"""Function names, ARNs and qualifiers are validated as the Lambda service does: model length
rules give 400 ValidationException, an ARN of another region is not reachable here, and one of
another account is access denied; none of them invokes the local function."""
from __future__ import annotations

import botocore.exceptions
import pytest

pytestmark = pytest.mark.integration   # the session's real Lambda API server


def error_of(call) -> tuple:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_a_60_kb_qualifier_is_a_validation_error_not_a_404(client):
    qualifier = "a" * 61440
    status, code, message = error_of(lambda: client.invoke(FunctionName="echo", Qualifier=qualifier, Payload=b"{}"))
    assert (status, code) == (400, "ValidationException")
    assert "at 'qualifier' failed to satisfy constraint: Member must have length less than or equal to 128" in message


def test_a_qualifier_outside_the_pattern_is_a_validation_error(client):
    status, code, message = error_of(lambda: client.get_function(FunctionName="echo", Qualifier="bad!qualifier"))
    assert (status, code) == (400, "ValidationException")
    assert "Member must satisfy regular expression pattern" in message


def test_an_arn_of_another_region_is_not_reachable_here(client):
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:echo"
    status, code, message = error_of(lambda: client.invoke(FunctionName=arn, Payload=b"{}"))
    assert (status, code) == (404, "ResourceNotFoundException")
    assert message == "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"


def test_an_arn_of_another_account_is_access_denied(client):
    arn = "arn:aws:lambda:us-east-1:999999999999:function:echo"
    status, code, message = error_of(lambda: client.invoke(FunctionName=arn, Payload=b"{}"))
    assert (status, code) == (403, "AccessDeniedException")
    assert "not authorized to perform: lambda:InvokeFunction on resource: " + arn in message
    status, code, message = error_of(lambda: client.get_function_configuration(FunctionName="999999999999:function:echo"))
    assert (status, code) == (403, "AccessDeniedException")
    assert "lambda:GetFunctionConfiguration" in message


def test_this_region_and_accounts_arns_still_reach_the_function(client):
    for name in ("arn:aws:lambda:us-east-1:123456789012:function:echo", "123456789012:function:echo", "echo:$LATEST"):
        result = client.invoke(FunctionName=name, Payload=b'{"n": 1}')
        assert result["StatusCode"] == 200 and "FunctionError" not in result, name
