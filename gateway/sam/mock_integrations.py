"""What a REST API method with a MOCK integration answers, worked out when the template loads.

A MOCK integration has no backend. Its request mapping template gives the integration's status
code (`{"statusCode": 200}`); the integration response whose selection pattern matches that code,
else the default one (no pattern), gives the method's status; that response's parameters give the
headers and its mapping template the body. When all of this is written out literally (no VTL,
header values that are static 'quoted' strings) every request gets the same answer, so it is
computed once here and served as RouteSpec.static_response: the usual CORS preflight OPTIONS
method is such a one.

The answer computed is the one to a request with no Content-Type or application/json and no Accept
(or */*), as browsers' preflights and most clients send them: the application/json request template
is the one that applies, and the application/json response template (else the first) the body.

Both forms of a method are read here: the raw AWS::ApiGateway::Method Integration (from_cfn) and an
OpenAPI x-amazon-apigateway-integration (from_openapi).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

FixedResponse = tuple[int, tuple[tuple[str, str], ...], bytes]

JSON_TYPE = "application/json"
MOCK_KEYS = ("RequestTemplates", "PassthroughBehavior", "IntegrationResponses")   # what from_cfn reads
PASSTHROUGH_BEHAVIORS = ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER")
INTERNAL_ERROR = '{"message": "Internal server error"}'
_HEADER_TARGET = re.compile(r"^method\.response\.header\.([!#$%&'*+.^_`|~0-9A-Za-z-]+)$")
_STATIC_VALUE = re.compile(r"^'(.*)'$", re.DOTALL)
_VTL = ("$", "#")           # every VTL reference starts with $, every directive and comment with #
# API Gateway's words in the execution log when a MOCK integration cannot answer
_UNPARSED_STATUS = ("Unable to parse statusCode. It should be an integer that is defined in the request "
                    "template.")
_NO_MAPPING = "No match for output mapping and no default output mapping specified."
_NO_MAPPING_FOR = _NO_MAPPING + " Endpoint Response Status Code: {}"


class MockShapeError(Exception):
    """A MOCK integration AWS would not accept; `prop` is where, relative to the integration."""

    def __init__(self, message: str, prop: str):
        super().__init__(message)
        self.message = message
        self.prop = prop


@dataclass(frozen=True, slots=True)
class IntegrationResponse:
    status_code: int
    selection_pattern: Optional[str] = None          # None or "": the default response
    parameters: Mapping[str, Any] = field(default_factory=dict)   # method.response.header.X -> value
    templates: Mapping[str, Any] = field(default_factory=dict)    # content type -> mapping template
    content_handling: Optional[str] = None


@dataclass(frozen=True, slots=True)
class MockIntegration:
    request_templates: Mapping[str, Any] = field(default_factory=dict)
    passthrough: str = "WHEN_NO_MATCH"
    responses: tuple[IntegrationResponse, ...] = ()


FIXED = "fixed"             # every request gets `response`
AWS_ERROR = "aws_error"     # API Gateway itself answers 500 (a configuration error): lambdagate does too
OPEN = "open"               # the answer depends on the request: lambdagate answers 500, and says so


@dataclass(frozen=True, slots=True)
class MockAnswer:
    kind: str
    response: Optional[FixedResponse] = None
    reason: str = ""        # FIXED: what lambdagate leaves out, if anything; else why there is no fixed answer

    def warning(self, where: str) -> Optional[str]:
        """What to say at startup of the method `where` ("OPTIONS /pets"); None when it is served
        as on AWS."""
        if self.kind == FIXED:
            if not self.reason:
                return None
            return f"{where}: a MOCK integration, served with its fixed answer ({self.response[0]}); {self.reason}"
        if self.kind == AWS_ERROR:
            return (f"{where}: a MOCK integration that API Gateway answers with its 500 {INTERNAL_ERROR} "
                    f"(\"Execution failed due to configuration error: {self.reason}\"); lambdagate does too")
        return (f"{where} has a MOCK integration whose answer depends on the request ({self.reason}); lambdagate "
                f"only runs Lambda proxy integrations and fixed MOCK answers, and answers it with API Gateway's "
                f"500 {INTERNAL_ERROR}")


# --- the answer ---------------------------------------------------------------------------------------

def mock_answer(mock: MockIntegration) -> MockAnswer:
    """What API Gateway answers a request (no Content-Type, no Accept) to a method with this integration."""
    template = _for_type(mock.request_templates, JSON_TYPE)
    status: Optional[int] = None
    if template is None:
        if mock.request_templates:
            return MockAnswer(OPEN, reason="it has request templates but none for application/json, so the one "
                                           "that applies depends on the request's Content-Type")
        if mock.passthrough == "NEVER":
            return MockAnswer(OPEN, reason="its passthrough behavior is NEVER and it has no request template")
        # "the mock integration's method returns the default integration response" (how-to-mock-integration)
    else:
        if not isinstance(template, str):
            return MockAnswer(OPEN, reason="its application/json request template is not known locally")
        if _uses_vtl(template):
            return MockAnswer(OPEN, reason="its request template uses VTL, which lambdagate does not run")
        status = _status_of(template)
        if status is None:
            return MockAnswer(AWS_ERROR, reason=_UNPARSED_STATUS)
    chosen = _select(mock.responses, status)
    if isinstance(chosen, MockAnswer):
        return chosen
    if chosen is None:
        return MockAnswer(AWS_ERROR, reason=_NO_MAPPING if status is None else _NO_MAPPING_FOR.format(status))
    return _response(chosen)


def _status_of(template: str) -> Optional[int]:
    """The integer statusCode a literal request template gives, None when it gives none."""
    try:
        body = json.loads(template)
    except ValueError:
        return None
    status = body.get("statusCode") if isinstance(body, dict) else None
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def _select(responses: tuple[IntegrationResponse, ...], status: Optional[int]):
    """The integration response API Gateway picks for the status: the first whose selection pattern
    matches the whole code (a Java regular expression, matched in full), else the default; None
    when neither exists. A MockAnswer when a pattern cannot be read."""
    if status is not None:
        for response in responses:
            if not response.selection_pattern:
                continue
            try:
                pattern = re.compile(response.selection_pattern)
            except re.error as exc:
                return MockAnswer(OPEN, reason=f"its selection pattern {response.selection_pattern!r} is not a "
                                               f"regular expression lambdagate reads ({exc})")
            if pattern.fullmatch(str(status)):
                return response
    return next((r for r in responses if not r.selection_pattern), None)


def _response(chosen: IntegrationResponse) -> MockAnswer:
    headers: list[tuple[str, str]] = []
    for target, value in chosen.parameters.items():
        name = _HEADER_TARGET.match(target).group(1)
        literal = _STATIC_VALUE.match(value) if isinstance(value, str) else None
        if literal is None:
            return MockAnswer(OPEN, reason=f"{target} is mapped from {value!r}, not from a static 'value'")
        headers.append((name, literal.group(1)))
    if not any(name.lower() == "content-type" for name, _ in headers):
        # what API Gateway sets unless a response parameter maps Content-Type
        headers.insert(0, ("Content-Type", JSON_TYPE))
    body, reason = b"", ""
    template = _for_type(chosen.templates, JSON_TYPE)
    if template is None and chosen.templates:
        template = next(iter(chosen.templates.values()))
    if template is not None:
        if not isinstance(template, str):
            reason = "its response template is not known locally: the body is left empty"
        elif _uses_vtl(template):
            reason = "its response template uses VTL, which lambdagate does not render: the body is left empty"
        elif chosen.content_handling == "CONVERT_TO_BINARY" and template:
            reason = "its response template is converted to binary (CONVERT_TO_BINARY), which lambdagate does not " \
                     "do: the body is left empty"
        else:
            body = template.encode("utf-8")
    return MockAnswer(FIXED, (chosen.status_code, tuple(headers), body), reason)


def _for_type(templates: Mapping[str, Any], content_type: str) -> Any:
    """The template for a content type (media types compare case-insensitively); None when none."""
    for key, template in templates.items():
        if key.strip().lower() == content_type:
            return template
    return None


def _uses_vtl(template: str) -> bool:
    return any(mark in template for mark in _VTL)


# --- reading the two forms ----------------------------------------------------------------------------

def from_cfn(integration: Mapping[str, Any]) -> MockIntegration:
    """An AWS::ApiGateway::Method's Integration (intrinsics resolved): RequestTemplates,
    PassthroughBehavior and IntegrationResponses [{StatusCode, SelectionPattern, ResponseParameters,
    ResponseTemplates, ContentHandling}]."""
    entries = integration.get("IntegrationResponses")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise MockShapeError("must be a list of {StatusCode, SelectionPattern, ResponseParameters, "
                             "ResponseTemplates}", "IntegrationResponses")
    responses = []
    for i, entry in enumerate(entries):
        where = f"IntegrationResponses[{i}]"
        if not isinstance(entry, dict):
            raise MockShapeError("must be a mapping with StatusCode", where)
        pattern = entry.get("SelectionPattern")
        if pattern is not None and not isinstance(pattern, str):
            raise MockShapeError("must be a regular expression (a string)", f"{where}.SelectionPattern")
        responses.append(IntegrationResponse(
            status_code=_status_code(entry.get("StatusCode"), f"{where}.StatusCode"),
            selection_pattern=pattern,
            parameters=_parameters(entry.get("ResponseParameters"), f"{where}.ResponseParameters"),
            templates=_templates(entry.get("ResponseTemplates"), f"{where}.ResponseTemplates"),
            content_handling=_content_handling(entry.get("ContentHandling"), f"{where}.ContentHandling")))
    return MockIntegration(request_templates=_templates(integration.get("RequestTemplates"), "RequestTemplates"),
                           passthrough=_passthrough(integration.get("PassthroughBehavior"), "PassthroughBehavior"),
                           responses=tuple(responses))


def from_openapi(integration: Mapping[str, Any]) -> MockIntegration:
    """An x-amazon-apigateway-integration of type mock: requestTemplates, passthroughBehavior and
    responses {selection pattern or "default": {statusCode, responseParameters, responseTemplates,
    contentHandling}}."""
    entries = integration.get("responses")
    if entries is None:
        entries = {}
    if not isinstance(entries, dict):
        raise MockShapeError('must be a mapping of selection patterns (or "default") to responses', "responses")
    responses = []
    for key, entry in entries.items():
        key = str(key)
        where = f"responses.{key}"
        if not isinstance(entry, dict):
            raise MockShapeError("must be a mapping with statusCode", where)
        responses.append(IntegrationResponse(
            status_code=_status_code(entry.get("statusCode"), f"{where}.statusCode"),
            selection_pattern=None if key == "default" else key,
            parameters=_parameters(entry.get("responseParameters"), f"{where}.responseParameters"),
            templates=_templates(entry.get("responseTemplates"), f"{where}.responseTemplates"),
            content_handling=_content_handling(entry.get("contentHandling"), f"{where}.contentHandling")))
    return MockIntegration(request_templates=_templates(integration.get("requestTemplates"), "requestTemplates"),
                           passthrough=_passthrough(integration.get("passthroughBehavior"), "passthroughBehavior"),
                           responses=tuple(responses))


def _status_code(value: Any, prop: str) -> int:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not (text.isdigit() and 100 <= int(text) <= 599):
        raise MockShapeError(f"must be an HTTP status code (100 to 599), not {value!r}", prop)
    return int(text)


def _parameters(value: Any, prop: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MockShapeError("must be a mapping such as {method.response.header.Access-Control-Allow-Origin: \"'*'\"}",
                             prop)
    for target, source in value.items():
        if not isinstance(target, str) or not _HEADER_TARGET.match(target):
            raise MockShapeError(f"{target!r} is not method.response.header.NAME", prop)
        if isinstance(source, str) and not _header_value_ok(source):
            raise MockShapeError(f"{target}: {source!r} cannot be an HTTP header value", prop)
    return dict(value)


def _header_value_ok(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return "\r" not in value and "\n" not in value


def _templates(value: Any, prop: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise MockShapeError("must be a mapping of content types to mapping templates", prop)
    return dict(value)


def _passthrough(value: Any, prop: str) -> str:
    if value is None:
        return "WHEN_NO_MATCH"
    upper = value.upper() if isinstance(value, str) else None
    if upper not in PASSTHROUGH_BEHAVIORS:
        raise MockShapeError(f"must be one of {', '.join(PASSTHROUGH_BEHAVIORS)}, not {value!r}", prop)
    return upper


def _content_handling(value: Any, prop: str) -> Optional[str]:
    if value is None:
        return None
    upper = value.upper() if isinstance(value, str) else None
    if upper not in ("CONVERT_TO_BINARY", "CONVERT_TO_TEXT"):
        raise MockShapeError(f"must be CONVERT_TO_BINARY or CONVERT_TO_TEXT, not {value!r}", prop)
    return upper
