"""REST APIs declared as raw CloudFormation resources (gateway.sam.cfn_rest_apis):
AWS::ApiGateway::* read into the route table the server uses, their MOCK integrations' fixed
answers included.

Only the loaded specs of authorizers, validators, keys and throttles are checked here; how they
behave at run time is gateway.apigw's to test.
"""
from __future__ import annotations

import textwrap

from gateway.sam.template import load_template
from support.cfn_templates import CFN_FIXTURES, CORS_ITEMS, FN_URI, REST_API, route, rows, write


def test_rest_resources_methods_and_stage():
    template = load_template(CFN_FIXTURES / "rest_pets.yaml")
    assert rows(template) == [
        ("GET", "/", "PetsFunction", "REST", "v1", "1.0", "AWS_PROXY", None, False, None),
        ("ANY", "/ext/{proxy+}", "", "REST", "v1", "1.0", "HTTP_PROXY", None, False, None),
        ("GET", "/legacy", "", "REST", "v1", "1.0", "AWS", None, False, None),
        ("GET", "/pets", "PetsFunction", "REST", "v1", "1.0", "AWS_PROXY", None, False, None),
        ("OPTIONS", "/pets", "", "REST", "v1", "1.0", "MOCK", None, False, None),
        ("POST", "/pets", "PetsFunction", "REST", "v1", "1.0", "AWS_PROXY", None, False, None),
        ("GET", "/pets/{petId}", "PetFunction", "REST", "v1", "1.0", "AWS_PROXY", None, False, None),
        ("ANY", "/pets/{petId}/toys", "PetFunction", "REST", "v1", "1.0", "AWS_PROXY", None, False, None),
    ]
    api = template.apis["PetsApi"]
    assert (api.kind, api.stage_name, dict(api.stage_variables)) == ("REST", "v1", {"greeting": "hello"})
    assert api.binary_media_types == ("image/png",) and api.api_key_source == "HEADER"
    assert route(template, "GET", "/pets").operation_name == "ListPets"
    unsupported = [w for w in template.warnings if "Lambda proxy integrations" in w]
    assert len(unsupported) == 2          # one per route
    for method, path, kind in (("ANY", "/ext/{proxy+}", "HTTP_PROXY"), ("GET", "/legacy", "AWS")):
        assert any(f"{method} {path}" in w and kind in w and '"Internal server error"' in w for w in unsupported)
    # the CORS preflight's MOCK integration has a fixed answer: served, and nothing to warn about
    assert route(template, "OPTIONS", "/pets").static_response == (
        200, (("Content-Type", "application/json"), ("Access-Control-Allow-Origin", "*")), b"")
    assert not any("OPTIONS /pets" in w for w in template.warnings)
    assert not any(r.guarded for r in template.routes)


def test_rest_authorizers_validators_keys_and_throttles():
    template = load_template(CFN_FIXTURES / "rest_guarded.yaml")
    assert rows(template) == [
        ("GET", "/admin", "OrdersFunction", "REST", "prod", "1.0", "AWS_PROXY", "AWS_IAM", False, (100.0, 50)),
        ("GET", "/orders", "OrdersFunction", "REST", "prod", "1.0", "AWS_PROXY", None, False, (100.0, 50)),
        ("POST", "/orders", "OrdersFunction", "REST", "prod", "1.0", "AWS_PROXY", "TOKEN", True, (5.0, 2)),
        ("DELETE", "/orders/{orderId}", "OrdersFunction", "REST", "prod", "1.0", "AWS_PROXY", "COGNITO_USER_POOLS",
         False, (100.0, 50)),
        ("GET", "/orders/{orderId}", "OrdersFunction", "REST", "prod", "1.0", "AWS_PROXY", "COGNITO_USER_POOLS",
         False, (100.0, 10)),
        ("GET", "/profile", "OrdersFunction", "REST", "prod", "1.0", "AWS_PROXY", "REQUEST", False, (100.0, 50)),
    ]
    assert dict(template.apis["OrdersApi"].stage_variables) == {"tier": "gold"}   # the Deployment's stage

    token = route(template, "POST", "/orders").authorizer
    assert (token.name, token.function, token.identity_sources, token.validation_expression, token.ttl_s) == (
        "TokenAuthorizer", "AuthFunction", ("method.request.header.Authorization",), "^Bearer [-0-9a-zA-Z._]+$", 60)
    request = route(template, "GET", "/profile").authorizer
    assert (request.function, request.identity_sources, request.ttl_s) == (
        "AuthFunction", ("method.request.header.X-User", "method.request.querystring.tenant"), 0)
    partner = route(template, "GET", "/orders/{orderId}")
    assert partner.authorizer.issuers == ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Partner01",)
    assert partner.authorizer.identity_sources == ("method.request.header.Authorization",)
    assert partner.authorization_scopes == ("orders/read", "orders/admin")
    own = route(template, "DELETE", "/orders/{orderId}").authorizer
    assert own.issuers == ()
    assert any("OwnPoolAuthorizer" in w and "UserPool" in w and "--jwks" in w for w in template.warnings)

    # the full validator: the body model with its $ref to the Item model inlined, required parameters only
    full = route(template, "POST", "/orders").validation
    order = full.body_models["application/json"]
    assert order["required"] == ["items"]
    assert order["properties"]["items"]["items"]["required"] == ["sku"]
    assert order["properties"]["items"]["items"]["properties"]["quantity"] == {"type": "integer", "minimum": 1}
    assert (full.required_querystrings, full.required_headers, full.required_paths) == (("dryRun",), (), ())
    # a body-only validator keeps the built-in Empty model; a parameters-only one drops the body model
    body_only = route(template, "GET", "/orders").validation
    assert body_only.body_models["application/json"]["title"] == "Empty Schema"
    assert not body_only.required_querystrings
    parameters_only = route(template, "GET", "/orders/{orderId}").validation
    assert dict(parameters_only.body_models) == {}
    assert (parameters_only.required_querystrings, parameters_only.required_headers,
            parameters_only.required_paths) == (("tag",), ("X-Tenant",), ("orderId",))
    assert route(template, "GET", "/admin").validation is None

    keys = {k.name: k for k in template.api_keys}
    assert (keys["partner-key"].value, keys["partner-key"].enabled, keys["partner-key"].usage_plans) == (
        "partner-key-0123456789abcdef", True, ("gold",))
    assert (keys["DisabledKey"].value, keys["DisabledKey"].enabled, keys["DisabledKey"].usage_plans) == (
        None, False, ())       # CloudFormation's ApiKey is disabled unless Enabled says otherwise
    (plan,) = template.usage_plans
    assert (plan.name, plan.stages) == ("gold", (("OrdersApi", "prod"),))
    assert (plan.throttle.rate_per_s, plan.throttle.burst) == (10.0, 20)
    assert (plan.quota.limit, plan.quota.period, plan.quota.offset) == (1000, "MONTH", 2)
    assert {k: (t.rate_per_s, t.burst) for k, t in plan.method_throttles.items()} == {
        ("OrdersApi", "prod", "/orders/POST"): (1.0, 1)}


def test_rest_resources_with_a_false_condition_are_left_out():
    dev = load_template(CFN_FIXTURES / "rest_guarded.yaml")
    assert not [r for r in dev.routes if r.path == "/prod-only"]
    prod = load_template(CFN_FIXTURES / "rest_guarded.yaml", parameter_overrides={"Environment": "prod"})
    assert route(prod, "GET", "/prod-only").function == "OrdersFunction"


def test_raw_methods_extend_sam_apis_and_foreign_apis_are_left_out(tmp_path):
    path = write(tmp_path, f"""
        Sam:
          Type: AWS::Serverless::Function
          Properties:
            Runtime: python3.12
            Handler: app.handler
            CodeUri: src/
            Events:
              Hello: {{Type: Api, Properties: {{Path: /hello, Method: get}}}}
        Extra:
          Type: AWS::ApiGateway::Resource
          Properties:
            RestApiId: !Ref ServerlessRestApi
            ParentId: !GetAtt ServerlessRestApi.RootResourceId
            PathPart: extra
        ExtraGet:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref ServerlessRestApi
            ResourceId: !Ref Extra
            HttpMethod: GET
            AuthorizationType: NONE
            Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {FN_URI}}}
        Foreign:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: abc123
            ResourceId: xyz789
            HttpMethod: GET
            Integration: {{Type: MOCK}}
        Imported:
          Type: AWS::ApiGatewayV2::Route
          Properties:
            ApiId: !ImportValue shared-http-api
            RouteKey: GET /imported
        """)
    template = load_template(path)
    assert rows(template) == [
        ("GET", "/extra", "Fn", "REST", "Prod", "1.0", "AWS_PROXY", None, False, None),
        ("GET", "/hello", "Sam", "REST", "Prod", "1.0", "AWS_PROXY", None, False, None),
    ]
    assert any("Foreign" in w and "'abc123'" in w and "left out" in w for w in template.warnings)
    assert any("Imported" in w and "ImportValue" in w and "left out" in w for w in template.warnings)


def test_deployment_stage_and_apis_without_a_stage(tmp_path):
    path = write(tmp_path, f"""
        Api:
          Type: AWS::ApiGateway::RestApi
          Properties: {{Name: api}}
        RootGet:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Api
            ResourceId: !GetAtt Api.RootResourceId
            HttpMethod: GET
            Integration: {{Type: AWS_PROXY, Uri: {FN_URI}}}
        Deployed:
          Type: AWS::ApiGateway::RestApi
          Properties: {{Name: deployed}}
        DeployedGet:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Deployed
            ResourceId: !GetAtt Deployed.RootResourceId
            HttpMethod: POST
            Integration: {{Type: AWS_PROXY, Uri: {FN_URI}}}
        Deployment:
          Type: AWS::ApiGateway::Deployment
          Properties:
            RestApiId: !Ref Deployed
            StageName: staging
            StageDescription: {{Variables: {{level: 3}}}}
        Http:
          Type: AWS::ApiGatewayV2::Api
          Properties: {{Name: http, ProtocolType: HTTP}}
        """)
    template = load_template(path)
    assert (template.apis["Api"].stage_name, template.apis["Deployed"].stage_name) == ("Prod", "staging")
    assert dict(template.apis["Deployed"].stage_variables) == {"level": "3"}
    assert template.apis["Http"].stage_name == "$default"
    assert any(w.startswith("REST API Api has no stage") and "Prod" in w for w in template.warnings)
    assert any(w.startswith("HTTP API Http has no stage") and "$default" in w for w in template.warnings)
    assert not any("Deployed has no stage" in w for w in template.warnings)


def test_integration_uris_name_functions_by_name_alias_and_stage_variable(tmp_path):
    def method(name: str, path_part: str, uri: str) -> str:
        return f"""
            {name}Resource:
              Type: AWS::ApiGateway::Resource
              Properties: {{RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: {path_part}}}
            {name}:
              Type: AWS::ApiGateway::Method
              Properties:
                RestApiId: !Ref Api
                ResourceId: !Ref {name}Resource
                HttpMethod: GET
                Integration:
                  Type: AWS_PROXY
                  Uri: {uri}
            """
    head = "!Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
    path = write(tmp_path, textwrap.dedent("""
        Api:
          Type: AWS::ApiGateway::RestApi
          Properties: {Name: api}
        Stage:
          Type: AWS::ApiGateway::Stage
          Properties: {RestApiId: !Ref Api, StageName: live, Variables: {target: fn-name}}
        """) + "".join(textwrap.dedent(method(*m)) for m in (
            ("ByName", "by-name", head + "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:fn-name/invocations"),
            ("ByAlias", "by-alias", head + "${Fn.Arn}:prod/invocations"),
            ("ByStageVariable", "by-stage-variable",
             head + "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${!stageVariables.target}/invocations"),
            ("Elsewhere", "elsewhere", head + "arn:aws:lambda:us-east-1:123456789012:function:other-stack/invocations"),
        )))
    template = load_template(path)
    assert {r.path: r.function for r in template.routes} == {
        "/by-name": "Fn", "/by-alias": "Fn", "/by-stage-variable": "Fn", "/elsewhere": ""}
    assert route(template, "GET", "/elsewhere").integration == "AWS_PROXY"   # invoking it fails as on AWS: 500
    assert any("Elsewhere" in w and "function:other-stack" in w for w in template.warnings)


def test_apis_imported_from_body_take_its_routes_and_their_stage_settings(tmp_path):
    path = write(tmp_path, f"""
        BodyApi:
          Type: AWS::ApiGateway::RestApi
          Properties:
            Name: body
            ApiKeySourceType: AUTHORIZER
            Body:
              openapi: 3.0.1
              info: {{title: body, version: '1'}}
              x-amazon-apigateway-api-key-source: HEADER
              x-amazon-apigateway-binary-media-types: [image/png]
              paths:
                /things/{{id}}:
                  get:
                    x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: {FN_URI}}}
        BodyStage:
          Type: AWS::ApiGateway::Stage
          Properties:
            RestApiId: !Ref BodyApi
            StageName: api
            MethodSettings: [{{ResourcePath: /*, HttpMethod: '*', ThrottlingRateLimit: 7, ThrottlingBurstLimit: 9}}]
        RootGet:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref BodyApi
            ResourceId: !GetAtt BodyApi.RootResourceId
            HttpMethod: GET
            Integration: {{Type: AWS_PROXY, Uri: !GetAtt Fn.Arn}}
        HttpBody:
          Type: AWS::ApiGatewayV2::Api
          Properties:
            Body:
              openapi: 3.0.1
              info: {{title: http, version: '1'}}
              paths:
                /v2/things:
                  post:
                    x-amazon-apigateway-integration:
                      {{type: aws_proxy, httpMethod: POST, uri: !GetAtt Fn.Arn, payloadFormatVersion: '2.0'}}
        HttpStage:
          Type: AWS::ApiGatewayV2::Stage
          Properties:
            ApiId: !Ref HttpBody
            StageName: $default
            DefaultRouteSettings: {{ThrottlingRateLimit: 1, ThrottlingBurstLimit: 2}}
        """)
    template = load_template(path)
    assert rows(template) == [
        ("GET", "/", "Fn", "REST", "api", "1.0", "AWS_PROXY", None, False, (7.0, 9)),
        ("GET", "/things/{id}", "Fn", "REST", "api", "1.0", "AWS_PROXY", None, False, (7.0, 9)),
        ("POST", "/v2/things", "Fn", "HTTP", "$default", "2.0", "AWS_PROXY", None, False, (1.0, 2)),
    ]
    api = template.apis["BodyApi"]
    # the RestApi's own ApiKeySourceType wins over the document's; the document gives the binary types
    assert (api.api_key_source, api.binary_media_types) == ("AUTHORIZER", ("image/png",))


# --------------------------------------------------------------------------- MOCK integrations

def test_mock_integrations_with_a_fixed_answer_are_served_it():
    template = load_template(CFN_FIXTURES / "rest_cors.yaml")
    assert {(r.method, r.path): (r.integration, r.function, r.static_response) for r in template.routes} == {
        ("GET", "/items"): ("AWS_PROXY", "ItemsFunction", None),
        ("OPTIONS", "/items"): ("MOCK", "", CORS_ITEMS),
        # AWS's PetStore landing page: the text/html template, the Content-Type it maps
        ("GET", "/"): ("MOCK", "", (200, (("Content-Type", "text/html"),),
                                    b"<html><body><h1>Items</h1><p>See /items.</p></body></html>")),
        # {"statusCode": 503} matches SelectionPattern 5\d{2}; its application/json template is the body
        ("GET", "/status"): ("MOCK", "", (503, (("Content-Type", "application/json"), ("Retry-After", "120")),
                                          b'{"up": false}')),
        # a response template with VTL: the status and headers, no body
        ("GET", "/greeting"): ("MOCK", "", (200, (("Content-Type", "application/json"),), b"")),
        ("GET", "/echo"): ("MOCK", "", None),          # its request template uses VTL
        ("GET", "/broken"): ("MOCK", "", None),        # no integration response: API Gateway's own 500
    }
    said = {w.split(" (", 1)[0]: w for w in template.warnings}
    assert set(said) == {"API CorsApi: GET /echo", "API CorsApi: GET /greeting", "API CorsApi: GET /broken"}
    assert "VTL" in said["API CorsApi: GET /echo"] and "answers it with API Gateway's 500" in said[
        "API CorsApi: GET /echo"]
    assert "served with its fixed answer (200)" in said["API CorsApi: GET /greeting"]
    assert "No match for output mapping" in said["API CorsApi: GET /broken"]


def test_mock_header_values_follow_parameters_and_unresolvable_ones_leave_the_answer_open(tmp_path):
    template = load_template(CFN_FIXTURES / "rest_cors.yaml",
                             parameter_overrides={"AllowedOrigin": "https://other.example.org"})
    assert dict(route(template, "OPTIONS", "/items").static_response[1])["Access-Control-Allow-Origin"] == \
        "https://other.example.org"
    path = write(tmp_path, REST_API + textwrap.dedent("""
        ItemsOptions:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Api
            ResourceId: !Ref Items
            HttpMethod: OPTIONS
            Integration:
              Type: MOCK
              Credentials: !ImportValue shared-role
              RequestTemplates: {application/json: '{"statusCode": 200}'}
              IntegrationResponses:
                - StatusCode: 200
                  ResponseParameters:
                    method.response.header.Access-Control-Allow-Origin: !ImportValue shared-origin
        """))
    template = load_template(path)
    assert route(template, "OPTIONS", "/items").static_response is None
    (warning,) = [w for w in template.warnings if "OPTIONS /items" in w]
    assert "ItemsOptions" in warning and "cannot be resolved locally" in warning and "500" in warning
