"""The `context` object handed to Python handlers, as AWS's Python runtime builds it."""
from __future__ import annotations

import os
import sys
import time

try:
    import orjson
except ImportError:   # a bare interpreter (a function's Python version other than lambdagate's): the same bytes
    from gateway.runtime import stdlib_json as orjson


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self, identity_id=None, pool_id=None):
        self.cognito_identity_id = identity_id
        self.cognito_identity_pool_id = pool_id

    def __repr__(self):
        return (f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}])")


class Client:
    __slots__ = ("installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name")

    def __init__(self, values: dict):
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    def __repr__(self):
        return "Client([" + ",".join(f"{n}={getattr(self, n)}" for n in self.__slots__) + "])"


class ClientContext:
    __slots__ = ("custom", "env", "client")

    def __init__(self, values: dict):
        self.custom = values.get("custom")
        self.env = values.get("env")
        client = values.get("client")
        self.client = Client(client) if isinstance(client, dict) else None

    def __repr__(self):
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class ContextError(Exception):
    """Client context or Cognito identity that is not JSON (Runtime.LambdaContextUnmarshalError)."""


def _parse_json(text: str, name: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ContextError(f"Unable to parse {name} JSON: {exc}") from None


_STATIC_NAMES = ("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_FUNCTION_NAME",
                 "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION")


def static_fields() -> tuple:
    """The context fields AWS takes from the environment, read once per worker."""
    return tuple(os.environ.get(name) for name in _STATIC_NAMES)


class LambdaContext:
    """Attribute for attribute what awslambdaric gives: the static fields come from
    the environment (so `memory_limit_in_mb` is a string, as on AWS)."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str,
                 client_context_json=None, cognito_json=None, tenant_id=None, static=None):
        (self.log_group_name, self.log_stream_name, self.function_name, self.memory_limit_in_mb,
         self.function_version) = static or static_fields()
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self._deadline_ms = deadline_ms
        self.client_context = None
        if client_context_json:
            values = _parse_json(client_context_json, "Client Context")
            if isinstance(values, dict):
                values.pop("w3c", None)
                self.client_context = ClientContext(values)
        self.identity = CognitoIdentity()
        if cognito_json:
            values = _parse_json(cognito_json, "Cognito Identity")
            if isinstance(values, dict):
                self.identity = CognitoIdentity(values.get("cognitoIdentityId"), values.get("cognitoIdentityPoolId"))

    def get_remaining_time_in_millis(self) -> int:
        remaining_ms = self._deadline_ms - int(time.time() * 1000)
        return remaining_ms if remaining_ms > 0 else 0

    def log(self, msg) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
                f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
                f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
                f"identity={self.identity},tenant_id={self.tenant_id}])")
