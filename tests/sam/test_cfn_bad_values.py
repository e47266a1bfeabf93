"""A raw CloudFormation API Gateway resource with a value AWS would refuse stops the template load
with a TemplateError naming the resource and the property (gateway.sam.cfn_apis)."""
from __future__ import annotations

import textwrap

import pytest

from gateway.errors import TemplateError
from gateway.sam.template import load_template
from support.cfn_templates import FN_URI, HTTP_API, REST_API, write

BAD = [
    ("method", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Method
          Properties: {RestApiId: !Ref Api, ResourceId: !Ref Items, HttpMethod: FETCH, Integration: {Type: MOCK}}
        """), "Bad", "HttpMethod", "HTTP method"),
    ("no integration", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Method
          Properties: {RestApiId: !Ref Api, ResourceId: !Ref Items, HttpMethod: PUT}
        """), "Bad", "Integration", "is required"),
    ("proxy without uri", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Method
          Properties: {RestApiId: !Ref Api, ResourceId: !Ref Items, HttpMethod: PUT, Integration: {Type: AWS_PROXY}}
        """), "Bad", "Integration.Uri", "is required"),
    ("custom without authorizer", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Api
            ResourceId: !Ref Items
            HttpMethod: PUT
            AuthorizationType: CUSTOM
            Integration: {Type: MOCK}
        """), "Bad", "AuthorizerId", "is required"),
    ("custom with a cognito authorizer", REST_API + textwrap.dedent("""
        Pool:
          Type: AWS::ApiGateway::Authorizer
          Properties:
            RestApiId: !Ref Api
            Name: pool
            Type: COGNITO_USER_POOLS
            ProviderARNs: [arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc]
        Bad:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Api
            ResourceId: !Ref Items
            HttpMethod: PUT
            AuthorizationType: CUSTOM
            AuthorizerId: !Ref Pool
            Integration: {Type: MOCK}
        """), "Bad", "AuthorizerId", "TOKEN or REQUEST"),
    ("token from a query string", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Authorizer
          Properties:
            RestApiId: !Ref Api
            Name: token
            Type: TOKEN
            IdentitySource: method.request.querystring.token
            AuthorizerUri: arn:aws:lambda:us-east-1:123456789012:function:fn-name
        """), "Bad", "IdentitySource", "one header"),
    ("not a pool arn", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Authorizer
          Properties:
            RestApiId: !Ref Api
            Name: pool
            Type: COGNITO_USER_POOLS
            ProviderARNs: [arn:aws:iam::123456789012:role/pool]
        """), "Bad", "ProviderARNs", "user pool ARN"),
    ("resource cycle", REST_API + textwrap.dedent("""
        A:
          Type: AWS::ApiGateway::Resource
          Properties: {RestApiId: !Ref Api, ParentId: !Ref B, PathPart: a}
        B:
          Type: AWS::ApiGateway::Resource
          Properties: {RestApiId: !Ref Api, ParentId: !Ref A, PathPart: b}
        """), "A", "ParentId", "each other's parents"),
    ("path part with a slash", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Resource
          Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: a/b}
        """), "Bad", "PathPart", "one path segment"),
    ("model json", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Model
          Properties: {RestApiId: !Ref Api, Name: Bad, Schema: '{"type": '}
        """), "Bad", "Schema", "not valid JSON"),
    ("unknown model", REST_API + textwrap.dedent("""
        BodyCheck:
          Type: AWS::ApiGateway::RequestValidator
          Properties: {RestApiId: !Ref Api, ValidateRequestBody: true}
        Bad:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Api
            ResourceId: !Ref Items
            HttpMethod: PUT
            RequestValidatorId: !Ref BodyCheck
            RequestModels: {application/json: Missing}
            Integration: {Type: MOCK}
        """), "Bad", "RequestModels.application/json", "not a model"),
    ("short key", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::ApiKey
          Properties: {Name: short, Value: abc, Enabled: true}
        """), "Bad", "Value", "at least 20 characters"),
    ("quota period", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::UsagePlan
          Properties:
            ApiStages: [{ApiId: !Ref Api, Stage: live}]
            Quota: {Limit: 10, Period: YEAR}
        """), "Bad", "Quota.Period", "DAY, WEEK, MONTH"),
    ("quota limit", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::UsagePlan
          Properties:
            ApiStages: [{ApiId: !Ref Api, Stage: live}]
            Quota: {Period: DAY}
        """), "Bad", "Quota.Limit", "is required"),
    ("usage plan throttle", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::UsagePlan
          Properties:
            ApiStages: [{ApiId: !Ref Api, Stage: live}]
            Throttle: {RateLimit: 10, BurstLimit: lots}
        """), "Bad", "Throttle.BurstLimit", "must be a whole number"),
    ("throttle rate", REST_API.replace("DeploymentId: dep-id}", "DeploymentId: dep-id, MethodSettings: "
                                       "[{ResourcePath: /*, HttpMethod: '*', ThrottlingRateLimit: fast}]}"),
     "Stage", "MethodSettings[0].ThrottlingRateLimit", "must be a number"),
    ("v2 non-proxy integration", HTTP_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGatewayV2::Integration
          Properties: {ApiId: !Ref HttpApi, IntegrationType: AWS, IntegrationUri: arn:aws:lambda:us-east-1:1:function:f}
        """), "Bad", "IntegrationType", "proxy integrations only"),
    ("v2 payload format", HTTP_API + textwrap.dedent(f"""
        Bad:
          Type: AWS::ApiGatewayV2::Integration
          Properties: {{ApiId: !Ref HttpApi, IntegrationType: AWS_PROXY, IntegrationUri: {FN_URI}}}
        """), "Bad", "PayloadFormatVersion", "is required"),
    ("v2 route key", HTTP_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGatewayV2::Route
          Properties: {ApiId: !Ref HttpApi, RouteKey: get /items, Target: !Sub "integrations/${Lambda}"}
        """), "Bad", "RouteKey", "METHOD /path"),
    ("v2 target", HTTP_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGatewayV2::Route
          Properties: {ApiId: !Ref HttpApi, RouteKey: GET /items, Target: !Ref Lambda}
        """), "Bad", "Target", "integrations/<integration id>"),
    ("v2 simple responses", HTTP_API + textwrap.dedent(f"""
        Bad:
          Type: AWS::ApiGatewayV2::Authorizer
          Properties:
            ApiId: !Ref HttpApi
            Name: gate
            AuthorizerType: REQUEST
            AuthorizerUri: {FN_URI}
            AuthorizerPayloadFormatVersion: '1.0'
            EnableSimpleResponses: true
        """), "Bad", "EnableSimpleResponses", "2.0"),
    ("v2 jwt route with a lambda authorizer", HTTP_API + textwrap.dedent(f"""
        Gate:
          Type: AWS::ApiGatewayV2::Authorizer
          Properties:
            ApiId: !Ref HttpApi
            Name: gate
            AuthorizerType: REQUEST
            AuthorizerUri: {FN_URI}
            AuthorizerPayloadFormatVersion: '2.0'
        Bad:
          Type: AWS::ApiGatewayV2::Route
          Properties:
            ApiId: !Ref HttpApi
            RouteKey: GET /items
            AuthorizationType: JWT
            AuthorizerId: !Ref Gate
            Target: !Sub "integrations/${{Lambda}}"
        """), "Bad", "AuthorizerId", "JWT authorizer"),
    ("mock status code", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Api
            ResourceId: !Ref Items
            HttpMethod: OPTIONS
            Integration: {Type: MOCK, IntegrationResponses: [{StatusCode: '200'}, {StatusCode: OK}]}
        """), "Bad", "Integration.IntegrationResponses[1].StatusCode", "HTTP status code"),
    ("mock response parameter", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Api
            ResourceId: !Ref Items
            HttpMethod: OPTIONS
            Integration:
              Type: MOCK
              IntegrationResponses: [{StatusCode: 200, ResponseParameters: {Access-Control-Allow-Origin: "'*'"}}]
        """), "Bad", "Integration.IntegrationResponses[0].ResponseParameters", "method.response.header.NAME"),
    ("v2 protocol", """
        Bad:
          Type: AWS::ApiGatewayV2::Api
          Properties: {Name: api}
        """, "Bad", "ProtocolType", "is required"),
    ("v2 route on a rest api", REST_API + textwrap.dedent("""
        Bad:
          Type: AWS::ApiGatewayV2::Route
          Properties: {ApiId: !Ref Api, RouteKey: GET /items}
        """), "Bad", "ApiId", "not a HTTP API"),
]


@pytest.mark.parametrize("resources, resource, prop, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_values_name_the_resource_and_property(tmp_path, resources, resource, prop, message):
    with pytest.raises(TemplateError) as info:
        load_template(write(tmp_path, resources))
    text = str(info.value)
    assert f"resource {resource}" in text and f"property {prop}" in text and message in text, text


def test_the_well_formed_base_of_the_bad_values_loads(tmp_path):
    """The templates BAD amends load without their bad resource, so each failure above is its own."""
    template = load_template(write(tmp_path, REST_API + HTTP_API + textwrap.dedent("""
        Route:
          Type: AWS::ApiGatewayV2::Route
          Properties: {ApiId: !Ref HttpApi, RouteKey: GET /items, Target: !Sub "integrations/${Lambda}"}
        """)))
    assert sorted((r.api.kind, r.method, r.path, r.function) for r in template.routes) == [
        ("HTTP", "GET", "/items", "Fn"), ("REST", "GET", "/items", "Fn")]
