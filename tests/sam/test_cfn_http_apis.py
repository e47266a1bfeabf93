"""HTTP APIs declared as raw CloudFormation resources (gateway.sam.cfn_http_apis):
AWS::ApiGatewayV2::* read into the route table the server uses, quick-create APIs included.

Only the loaded specs of authorizers and throttles are checked here; how they behave at run time
is gateway.apigw's to test.
"""
from __future__ import annotations

from gateway.sam.template import load_template
from support.cfn_templates import CFN_FIXTURES, FN_URI, route, rows, write


def test_http_routes_and_integrations():
    template = load_template(CFN_FIXTURES / "http_routes.yaml")
    assert rows(template) == [
        ("ANY", "/ext/{proxy+}", "", "HTTP", "$default", "1.0", "HTTP_PROXY", None, False, None),
        ("GET", "/items", "ItemsFunction", "HTTP", "$default", "2.0", "AWS_PROXY", None, False, None),
        ("GET", "/items/{id}", "ItemsFunction", "HTTP", "$default", "2.0", "AWS_PROXY", None, False, None),
        ("POST", "/legacy/{proxy+}", "LegacyFunction", "HTTP", "$default", "1.0", "AWS_PROXY", None, False, None),
    ]
    api = template.apis["ItemsApi"]
    assert dict(api.stage_variables) == {"color": "blue"}
    assert (api.cors.allow_origins, api.cors.allow_headers, api.cors.max_age_s) == (
        ("https://shop.example.com",), ("content-type",), 600)
    assert route(template, "GET", "/items").operation_name == "ListItems"
    assert any("stages $default, beta" in w for w in template.warnings)
    (unsupported,) = [w for w in template.warnings if "Lambda proxy integrations" in w]
    assert "ANY /ext/{proxy+}" in unsupported and '"Internal Server Error"' in unsupported


def test_http_authorizers_and_route_throttles():
    template = load_template(CFN_FIXTURES / "http_guarded.yaml")
    assert rows(template) == [
        ("GET", "/me/notes", "NotesFunction", "HTTP", "prod", "2.0", "AWS_PROXY", "JWT", False, (50.0, 100)),
        ("GET", "/notes", "NotesFunction", "HTTP", "prod", "2.0", "AWS_PROXY", "JWT", False, (50.0, 100)),
        ("DELETE", "/notes/{id}", "NotesFunction", "HTTP", "prod", "2.0", "AWS_PROXY", "AWS_IAM", False, (50.0, 1)),
        ("GET", "/team/notes", "NotesFunction", "HTTP", "prod", "2.0", "AWS_PROXY", "LAMBDA", False, (50.0, 100)),
        ("POST", "/team/notes", "NotesFunction", "HTTP", "prod", "2.0", "AWS_PROXY", "LAMBDA", False, (2.0, 4)),
    ]
    auth0 = route(template, "GET", "/notes")
    assert (auth0.authorizer.issuers, auth0.authorizer.audience, auth0.authorizer.identity_sources) == (
        ("https://notes.eu.auth0.com/",), ("https://notes.example.com", "notes-cli"),
        ("$request.header.Authorization",))
    assert auth0.authorization_scopes == ("notes:read",)
    pool = route(template, "GET", "/me/notes").authorizer
    assert (pool.issuers, pool.audience) == ((), ())
    assert any("PoolAuthorizer" in w and "UserPool " in w and "--jwks" in w for w in template.warnings)
    assert any("PoolAuthorizer" in w and "UserPoolClient" in w and "not checked" in w for w in template.warnings)
    gate = route(template, "POST", "/team/notes").authorizer
    assert (gate.function, gate.payload_format, gate.simple_responses, gate.ttl_s, gate.identity_sources) == (
        "GateFunction", "2.0", True, 0, ("$request.header.X-Api-Token", "$request.querystring.team"))
    legacy = route(template, "GET", "/team/notes").authorizer
    # no AuthorizerResultTtlInSeconds: an HTTP API caches nothing (a REST API would cache 300 s)
    assert (legacy.payload_format, legacy.simple_responses, legacy.ttl_s) == ("1.0", False, 0)
    assert not [r for r in template.routes if r.path == "/drafts/{id}"]
    assert any("PUT /drafts/{id}" in w and "no Target" in w for w in template.warnings)


def test_http_quick_create_and_managed_overrides():
    template = load_template(CFN_FIXTURES / "http_quick.yaml")
    assert rows(template) == [
        ("ANY", "$default", "HelloFunction", "HTTP", "$default", "2.0", "AWS_PROXY", None, False, None),
        ("GET", "/greet", "HelloFunction", "HTTP", "$default", "1.0", "AWS_PROXY", None, False, (3.0, 6)),
    ]
    assert route(template, "GET", "/greet").api.logical_id == "GreetApi"
    assert dict(template.apis["GreetApi"].stage_variables) == {"mood": "cheerful"}
    assert "MirrorApi" not in template.apis
    mirrored = load_template(CFN_FIXTURES / "http_quick.yaml", parameter_overrides={"Stage": "prod"})
    assert route(mirrored, "GET", "/mirror").api.logical_id == "MirrorApi"


def test_websocket_apis_are_left_out(tmp_path):
    path = write(tmp_path, f"""
        Socket:
          Type: AWS::ApiGatewayV2::Api
          Properties: {{Name: chat, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}}
        Connect:
          Type: AWS::ApiGatewayV2::Integration
          Properties: {{ApiId: !Ref Socket, IntegrationType: AWS_PROXY, IntegrationUri: {FN_URI}}}
        ConnectRoute:
          Type: AWS::ApiGatewayV2::Route
          Properties: {{ApiId: !Ref Socket, RouteKey: $connect, Target: !Sub "integrations/${{Connect}}"}}
        """)
    template = load_template(path)
    assert template.routes == () and "Socket" not in template.apis
    assert any("Socket" in w and "WebSocket" in w for w in template.warnings)
