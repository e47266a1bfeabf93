"""REST APIs declared as raw CloudFormation resources: AWS::ApiGateway::RestApi with its Resource,
Method, Stage, Deployment, Authorizer, RequestValidator and Model resources, and the ApiKey,
UsagePlan and UsagePlanKey resources of API keys. Part of the template loader's CfnApis (which
provides the _cfn_* methods used here, and gateway.sam.property_values' _flag, _throttle, _quota
and _stage_variables)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from gateway.sam.authorizer_defaults import IAM, IAM_AUTHORIZER, REST_TOKEN_SOURCE, result_ttl_s, validation_expression
from gateway.sam.cors import HTTP_METHODS
from gateway.sam.intrinsics import Unresolvable
from gateway.sam.mock_integrations import FixedResponse
from gateway.sam.template_io import is_intrinsic
from gateway.sam.user_pools import USER_POOL_ARN_FORM, cognito_issuer
from gateway.types import (INTEGRATION_PROXY, ApiKeySpec, ApiSpec, AuthorizerSpec, FunctionSpec, RequestValidation,
                           RouteSpec, ThrottleSpec, UsagePlanSpec)

GW = "AWS::ApiGateway::"
DEFAULT_STAGE = "Prod"                  # the stage SAM names for an API that does not say
AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS")
AUTHORIZER_TYPES = ("TOKEN", "REQUEST", "COGNITO_USER_POOLS")
INTEGRATION_TYPES = ("AWS", "AWS_PROXY", "HTTP", "HTTP_PROXY", "MOCK")
_HEADER_SOURCE = re.compile(r"^method\.request\.header\.[^\s.]+$")
_PARAMETER = re.compile(r"^method\.request\.(querystring|multivaluequerystring|header|multivalueheader|path)\.(.+)$")
_MODEL_URL = re.compile(r"^https://apigateway\.amazonaws\.com/restapis/([^/]+)/models/([^/#]+)$")
_DRAFT4 = "http://json-schema.org/draft-04/schema#"
BUILTIN_MODELS = {      # every REST API has these two
    "Empty": {"$schema": _DRAFT4, "title": "Empty Schema", "type": "object"},
    "Error": {"$schema": _DRAFT4, "title": "Error Schema", "type": "object",
              "properties": {"message": {"type": "string"}}},
}


@dataclass
class _Stage:
    name: str
    variables: Optional[dict[str, str]] = None
    default: Optional[ThrottleSpec] = None                  # MethodSettings "/*" "*"
    methods: dict[tuple[str, str], ThrottleSpec] = field(default_factory=dict)   # (path, METHOD or "*")


class CfnRestApis:
    """Mixed into the loader through CfnApis."""

    def _cfn_rest_apis(self, functions: dict[str, FunctionSpec]) -> None:
        apis = self._cfn_of_type(GW + "RestApi")
        stages = self._rest_stages()
        for lid, props in apis.items():
            doc = self._definition(props, lid, "Body", "BodyS3Location")
            self.apis[lid] = self._rest_api(lid, props, stages.get(lid), doc)
            if doc is not None:
                self._openapi_routes(self.apis[lid], doc, functions)
        authorizers = self._rest_authorizers(functions)
        validators = {lid: (self._cfn_api_id(props, "RestApiId", lid, "REST"),
                            self._flag(self._get(props, "ValidateRequestBody", lid), lid, "ValidateRequestBody", False),
                            self._flag(self._get(props, "ValidateRequestParameters", lid), lid,
                                       "ValidateRequestParameters", False))
                      for lid, props in self._cfn_of_type(GW + "RequestValidator").items()}
        models = self._rest_models()
        paths = self._rest_paths()
        for lid, props in self._cfn_of_type(GW + "Method").items():
            self._rest_method(lid, props, functions, paths, authorizers, validators, models)
        for lid, stage in stages.items():
            if lid in apis and (stage.default or stage.methods):
                self._cfn_stage_throttles(lid, lambda route, stage=stage: stage.methods.get((route.path, route.method))
                                          or stage.methods.get((route.path, "*")) or stage.default)
        self._rest_usage_plans()

    # --- APIs and stages ----------------------------------------------------------------------------

    def _rest_api(self, lid: str, props: dict, stage: Optional[_Stage], doc: Optional[dict]) -> ApiSpec:
        """The API; its properties win over what its OpenAPI document (Body) says, as on AWS."""
        if stage is None:
            self.warn(f"REST API {lid} has no stage (no AWS::ApiGateway::Stage, no Deployment with a StageName), "
                      f"so AWS would not serve it; lambdagate serves it as stage {DEFAULT_STAGE}")
            stage = _Stage(DEFAULT_STAGE)
        return ApiSpec(logical_id=lid, kind="REST", stage_name=stage.name, stage_variables=stage.variables,
                       binary_media_types=self._binary_media_types(self._get(props, "BinaryMediaTypes", lid), doc, lid),
                       api_key_source=self._api_key_source(self._get(props, "ApiKeySourceType", lid), doc, lid))

    def _rest_stages(self) -> dict[str, _Stage]:
        """The stage each REST API is served as: its first AWS::ApiGateway::Stage, else the stage its
        first Deployment with a StageName creates. Also fills self._rest_stage_names (Stage logical
        id -> stage name: what Ref gives on AWS) for usage plans."""
        declared: dict[str, list[_Stage]] = {}
        deployed: dict[str, list[_Stage]] = {}
        self._rest_stage_names: dict[str, str] = {}
        for lid, props in self._cfn_of_type(GW + "Stage").items():
            api = self._cfn_api_id(props, "RestApiId", lid, "REST")
            name = self._rest_stage_name(self._get(props, "StageName", lid), lid, "StageName", required=True)
            self._rest_stage_names[lid] = name
            if api is not None:
                declared.setdefault(api, []).append(self._rest_stage(lid, name, props, ""))
        for lid, props in self._cfn_of_type(GW + "Deployment").items():
            name = self._rest_stage_name(self._get(props, "StageName", lid), lid, "StageName", required=False)
            api = self._cfn_api_id(props, "RestApiId", lid, "REST")
            if name is not None and api is not None:
                description = self._get(props, "StageDescription", lid) or {}
                if not isinstance(description, dict):
                    raise self.err("must be a mapping", resource=lid, prop="StageDescription")
                default = self._throttle(description, "ThrottlingRateLimit", "ThrottlingBurstLimit", lid,
                                         "StageDescription")
                stage = self._rest_stage(lid, name, description, "StageDescription.", default)
                deployed.setdefault(api, []).append(stage)
        chosen: dict[str, _Stage] = {}
        for api in {**deployed, **declared}:
            candidates = declared.get(api) or deployed[api]
            names = list(dict.fromkeys(s.name for s in candidates))
            if len(names) > 1:
                self.warn(f"REST API {api} has stages {', '.join(names)}; lambdagate serves each API once, without "
                          f"a stage in the path, as stage {names[0]}")
            chosen[api] = candidates[0]
        return chosen

    def _rest_stage_name(self, name: Any, lid: str, prop: str, required: bool) -> Optional[str]:
        if name is None and not required:
            return None
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", name):
            raise self.err(f"must be a stage name (letters, digits, - and _), not {name!r}", resource=lid, prop=prop)
        return name

    def _rest_stage(self, lid: str, name: str, props: dict, prefix: str,
                    default: Optional[ThrottleSpec] = None) -> _Stage:
        stage = _Stage(name, self._stage_variables(props, "Variables", lid), default)
        settings = self._get(props, "MethodSettings", lid, f"{prefix}MethodSettings") or []
        if not isinstance(settings, list) or not all(isinstance(s, dict) for s in settings):
            raise self.err("must be a list of mappings", resource=lid, prop=f"{prefix}MethodSettings")
        # "/*" "*" first: a method's own setting narrows it
        for i, setting in sorted(enumerate(settings), key=lambda e: e[1].get("ResourcePath", "/*") != "/*"):
            where = f"{prefix}MethodSettings[{i}]"
            path = setting.get("ResourcePath", "/*")
            method = setting.get("HttpMethod", "*")
            if not isinstance(path, str) or not path.startswith("/") or not isinstance(method, str):
                raise self.err('ResourcePath must be "/*" or a path with ~1 for each / (e.g. /~1pets~1{id}), and '
                               'HttpMethod a method or "*"', resource=lid, prop=where)
            throttle = self._throttle(setting, "ThrottlingRateLimit", "ThrottlingBurstLimit", lid, where,
                                      stage.default)
            if throttle is None:
                continue
            if path == "/*" and method == "*":
                stage.default = throttle
            else:
                decoded = path[1:].replace("~1", "/")
                stage.methods[("/" + decoded.lstrip("/"), method.upper())] = throttle
        return stage

    # --- resources and methods ----------------------------------------------------------------------

    def _rest_paths(self) -> dict[str, tuple[Optional[str], Optional[str]]]:
        """Resource logical id -> (its API's logical id, its full path; None when it is left out)."""
        resources = self._cfn_of_type(GW + "Resource")
        paths: dict[str, tuple[Optional[str], Optional[str]]] = {}

        def path_of(lid: str, seen: tuple) -> tuple[Optional[str], Optional[str]]:
            if lid in paths:
                return paths[lid]
            if lid in seen:
                raise self.err(f"resources {' -> '.join(seen + (lid,))} are each other's parents", resource=lid,
                               prop="ParentId")
            props = resources[lid]
            api = self._cfn_api_id(props, "RestApiId", lid, "REST")
            part = self._get(props, "PathPart", lid)
            if not isinstance(part, str) or not part or "/" in part:
                raise self.err(f"must be one path segment such as pets, {{id}} or {{proxy+}}, not {part!r}",
                               resource=lid, prop="PathPart")
            parent = self._cfn_id(props, "ParentId", lid)
            if parent is None:                   # not known locally: said, and left out with its children
                base = None
            elif parent == "/":
                base = ""
            elif parent in resources:
                parent_api, base = path_of(parent, seen + (lid,))
                if parent_api != api:
                    raise self.err(f"{parent} belongs to another REST API ({parent_api})", resource=lid,
                                   prop="ParentId")
            else:
                raise self.err("must be the RootResourceId of the REST API (!GetAtt Api.RootResourceId) or a Ref to "
                               "an AWS::ApiGateway::Resource", resource=lid, prop="ParentId")
            paths[lid] = (api, None if base is None else f"{base}/{part}")
            return paths[lid]

        for lid in resources:
            path_of(lid, ())
        return paths

    def _rest_method(self, lid: str, props: dict, functions: dict, paths: dict, authorizers: dict,
                     validators: dict, models: dict) -> None:
        api = self._cfn_api(props, "RestApiId", lid, "REST")
        if api is None:
            return
        resource = self._cfn_id(props, "ResourceId", lid)
        if resource is None:
            return
        if resource == "/":
            path = "/"
        elif resource in paths:
            if paths[resource][0] != api.logical_id:
                raise self.err(f"{resource} is a resource of another REST API ({paths[resource][0]})", resource=lid,
                               prop="ResourceId")
            path = paths[resource][1]
            if path is None:
                return
        else:
            raise self.err("must be the RootResourceId of the REST API (!GetAtt Api.RootResourceId) or a Ref to an "
                           "AWS::ApiGateway::Resource", resource=lid, prop="ResourceId")
        method = self._get(props, "HttpMethod", lid)
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS + ("ANY",):
            raise self.err(f"must be an HTTP method (GET, POST, ..., or ANY), not {method!r}", resource=lid,
                           prop="HttpMethod")
        method = method.upper()
        authorization = self._choice(self._get(props, "AuthorizationType", lid) or "NONE", AUTHORIZATION_TYPES, lid,
                                     "AuthorizationType")
        authorizer = None
        if authorization == IAM:
            authorizer = IAM_AUTHORIZER
        elif authorization != "NONE":
            ref = self._cfn_ref(props, "AuthorizerId", lid, (GW + "Authorizer",))
            if ref is not None:
                owner, authorizer = authorizers[ref]
                wanted = ("TOKEN", "REQUEST") if authorization == "CUSTOM" else ("COGNITO_USER_POOLS",)
                if owner != api.logical_id:
                    raise self.err(f"{ref} is an authorizer of another REST API ({owner})", resource=lid,
                                   prop="AuthorizerId")
                if authorizer.type not in wanted:
                    raise self.err(f"AuthorizationType {authorization} needs a {' or '.join(wanted)} authorizer; "
                                   f"{ref} is {authorizer.type}", resource=lid, prop="AuthorizerId")
        integration, function, fixed = self._rest_integration(props, lid, api, method, path, functions)
        operation = self._get(props, "OperationName", lid)
        self._cfn_add_route(RouteSpec(
            api=api, method=method, path=path, function=function, payload_format="1.0",
            operation_name=None if operation is None else str(operation), authorizer=authorizer,
            authorization_scopes=tuple(self._str_list(self._get(props, "AuthorizationScopes", lid), lid,
                                                      "AuthorizationScopes")),
            api_key_required=self._flag(self._get(props, "ApiKeyRequired", lid), lid, "ApiKeyRequired", False),
            validation=self._rest_validation(props, lid, api.logical_id, validators, models),
            integration=integration, static_response=fixed), lid)

    def _rest_integration(self, props: dict, lid: str, api: ApiSpec, method: str, path: str,
                          functions: dict) -> tuple[str, str, Optional[FixedResponse]]:
        """(integration type, logical id of the function it invokes or "", the fixed answer of a MOCK
        integration that has one)."""
        integration = props.get("Integration")
        if is_intrinsic(integration):
            integration = self._get(props, "Integration", lid)
        if not isinstance(integration, dict):
            raise self.err("is required (a method without an integration cannot be deployed): a mapping with Type "
                           "and Uri", resource=lid, prop="Integration")
        itype = self._choice(self._get(integration, "Type", lid, "Integration.Type"), INTEGRATION_TYPES, lid,
                             "Integration.Type")
        if itype is None:
            raise self.err(f"is required ({', '.join(INTEGRATION_TYPES)})", resource=lid, prop="Integration.Type")
        if itype == "MOCK":
            return itype, "", self._cfn_mock_answer(integration, lid, api, method, path)
        if itype != INTEGRATION_PROXY:
            self._cfn_unsupported(api, method, path, itype, lid)
            return itype, "", None
        if "Uri" not in integration:
            raise self.err("is required for an AWS_PROXY integration: the function's invocation URI",
                           resource=lid, prop="Integration.Uri")
        function = self._cfn_function(integration["Uri"], functions, lid, "Integration.Uri", api.stage_variables)
        return itype, function or "", None

    # --- authorizers, validators and models --------------------------------------------------------

    def _rest_authorizers(self, functions: dict) -> dict[str, tuple[Optional[str], AuthorizerSpec]]:
        """Authorizer logical id -> (its API's logical id, the authorizer)."""
        found = {}
        for lid, props in self._cfn_of_type(GW + "Authorizer").items():
            api = self._cfn_api_id(props, "RestApiId", lid, "REST")
            atype = self._choice(self._get(props, "Type", lid), AUTHORIZER_TYPES, lid, "Type")
            if atype is None:
                raise self.err(f"is required ({', '.join(AUTHORIZER_TYPES)})", resource=lid, prop="Type")
            source = self._get(props, "IdentitySource", lid)
            if source is not None and not isinstance(source, str):
                raise self.err("must be a string such as method.request.header.Authorization", resource=lid,
                               prop="IdentitySource")
            sources = tuple(s.strip() for s in (source or "").split(",") if s.strip())
            ttl_s = result_ttl_s(self._get(props, "AuthorizerResultTtlInSeconds", lid), False, self._fail_for(lid),
                                 "AuthorizerResultTtlInSeconds")
            # a regular expression the token must match (TOKEN and Cognito; a REQUEST authorizer has no token)
            expression = None if atype == "REQUEST" else validation_expression(
                self._get(props, "IdentityValidationExpression", lid), self._fail_for(lid),
                "IdentityValidationExpression")
            if atype == "COGNITO_USER_POOLS":
                found[lid] = (api, AuthorizerSpec(
                    name=lid, type=atype, identity_sources=sources or (REST_TOKEN_SOURCE,), ttl_s=ttl_s,
                    validation_expression=expression, issuers=self._rest_pool_issuers(props, lid)))
                continue
            if atype == "TOKEN" and (len(sources) != 1 or not _HEADER_SOURCE.match(sources[0])):
                raise self.err("a TOKEN authorizer needs one header, such as method.request.header.Authorization",
                               resource=lid, prop="IdentitySource")
            if "AuthorizerUri" not in props:
                raise self.err(f"is required for a {atype} authorizer: the function's invocation URI", resource=lid,
                               prop="AuthorizerUri")
            stage_variables = self.apis[api].stage_variables if api in self.apis else None
            found[lid] = (api, AuthorizerSpec(
                name=lid, type=atype, identity_sources=sources, ttl_s=ttl_s, validation_expression=expression,
                function=self._cfn_function(props["AuthorizerUri"], functions, lid, "AuthorizerUri", stage_variables)))
        return found

    def _rest_pool_issuers(self, props: dict, lid: str) -> tuple[str, ...]:
        """The token issuers of a Cognito authorizer's ProviderARNs."""
        try:
            arns = self.r.resolve(props.get("ProviderARNs"))
        except Unresolvable as exc:
            self.warn(f"{lid}: ProviderARNs cannot be resolved locally ({exc}); tokens are accepted from the "
                      "issuers given with --jwks")
            return ()
        if not isinstance(arns, list) or not arns or not all(isinstance(a, str) for a in arns):
            raise self.err("a COGNITO_USER_POOLS authorizer needs a list of user pool ARNs", resource=lid,
                           prop="ProviderARNs")
        issuers = []
        for arn in arns:
            issuer = cognito_issuer(arn)
            pool = self._cfn_template_pool(arn)
            if pool is not None:
                self._cfn_pool_warning(lid, pool)
            elif issuer is None:
                raise self.err(f"{arn!r} is not a Cognito user pool ARN ({USER_POOL_ARN_FORM})", resource=lid,
                               prop="ProviderARNs")
            else:
                issuers.append(issuer)
        return tuple(issuers)

    def _rest_models(self) -> dict[Optional[str], dict[str, dict]]:
        """API logical id -> model name -> JSON Schema (each model under its Name and its logical id,
        which is what Ref gives locally)."""
        models: dict[Optional[str], dict[str, dict]] = {}
        for lid, props in self._cfn_of_type(GW + "Model").items():
            api = self._cfn_api_id(props, "RestApiId", lid, "REST")
            schema = self._get(props, "Schema", lid)
            if isinstance(schema, str):
                try:
                    schema = json.loads(schema)
                except ValueError as exc:
                    raise self.err(f"is not valid JSON: {exc}", resource=lid, prop="Schema") from None
            if not isinstance(schema, dict):
                raise self.err("must be a JSON Schema (draft 4) object", resource=lid, prop="Schema")
            name = self._get(props, "Name", lid)
            table = models.setdefault(api, {})
            table[lid] = schema
            if isinstance(name, str) and name:
                table[name] = schema
        return models

    def _rest_model(self, api: Optional[str], name: Any, models: dict, lid: str, prop: str,
                    seen: tuple = ()) -> dict:
        """A model's schema, with every $ref to another model of the API inlined."""
        if not isinstance(name, str) or not (name in models.get(api, {}) or name in BUILTIN_MODELS):
            raise self.err(f"{name!r} is not a model of REST API {api}", resource=lid, prop=prop)
        if name in seen:
            raise self.err(f"models {' -> '.join(seen + (name,))} refer to each other", resource=lid, prop=prop)
        schema = models.get(api, {}).get(name) or BUILTIN_MODELS[name]

        def inline(node: Any) -> Any:
            if isinstance(node, dict):
                ref = node.get("$ref")
                match = _MODEL_URL.match(ref) if isinstance(ref, str) else None
                if match is not None:
                    owner = match.group(1) if match.group(1) in models else api
                    return self._rest_model(owner, match.group(2), models, lid, prop, seen + (name,))
                return {key: inline(value) for key, value in node.items()}
            if isinstance(node, list):
                return [inline(value) for value in node]
            return node

        return inline(schema)

    def _rest_validation(self, props: dict, lid: str, api: str, validators: dict,
                         models: dict) -> Optional[RequestValidation]:
        """What the method's request validator checks, narrowed to its flags; None when nothing."""
        body_models: dict[str, dict] = {}
        request_models = self._get(props, "RequestModels", lid) or {}
        if not isinstance(request_models, dict):
            raise self.err("must be a mapping of content types to models", resource=lid, prop="RequestModels")
        for content_type, name in request_models.items():
            body_models[content_type] = self._rest_model(api, name, models, lid, f"RequestModels.{content_type}")
        required: dict[str, list[str]] = {"querystring": [], "header": [], "path": []}
        parameters = self._get(props, "RequestParameters", lid) or {}
        if not isinstance(parameters, dict):
            raise self.err("must be a mapping such as {method.request.querystring.name: true}", resource=lid,
                           prop="RequestParameters")
        for key, value in parameters.items():
            match = _PARAMETER.match(key)
            if match is None:
                raise self.err(f"{key!r} is not method.request.querystring|header|path.NAME", resource=lid,
                               prop="RequestParameters")
            if self._flag(value, lid, f"RequestParameters.{key}", False):
                required[match.group(1).replace("multivalue", "")].append(match.group(2))
        ref = self._cfn_ref(props, "RequestValidatorId", lid, (GW + "RequestValidator",), required=False)
        if ref is None:
            return None
        owner, check_body, check_parameters = validators[ref]
        if owner != api:
            raise self.err(f"{ref} is a validator of another REST API ({owner})", resource=lid,
                           prop="RequestValidatorId")
        validation = RequestValidation(
            body_models=body_models if check_body else {},
            required_querystrings=tuple(required["querystring"]) if check_parameters else (),
            required_headers=tuple(required["header"]) if check_parameters else (),
            required_paths=tuple(required["path"]) if check_parameters else ())
        if not (validation.body_models or validation.required_querystrings or validation.required_headers
                or validation.required_paths):
            return None
        return validation

    # --- API keys and usage plans -------------------------------------------------------------------

    def _rest_usage_plans(self) -> None:
        keys: dict[str, ApiKeySpec] = {}
        for lid, props in self._cfn_of_type(GW + "ApiKey").items():
            name = self._get(props, "Name", lid) or lid
            value = self._get(props, "Value", lid)
            if value is not None and (not isinstance(value, str) or len(value) < 20):
                raise self.err("an API key value must be a string of at least 20 characters", resource=lid,
                               prop="Value")
            keys[lid] = ApiKeySpec(name=str(name), value=value,
                                   enabled=self._flag(self._get(props, "Enabled", lid), lid, "Enabled", False))
        plans: dict[str, UsagePlanSpec] = {}
        for lid, props in self._cfn_of_type(GW + "UsagePlan").items():
            plans[lid] = self._rest_usage_plan(lid, props)
        for lid, props in self._cfn_of_type(GW + "UsagePlanKey").items():
            self._choice(self._get(props, "KeyType", lid), ("API_KEY",), lid, "KeyType")
            key = self._cfn_ref(props, "KeyId", lid, (GW + "ApiKey",))
            plan = self._cfn_ref(props, "UsagePlanId", lid, (GW + "UsagePlan",))
            if key is not None and plan is not None:
                keys[key] = replace(keys[key], usage_plans=keys[key].usage_plans + (plans[plan].name,))
        for lid, plan in plans.items():
            if plan.name in self.usage_plans:
                self.warn(f"{lid}: another usage plan is also named {plan.name}; {lid} wins")
            self.usage_plans[plan.name] = plan
        for lid, key in keys.items():
            if key.name in self.api_keys:
                self.warn(f"{lid}: another API key is also named {key.name}; {lid} wins")
            self.api_keys[key.name] = key

    def _rest_usage_plan(self, lid: str, props: dict) -> UsagePlanSpec:
        stages: list[tuple[str, str]] = []
        method_throttles: dict[tuple[str, str, str], ThrottleSpec] = {}
        entries = self._get(props, "ApiStages", lid) if is_intrinsic(props.get("ApiStages")) else props.get("ApiStages")
        if not isinstance(entries or [], list):
            raise self.err("must be a list of {ApiId, Stage}", resource=lid, prop="ApiStages")
        for i, entry in enumerate(entries or []):
            where = f"ApiStages[{i}]"
            if not isinstance(entry, dict):
                raise self.err("must be a mapping with ApiId and Stage", resource=lid, prop=where)
            api = self._cfn_api(entry, "ApiId", lid, "REST", f"{where}.ApiId")
            stage = self._cfn_id(entry, "Stage", lid, True, f"{where}.Stage")
            if api is None or stage is None:
                continue
            stage = self._rest_stage_names.get(stage, stage)      # Ref to a Stage gives its name on AWS
            stages.append((api.logical_id, stage))
            throttles = self._get(entry, "Throttle", lid, f"{where}.Throttle") or {}
            if not isinstance(throttles, dict):
                raise self.err('must be a mapping of "/path/METHOD" to {RateLimit, BurstLimit}', resource=lid,
                               prop=f"{where}.Throttle")
            for method_key, setting in throttles.items():
                throttle = self._throttle(setting, "RateLimit", "BurstLimit", lid, f"{where}.Throttle.{method_key}")
                if throttle is not None:
                    method_throttles[(api.logical_id, stage, method_key)] = throttle
        quota = self._quota(self._get(props, "Quota", lid), lid, "Quota")
        return UsagePlanSpec(name=str(self._get(props, "UsagePlanName", lid) or lid), stages=tuple(stages),
                             throttle=self._throttle(self._get(props, "Throttle", lid), "RateLimit", "BurstLimit",
                                                     lid, "Throttle"),
                             quota=quota, method_throttles=method_throttles)
