"""AWS Lambda API error responses (rest-json), as raw ASGI (status, headers, body).

Wire format (aws-contract.md §2.2): `x-amzn-ErrorType: <Exception>`, `Content-Type:
application/json`, body `{"Type": "User", "Message": ...}`; botocore takes the error code
from `x-amzn-ErrorType` and the message from `message`, else `Message`. The request id
goes in `x-amzn-RequestId`, which botocore copies into `ResponseMetadata.RequestId`.
"""
from __future__ import annotations

import uuid
from typing import Optional

import orjson

from gateway.types import ACCOUNT_ID

Response = tuple  # (status: int, headers: list[tuple[bytes, bytes]], body: bytes)

JSON = (b"content-type", b"application/json")

# HTTP status of each exception lambdagate answers with (botocore service-2.json, 2015-03-31)
STATUS = {
    "ResourceNotFoundException": 404,
    "AccessDeniedException": 403,
    "TooManyRequestsException": 429,
    "RequestEntityTooLargeException": 413,   # the wire code; the model calls it RequestTooLargeException
    "InvalidRequestContentException": 400,
    "InvalidParameterValueException": 400,
    "ValidationException": 400,
    "UnsupportedMediaTypeException": 415,
    "ResourceConflictException": 409,
    "ServiceException": 500,
    "NotImplemented": 501,                   # an operation lambdagate does not emulate (as `sam local`)
    "UnknownOperationException": 404,
}


def lambda_error(status: Optional[int], error_type: str, message: str, *, reason: Optional[str] = None,
                 retry_after_s: Optional[int] = None, request_id: Optional[str] = None,
                 kind: str = "User") -> Response:
    """One AWS-shaped error response. `status` None takes the exception's usual status."""
    if status is None:
        status = STATUS.get(error_type, 400)
    if error_type == "TooManyRequestsException":
        # AWS's throttle body: {"Reason": ..., "Type": "User", "message": "Rate Exceeded."}
        body = {"Reason": reason, "Type": kind, "message": message}
        if reason is None:
            del body["Reason"]
    elif error_type == "ServiceException":
        body = {"Type": "Service", "Message": message}
    else:
        body = {"Type": kind, "Message": message}
    data = orjson.dumps(body)
    headers = [
        (b"x-amzn-requestid", (request_id or str(uuid.uuid4())).encode()),
        (b"x-amzn-errortype", error_type.encode()),
        JSON,
    ]
    if retry_after_s is not None:
        headers.append((b"retry-after", str(int(retry_after_s)).encode()))
    return status, headers, data


def function_arn(name: str, region: str, qualifier: Optional[str] = None) -> str:
    arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def not_found(name: str, region: str, qualifier: Optional[str] = None, request_id: Optional[str] = None) -> Response:
    return lambda_error(404, "ResourceNotFoundException",
                        f"Function not found: {function_arn(name, region, qualifier)}", request_id=request_id)


def access_denied(action: str, resource: str, request_id: Optional[str] = None) -> Response:
    """A function of another account: nothing there grants this caller the action, as IAM answers."""
    return lambda_error(403, "AccessDeniedException",
                        f"User: arn:aws:iam::{ACCOUNT_ID}:root is not authorized to perform: {action} on resource: "
                        f"{resource} because no resource-based policy allows the {action} action",
                        request_id=request_id)


def throttled(reason: str, request_id: Optional[str] = None) -> Response:
    return lambda_error(429, "TooManyRequestsException", "Rate Exceeded.", reason=reason, request_id=request_id)


def sync_too_large(limit: int, request_id: Optional[str] = None) -> Response:
    return lambda_error(413, "RequestEntityTooLargeException",
                        f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
                        request_id=request_id)


def async_too_large(size: int, limit: int, request_id: Optional[str] = None) -> Response:
    return lambda_error(413, "RequestEntityTooLargeException",
                        f"{size} byte payload is too large for the Event invocation type (limit {limit} bytes)",
                        request_id=request_id)


def invalid_json(detail: str, request_id: Optional[str] = None) -> Response:
    return lambda_error(400, "InvalidRequestContentException",
                        f"Could not parse request body into json: Could not parse payload into json: {detail}",
                        request_id=request_id)


def invalid_parameter(message: str, request_id: Optional[str] = None) -> Response:
    return lambda_error(400, "InvalidParameterValueException", message, request_id=request_id)


def validation(value, member: str, constraint: str, request_id: Optional[str] = None) -> Response:
    """AWS's model-constraint failure text (Coral validation)."""
    return lambda_error(400, "ValidationException",
                        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                        f"constraint: {constraint}", request_id=request_id)


def not_implemented(operation: str, method: str, uri: str, supported, request_id: Optional[str] = None) -> Response:
    return lambda_error(501, "NotImplemented",
                        f"lambdagate does not emulate the Lambda operation {operation} ({method} {uri}); "
                        f"supported operations: {', '.join(supported)}", request_id=request_id)


def unknown_operation(method: str, path: str, request_id: Optional[str] = None) -> Response:
    return lambda_error(404, "UnknownOperationException",
                        f"No Lambda API operation matches {method} {path}", request_id=request_id)


def service_error(message: str, request_id: Optional[str] = None) -> Response:
    return lambda_error(500, "ServiceException", message, request_id=request_id)
