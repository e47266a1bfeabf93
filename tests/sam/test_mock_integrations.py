"""gateway.sam.mock_integrations: what a REST method with a MOCK integration answers, worked out from
its request template, integration responses (selection patterns), response parameters and response
templates, in both the CloudFormation and the OpenAPI form.

What the loader does with it (golden route tables) is in test_cfn_apis.py and test_openapi.py, and
requests served by a real start-api process are there too."""
from __future__ import annotations

import pytest

from gateway.sam.mock_integrations import (AWS_ERROR, FIXED, OPEN, MockShapeError, from_cfn, from_openapi,
                                           mock_answer)

CORS_HEADERS = {
    "method.response.header.Access-Control-Allow-Headers": "'Content-Type,X-Amz-Date,Authorization'",
    "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
    "method.response.header.Access-Control-Allow-Origin": "'*'",
}


def cfn(request_template="{\"statusCode\": 200}", responses=None, **extra):
    """The answer of an AWS::ApiGateway::Method Integration of Type MOCK."""
    integration = {"Type": "MOCK", **extra}
    if request_template is not None:
        integration["RequestTemplates"] = {"application/json": request_template}
    if responses is not None:
        integration["IntegrationResponses"] = responses
    return mock_answer(from_cfn(integration))


# --------------------------------------------------------------------------- fixed answers

def test_the_cors_preflight_pattern_has_a_fixed_answer():
    answer = cfn(responses=[{"StatusCode": "200", "ResponseParameters": CORS_HEADERS,
                             "ResponseTemplates": {"application/json": ""}}])
    assert answer.kind == FIXED
    assert answer.response == (200, (
        ("Content-Type", "application/json"),
        ("Access-Control-Allow-Headers", "Content-Type,X-Amz-Date,Authorization"),
        ("Access-Control-Allow-Methods", "GET,OPTIONS"),
        ("Access-Control-Allow-Origin", "*")), b"")
    assert answer.warning("OPTIONS /items (ItemsOptions)") is None      # served as on AWS: nothing to say


@pytest.mark.parametrize("template", ['{"statusCode": 204}', '{ "statusCode" : 204 }', '\n{\n  "statusCode": 204\n}\n',
                                      '{"statusCode": 204, "note": "the rest of the object is not read"}'])
def test_the_request_template_gives_the_status_the_patterns_are_matched_against(template):
    answer = cfn(template, [{"StatusCode": "200"},
                            {"StatusCode": "204", "SelectionPattern": "204"}])
    assert (answer.kind, answer.response[0]) == (FIXED, 204)


def test_without_a_request_template_the_default_response_answers():
    # "you can let the mock integration's method return the default integration response without defining
    # the integration request mapping template" (how-to-mock-integration)
    answer = cfn(None, [{"StatusCode": "500", "SelectionPattern": "2\\d{2}"}, {"StatusCode": "202"}])
    assert (answer.kind, answer.response[0]) == (FIXED, 202)


@pytest.mark.parametrize("status, pattern, expected", [
    (200, "2\\d{2}", 201),      # matches the whole code
    (200, "200|404", 201),
    (200, "20", 299),           # matched in full, not as a prefix: the default answers
    (200, "2", 299),
    (404, "4.*", 201),
    (404, "2\\d{2}", 299),
])
def test_selection_patterns_match_the_whole_status_code(status, pattern, expected):
    answer = cfn(f'{{"statusCode": {status}}}', [{"StatusCode": "201", "SelectionPattern": pattern},
                                                {"StatusCode": "299"}])
    assert (answer.kind, answer.response[0]) == (FIXED, expected)


def test_an_empty_selection_pattern_makes_the_default_response():
    answer = cfn('{"statusCode": 500}', [{"StatusCode": "201", "SelectionPattern": "2\\d{2}"},
                                         {"StatusCode": "299", "SelectionPattern": ""}])
    assert answer.response[0] == 299


def test_the_first_matching_pattern_wins_over_later_ones_and_the_default():
    answer = cfn('{"statusCode": 404}', [{"StatusCode": "200"},
                                         {"StatusCode": "404", "SelectionPattern": "404"},
                                         {"StatusCode": "400", "SelectionPattern": "4\\d{2}"}])
    assert answer.response[0] == 404


@pytest.mark.parametrize("literal, value", [("'*'", "*"), ("''", ""), ("'GET, POST,OPTIONS'", "GET, POST,OPTIONS"),
                                            ("'it's'", "it's"), ("' padded '", " padded ")])
def test_static_header_values_are_the_text_between_the_single_quotes(literal, value):
    answer = cfn(responses=[{"StatusCode": "200",
                             "ResponseParameters": {"method.response.header.X-Value": literal}}])
    assert answer.response[1] == (("Content-Type", "application/json"), ("X-Value", value))


@pytest.mark.parametrize("source", ["*", "'*", "*'", '"*"', "method.request.header.Origin", "context.requestId",
                                    "stageVariables.origin", "integration.response.header.Origin",
                                    {"Fn::ImportValue": "shared-origin"}])
def test_header_values_that_are_not_static_leave_the_answer_open(source):
    answer = cfn(responses=[{"StatusCode": "200",
                             "ResponseParameters": {"method.response.header.Access-Control-Allow-Origin": source}}])
    assert (answer.kind, answer.response) == (OPEN, None)
    warning = answer.warning("OPTIONS /items")
    assert "Access-Control-Allow-Origin" in warning and '500 {"message": "Internal server error"}' in warning


def test_a_mapped_content_type_replaces_the_default_one():
    answer = cfn(responses=[{"StatusCode": "200",
                             "ResponseParameters": {"method.response.header.content-type": "'text/html'"},
                             "ResponseTemplates": {"text/html": "<h1>Hello</h1>"}}])
    assert answer.response == (200, (("content-type", "text/html"),), b"<h1>Hello</h1>")


@pytest.mark.parametrize("templates, body", [
    ({}, b""),                                                          # the MOCK's own (empty) body
    ({"application/json": '{"ok": true}'}, b'{"ok": true}'),
    ({"text/plain": "plain", "Application/JSON": "[1, 2]"}, b"[1, 2]"),   # application/json, whatever its case
    ({"text/html": "<p>only</p>"}, b"<p>only</p>"),                     # the only one
    ({"application/json": "\u00e9t\u00e9"}, "\u00e9t\u00e9".encode()),
])
def test_the_body_is_the_literal_response_template(templates, body):
    answer = cfn(responses=[{"StatusCode": "200", "ResponseTemplates": templates}])
    assert (answer.kind, answer.response[2], answer.reason) == (FIXED, body, "")


@pytest.mark.parametrize("template", ["$input.json('$')", '{"stage": "$context.stage"}', "#set($x = 1)\n{}",
                                      "{} ## a comment"])
def test_a_response_template_with_vtl_keeps_the_status_and_leaves_the_body_empty(template):
    answer = cfn(responses=[{"StatusCode": "202", "ResponseParameters": {"method.response.header.X-A": "'a'"},
                             "ResponseTemplates": {"application/json": template}}])
    assert answer.kind == FIXED
    assert answer.response == (202, (("Content-Type", "application/json"), ("X-A", "a")), b"")
    warning = answer.warning("GET /greeting")
    assert "VTL" in warning and "served" in warning and "500" not in warning


# --------------------------------------------------------------------------- no fixed answer

@pytest.mark.parametrize("template", [
    "{\n  #if( $input.params('scope') == \"internal\" )\n    \"statusCode\": 200\n  #else\n    \"statusCode\": 500\n"
    "  #end\n}",
    '{"statusCode": $input.params(\'code\')}',
    '{"statusCode": 200, "id": "$context.requestId"}',
    '## a comment\n{"statusCode": 200}',
])
def test_a_request_template_with_vtl_leaves_the_answer_open(template):
    answer = cfn(template, [{"StatusCode": "200"}])
    assert (answer.kind, answer.response) == (OPEN, None)
    warning = answer.warning("GET /echo (EchoGet)")
    assert warning.startswith("GET /echo (EchoGet) has a MOCK integration") and "VTL" in warning
    assert "Lambda proxy integrations" in warning and '500 {"message": "Internal server error"}' in warning


@pytest.mark.parametrize("template", ['{"statusCode": "200"}', '{"statusCode": 200.5}', '{"statusCode": true}',
                                      '{"status": 200}', "[200]", "statusCode: 200", ""])
def test_a_request_template_without_an_integer_status_is_api_gateways_own_500(template):
    answer = cfn(template, [{"StatusCode": "200"}])
    assert (answer.kind, answer.response) == (AWS_ERROR, None)
    warning = answer.warning("GET /x")
    assert "Unable to parse statusCode" in warning and '500 {"message": "Internal server error"}' in warning


def test_no_matching_response_and_no_default_is_api_gateways_own_500():
    answer = cfn('{"statusCode": 404}', [{"StatusCode": "200", "SelectionPattern": "2\\d{2}"}])
    assert (answer.kind, answer.response) == (AWS_ERROR, None)
    assert "No match for output mapping" in answer.reason and "Status Code: 404" in answer.reason
    assert cfn(responses=None).kind == AWS_ERROR                       # no integration response at all


@pytest.mark.parametrize("integration, words", [
    ({"RequestTemplates": {"text/plain": '{"statusCode": 200}'}}, "Content-Type"),
    ({"PassthroughBehavior": "NEVER"}, "NEVER"),
    ({"RequestTemplates": {"application/json": {"Fn::ImportValue": "template"}}}, "not known locally"),
    ({"RequestTemplates": {"application/json": '{"statusCode": 200}'}}, None),
])
def test_what_the_request_templates_leave_open(integration, words):
    answer = mock_answer(from_cfn({"Type": "MOCK", **integration, "IntegrationResponses": [{"StatusCode": 200}]}))
    if words is None:
        assert answer.kind == FIXED
    else:
        assert answer.kind == OPEN and words in answer.reason, answer


def test_a_pattern_python_cannot_read_leaves_the_answer_open():
    answer = cfn(responses=[{"StatusCode": "200", "SelectionPattern": "(?<name>2)00"}, {"StatusCode": "500"}])
    assert answer.kind == OPEN and "(?<name>2)00" in answer.reason


# --------------------------------------------------------------------------- the OpenAPI form

def test_openapi_responses_are_keyed_by_selection_pattern_or_default():
    integration = {
        "type": "mock", "passthroughBehavior": "never",
        "requestTemplates": {"application/json": '{"statusCode": 503}'},
        "responses": {
            "default": {"statusCode": "200", "responseTemplates": {"application/json": '{"up": true}'}},
            "5\\d{2}": {"statusCode": "503", "responseParameters": {"method.response.header.Retry-After": "'60'"},
                        "responseTemplates": {"application/json": '{"up": false}'}},
        }}
    answer = mock_answer(from_openapi(integration))
    assert answer.response == (503, (("Content-Type", "application/json"), ("Retry-After", "60")), b'{"up": false}')
    integration["requestTemplates"]["application/json"] = '{"statusCode": 200}'
    assert mock_answer(from_openapi(integration)).response == (200, (("Content-Type", "application/json"),),
                                                               b'{"up": true}')


def test_an_openapi_pattern_read_as_a_number_is_still_a_pattern():
    integration = {"type": "mock", "requestTemplates": {"application/json": '{"statusCode": 404}'},
                   "responses": {404: {"statusCode": 404}, "default": {"statusCode": 200}}}
    assert mock_answer(from_openapi(integration)).response[0] == 404


# --------------------------------------------------------------------------- integrations AWS refuses

@pytest.mark.parametrize("integration, prop", [
    ({"IntegrationResponses": {"StatusCode": 200}}, "IntegrationResponses"),
    ({"IntegrationResponses": ["200"]}, "IntegrationResponses[0]"),
    ({"IntegrationResponses": [{"SelectionPattern": "2.."}]}, "IntegrationResponses[0].StatusCode"),
    ({"IntegrationResponses": [{"StatusCode": "OK"}]}, "IntegrationResponses[0].StatusCode"),
    ({"IntegrationResponses": [{"StatusCode": 200}, {"StatusCode": 700}]}, "IntegrationResponses[1].StatusCode"),
    ({"IntegrationResponses": [{"StatusCode": 200, "SelectionPattern": 200}]},
     "IntegrationResponses[0].SelectionPattern"),
    ({"IntegrationResponses": [{"StatusCode": 200, "ResponseParameters": {"Access-Control-Allow-Origin": "'*'"}}]},
     "IntegrationResponses[0].ResponseParameters"),
    ({"IntegrationResponses": [{"StatusCode": 200,
                                "ResponseParameters": {"method.response.header.X": "'a\r\nSet-Cookie: b'"}}]},
     "IntegrationResponses[0].ResponseParameters"),
    ({"IntegrationResponses": [{"StatusCode": 200, "ResponseTemplates": ["application/json"]}]},
     "IntegrationResponses[0].ResponseTemplates"),
    ({"IntegrationResponses": [{"StatusCode": 200, "ContentHandling": "BASE64"}]},
     "IntegrationResponses[0].ContentHandling"),
    ({"RequestTemplates": "{\"statusCode\": 200}"}, "RequestTemplates"),
    ({"PassthroughBehavior": "SOMETIMES"}, "PassthroughBehavior"),
])
def test_integrations_aws_refuses_are_errors_naming_the_property(integration, prop):
    with pytest.raises(MockShapeError) as caught:
        from_cfn({"Type": "MOCK", **integration})
    assert caught.value.prop == prop


def test_openapi_integrations_aws_refuses_are_errors_naming_the_property():
    with pytest.raises(MockShapeError) as caught:
        from_openapi({"type": "mock", "responses": {"default": {"statusCode": "two hundred"}}})
    assert caught.value.prop == "responses.default.statusCode"
    with pytest.raises(MockShapeError) as caught:
        from_openapi({"type": "mock", "responses": [{"statusCode": 200}]})
    assert caught.value.prop == "responses"
