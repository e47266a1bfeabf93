"""OpenAPI documents (Swagger 2.0 and OpenAPI 3) read by gateway.sam.openapi, openapi_auth and
openapi_models into routes, authorizers, API keys and request validation, as API Gateway imports
them; the route tables of AWS's own samples (the PetStore and request validation APIs, the
x-amazon-apigateway-authorizer and -authtype examples, `import-api`) in tests/fixtures/openapi."""
from __future__ import annotations

import jsonschema
import pytest

from gateway.errors import TemplateError
from gateway.sam.template import load_template
from gateway.types import AuthorizerSpec
from support.openapi_templates import (HTTP_500, ONE_FUNCTION, OPENAPI_FIXTURES, ORDERS_TABLE, PETSTORE_TABLE,
                                       REST_500, USERS_PREFLIGHT, checks, read_api, row, write)


# --------------------------------------------------------------------------- Swagger 2.0, REST

def test_swagger_document_through_aws_include_gives_the_route_table():
    routes, _, _ = read_api(OPENAPI_FIXTURES / "rest-template.yaml", "PetStoreApi")
    assert [row(r) for r in routes.values()] == PETSTORE_TABLE
    assert routes[("GET", "/pets")].operation_name == "listPets"
    assert routes[("GET", "/legacy")].operation_name is None
    assert all(r.api.logical_id == "PetStoreApi" and r.api.kind == "REST" for r in routes.values())


def test_swagger_security_definitions_become_authorizers():
    _, declared, _ = read_api(OPENAPI_FIXTURES / "rest-template.yaml", "PetStoreApi")
    assert set(declared) == {"TokenAuth", "RequestAuth", "CognitoAuth", "sigv4"}     # api_key is no authorizer
    assert declared["TokenAuth"] == AuthorizerSpec(
        name="TokenAuth", type="TOKEN", function="AuthorizerFunction",
        identity_sources=("method.request.header.Authorization",),
        validation_expression="^Bearer [-0-9a-zA-Z._]+$", ttl_s=60)
    assert declared["RequestAuth"] == AuthorizerSpec(
        name="RequestAuth", type="REQUEST", function="AuthorizerFunction", ttl_s=0,
        identity_sources=("method.request.header.HeaderAuth1", "method.request.querystring.QueryString1"))
    assert declared["CognitoAuth"] == AuthorizerSpec(
        name="CognitoAuth", type="COGNITO_USER_POOLS", identity_sources=("method.request.header.Authorization",),
        issuers=("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",))
    assert declared["sigv4"] == AuthorizerSpec(name="sigv4", type="AWS_IAM", ttl_s=0)


def test_swagger_request_validators_narrow_to_their_flags():
    routes, _, _ = read_api(OPENAPI_FIXTURES / "rest-template.yaml", "PetStoreApi")
    assert checks(routes[("GET", "/pets")]) == ([], ("page",), (), ())           # params-only, the default
    assert checks(routes[("POST", "/pets")]) == (["application/json"], (), ("h1",), ())   # "all"
    assert checks(routes[("GET", "/pets/{petId}")]) == ([], (), (), ("petId",))  # a path-level parameter
    assert checks(routes[("POST", "/validation")]) == (["application/json"], (), ("h1",), ())
    assert checks(routes[("GET", "/validation")]) == ([], ("q1",), (), ())
    assert routes[("OPTIONS", "/pets")].validation is None          # params-only with nothing required
    assert routes[("ANY", "/{proxy+}")].validation is None

    # the model is the body parameter's schema with its $refs inlined: it stands alone
    model = routes[("POST", "/pets")].validation.body_models["application/json"]
    assert model == {"type": "object", "required": ["type", "price"],
                     "properties": {"type": {"type": "string", "enum": ["dog", "cat", "fish"]},
                                    "price": {"type": "number", "minimum": 25, "maximum": 500}}}
    validator = jsonschema.Draft4Validator(model)
    assert validator.is_valid({"type": "cat", "price": 30})
    assert not validator.is_valid({"type": "cow", "price": 30})
    assert not validator.is_valid({"type": "dog", "price": 10})


def test_integrations_lambdagate_does_not_run_are_routes_answered_500_with_one_warning_each():
    routes, _, warnings = read_api(OPENAPI_FIXTURES / "rest-template.yaml", "PetStoreApi")
    assert [w for w in warnings if "500" in w] == [
        f"API PetStoreApi: POST /validation has an HTTP integration, which lambdagate does not run: it answers "
        f"with API Gateway's 500 {REST_500}",
        f"API PetStoreApi: GET /validation has an HTTP integration, which lambdagate does not run: it answers "
        f"with API Gateway's 500 {REST_500}",
        "API PetStoreApi: GET /legacy has no x-amazon-apigateway-integration: lambdagate answers it with API "
        f"Gateway's 500 {REST_500} (AWS does not deploy such a REST API: \"No integration defined for method\")",
    ]
    assert len(warnings) == 3             # the CORS preflight's MOCK integration is answered as on AWS
    assert routes[("OPTIONS", "/pets")].static_response == (
        200, (("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")), b"")
    _, _, warnings = read_api(OPENAPI_FIXTURES / "http-template.yaml", "OrdersApi")
    assert f"API OrdersApi: GET /status has an HTTP_PROXY integration, which lambdagate does not run: it answers " \
           f"with API Gateway's 500 {HTTP_500}" in warnings


# --------------------------------------------------------------------------- MOCK integrations

def test_mock_integrations_of_a_definition_with_a_fixed_answer_are_served_it():
    routes, _, warnings = read_api(OPENAPI_FIXTURES / "cors-template.yaml", "UsersApi")
    assert {key: (r.integration, r.function, r.static_response) for key, r in routes.items()} == {
        ("GET", "/users"): ("AWS_PROXY", "UsersFunction", None),
        # AWS's "Enable CORS on a resource using the API Gateway import API" example
        ("OPTIONS", "/users"): ("MOCK", "", USERS_PREFLIGHT),
        # {"statusCode": 503} matches the response keyed 5\d{2}, not the default
        ("GET", "/maintenance"): ("MOCK", "", (503, (("Content-Type", "application/json"), ("Retry-After", "3600")),
                                               b'{"maintenance": true}')),
        ("GET", "/whoami"): ("MOCK", "", None),        # a header from $context: not the same for every request
    }
    assert warnings == [
        "API UsersApi: GET /whoami has a MOCK integration whose answer depends on the request "
        "(method.response.header.X-Request-Id is mapped from 'context.requestId', not from a static 'value'); "
        f"lambdagate only runs Lambda proxy integrations and fixed MOCK answers, and answers it with API Gateway's "
        f"500 {REST_500}"]


def test_a_mock_integration_aws_refuses_names_its_place_in_the_definition(tmp_path):
    template = write(tmp_path, ONE_FUNCTION + """\
      Api:
        Type: AWS::ApiGateway::RestApi
        Properties:
          Body:
            openapi: 3.0.1
            paths:
              /items:
                options:
                  x-amazon-apigateway-integration:
                    type: mock
                    requestTemplates: {application/json: '{"statusCode": 200}'}
                    responses:
                      default: {statusCode: '200', responseParameters: {Access-Control-Allow-Origin: "'*'"}}
    """)
    with pytest.raises(TemplateError) as caught:
        load_template(template)
    assert (caught.value.resource, caught.value.prop) == (
        "Api", "paths./items.options.x-amazon-apigateway-integration.responses.default.responseParameters")
    assert "method.response.header.NAME" in caught.value.message


def test_http_apis_have_no_mock_integrations(tmp_path):
    template = load_template(write(tmp_path, ONE_FUNCTION + """\
      Api:
        Type: AWS::ApiGatewayV2::Api
        Properties:
          Body:
            openapi: 3.0.1
            paths:
              /items:
                options:
                  x-amazon-apigateway-integration:
                    type: mock
                    requestTemplates: {application/json: '{"statusCode": 200}'}
                    responses: {default: {statusCode: '200'}}
    """))
    (items,) = template.routes
    assert (items.api.kind, items.integration, items.static_response) == ("HTTP", "MOCK", None)
    assert f"API Api: OPTIONS /items has a MOCK integration, which lambdagate does not run: it answers with " \
           f"API Gateway's 500 {HTTP_500}" in template.warnings


# --------------------------------------------------------------------------- OpenAPI 3, HTTP API

def test_openapi3_http_api_from_definition_uri_gives_the_route_table():
    routes, _, warnings = read_api(OPENAPI_FIXTURES / "http-template.yaml", "OrdersApi")
    assert [row(r) for r in routes.values()] == ORDERS_TABLE
    assert all(r.validation is None for r in routes.values())       # HTTP APIs validate nothing
    # a function of another account: the route exists, its requests cannot reach a function
    assert "API OrdersApi: GET /partners: arn:aws:lambda:us-east-1:210987654321:function:partner-feed is not a " \
           "function of this template; lambdagate cannot invoke it, so its requests get API Gateway's 500" in warnings


def test_openapi3_security_schemes_become_http_api_authorizers():
    _, declared, _ = read_api(OPENAPI_FIXTURES / "http-template.yaml", "OrdersApi")
    assert declared["JwtAuth"] == AuthorizerSpec(
        name="JwtAuth", type="JWT", identity_sources=("$request.header.Authorization",),
        issuers=("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example1",),
        audience=("client-one", "client-two"))
    # no issuer: API Gateway takes it from the scheme's OpenID Connect discovery URL
    assert declared["OidcAuth"].issuers == ("https://auth.example.com/realms/orders",)
    assert declared["OidcAuth"].identity_sources == ("$request.header.X-Id-Token",)
    assert declared["LambdaAuth"] == AuthorizerSpec(
        name="LambdaAuth", type="LAMBDA", function="OrdersAuthorizer", ttl_s=120, payload_format="2.0",
        simple_responses=True, identity_sources=("$request.header.Authorization", "$request.querystring.tenant"))
    assert declared["sigv4Reference"] == AuthorizerSpec(name="sigv4Reference", type="AWS_IAM", ttl_s=0)


# --------------------------------------------------------------------------- OpenAPI 3, REST (JSON)

def test_openapi3_rest_document_security_defaults_refs_and_recursive_models():
    routes, declared, warnings = read_api(OPENAPI_FIXTURES / "catalog-template.yaml", "CatalogApi")
    assert [row(r) for r in routes.values()] == [
        ("GET", "/categories", "CatalogFunction", "1.0", "AWS_PROXY", "CatalogUsers", "COGNITO_USER_POOLS",
         ("catalog/read",), False),                            # the document's default security
        ("PUT", "/categories", "CatalogFunction", "1.0", "AWS_PROXY", "CatalogUsers", "COGNITO_USER_POOLS",
         ("catalog/write",), True),                            # its own, with an API key
        ("GET", "/health", "CatalogFunction", "1.0", "AWS_PROXY", None, None, (), False),    # security: []
        ("POST", "/admin/reindex", "CatalogFunction", "1.0", "AWS_PROXY", "AWS_IAM", "AWS_IAM", (), False),
    ]
    assert declared["CatalogUsers"].issuers == ("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Catalog01",)
    assert warnings == []
    # body-only: dryRun is required but parameters are not validated
    assert checks(routes[("PUT", "/categories")]) == (["application/json"], (), (), ())
    # "all", with the header parameter given by $ref, and no request body
    assert checks(routes[("POST", "/admin/reindex")]) == ([], (), ("X-Request-Id",), ())

    model = routes[("PUT", "/categories")].validation.body_models["application/json"]
    assert model["properties"]["children"]["items"] == {"$ref": "#/definitions/Category"}
    assert model["definitions"]["Category"]["required"] == ["name"]
    validator = jsonschema.Draft4Validator(model)
    tree = {"name": "pets", "children": [{"name": "dogs", "children": [{"name": "terriers"}]}]}
    assert validator.is_valid(tree)
    tree["children"][0]["children"][0]["name"] = ""          # minLength 1, three levels down
    assert not validator.is_valid(tree)


# --------------------------------------------------------------------------- as the template loader serves them

def test_sam_apis_serve_the_routes_of_their_definitions():
    template = load_template(OPENAPI_FIXTURES / "rest-template.yaml")
    routes = [r for r in template.routes if r.api.logical_id == "PetStoreApi"]
    assert sorted(row(r) for r in routes) == sorted(PETSTORE_TABLE)
    template = load_template(OPENAPI_FIXTURES / "http-template.yaml")
    assert sorted(row(r) for r in template.routes if r.api.logical_id == "OrdersApi") == sorted(ORDERS_TABLE)
    assert template.apis["OrdersApi"].kind == "HTTP"
