"""Security schemes and requirements of OpenAPI documents (gateway.sam.openapi_auth): which
authorizer a method gets, what is reported, and the authorizers API Gateway would refuse."""
from __future__ import annotations

import pytest

from gateway.errors import TemplateError
from gateway.types import AuthorizerSpec
from support.openapi_templates import PROXY, openapi_api, read_api, row


def test_authorizers_passed_in_are_usable_by_name_and_win_over_the_document(tmp_path):
    template = openapi_api(
        tmp_path, False, f"{{/a: {{get: {{security: [{{SamAuth: []}}], x-amazon-apigateway-integration: {PROXY}}}}}, "
                         f"/b: {{get: {{security: [{{Both: []}}], x-amazon-apigateway-integration: {PROXY}}}}}}}",
        "{Both: {type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}}")
    sam = {"SamAuth": AuthorizerSpec(name="SamAuth", type="TOKEN", function="Other"),
           "Both": AuthorizerSpec(name="Both", type="REQUEST", function="Other")}
    routes, declared, warnings = read_api(template, "Api", authorizers=sam)
    assert routes[("GET", "/a")].authorizer is sam["SamAuth"]
    assert routes[("GET", "/b")].authorizer is sam["Both"]
    assert declared == {"Both": AuthorizerSpec(name="Both", type="AWS_IAM", ttl_s=0)}     # only the document's own
    assert warnings == []


def test_one_authorizer_per_method_and_undeclared_schemes_are_reported(tmp_path):
    schemes = ("{A: {type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}, "
               "B: {type: oauth2, x-amazon-apigateway-authorizer: {type: jwt, jwtConfiguration: "
               "{issuer: 'https://issuer.example', audience: aud}}}}")
    paths = (f"{{/two: {{get: {{security: [{{B: [s1]}}, {{A: []}}], x-amazon-apigateway-integration: {PROXY}}}}}, "
             f"/unknown: {{get: {{security: [{{Nope: []}}], x-amazon-apigateway-integration: {PROXY}}}}}, "
             f"/key: {{get: {{security: [{{api_key: []}}], x-amazon-apigateway-integration: {PROXY}}}}}}}")
    routes, declared, warnings = read_api(openapi_api(tmp_path, True, paths, schemes), "Api")
    assert row(routes[("GET", "/two")])[5:] == ("B", "JWT", ("s1",), False)
    assert declared["B"].audience == ("aud",)
    assert row(routes[("GET", "/unknown")])[5:] == (None, None, (), False)
    assert row(routes[("GET", "/key")])[5:] == (None, None, (), False)
    assert warnings == [
        "API Api: GET /two: API Gateway gives a method one authorizer; B is used, A ignored",
        "API Api: GET /unknown: security names 'Nope', which is no API Gateway authorizer or API key of the "
        "document; it is not enforced",
        "API Api: GET /key: HTTP APIs have no API keys; the api_key requirement is ignored",
    ]


@pytest.mark.parametrize("http, scheme, prop, words", [
    (True, "{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: {type: token, "
           "authorizerUri: !GetAtt Fn.Arn}}", "components.securitySchemes.S.x-amazon-apigateway-authorizer.type",
     ["'token' is not an authorizer type of an HTTP API"]),
    (False, "{type: oauth2, x-amazon-apigateway-authorizer: {type: jwt, jwtConfiguration: {issuer: i}}}",
     "components.securitySchemes.S.x-amazon-apigateway-authorizer.type", ["'jwt' is not an authorizer type of a REST"]),
    (True, "{type: apiKey, name: Unused, in: header, x-amazon-apigateway-authorizer: {type: request, "
           "authorizerUri: !GetAtt Fn.Arn}}",
     "components.securitySchemes.S.x-amazon-apigateway-authorizer.authorizerPayloadFormatVersion",
     ["authorizerPayloadFormatVersion"]),
    (False, "{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: {type: token, "
            "authorizerUri: !GetAtt Fn.Arn, authorizerResultTtlInSeconds: 7200}}",
     "components.securitySchemes.S.x-amazon-apigateway-authorizer.authorizerResultTtlInSeconds", ["0 to 3600"]),
    (False, "{type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authorizer: {type: token}}",
     "components.securitySchemes.S.x-amazon-apigateway-authorizer.authorizerUri", ["needs authorizerUri"]),
    (True, "{type: oauth2, x-amazon-apigateway-authorizer: {type: jwt, jwtConfiguration: {audience: [a]}}}",
     "components.securitySchemes.S.x-amazon-apigateway-authorizer.jwtConfiguration.issuer", ["needs an issuer"]),
])
def test_an_authorizer_api_gateway_would_refuse_is_an_error_naming_it(tmp_path, http, scheme, prop, words):
    template = openapi_api(tmp_path, http, "{}", f"{{S: {scheme}}}")
    with pytest.raises(TemplateError) as caught:
        read_api(template, "Api")
    assert (caught.value.resource, caught.value.prop) == ("Api", prop)
    for word in words:
        assert word in caught.value.message
