"""Templates of raw CloudFormation API Gateway resources for the tests of gateway.sam.cfn_apis
(tests/sam/test_cfn_*.py): their fixtures, a writer for small ones, and the route table as rows."""
from __future__ import annotations

import textwrap
from pathlib import Path

CFN_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cfn_apis"
REST_500 = {"message": "Internal server error"}
HTTP_500 = {"message": "Internal Server Error"}


def rows(template) -> list[tuple]:
    """The route table: (method, path, function, API kind, stage, payload, integration, authorizer
    type, API key required, throttle as (rate, burst)), by path then method."""
    return sorted(((r.method, r.path, r.function, r.api.kind, r.api.stage_name, r.payload_format, r.integration,
                    r.authorizer.type if r.authorizer else None, r.api_key_required,
                    (r.throttle.rate_per_s, r.throttle.burst) if r.throttle else None) for r in template.routes),
                  key=lambda row: (row[1], row[0]))


def route(template, method: str, path: str):
    found = [r for r in template.routes if r.method == method and r.path == path]
    assert len(found) == 1, [(r.method, r.path) for r in template.routes]
    return found[0]


def write(tmp_path, resources: str, parameters: str = "") -> Path:
    """A template of one function `Fn` (FunctionName fn-name) plus `resources` (YAML under Resources)."""
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text((CFN_FIXTURES / "src" / "app.py").read_text())
    body = textwrap.dedent(parameters) + textwrap.dedent("""
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties:
              FunctionName: fn-name
              Runtime: python3.12
              Handler: app.handler
              Code: src/
        """) + textwrap.indent(textwrap.dedent(resources), "  ")
    path = tmp_path / "template.yaml"
    path.write_text(body)
    return path


# a function's invocation URI, and the smallest REST and HTTP APIs that invoke it (GET /items)
FN_URI = '!Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"'
REST_API = textwrap.dedent(f"""
    Api:
      Type: AWS::ApiGateway::RestApi
      Properties: {{Name: api}}
    Stage:
      Type: AWS::ApiGateway::Stage
      Properties: {{RestApiId: !Ref Api, StageName: live, DeploymentId: dep-id}}
    Items:
      Type: AWS::ApiGateway::Resource
      Properties: {{RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: items}}
    ItemsGet:
      Type: AWS::ApiGateway::Method
      Properties:
        RestApiId: !Ref Api
        ResourceId: !Ref Items
        HttpMethod: GET
        AuthorizationType: NONE
        Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {FN_URI}}}
    """)
HTTP_API = textwrap.dedent(f"""
    HttpApi:
      Type: AWS::ApiGatewayV2::Api
      Properties: {{Name: http, ProtocolType: HTTP}}
    HttpStage:
      Type: AWS::ApiGatewayV2::Stage
      Properties: {{ApiId: !Ref HttpApi, StageName: $default}}
    Lambda:
      Type: AWS::ApiGatewayV2::Integration
      Properties: {{ApiId: !Ref HttpApi, IntegrationType: AWS_PROXY, PayloadFormatVersion: '2.0', IntegrationUri: {FN_URI}}}
    """)


# the fixed answer of rest_cors.yaml's OPTIONS /items (a CORS preflight's MOCK integration)
CORS_ITEMS = (200, (
    ("Content-Type", "application/json"),
    ("Access-Control-Allow-Headers", "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token"),
    ("Access-Control-Allow-Methods", "GET,OPTIONS"),
    ("Access-Control-Allow-Origin", "https://app.example.com")), b"")
