"""The three readers of authorizers agree: SAM's `Auth` (gateway.sam.sam_auth), an OpenAPI document
(openapi_auth) and raw CloudFormation (cfn_rest_apis, cfn_http_apis) give a Lambda authorizer the
same result TTL when the template leaves it out (REST 300 s, HTTP API none), hold it to the same
hour, check a token validation expression when loading, and give a user pool ARN the same issuer
(gateway.sam.authorizer_defaults, gateway.sam.user_pools). The end of the file checks the TTL
defaults through a real `lambdagate start-api`: what is cached and what is not."""
from __future__ import annotations

import json
import textwrap

import httpx
import pytest

from gateway.errors import TemplateError
from gateway.sam.template import load_template
from gateway.sam.user_pools import cognito_issuer

GOOD_EXPRESSION = "^Bearer [-0-9a-zA-Z._]+$"
BAD_EXPRESSION = "^Bearer ([-0-9a-zA-Z._]+$"        # an unclosed group
POOL_ARN = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"


def invocation_uri(function: str) -> dict:
    return {"Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                       f"${{{function}.Arn}}/invocations"}


def function(handler: str, events: dict = None) -> dict:
    props = {"CodeUri": "src/", "Handler": handler, "Runtime": "python3.12"}
    if events:
        props["Events"] = events
    return {"Type": "AWS::Serverless::Function", "Properties": props}


def sam_resources(http: bool, ttl=None, expression=None, pool_arn=None) -> dict:
    """An Api / HttpApi whose Auth declares authorizer Gate, the default of its one event (GET /x)."""
    identity = {"Headers": ["Authorization"]} if http else {}
    if ttl is not None:
        identity["ReauthorizeEvery"] = ttl
    if expression is not None:
        identity["ValidationExpression"] = expression
    gate = {"UserPoolArn": pool_arn} if pool_arn else {"FunctionArn": {"Fn::GetAtt": ["AuthFn", "Arn"]}}
    if http:
        gate.update(AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True)
    if identity:
        gate["Identity"] = identity
    props = {"Auth": {"DefaultAuthorizer": "Gate", "Authorizers": {"Gate": gate}}}
    if not http:
        props["StageName"] = "Prod"
    event = {"Type": "HttpApi" if http else "Api",
             "Properties": {"ApiId" if http else "RestApiId": {"Ref": "Api"}, "Path": "/x", "Method": "get"}}
    return {"Api": {"Type": "AWS::Serverless::HttpApi" if http else "AWS::Serverless::Api", "Properties": props},
            "AuthFn": function("app.authorize"), "Fn": function("app.echo", {"Get": event})}


def openapi_resources(http: bool, ttl=None, expression=None, pool_arn=None) -> dict:
    """An API whose OpenAPI document declares scheme Gate and requires it on GET /x."""
    if pool_arn:
        config = {"type": "cognito_user_pools", "providerARNs": [pool_arn]}
    elif http:
        config = {"type": "request", "identitySource": "$request.header.Authorization",
                  "authorizerUri": invocation_uri("AuthFn"), "authorizerPayloadFormatVersion": "2.0",
                  "enableSimpleResponses": True}
    else:
        config = {"type": "token", "authorizerUri": invocation_uri("AuthFn")}
    if ttl is not None:
        config["authorizerResultTtlInSeconds"] = ttl
    if expression is not None:
        config["identityValidationExpression"] = expression
    integration = {"type": "aws_proxy", "httpMethod": "POST", "uri": invocation_uri("Fn")}
    if http:
        integration["payloadFormatVersion"] = "2.0"
    document = {"openapi": "3.0.1", "info": {"title": "t", "version": "1"},
                "paths": {"/x": {"get": {"security": [{"Gate": []}],
                                         "x-amazon-apigateway-integration": integration}}},
                "components": {"securitySchemes": {"Gate": {
                    "type": "apiKey", "name": "Authorization", "in": "header",
                    "x-amazon-apigateway-authorizer": config}}}}
    props = {"DefinitionBody": document}
    if not http:
        props["StageName"] = "Prod"
    return {"Api": {"Type": "AWS::Serverless::HttpApi" if http else "AWS::Serverless::Api", "Properties": props},
            "AuthFn": function("app.authorize"), "Fn": function("app.echo")}


def cfn_resources(http: bool, ttl=None, expression=None, pool_arn=None) -> dict:
    """An AWS::ApiGateway(V2) API whose GET /x uses authorizer resource Gate."""
    resources = {"AuthFn": function("app.authorize"), "Fn": function("app.echo")}
    if http:
        gate = {"ApiId": {"Ref": "Api"}, "Name": "gate", "AuthorizerType": "REQUEST",
                "AuthorizerUri": invocation_uri("AuthFn"), "AuthorizerPayloadFormatVersion": "2.0",
                "EnableSimpleResponses": True, "IdentitySource": ["$request.header.Authorization"]}
        resources.update({
            "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "api", "ProtocolType": "HTTP"}},
            "Stage": {"Type": "AWS::ApiGatewayV2::Stage", "Properties": {"ApiId": {"Ref": "Api"},
                                                                         "StageName": "$default"}},
            "Lambda": {"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                "ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0",
                "IntegrationUri": invocation_uri("Fn")}},
            "Route": {"Type": "AWS::ApiGatewayV2::Route", "Properties": {
                "ApiId": {"Ref": "Api"}, "RouteKey": "GET /x", "AuthorizationType": "CUSTOM",
                "AuthorizerId": {"Ref": "Gate"}, "Target": {"Fn::Sub": "integrations/${Lambda}"}}}})
    else:
        gate = {"RestApiId": {"Ref": "Api"}, "Name": "gate", "IdentitySource": "method.request.header.Authorization"}
        gate.update({"Type": "COGNITO_USER_POOLS", "ProviderARNs": [pool_arn]} if pool_arn else
                    {"Type": "TOKEN", "AuthorizerUri": invocation_uri("AuthFn")})
        resources.update({
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
            "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {
                "RestApiId": {"Ref": "Api"}, "StageName": "Prod", "DeploymentId": "dep-id"}},
            "X": {"Type": "AWS::ApiGateway::Resource", "Properties": {
                "RestApiId": {"Ref": "Api"}, "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]}, "PathPart": "x"}},
            "XGet": {"Type": "AWS::ApiGateway::Method", "Properties": {
                "RestApiId": {"Ref": "Api"}, "ResourceId": {"Ref": "X"}, "HttpMethod": "GET",
                "AuthorizationType": "COGNITO_USER_POOLS" if pool_arn else "CUSTOM", "AuthorizerId": {"Ref": "Gate"},
                "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": invocation_uri("Fn")}}}})
    if ttl is not None:
        gate["AuthorizerResultTtlInSeconds"] = ttl
    if expression is not None:
        gate["IdentityValidationExpression"] = expression
    resources["Gate"] = {"Type": "AWS::ApiGatewayV2::Authorizer" if http else "AWS::ApiGateway::Authorizer",
                         "Properties": gate}
    return resources


OPENAPI_AUTHORIZER = "components.securitySchemes.Gate.x-amazon-apigateway-authorizer"
# reader -> (its template, the resource naming a bad setting, the TTL's property, the expression's property)
READERS = {
    "sam": (sam_resources, "Api", "Auth.Authorizers.Gate.Identity.ReauthorizeEvery",
            "Auth.Authorizers.Gate.Identity.ValidationExpression"),
    "openapi": (openapi_resources, "Api", f"{OPENAPI_AUTHORIZER}.authorizerResultTtlInSeconds",
                f"{OPENAPI_AUTHORIZER}.identityValidationExpression"),
    "cfn": (cfn_resources, "Gate", "AuthorizerResultTtlInSeconds", "IdentityValidationExpression"),
}
KINDS = [pytest.param(False, id="rest"), pytest.param(True, id="http")]


def write(tmp_path, resources: dict):
    (tmp_path / "src").mkdir(parents=True, exist_ok=True)
    (tmp_path / "src" / "app.py").write_text(APP)
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": resources}, indent=1))
    return path


def authorizer_of(tmp_path, reader: str, http: bool, **settings):
    template = load_template(write(tmp_path, READERS[reader][0](http, **settings)))
    (route,) = [r for r in template.routes if (r.method, r.path) == ("GET", "/x")]
    return route.authorizer


# --------------------------------------------------------------------------- result TTL

@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("http, expected_s", [pytest.param(False, 300, id="rest"), pytest.param(True, 0, id="http")])
def test_a_lambda_authorizer_left_without_a_ttl_gets_its_api_kinds_default(tmp_path, reader, http, expected_s):
    authorizer = authorizer_of(tmp_path, reader, http)
    assert authorizer.type == ("LAMBDA" if http else "TOKEN")
    assert authorizer.function == "AuthFn"
    assert authorizer.ttl_s == expected_s


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("http", KINDS)
@pytest.mark.parametrize("ttl, expected_s", [(0, 0), (3600, 3600), ("45", 45)])
def test_a_ttl_given_up_to_an_hour_is_kept(tmp_path, reader, http, ttl, expected_s):
    assert authorizer_of(tmp_path, reader, http, ttl=ttl).ttl_s == expected_s


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("http", KINDS)
@pytest.mark.parametrize("ttl", [3601, -1, 2.5, "soon"])
def test_a_ttl_api_gateway_refuses_stops_the_load_naming_resource_and_property(tmp_path, reader, http, ttl):
    _, resource, prop, _ = READERS[reader]
    with pytest.raises(TemplateError) as caught:
        authorizer_of(tmp_path, reader, http, ttl=ttl)
    assert (caught.value.resource, caught.value.prop) == (resource, prop)
    assert "whole number of seconds from 0 to 3600" in caught.value.message and repr(ttl) in caught.value.message


# --------------------------------------------------------------------------- token validation expressions

TOKEN_CHECKERS = [pytest.param(None, id="token"), pytest.param(POOL_ARN, id="cognito")]


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("pool_arn", TOKEN_CHECKERS)
def test_a_validation_expression_reaches_the_authorizer(tmp_path, reader, pool_arn):
    authorizer = authorizer_of(tmp_path, reader, False, expression=GOOD_EXPRESSION, pool_arn=pool_arn)
    assert authorizer.type == ("COGNITO_USER_POOLS" if pool_arn else "TOKEN")
    assert authorizer.validation_expression == GOOD_EXPRESSION


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("pool_arn", TOKEN_CHECKERS)
def test_a_validation_expression_that_is_no_regular_expression_stops_the_load(tmp_path, reader, pool_arn):
    _, resource, _, prop = READERS[reader]
    with pytest.raises(TemplateError) as caught:
        authorizer_of(tmp_path, reader, False, expression=BAD_EXPRESSION, pool_arn=pool_arn)
    assert (caught.value.resource, caught.value.prop) == (resource, prop)
    assert f"{BAD_EXPRESSION!r} is not a regular expression" in caught.value.message
    assert str(caught.value).count(prop) == 1          # named once, as the property


# --------------------------------------------------------------------------- user pool issuers

@pytest.mark.parametrize("arn, issuer", [
    (POOL_ARN, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"),
    ("arn:aws-us-gov:cognito-idp:us-gov-west-1:123456789012:userpool/us-gov-west-1_Gov42",
     "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_Gov42"),
    ("arn:aws-cn:cognito-idp:cn-north-1:123456789012:userpool/cn-north-1_China7",
     "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_China7"),
    ("arn:aws:cognito-idp:ap-southeast-2:123456789012:userpool/ap-southeast-2_Abc",
     "https://cognito-idp.ap-southeast-2.amazonaws.com/ap-southeast-2_Abc"),
    ("arn:aws-eusc:cognito-idp:eusc-de-east-1:123456789012:userpool/eusc-de-east-1_Eu1",
     "https://cognito-idp.eusc-de-east-1.amazonaws.eu/eusc-de-east-1_Eu1"),
])
def test_a_user_pool_arn_gives_its_pools_issuer_in_every_reader(tmp_path, arn, issuer):
    assert cognito_issuer(arn) == issuer
    for reader in READERS:
        assert authorizer_of(tmp_path / reader, reader, False, pool_arn=arn).issuers == (issuer,), reader


@pytest.mark.parametrize("text", [
    "arn:aws:lambda:us-east-1:123456789012:function:UserPool",          # another service
    "arn:aws:cognito-idp:us-east-1:123456789012:userpool/Abc123",       # a pool id without its region
    "arn:aws:cognito-idp:us-east-1::userpool/us-east-1_Abc123",         # no account
    "arn:aws:cognito-idp:us-east-1:123456789012:identitypool/us-east-1_Abc123",
    "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Abc123/client",
    "arn:gcp:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Abc123",
    "arn:aws-moon:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Abc123",      # no such partition
    "arn:aws:cognito-idp:us-east-1:123456789012:userpool/",
    "us-east-1_Abc123", None, 42,
])
def test_what_is_no_user_pool_arn_gives_no_issuer(text):
    assert cognito_issuer(text) is None


# --------------------------------------------------------------------------- served by start-api

APP = textwrap.dedent('''\
    """An authorizer whose every invocation is told apart by a fresh decision id, and an
    integration that answers with the decision id the request was let through by."""
    import json
    import uuid


    def authorize(event, context):
        decision = {"decision": uuid.uuid4().hex}
        if event.get("version") == "2.0":                  # an HTTP API Lambda authorizer, simple responses
            return {"isAuthorized": True, "context": decision}
        return {"principalId": "caller", "context": decision, "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]}}


    def echo(event, context):
        authorizer = event["requestContext"].get("authorizer") or {}
        seen = (authorizer.get("lambda") or {}) if event.get("version") == "2.0" else authorizer
        return {"statusCode": 200, "body": json.dumps({"decision": seen.get("decision")})}
    ''')


def served_template(tmp_path):
    """A REST API and two HTTP APIs guarded by the same Lambda authorizer, the TTL left out on the
    REST API and on HttpApi, 300 s on CachedHttpApi."""
    rest = sam_resources(False)
    http = sam_resources(True)
    cached = sam_resources(True, ttl=300)
    events = {}
    for name, resources, path in (("Rest", rest, "/rest"), ("Http", http, "/http"), ("Cached", cached, "/cached")):
        event = resources["Fn"]["Properties"]["Events"]["Get"]
        event["Properties"].update({"Path": path, "RestApiId" if name == "Rest" else "ApiId": {"Ref": f"{name}Api"}})
        events[name] = event
    return write(tmp_path, {"RestApi": rest["Api"], "HttpApi": http["Api"], "CachedApi": cached["Api"],
                            "AuthFn": rest["AuthFn"], "Fn": function("app.echo", events)})


@pytest.fixture(scope="module")
def server(module_start_api, tmp_path_factory):
    return module_start_api(served_template(tmp_path_factory.mktemp("ttl-defaults")), name="ttl-defaults")


def decisions(server, path: str, token: str) -> list:
    """The decision ids two requests with the same token were let through by."""
    seen = []
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for _ in range(2):
            answer = client.get(path, headers={"Authorization": token})
            assert answer.status_code == 200, answer.text
            seen.append(answer.json()["decision"])
    assert all(seen)
    return seen


@pytest.mark.integration
def test_a_rest_api_caches_an_authorizer_left_without_a_ttl(server):
    first, second = decisions(server, "/rest", "Bearer rest-caller")
    assert first == second                 # the second request was let through by the cached decision


@pytest.mark.integration
def test_an_http_api_asks_an_authorizer_left_without_a_ttl_every_time(server):
    first, second = decisions(server, "/http", "Bearer http-caller")
    assert first != second


@pytest.mark.integration
def test_an_http_api_caches_an_authorizer_given_a_ttl(server):
    first, second = decisions(server, "/cached", "Bearer cached-caller")
    assert first == second
