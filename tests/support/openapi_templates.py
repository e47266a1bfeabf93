"""OpenAPI documents for the tests of gateway.sam.openapi (tests/sam/test_openapi_*.py): the
fixtures, a loader that reads one API's document through the OpenAPI methods alone, writers for
small templates, and the route tables the fixtures give."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from gateway.sam.template import _Loader

OPENAPI_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openapi"
REST_500 = '{"message": "Internal server error"}'
HTTP_500 = '{"message":"Internal Server Error"}'


def loader_for(template: Path, overrides=None) -> tuple:
    """A loader that has read `template` (functions, APIs, intrinsics) and forgotten its routes
    and warnings, so that what the OpenAPI methods add is all there is: (loader, template)."""
    loader = _Loader(str(template), dict(overrides or {}), {}, "us-east-1", None)
    loaded = loader.load()
    loader.routes, loader.warnings = {}, []
    return loader, loaded


def read_api(template: Path, api: str, *, body="DefinitionBody", uri="DefinitionUri", authorizers=None,
             overrides=None):
    """API `api`'s definition read through the OpenAPI methods alone:
    (routes by (METHOD, path), the authorizers the document declares, the loader's warnings)."""
    loader, loaded = loader_for(template, overrides)
    doc = loader._definition(loader.live[api][1], api, body, uri)
    declared = loader._openapi_routes(loaded.apis[api], doc, loaded.functions, authorizers)
    routes = {(method, path): route for (lid, method, path), route in loader.routes.items() if lid == api}
    return routes, declared, loader.warnings


def row(route) -> tuple:
    """A route as one row of a route table."""
    auth = route.authorizer
    return (route.method, route.path, route.function, route.payload_format, route.integration,
            auth.name if auth else None, auth.type if auth else None, route.authorization_scopes,
            route.api_key_required)


def checks(route):
    """What the route's request validator checks: (body media types, query, header, path names)."""
    v = route.validation
    return None if v is None else (sorted(v.body_models), v.required_querystrings, v.required_headers,
                                   v.required_paths)


def write(tmp_path: Path, text: str, name: str = "template.yaml") -> Path:
    """A file next to a copy of the fixtures' code directory (src/app.py)."""
    if not (tmp_path / "src").exists():
        shutil.copytree(OPENAPI_FIXTURES / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


ONE_FUNCTION = """\
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          CodeUri: src/
          Handler: app.handler
          FunctionName: named-fn
      Other:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          CodeUri: src/
          Handler: app.handler
"""


def openapi_api(tmp_path, http: bool, paths: str, schemes: str = "{}", extra: str = "") -> Path:
    """A template with an API whose inline OpenAPI 3 document has these paths and schemes (YAML flow text)."""
    kind = "AWS::Serverless::HttpApi" if http else "AWS::Serverless::Api"
    stage = "" if http else "\n          StageName: v1"
    return write(tmp_path, ONE_FUNCTION + f"""\
      Api:
        Type: {kind}
        Properties:{stage}
          DefinitionBody:
            openapi: "3.0.1"
            info: {{title: t, version: "1"}}
            paths: {paths}
            components: {{securitySchemes: {schemes}}}{extra}
    """)


PROXY = "{type: aws_proxy, uri: !GetAtt Fn.Arn}"


# the route tables of rest-template.yaml's PetStoreApi and http-template.yaml's OrdersApi, as rows
PETSTORE_TABLE = [
    ("GET", "/pets", "PetsFunction", "1.0", "AWS_PROXY", None, None, (), True),
    ("POST", "/pets", "PetsFunction", "1.0", "AWS_PROXY", "TokenAuth", "TOKEN", (), False),
    ("OPTIONS", "/pets", "", "1.0", "MOCK", None, None, (), False),
    ("GET", "/pets/{petId}", "PetsFunction", "1.0", "AWS_PROXY", "CognitoAuth", "COGNITO_USER_POOLS",
     ("pets/read",), False),
    ("DELETE", "/pets/{petId}", "AdminFunction", "1.0", "AWS_PROXY", "sigv4", "AWS_IAM", (), False),
    ("POST", "/validation", "", "1.0", "HTTP", None, None, (), True),
    ("GET", "/validation", "", "1.0", "HTTP", None, None, (), False),
    ("ANY", "/{proxy+}", "PetsFunction", "1.0", "AWS_PROXY", "RequestAuth", "REQUEST", (), False),
    ("GET", "/legacy", "", "1.0", "NONE", None, None, (), False),
]
ORDERS_TABLE = [
    ("GET", "/orders", "OrdersFunction", "2.0", "AWS_PROXY", "JwtAuth", "JWT", ("orders/read",), False),
    ("POST", "/orders", "OrdersFunction", "1.0", "AWS_PROXY", "LambdaAuth", "LAMBDA", (), False),
    ("GET", "/orders/{orderId}", "OrdersFunction", "2.0", "AWS_PROXY", "sigv4Reference", "AWS_IAM", (), False),
    ("GET", "/reports", "ReportsFunction", "2.0", "AWS_PROXY", None, None, (), False),
    ("GET", "/status", "", "1.0", "HTTP_PROXY", None, None, (), False),
    ("GET", "/partners", "", "2.0", "AWS_PROXY", None, None, (), False),
    ("ANY", "$default", "DefaultFunction", "2.0", "AWS_PROXY", None, None, (), False),
]

# cors-template.yaml's OPTIONS /users: AWS's "Enable CORS on a resource using the API Gateway import API"
USERS_PREFLIGHT = (200, (
    ("Content-Type", "application/json"),
    ("Access-Control-Allow-Headers", "Content-Type,X-Amz-Date,Authorization,X-Api-Key"),
    ("Access-Control-Allow-Methods", "*"),
    ("Access-Control-Allow-Origin", "*")), b"")
