"""OpenAPI definitions of APIs: DefinitionBody / DefinitionUri (SAM) and Body / BodyS3Location
(AWS::ApiGateway::RestApi, AWS::ApiGatewayV2::Api), read into RouteSpec values with their
authorizers, validators and API key requirements, as API Gateway imports such a document (Swagger
2.0 or OpenAPI 3, with the x-amazon-apigateway-* extensions). A part of the template loader.

Authorizers and API keys are in gateway.sam.openapi_auth, request validation in
gateway.sam.openapi_models."""
from __future__ import annotations

import os
import re
from typing import Any, Mapping, Optional

import yaml

from gateway.errors import TemplateError
from gateway.sam.authorizer_defaults import IAM, IAM_AUTHORIZER
from gateway.sam.intrinsics import NO_VALUE, Unresolvable
from gateway.sam.lambda_uris import function_invoked_by
from gateway.sam.mock_integrations import MockShapeError, from_openapi, mock_answer
from gateway.sam.openapi_auth import AUTH_KEY, DocumentSecurity, read_security, route_security
from gateway.sam.openapi_models import VALIDATOR_KEY, VALIDATORS_KEY, dereference, request_validation
from gateway.sam.template_io import CfnYamlLoader, is_intrinsic, load_yaml
from gateway.sam.user_pools import USER_POOL_TYPE
from gateway.types import INTEGRATION_PROXY, ApiSpec, AuthorizerSpec, FunctionSpec, RouteSpec

INTEGRATION_KEY = "x-amazon-apigateway-integration"
ANY_METHOD_KEY = "x-amazon-apigateway-any-method"
API_KEY_SOURCE_KEY = "x-amazon-apigateway-api-key-source"
BINARY_MEDIA_TYPES_KEY = "x-amazon-apigateway-binary-media-types"
OPERATION_KEYS = ("get", "put", "post", "delete", "options", "head", "patch", ANY_METHOD_KEY)
INTEGRATION_TYPES = ("aws_proxy", "aws", "http", "http_proxy", "mock")
# what API Gateway answers when a method's integration cannot run (REST and HTTP API word it apart)
INTERNAL_ERROR_BODY = {"REST": '{"message": "Internal server error"}', "HTTP": '{"message":"Internal Server Error"}'}
_SUB_ALIAS = re.compile(r"\$\{([A-Za-z0-9]+)\.Alias\}")
_MAX_INCLUDE_DEPTH = 8
# what becomes of a request whose function (or authorizer function) is not found, as on AWS
_UNINVOKABLE = "; lambdagate cannot invoke it, so its requests get API Gateway's 500"


def api_key_source(doc: Any) -> Optional[str]:
    """`x-amazon-apigateway-api-key-source`: HEADER or AUTHORIZER; None when absent or not one of them."""
    value = doc.get(API_KEY_SOURCE_KEY) if isinstance(doc, dict) else None
    value = value.strip().upper() if isinstance(value, str) else None
    return value if value in ("HEADER", "AUTHORIZER") else None


def binary_media_types(doc: Any) -> tuple[str, ...]:
    """`x-amazon-apigateway-binary-media-types`, "~1" turned into "/" as for BinaryMediaTypes."""
    types = doc.get(BINARY_MEDIA_TYPES_KEY) if isinstance(doc, dict) else None
    return tuple(t.replace("~1", "/") for t in types if isinstance(t, str)) if isinstance(types, list) else ()


def _alias_as_arn(value: Any) -> Any:
    """SAM's `${Function.Alias}` in an Fn::Sub (the AutoPublishAlias ARN) as `${Function.Arn}`:
    the alias qualifier makes no difference to which function runs locally."""
    if isinstance(value, str):
        return _SUB_ALIAS.sub(r"${\1.Arn}", value)
    if isinstance(value, list):
        return [_alias_as_arn(v) for v in value]
    if isinstance(value, dict):
        return {k: _alias_as_arn(v) for k, v in value.items()}
    return value


def _pointer_part(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


class OpenApiDefinitions:
    """Mixed into the loader (see ApiDeclarations for what it provides)."""

    # the document
    def _definition(self, props: dict, lid: str, body_prop: str, uri_prop: str) -> Optional[dict]:
        """The API's OpenAPI document (body_prop inline, or the local file uri_prop names, or an
        AWS::Include transform), None when it has none."""
        body, uri = props.get(body_prop), props.get(uri_prop)
        if body is not None and uri is not None and body_prop == "DefinitionBody":
            raise self.err(f"Specify either '{uri_prop}' or '{body_prop}' property and not both.", resource=lid,
                           prop=body_prop)                     # SAM's words; CloudFormation takes Body
        if body is not None:
            prop = body_prop
            if isinstance(body, str):                          # Body given as JSON or YAML text
                body = self._parse_text(body, lid, prop)
            doc = self._document(body, lid, prop, literal=False)
        elif uri is not None:
            prop = uri_prop
            doc = self._document(self._read_definition(self._get(props, uri_prop, lid), lid, prop), lid, prop,
                                 literal=True)
        else:
            return None
        if doc is None or doc is NO_VALUE:
            return None
        if not isinstance(doc, dict):
            raise self.err("must be an OpenAPI document: a mapping with swagger (2.0) or openapi (3.x) and paths",
                           resource=lid, prop=prop)
        return doc

    def _parse_text(self, text: str, lid: str, prop: str) -> Any:
        try:
            return yaml.load(text, Loader=CfnYamlLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise self.err(f"is not a JSON or YAML document: {exc}", resource=lid, prop=prop) from None

    def _read_definition(self, location: Any, lid: str, prop: str) -> Any:
        """The document a DefinitionUri or an AWS::Include Location names: a local YAML or JSON file."""
        if (isinstance(location, str) and location.startswith("s3://")) or \
                (isinstance(location, dict) and ("Bucket" in location or "Key" in location)):
            shown = location if isinstance(location, str) else \
                f"s3://{location.get('Bucket', '?')}/{location.get('Key', '?')}"
            raise self.err(f"{shown} is in Amazon S3, which lambdagate does not read; point {prop} at a local file "
                           "(a path relative to the template)", resource=lid, prop=prop)
        if not isinstance(location, str) or not location.strip():
            raise self.err(f"must be the path of a local OpenAPI file, not {location!r}", resource=lid, prop=prop)
        path = os.path.normpath(os.path.join(self.dir, location))
        if not os.path.isfile(path):
            raise self.err(f"OpenAPI file {path} not found", resource=lid, prop=prop)
        try:
            return load_yaml(path)
        except TemplateError as exc:
            raise self.err(f"{path}: {exc.message}", resource=lid, prop=prop) from None

    def _document(self, node: Any, lid: str, prop: str, literal: bool, depth: int = 0, where: str = "#") -> Any:
        """`node` with AWS::Include transforms read and intrinsics resolved where they can be: one
        that cannot is left as written, with a warning (it only matters where it is needed)."""
        if isinstance(node, list):
            items = (self._document(v, lid, prop, literal, depth, f"{where}/{i}") for i, v in enumerate(node))
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if "Fn::Transform" in node:
            if depth >= _MAX_INCLUDE_DEPTH:
                raise self.err(f"AWS::Include nests more than {_MAX_INCLUDE_DEPTH} deep (a file including itself?)",
                               resource=lid, prop=prop)
            included = self._include(node["Fn::Transform"], lid, prop)
            siblings = {k: v for k, v in node.items() if k != "Fn::Transform"}
            if siblings:
                if not isinstance(included, dict):
                    raise self.err(f"AWS::Include at {where} must give a mapping to merge with its sibling keys",
                                   resource=lid, prop=prop)
                included = {**included, **siblings}
            return self._document(included, lid, prop, literal, depth + 1, where)
        if is_intrinsic(node):
            if literal:
                self.warn(f"API {lid}: {prop} holds intrinsic functions, which AWS does not resolve in a file "
                          "(only DefinitionBody, directly or through AWS::Include); lambdagate resolves them")
            try:
                return self.r.resolve(_alias_as_arn(node))
            except Unresolvable as exc:
                self.warn(f"API {lid}: {prop} at {where}: {exc}; left unresolved")
                return node
        out = {}
        for key, value in node.items():
            value = self._document(value, lid, prop, literal, depth, f"{where}/{_pointer_part(key)}")
            if value is not NO_VALUE:
                out[key] = value
        return out

    def _include(self, transform: Any, lid: str, prop: str) -> Any:
        name = transform.get("Name") if isinstance(transform, dict) else None
        if name != "AWS::Include":
            raise self.err(f"Fn::Transform {name!r} does not run locally; only AWS::Include is read", resource=lid,
                           prop=prop)
        params = transform.get("Parameters")
        location = params.get("Location") if isinstance(params, dict) else None
        where = f"{prop} (AWS::Include Location)"
        if location is None:
            raise self.err("AWS::Include needs Parameters.Location", resource=lid, prop=where)
        try:
            location = self.r.resolve(location)
        except Unresolvable as exc:
            raise self.err(f"cannot be resolved locally: {exc}", resource=lid, prop=where) from None
        return self._read_definition(location, lid, where)

    # integrations
    def _function_for_uri(self, uri: Any, functions: Mapping[str, FunctionSpec], where: str,
                          stage_variables: Optional[Mapping[str, str]] = None) -> Optional[str]:
        """The logical id of the template function an AWS_PROXY integration or authorizer URI
        invokes (gateway.sam.lambda_uris), possibly still an intrinsic; else None, said in a warning."""
        value = uri
        if isinstance(uri, (dict, list)):
            try:
                value = self.r.resolve(_alias_as_arn(uri))
            except Unresolvable as exc:
                self.warn(f"{where}: the function URI cannot be resolved locally ({exc}){_UNINVOKABLE}")
                return None
        if not isinstance(value, str) or not value:
            self.warn(f"{where}: {value!r} is not a Lambda function URI{_UNINVOKABLE}")
            return None
        function, why_not = function_invoked_by(value, functions, stage_variables)
        if function is None:
            self.warn(f"{where}: {why_not}{_UNINVOKABLE}")
        return function

    # routes
    def _openapi_routes(self, api: ApiSpec, doc: dict, functions: Mapping[str, FunctionSpec],
                        authorizers: Optional[Mapping[str, AuthorizerSpec]] = None) -> dict[str, AuthorizerSpec]:
        """Adds the routes of `doc`'s paths to self.routes for `api`; returns the authorizers the
        document declares (by security scheme name)."""
        lid, http = api.logical_id, api.kind == "HTTP"

        def warn(message: str) -> None:
            self.warn(f"API {lid}: {message}")

        def fail(message: str, prop: str) -> TemplateError:
            return self.err(message, resource=lid, prop=prop)

        if "swagger" not in doc and "openapi" not in doc:
            warn("the definition has neither swagger nor openapi; it is read as OpenAPI")
        if API_KEY_SOURCE_KEY in doc and api_key_source(doc) is None:
            warn(f"{API_KEY_SOURCE_KEY} must be HEADER or AUTHORIZER, not {doc[API_KEY_SOURCE_KEY]!r}; ignored")
        if http and (VALIDATORS_KEY in doc or VALIDATOR_KEY in doc):
            warn("request validators exist for REST APIs only; an HTTP API does not validate requests")
        user_pools = frozenset(key for key, res in self.r.resources.items()
                               if isinstance(res, dict) and res.get("Type") == USER_POOL_TYPE)
        security = read_security(
            doc, http, lambda uri, where: self._function_for_uri(uri, functions, f"API {lid}: {where}",
                                                                 api.stage_variables),
            fail, warn, authorizers, user_pools)
        paths = doc.get("paths")
        if paths is None:
            warn("the definition has no paths")
            paths = {}
        if not isinstance(paths, dict):
            raise fail("must be a mapping of paths to operations", "paths")
        for path, item in paths.items():
            path = str(path)
            if not isinstance(item, dict):
                warn(f"paths.{path} is not a mapping of operations; skipped")
                continue
            if not path.startswith("/") and not (http and path == "$default"):
                warn(f"path {path!r} does not start with /; skipped")
                continue
            for key, operation in item.items():
                if not isinstance(key, str) or key.lower() not in OPERATION_KEYS:
                    continue                   # parameters, summary, servers, extensions
                method = "ANY" if key.lower() == ANY_METHOD_KEY or path == "$default" else key.upper()
                if not isinstance(operation, dict):
                    warn(f"{method} {path} is not a mapping; skipped")
                    continue
                route = self._openapi_route(api, doc, path, item, key, method, operation, security, functions,
                                            warn, fail)
                route_key = (lid, method, path)
                if route_key in self.routes:
                    warn(f"{method} {path} is defined more than once; the OpenAPI definition's wins")
                    del self.routes[route_key]
                self.routes[route_key] = route
        return dict(security.declared)

    def _openapi_route(self, api: ApiSpec, doc: dict, path: str, item: dict, key: str, method: str,
                       operation: dict, security: DocumentSecurity, functions: Mapping[str, FunctionSpec],
                       warn, fail) -> RouteSpec:
        """One operation's route; one whose integration lambdagate does not run is answered 500."""
        http, where = api.kind == "HTTP", f"{method} {path}"
        prop = f"paths.{path}.{key}.{INTEGRATION_KEY}"
        integration = operation.get(INTEGRATION_KEY)
        if integration is not None:
            integration = dereference(doc, integration, warn, where)
            if not isinstance(integration, dict):
                raise fail("must be a mapping with type and uri", prop)
            kind = str(integration.get("type", "")).lower()
            if kind not in INTEGRATION_TYPES:
                raise fail(f"type must be one of {', '.join(INTEGRATION_TYPES)}, not {integration.get('type')!r}",
                           f"{prop}.type")
        subtype = integration.get("integrationSubtype") if integration is not None else None
        function, payload, fixed = "", "1.0", None
        if integration is not None and kind == "mock" and not http:
            kind = "MOCK"
            try:
                answer = mock_answer(from_openapi(integration))
            except MockShapeError as exc:
                raise fail(exc.message, f"{prop}.{exc.prop}") from None
            fixed = answer.response
            warning = answer.warning(where)
            if warning is not None:
                warn(warning)
        elif integration is not None and kind == "aws_proxy" and not subtype:
            function = self._function_for_uri(integration.get("uri"), functions, f"API {api.logical_id}: {where}",
                                              api.stage_variables) or ""
            kind = INTEGRATION_PROXY
            if http:
                payload = str(integration.get("payloadFormatVersion", "2.0"))
                if payload not in ("1.0", "2.0"):
                    raise fail(f"must be \"1.0\" or \"2.0\", not {payload!r}", f"{prop}.payloadFormatVersion")
        else:
            answer = f"API Gateway's 500 {INTERNAL_ERROR_BODY[api.kind]}"
            if integration is None:
                kind = "NONE"
                warn(f"{where} has no {INTEGRATION_KEY}: lambdagate answers it with {answer}" + (
                    "" if http else " (AWS does not deploy such a REST API: \"No integration defined for method\")"))
            else:
                kind = "AWS" if subtype else kind.upper()
                what = f"an AWS service integration ({subtype})" if subtype else \
                    f"an {kind} integration" if kind[0] in "AH" else f"a {kind} integration"
                warn(f"{where} has {what}, which lambdagate does not run: it answers with {answer}")
        authorizer, scopes, api_key = route_security(operation.get("security", doc.get("security")), security,
                                                     http, warn, where)
        auth = operation.get(AUTH_KEY)
        if authorizer is None and isinstance(auth, dict) and str(auth.get("type", "")).upper() == IAM:
            authorizer = IAM_AUTHORIZER
        operation_id = operation.get("operationId")
        return RouteSpec(api=api, method=method, path=path, function=function, payload_format=payload,
                         operation_name=None if operation_id is None else str(operation_id),
                         authorizer=authorizer, authorization_scopes=scopes, api_key_required=api_key,
                         validation=None if http else request_validation(doc, item, operation, warn, where),
                         integration=kind, static_response=fixed)
