"""SAM's API access declarations read into the route table: AWS::Serverless::Api / ::HttpApi `Auth`
(authorizers, DefaultAuthorizer, API keys, usage plans), MethodSettings / RouteSettings throttling,
Models with RequestModel / RequestParameters, and SAM's edits to an API's own DefinitionBody."""
import os
import textwrap

import pytest

from gateway.errors import TemplateError
from gateway.sam.template import load_template
from gateway.types import ApiKeySpec, QuotaSpec, ThrottleSpec

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "sam_auth")


def load(name):
    return load_template(os.path.join(FIXTURES, name))


def table(template):
    """The route table as rows: (api, method, path) -> what guards the route."""
    rows = {}
    for route in template.routes:
        spec = route.authorizer
        rows[(route.api.logical_id, route.method, route.path)] = {
            "function": route.function,
            "authorizer": None if spec is None else (spec.name, spec.type, spec.function, spec.identity_sources,
                                                     spec.ttl_s),
            "scopes": route.authorization_scopes,
            "api_key": route.api_key_required,
            "throttle": None if route.throttle is None else (route.throttle.rate_per_s, route.throttle.burst),
        }
    return rows


def route_of(template, api, method, path):
    return next(r for r in template.routes if (r.api.logical_id, r.method, r.path) == (api, method, path))


# --- golden route tables ----------------------------------------------------------------------------

def test_rest_lambda_authorizers():
    template = load("lambda_authorizers.yaml")
    token = ("TokenAuthorizer", "TOKEN", "AuthorizerFunction", ("method.request.header.Authorization",), 60)
    row = {"function": "ShopFunction", "scopes": (), "api_key": False, "throttle": None}
    assert table(template) == {
        ("MyApi", "GET", "/orders"): {**row, "authorizer": token},
        ("MyApi", "GET", "/health"): {**row, "authorizer": None},                   # Authorizer: NONE
        # FunctionArn by FunctionName: the ARN names shop-authorizer, RequestAuthorizerFunction's name
        ("MyApi", "ANY", "/basket"): {**row, "authorizer": (
            "HeaderAuthorizer", "REQUEST", "RequestAuthorizerFunction",
            ("method.request.header.X-Customer-Id", "method.request.querystring.tenant", "stageVariables.realm",
             "context.sourceIp"), 300)},
        ("MyApi", "POST", "/audit"): {**row, "authorizer": (
            "UncachedAuthorizer", "REQUEST", "AuthorizerFunction", (), 0)},          # no cache, no sources
        ("MyApi", "PUT", "/signed"): {**row, "authorizer": ("AWS_IAM", "AWS_IAM", None, (), 0)},
        # AddDefaultAuthorizerToCorsPreflight: false keeps the default off OPTIONS
        ("MyApi", "OPTIONS", "/orders"): {**row, "authorizer": None},
    }
    assert route_of(template, "MyApi", "GET", "/orders").authorizer.validation_expression == "^Bearer [-0-9a-zA-Z._]+$"
    assert not any("not enforced" in w for w in template.warnings)


def test_cognito_authorizers():
    template = load("cognito.yaml")
    partners = ("Partners", "COGNITO_USER_POOLS", None, ("method.request.header.X-Partner-Token",), 0)
    row = {"function": "NotesFunction", "api_key": False, "throttle": None}
    assert table(template) == {
        ("NotesApi", "GET", "/notes"): {**row, "authorizer": partners, "scopes": ("notes/read",)},   # the default's
        ("NotesApi", "POST", "/notes"): {**row, "authorizer": partners, "scopes": ("notes/write", "notes/admin")},
        ("NotesApi", "GET", "/me"): {**row, "authorizer": (
            "Users", "COGNITO_USER_POOLS", None, ("method.request.header.Authorization",), 0), "scopes": ()},
    }
    spec = route_of(template, "NotesApi", "GET", "/notes").authorizer
    assert spec.issuers == ("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
                            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Zyx987")
    assert spec.validation_expression == "^eyJ"
    # the template's own pool: its id is only known once deployed
    assert route_of(template, "NotesApi", "GET", "/me").authorizer.issuers == ()
    assert any("Users" in w and "UserPool" in w and "--jwks" in w for w in template.warnings)


def test_cognito_issuer_follows_a_parameter_override():
    template = load_template(os.path.join(FIXTURES, "cognito.yaml"), parameter_overrides={
        "ExistingPoolArn": "arn:aws:cognito-idp:ap-south-1:210987654321:userpool/ap-south-1_Other9"})
    assert route_of(template, "NotesApi", "GET", "/notes").authorizer.issuers[0] == \
        "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_Other9"


def test_http_api_authorizers_and_route_settings():
    template = load("http_authorizers.yaml")
    oauth = ("OAuth", "JWT", None, ("$request.header.Authorization",), 0)
    row = {"function": "ItemsFunction", "scopes": (), "api_key": False, "throttle": (100.0, 200)}
    assert table(template) == {
        ("HttpApi", "GET", "/items"): {**row, "authorizer": oauth, "scopes": ("items/read",), "throttle": (5.0, 200)},
        # Auth with scopes only: the default authorizer, the event's scopes; the event's RouteSettings
        ("HttpApi", "POST", "/items"): {**row, "authorizer": oauth, "scopes": ("items/write",), "throttle": (100.0, 3)},
        ("HttpApi", "GET", "/status"): {**row, "authorizer": None},
        ("HttpApi", "ANY", "/admin"): {**row, "authorizer": ("AWS_IAM", "AWS_IAM", None, (), 0)},
        ("HttpApi", "POST", "/session"): {**row, "authorizer": (
            "LambdaAuth", "LAMBDA", "AuthorizerFunction",
            ("$request.header.Authorization", "$request.querystring.session", "$stageVariables.stage",
             "$context.routeKey"), 30)},
        ("HttpApi", "GET", "/legacy"): {**row, "authorizer": (
            "LegacyLambdaAuth", "LAMBDA", "AuthorizerFunction", (), 0)},
        ("HttpApi", "GET", "/profile"): {**row, "authorizer": (
            "PoolJwt", "JWT", None, ("$request.header.Authorization",), 0)},
        ("HttpApi", "OPTIONS", "/items"): {**row, "authorizer": None},   # SAM never puts the default on OPTIONS
    }
    oauth_spec = route_of(template, "HttpApi", "GET", "/items").authorizer
    assert (oauth_spec.issuers, oauth_spec.audience) == (("https://auth.example.com/",), ("4f1c9a7b", "second-client"))
    session = route_of(template, "HttpApi", "POST", "/session").authorizer
    assert (session.payload_format, session.simple_responses) == ("2.0", True)
    legacy = route_of(template, "HttpApi", "GET", "/legacy").authorizer
    assert (legacy.payload_format, legacy.simple_responses) == ("1.0", False)
    pool = route_of(template, "HttpApi", "GET", "/profile").authorizer
    assert (pool.issuers, pool.audience) == ((), ())
    assert any("PoolJwt" in w and "issuer" in w and "--jwks" in w for w in template.warnings)
    assert any("PoolJwt" in w and "audience" in w for w in template.warnings)


def test_api_keys_and_usage_plans():
    template = load("api_keys.yaml")
    row = {"function": "PublicFunction", "authorizer": None, "scopes": (), "throttle": None}
    assert table(template) == {
        ("ServerlessRestApi", "GET", "/catalogue"): {**row, "api_key": True},     # Globals: every method
        ("ServerlessRestApi", "GET", "/open"): {**row, "api_key": False},         # the event's ApiKeyRequired: false
        ("ServerlessRestApi", "OPTIONS", "/catalogue"): {**row, "api_key": False},  # AddApiKeyRequiredToCorsPreflight
        ("OrdersApi", "GET", "/orders"): {**row, "api_key": True},
        ("StockApi", "GET", "/stock"): {**row, "api_key": True},
        ("FreeApi", "GET", "/free"): {**row, "api_key": False},
    }
    assert set(template.api_keys) == {
        ApiKeySpec(name="ServerlessRestApiApiKey", value=None, enabled=True,
                   usage_plans=("ServerlessRestApiUsagePlan",)),
        ApiKeySpec(name="ServerlessApiKey", value=None, enabled=True, usage_plans=("partner-plan",))}
    plans = {plan.name: plan for plan in template.usage_plans}
    assert set(plans) == {"ServerlessRestApiUsagePlan", "partner-plan"}       # FreeApi: NONE
    own = plans["ServerlessRestApiUsagePlan"]
    assert own.stages == (("ServerlessRestApi", "Prod"),)
    assert (own.throttle, own.quota) == (ThrottleSpec(50.0, 100), QuotaSpec(5000, "MONTH", 2))
    shared = plans["partner-plan"]
    assert shared.stages == (("OrdersApi", "prod"), ("StockApi", "beta"))
    # the shared plan has the last API's settings: StockApi's name, its RateLimit over the Globals' plan
    assert (shared.throttle, shared.quota) == (ThrottleSpec(10.0, 100), QuotaSpec(5000, "MONTH", 2))
    assert not template.warnings


def test_request_validation_and_method_settings():
    template = load("request_models.yaml")
    routes = {(r.method, r.path): r for r in template.routes}
    create = routes["POST", "/pets"].validation
    # body and parameters: the model (its reference to Owner answerable within it), required parameters
    assert dict(create.body_models) == {"application/json": {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string"}, "owner": {"$ref": "#/definitions/Owner"}},
        "definitions": {"Owner": {"type": "object", "properties": {"email": {"type": "string"}}}}}}
    assert (create.required_querystrings, create.required_headers, create.required_paths) == \
        (("dryRun",), ("X-Tenant",), ())
    update = routes["PUT", "/pets/{id}"].validation           # body only: parameters are not checked
    assert dict(update.body_models) == {"application/json": {"type": "object",
                                                             "properties": {"email": {"type": "string"}}}}
    assert (update.required_querystrings, update.required_headers, update.required_paths) == ((), (), ())
    read = routes["GET", "/pets/{id}"].validation             # parameters only: the model is not checked
    assert (dict(read.body_models), read.required_querystrings, read.required_paths) == ({}, ("fields",), ("id",))
    assert routes["GET", "/pets"].validation is None          # neither flag: SAM adds no validator
    assert {key: (r.throttle.rate_per_s, r.throttle.burst) for key, r in routes.items()} == {
        ("POST", "/pets"): (100.0, 5),            # /~1pets POST over the stage's /* *
        ("PUT", "/pets/{id}"): (2.0, 50),         # /pets/{id} * sets the rate; the burst is the stage's
        ("GET", "/pets/{id}"): (2.0, 9),          # the resource's setting over /* GET's, field by field
        ("GET", "/pets"): (7.0, 9),               # /* GET over /* *
    }


def test_definition_bodies_get_sam_auth():
    template = load("definition_body.yaml")
    rows = table(template)
    token = ("TokenAuth", "TOKEN", "AuthorizerFunction", ("method.request.header.Authorization",), 300)
    pool = ("Pool", "COGNITO_USER_POOLS", None, ("method.request.header.Authorization",), 0)
    jwt = ("Jwt", "JWT", None, ("$request.header.Authorization",), 0)
    store = {"function": "StoreFunction", "scopes": (), "throttle": (10000.0, 20)}
    assert {key: row for key, row in rows.items() if key[0] == "StoreApi"} == {
        # DefaultAuthorizer and ApiKeyRequired written into the document
        ("StoreApi", "GET", "/products"): {**store, "authorizer": token, "api_key": True},
        # OverrideApiAuth: the event's authorizer (with its declared scopes) and ApiKeyRequired: false
        ("StoreApi", "POST", "/products"): {**store, "authorizer": pool, "scopes": ("store/admin",), "api_key": False},
        ("StoreApi", "GET", "/status"): {**store, "authorizer": None, "api_key": False},      # NONE, api_key_false
        ("StoreApi", "DELETE", "/admin"): {**store, "authorizer": pool, "api_key": True},     # its own security
    }
    assert any("Events.Basket" in w and "MergeDefinitions" in w for w in template.warnings)
    assert set(key for key in rows if key[0] == "ReportsApi") == {
        ("ReportsApi", "GET", "/reports"), ("ReportsApi", "POST", "/reports"), ("ReportsApi", "GET", "/export")}
    assert rows["ReportsApi", "GET", "/reports"]["function"] == "ArchiveFunction"
    post = route_of(template, "ReportsApi", "POST", "/reports")
    assert dict(post.validation.body_models) == {"application/json": {"type": "object", "required": ["title"]}}
    chat = {"function": "ChatFunction", "scopes": (), "api_key": False, "throttle": None}
    assert {key: row for key, row in rows.items() if key[0] == "ChatApi"} == {
        ("ChatApi", "GET", "/rooms"): {**chat, "authorizer": jwt},
        ("ChatApi", "OPTIONS", "/rooms"): {**chat, "authorizer": None},
        ("ChatApi", "POST", "/rooms/{id}"): {**chat, "authorizer": jwt},       # an event SAM adds to the document
    }
    apis = template.apis
    # the RestApi properties win over the document's extensions; without them, the document's
    assert (apis["StoreKeysApi"].api_key_source, apis["StoreKeysApi"].binary_media_types) == \
        ("HEADER", ("application/pdf",))
    assert (apis["ReportsApi"].api_key_source, apis["ReportsApi"].binary_media_types) == ("AUTHORIZER", ("image/png",))
    assert not any("not read" in w or "not enforced" in w or "more than once" in w for w in template.warnings)


# --- smaller templates ------------------------------------------------------------------------------

def write(tmp_path, api_props, events, http=False, extra=""):
    """A template with an API `Api` (props as YAML), an authorizer function `AuthFn` and a function
    `Fn` whose events (YAML) target the API."""
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    body = textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Api:
            Type: AWS::Serverless::{kind}
            Properties:
        {props}
          AuthFn:
            Type: AWS::Serverless::Function
            Properties: {{CodeUri: src/, Handler: app.handler, Runtime: python3.12}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
        {events}
        {extra}""").format(kind="HttpApi" if http else "Api",
                           props=textwrap.indent(textwrap.dedent(api_props), " " * 6),
                           events=textwrap.indent(textwrap.dedent(events), " " * 8),
                           extra=textwrap.indent(textwrap.dedent(extra), "  "))
    path = tmp_path / "template.yaml"
    path.write_text(body)
    return path


# (API props end inside Auth: a line "  Key: value" appended goes into it)
REST_TOKEN = "StageName: Prod\nAuth:\n  DefaultAuthorizer: Tok\n  Authorizers:\n    Tok: {FunctionArn: !GetAtt AuthFn.Arn}\n"
GET_EVENT = "Get: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /x, Method: get%s}}\n"
HTTP_GET_EVENT = "Get: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /x, Method: get%s}}\n"


@pytest.mark.parametrize("preflight, expected", [("true", "Tok"), ("false", None)])
def test_default_authorizer_on_an_options_route(tmp_path, preflight, expected):
    props = REST_TOKEN + f"  AddDefaultAuthorizerToCorsPreflight: {preflight}\n"
    path = write(tmp_path, props, "Opt: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /x, Method: options}}\n")
    route = load_template(path).routes[0]
    assert (route.method, None if route.authorizer is None else route.authorizer.name) == ("OPTIONS", expected)


def test_cors_preflights_that_aws_guards_are_reported(tmp_path):
    props = REST_TOKEN + "  ApiKeyRequired: true\nCors: \"'*'\"\n"
    warnings = load_template(write(tmp_path, props, GET_EVENT % "")).warnings
    assert any("preflights need the DefaultAuthorizer" in w for w in warnings)
    assert any("preflights need an API key" in w for w in warnings)


def test_implicit_api_takes_auth_from_globals(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""\
        Transform: AWS::Serverless-2016-10-31
        Globals:
          HttpApi:
            Auth:
              DefaultAuthorizer: Jwt
              Authorizers:
                Jwt:
                  IdentitySource: $request.header.Authorization
                  JwtConfiguration: {Issuer: https://issuer.example, Audience: [app]}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.12
              Events:
                Any: {Type: HttpApi}
        """))
    route = load_template(tmp_path / "template.yaml").routes[0]
    assert (route.api.logical_id, route.path, route.authorizer.type, route.authorizer.issuers) == \
        ("ServerlessHttpApi", "$default", "JWT", ("https://issuer.example",))


def test_function_arn_resolves_through_a_parameter(tmp_path):
    path = write(tmp_path, """\
        StageName: Prod
        Auth:
          Authorizers:
            Tok: {FunctionArn: !Ref AuthArn}
        """, GET_EVENT % ", Auth: {Authorizer: Tok}")
    text = path.read_text().replace("Resources:", "Parameters:\n  AuthArn:\n    Type: String\n"
                                    "    Default: arn:aws:lambda:us-east-1:123456789012:function:AuthFn:live\nResources:")
    path.write_text(text)
    assert load_template(path).routes[0].authorizer.function == "AuthFn"


def test_resource_policies_are_reported_not_enforced(tmp_path):
    props = """\
        StageName: Prod
        Auth:
          ResourcePolicy: {IpRangeWhitelist: [10.0.0.0/8]}
        """
    template = load_template(write(tmp_path, props, GET_EVENT % ", Auth: {ResourcePolicy: {AwsAccountBlacklist: ['1']}}"))
    assert any("API Api: Auth.ResourcePolicy is not enforced locally" == w for w in template.warnings)
    assert any("function Fn: Events.Get.Auth.ResourcePolicy is not enforced locally" == w for w in template.warnings)


# --- bad values name the resource and the property --------------------------------------------------

BAD = [
    # (API props, events, http, resource, property, words in the message)
    (REST_TOKEN, GET_EVENT % ", Auth: {Authorizer: Missing}", False, "Fn", "Events.Get.Auth.Authorizer", "Missing"),
    ("StageName: Prod\nAuth: {Authorizers: {Tok: {Identity: {Header: X}}}}\n", GET_EVENT % "", False, "Api",
     "Auth.Authorizers.Tok.FunctionArn", "required"),
    ("StageName: Prod\nAuth: {DefaultAuthorizer: Nope, Authorizers: {Tok: {FunctionArn: !GetAtt AuthFn.Arn}}}\n",
     GET_EVENT % "", False, "Api", "Auth.DefaultAuthorizer", "Nope"),
    ("StageName: Prod\nAuth: {Authorizers: {Tok: {FunctionArn: !GetAtt AuthFn.Arn}}}\n",
     GET_EVENT % ", Auth: {Authorizer: NONE}", False, "Fn", "Events.Get.Auth.Authorizer", "DefaultAuthorizer"),
    ("StageName: Prod\nAuth: {Authorizers: {Tok: {FunctionArn: !GetAtt AuthFn.Arn, FunctionPayloadType: BODY}}}\n",
     GET_EVENT % "", False, "Api", "Auth.Authorizers.Tok.FunctionPayloadType", "BODY"),
    ("StageName: Prod\nAuth: {Authorizers: {Req: {FunctionArn: !GetAtt AuthFn.Arn, FunctionPayloadType: REQUEST}}}\n",
     GET_EVENT % "", False, "Api", "Auth.Authorizers.Req.Identity", "Headers"),
    ("StageName: Prod\nAuth: {Authorizers: {Tok: {FunctionArn: arn:aws:lambda:us-east-1:1:function:elsewhere}}}\n",
     GET_EVENT % "", False, "Api", "Auth.Authorizers.Tok.FunctionArn", "not a function of this template"),
    ("StageName: Prod\nAuth: {Authorizers: {Tok: {FunctionArn: !GetAtt AuthFn.Arn, Identity: {ReauthorizeEvery: 7200}}}}\n",
     GET_EVENT % "", False, "Api", "Auth.Authorizers.Tok.Identity.ReauthorizeEvery", "3600"),
    ("StageName: Prod\nAuth: {Authorizers: {Pool: {UserPoolArn: arn:aws:1}}}\n", GET_EVENT % "", False, "Api",
     "Auth.Authorizers.Pool.UserPoolArn", "user pool ARN"),
    ("StageName: Prod\nAuth: {Authoriser: {}}\n", GET_EVENT % "", False, "Api", "Auth", "Authoriser"),
    ("StageName: Prod\nAuth: {UsagePlan: {CreateUsagePlan: ALWAYS}}\n", GET_EVENT % "", False, "Api",
     "Auth.UsagePlan.CreateUsagePlan", "PER_API"),
    ("StageName: Prod\nAuth: {UsagePlan: {Quota: {Limit: 5, Period: DAY}}}\n", GET_EVENT % "", False, "Api",
     "Auth.UsagePlan.CreateUsagePlan", "required"),
    ("StageName: Prod\nAuth: {UsagePlan: {CreateUsagePlan: PER_API, Quota: {Limit: 5, Period: YEAR}}}\n",
     GET_EVENT % "", False, "Api", "Auth.UsagePlan.Quota.Period", "YEAR"),
    ("StageName: Prod\nAuth: {UsagePlan: {CreateUsagePlan: PER_API, Quota: {Period: DAY}}}\n",
     GET_EVENT % "", False, "Api", "Auth.UsagePlan.Quota.Limit", "is required"),
    ("StageName: Prod\nAuth: {UsagePlan: {CreateUsagePlan: SHARED, Throttle: {RateLimit: 10, BurstLimit: lots}}}\n",
     GET_EVENT % "", False, "Api", "Auth.UsagePlan.Throttle.BurstLimit", "must be a whole number"),
    ("StageName: Prod\nDefinitionUri: api.yaml\nAuth: {ApiKeyRequired: true}\n", GET_EVENT % "", False, "Api", "Auth",
     "DefinitionBody"),
    ("StageName: Prod\n", GET_EVENT % ", Auth: {ApiKeyRequired: false}", False, "Fn", "Events.Get.Auth.ApiKeyRequired",
     "ApiKeyRequired"),
    (REST_TOKEN, GET_EVENT % ", Auth: {AuthorizationScopes: [a]}", False, "Fn", "Events.Get.Auth.AuthorizationScopes",
     "Authorizer"),
    ("StageName: Prod\nModels: {Pet: {type: object}}\n", GET_EVENT % ", RequestModel: {Model: Dog, ValidateBody: true}",
     False, "Fn", "Events.Get.RequestModel.Model", "Dog"),
    ("StageName: Prod\n", GET_EVENT % ", RequestModel: {Model: Pet}", False, "Fn", "Events.Get.RequestModel.Model",
     "no Models"),
    ("StageName: Prod\nModels: {Pet: {type: object}}\n", GET_EVENT % ", RequestModel: {Model: Pet, ValidateBody: 'yes'}",
     False, "Fn", "Events.Get.RequestModel.ValidateBody", "true or false"),
    ("StageName: Prod\nModels: {Pet: {properties: {}}}\n", GET_EVENT % "", False, "Api", "Models.Pet", "type"),
    ("StageName: Prod\n", GET_EVENT % ", RequestParameters: [querystring.q]", False, "Fn",
     "Events.Get.RequestParameters[0]", "method.request"),
    ("StageName: Prod\nMethodSettings: [{ResourcePath: /*, HttpMethod: '*', ThrottlingRateLimit: fast}]\n",
     GET_EVENT % "", False, "Api", "MethodSettings[0].ThrottlingRateLimit", "number"),
    ("Auth: {Authorizers: {L: {FunctionArn: !GetAtt AuthFn.Arn, AuthorizerPayloadFormatVersion: '3.0'}}}\n",
     HTTP_GET_EVENT % "", True, "Api",
     "Auth.Authorizers.L.AuthorizerPayloadFormatVersion", "3.0"),
    ("Auth: {Authorizers: {L: {FunctionArn: !GetAtt AuthFn.Arn}}}\n",
     HTTP_GET_EVENT % "", True, "Api",
     "Auth.Authorizers.L.AuthorizerPayloadFormatVersion", "1.0 or 2.0"),
    ("Auth: {Authorizers: {L: {FunctionArn: !GetAtt AuthFn.Arn, AuthorizerPayloadFormatVersion: '1.0', "
     "EnableSimpleResponses: true}}}\n",
     HTTP_GET_EVENT % "", True, "Api",
     "Auth.Authorizers.L.EnableSimpleResponses", "2.0"),
    ("Auth: {Authorizers: {J: {IdentitySource: $request.header.Authorization, JwtConfiguration: {issuer: https://i}}}}\n",
     HTTP_GET_EVENT % "", True, "Api",
     "Auth.Authorizers.J.JwtConfiguration.audience", "required"),
    ("Auth: {Authorizers: {J: {JwtConfiguration: {issuer: https://i, audience: [a]}, FunctionArn: !GetAtt AuthFn.Arn}}}\n",
     HTTP_GET_EVENT % "", True, "Api",
     "Auth.Authorizers.J.FunctionArn", "Lambda"),
    ("Auth: {Authorizers: {J: {JwtConfiguration: {issuer: https://i, audience: [a]}}}}\n",
     HTTP_GET_EVENT % "", True, "Api",
     "Auth.Authorizers.J.IdentitySource", "$request.header"),
    ("{}\n", HTTP_GET_EVENT % ", Auth: {Authorizer: AWS_IAM}",
     True, "Fn", "Events.Get.Auth.Authorizer", "EnableIamAuthorizer"),
    ("{}\n", HTTP_GET_EVENT % ", Auth: {AuthorizationScopes: [a]}",
     True, "Fn", "Events.Get.Auth.Authorizer", "DefaultAuthorizer"),
    ("Auth: {UsagePlan: {CreateUsagePlan: PER_API}}\n",
     HTTP_GET_EVENT % "", True, "Api", "Auth", "UsagePlan"),
    ("RouteSettings: {'GET /x': {ThrottlingBurstLimit: -1}}\n",
     HTTP_GET_EVENT % "", True, "Api",
     "RouteSettings.GET /x.ThrottlingBurstLimit", "at least 0"),
]


@pytest.mark.parametrize("props, events, http, resource, prop, words", BAD, ids=[case[4] for case in BAD])
def test_bad_values_name_resource_and_property(tmp_path, props, events, http, resource, prop, words):
    (tmp_path / "api.yaml").write_text("swagger: '2.0'\npaths: {}\n")
    with pytest.raises(TemplateError) as info:
        load_template(write(tmp_path, props, events, http=http))
    assert (info.value.resource, info.value.prop) == (resource, prop)
    assert words in info.value.message
