"""A REST method's request validator, as API Gateway runs it before the integration.

Required parameters first: every required header (names compared case-insensitively), path
parameter and query string must be present and not blank (``?q=`` is missing too); otherwise 400
``{"message":"Missing required request parameters: [a, b]"}``, the missing names as the template
spells them, headers first, then path parameters, then query strings (the order of AWS's answer,
recorded by LocalStack's AWS-validated test_api_gateway_request_validator), each group in the
template's order.

Then the body, against the JSON Schema (draft 4) model of the request's media type: the
Content-Type without its parameters, compared case-insensitively; no Content-Type counts as
application/json, as on AWS. A type without a model of its own uses the ``$default`` model; with
neither, the body is not validated ("If no matching content type is found, request validation
is not performed" - the developer guide). An empty body is validated as ``{}`` (so a model that
requires properties refuses it, as AWS does); a body that is not JSON, or that the model
refuses, is 400 ``{"message":"Invalid request body"}``. The body checked is the request's own
bytes, so a body the event carries in base64 is validated decoded.

Both answers carry x-amzn-ErrorType BadRequestException, and the function is not invoked.
"""
from __future__ import annotations

import json
import logging
from typing import Mapping, Optional

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from gateway.apigw import responses
from gateway.apigw.access import AccessRequest, Denied
from gateway.apigw.authorizer_identity import header_value
from gateway.errors import TemplateError
from gateway.types import RequestValidation

log = logging.getLogger("lambdagate")

DEFAULT_MODEL = "$default"
NO_CONTENT_TYPE_MEDIA_TYPE = "application/json"


def media_type(content_type: Optional[str]) -> str:
    """`type/subtype` of a Content-Type, lower-cased; application/json when there is none."""
    if not content_type:
        return NO_CONTENT_TYPE_MEDIA_TYPE
    return content_type.split(";", 1)[0].strip().lower() or NO_CONTENT_TYPE_MEDIA_TYPE


class RequestValidator:
    """The checks of one method, their schemas compiled once at startup."""

    __slots__ = ("_headers", "_paths", "_querystrings", "_models", "_default_model")

    def __init__(self, validation: RequestValidation):
        self._headers = tuple((name.lower().encode("latin-1"), name) for name in validation.required_headers)
        self._paths = tuple(validation.required_paths)
        self._querystrings = tuple(validation.required_querystrings)
        self._models: dict[str, Draft4Validator] = {}
        self._default_model: Optional[Draft4Validator] = None
        for content_type, schema in validation.body_models.items():
            validator = _compile(content_type, schema)
            if content_type == DEFAULT_MODEL:
                self._default_model = validator
            else:
                self._models.setdefault(media_type(content_type), validator)

    def check(self, request: AccessRequest) -> None:
        """Raises Denied (400) when a required parameter is missing or the body fails its model."""
        if self._headers or self._paths or self._querystrings:
            missing = self._missing(request)
            if missing:
                raise Denied(responses.rest_error(
                    400, f"Missing required request parameters: [{', '.join(missing)}]", "BadRequestException",
                    request_id=request.request_id))
        if self._models or self._default_model is not None:
            content_type = header_value(request.scope["headers"], b"content-type", False)
            model = self._models.get(media_type(content_type), self._default_model)
            if model is not None and not _body_valid(model, request.body):
                raise Denied(responses.rest_error(400, "Invalid request body", "BadRequestException",
                                                  request_id=request.request_id))

    def _missing(self, request: AccessRequest) -> list[str]:
        missing = []
        if self._headers:
            present = {name for name, value in request.scope["headers"] if value.strip()}
            missing.extend(name for lname, name in self._headers if lname not in present)
        event = request.event
        if self._paths:
            params = event.get("pathParameters") or {}
            missing.extend(name for name in self._paths if not (params.get(name) or "").strip())
        if self._querystrings:
            query = event.get("queryStringParameters") or {}
            missing.extend(name for name in self._querystrings if not (query.get(name) or "").strip())
        return missing


def _compile(content_type: str, schema: Mapping) -> Draft4Validator:
    try:
        Draft4Validator.check_schema(schema)
    except SchemaError as exc:
        raise TemplateError(f"the request model for {content_type} is not a valid JSON Schema (draft 4): "
                            f"{exc.message}") from None
    return Draft4Validator(schema)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _body_valid(model: Draft4Validator, body: bytes) -> bool:
    try:
        # json rather than orjson: integers beyond 64 bits stay integers, as the schema sees them on AWS
        instance = json.loads(body, parse_constant=_reject_constant) if body else {}
    except (ValueError, RecursionError):
        return False
    try:
        return model.is_valid(instance)
    except RecursionError:
        return False
    except Unresolvable as exc:
        log.error("a request model refers to %s, which lambdagate cannot resolve: the body is refused", exc)
        return False
