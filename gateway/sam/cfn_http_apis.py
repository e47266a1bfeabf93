"""HTTP APIs declared as raw CloudFormation resources: AWS::ApiGatewayV2::Api (quick create included:
Target and RouteKey on the API, amended by ApiGatewayManagedOverrides) with its Route, Integration,
Stage and Authorizer resources. Part of the template loader's CfnApis (which provides the _cfn_*
methods used here, and gateway.sam.property_values' _flag, _throttle and _stage_variables)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from gateway.sam.authorizer_defaults import HTTP_TOKEN_SOURCE, IAM, IAM_AUTHORIZER, result_ttl_s
from gateway.sam.cors import HTTP_METHODS, http_cors
from gateway.sam.intrinsics import Unresolvable
from gateway.types import INTEGRATION_PROXY, ApiSpec, AuthorizerSpec, FunctionSpec, RouteSpec, ThrottleSpec

V2 = "AWS::ApiGatewayV2::"
DEFAULT_STAGE = "$default"
ROUTE_AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM", "JWT")
INTEGRATION_TYPES = ("AWS_PROXY", "HTTP_PROXY")      # all an HTTP API takes
PAYLOAD_FORMATS = ("1.0", "2.0")
_TARGET = re.compile(r"^integrations/(.+)$")


@dataclass
class _Stage:
    name: str
    variables: Optional[dict[str, str]] = None
    default: Optional[ThrottleSpec] = None                          # DefaultRouteSettings
    routes: dict[str, ThrottleSpec] = field(default_factory=dict)   # RouteSettings by route key


@dataclass(frozen=True)
class _Integration:
    api: Optional[str]
    type: str                 # RouteSpec.integration: AWS_PROXY (Lambda), HTTP_PROXY, AWS (an AWS service)
    function: str             # "" when it invokes no function of the template
    payload_format: str
    label: Optional[str] = None   # an AWS service integration as the template says it: AWS_PROXY SQS-SendMessage


class CfnHttpApis:
    """Mixed into the loader through CfnApis."""

    def _cfn_http_apis(self, functions: dict[str, FunctionSpec]) -> None:
        apis = self._cfn_of_type(V2 + "Api")
        overrides: dict[str, tuple[str, dict]] = {}       # API -> (overrides logical id, properties)
        for lid, props in self._cfn_of_type(V2 + "ApiGatewayManagedOverrides").items():
            api = self._cfn_ref(props, "ApiId", lid, (V2 + "Api",))
            if api is not None:
                overrides[api] = (lid, props)
        stages = self._http_stages()
        served: dict[str, _Stage] = {}
        for lid, props in apis.items():
            protocol = self._choice(self._get(props, "ProtocolType", lid), ("HTTP", "WEBSOCKET"), lid, "ProtocolType")
            if protocol == "WEBSOCKET":
                self.warn(f"API {lid}: WebSocket APIs are not served by lambdagate; its routes are left out")
                continue
            if protocol is None and "Body" not in props and "BodyS3Location" not in props:
                raise self.err("is required (HTTP or WEBSOCKET) unless the API is imported from Body",
                               resource=lid, prop="ProtocolType")
            candidates = stages.get(lid, [])
            if "Target" in props:      # quick create: a $default stage, amended by the overrides
                olid, oprops = overrides.get(lid, (lid, {}))
                candidates = [self._http_stage(olid, DEFAULT_STAGE, self._get(oprops, "Stage", olid) or {},
                                               "Stage.")] + candidates
            self.apis[lid], served[lid] = self._http_api(lid, props, candidates)
        for lid in served:
            doc = self._definition(apis[lid], lid, "Body", "BodyS3Location")
            if doc is not None:
                self._openapi_routes(self.apis[lid], doc, functions)
        integrations = self._http_integrations(functions)
        authorizers = self._http_authorizers(functions)
        for lid in served:
            if "Target" in apis[lid]:
                self._http_quick_route(lid, apis[lid], overrides.get(lid), functions, authorizers)
        for lid, props in self._cfn_of_type(V2 + "Route").items():
            self._http_route(lid, props, integrations, authorizers)
        for lid, stage in served.items():
            if stage.default or stage.routes:
                self._cfn_stage_throttles(lid, lambda route, stage=stage: stage.routes.get(
                    route.path if route.path == "$default" else f"{route.method} {route.path}") or stage.default)

    # --- APIs and stages ----------------------------------------------------------------------------

    def _http_api(self, lid: str, props: dict, stages: list[_Stage]) -> tuple[ApiSpec, _Stage]:
        """The API and the stage it is served as: its $default stage, else its first."""
        names = list(dict.fromkeys(s.name for s in stages))
        if not stages:
            self.warn(f"HTTP API {lid} has no stage (no AWS::ApiGatewayV2::Stage), so AWS would not serve it; "
                      f"lambdagate serves it as stage {DEFAULT_STAGE}")
            stage = _Stage(DEFAULT_STAGE)
        else:
            stage = next((s for s in stages if s.name == DEFAULT_STAGE), stages[0])
            if len(names) > 1:
                self.warn(f"HTTP API {lid} has stages {', '.join(names)}; lambdagate serves each API once, without "
                          f"a stage in the path, as stage {stage.name}")

        return ApiSpec(logical_id=lid, kind="HTTP", stage_name=stage.name, stage_variables=stage.variables,
                       cors=http_cors(self._get(props, "CorsConfiguration", lid), self._fail_for(lid))), stage

    def _http_stages(self) -> dict[str, list[_Stage]]:
        """API logical id -> its AWS::ApiGatewayV2::Stage resources, in template order."""
        stages: dict[str, list[_Stage]] = {}
        for lid, props in self._cfn_of_type(V2 + "Stage").items():
            api = self._cfn_api_id(props, "ApiId", lid, "HTTP")
            name = self._get(props, "StageName", lid)
            if not isinstance(name, str) or not re.fullmatch(r"\$default|[A-Za-z0-9_-]{1,128}", name):
                raise self.err(f"must be $default or a stage name (letters, digits, - and _), not {name!r}",
                               resource=lid, prop="StageName")
            if api is not None:
                stages.setdefault(api, []).append(self._http_stage(lid, name, props, ""))
        return stages

    def _http_stage(self, lid: str, name: str, props: dict, prefix: str) -> _Stage:
        if not isinstance(props, dict):
            raise self.err("must be a mapping", resource=lid, prop=prefix.rstrip(".") or None)
        stage = _Stage(name, self._stage_variables(props, "StageVariables", lid))
        stage.default = self._throttle(self._get(props, "DefaultRouteSettings", lid), "ThrottlingRateLimit",
                                       "ThrottlingBurstLimit", lid, f"{prefix}DefaultRouteSettings")
        settings = self._get(props, "RouteSettings", lid) or {}
        if not isinstance(settings, dict):
            raise self.err('must be a mapping of route keys ("GET /pets") to settings', resource=lid,
                           prop=f"{prefix}RouteSettings")
        for route_key, setting in settings.items():
            throttle = self._throttle(setting, "ThrottlingRateLimit", "ThrottlingBurstLimit", lid,
                                      f"{prefix}RouteSettings.{route_key}", stage.default)
            if throttle is not None:
                stage.routes[route_key] = throttle
        return stage

    # --- routes and integrations --------------------------------------------------------------------

    def _http_route_key(self, key: Any, lid: str, prop: str) -> tuple[str, str]:
        """(METHOD or ANY, path or $default) of a route key."""
        if key == "$default":
            return "ANY", "$default"
        method, _, path = key.partition(" ") if isinstance(key, str) else ("", "", "")
        if method not in HTTP_METHODS + ("ANY",) or not path.startswith("/") or " " in path:
            raise self.err(f'must be $default or "METHOD /path" (e.g. "GET /pets/{{id}}", "ANY /{{proxy+}}"), '
                           f"not {key!r}", resource=lid, prop=prop)
        return method, path

    def _http_route(self, lid: str, props: dict, integrations: dict, authorizers: dict) -> None:
        api = self._cfn_api(props, "ApiId", lid, "HTTP")
        if api is None:
            return
        method, path = self._http_route_key(self._get(props, "RouteKey", lid), lid, "RouteKey")
        target = self._cfn_id(props, "Target", lid, required=False)
        if target is None:
            if "Target" not in props:
                self.warn(f"API {api.logical_id}: route {method} {path} ({lid}) has no Target (integration); "
                          "it is not served")
            return
        match = _TARGET.match(target)
        if match is None:
            raise self.err(f'must be "integrations/<integration id>", not {target!r}', resource=lid, prop="Target")
        integration = integrations.get(match.group(1))
        if integration is None:
            if match.group(1) in self.live:
                raise self.err(f"{match.group(1)} is not an AWS::ApiGatewayV2::Integration", resource=lid,
                               prop="Target")
            self.warn(f"{lid}: Target {target!r} is no integration of this template; {lid} is left out")
            return
        if integration.api != api.logical_id:
            raise self.err(f"{match.group(1)} is an integration of another API ({integration.api})", resource=lid,
                           prop="Target")
        authorizer, scopes = self._http_route_auth(props, lid, api, authorizers, "")
        self._http_add_route(api, method, path, integration, authorizer, scopes, lid,
                             self._get(props, "OperationName", lid))

    def _http_quick_route(self, lid: str, props: dict, overrides: Optional[tuple[str, dict]], functions: dict,
                          authorizers: dict) -> None:
        """The route and integration of a quick-create API (Target, RouteKey), with the overrides'
        Integration and Route settings."""
        api = self.apis[lid]
        method, path = self._http_route_key(self._get(props, "RouteKey", lid) or "$default", lid, "RouteKey")
        olid, oprops = overrides or (lid, {})
        integration_overrides = self._get(oprops, "Integration", olid) or {}
        route_overrides = self._get(oprops, "Route", olid) or {}
        if not isinstance(integration_overrides, dict) or not isinstance(route_overrides, dict):
            raise self.err("Integration and Route must be mappings", resource=olid)
        payload = integration_overrides.get("PayloadFormatVersion", "2.0")
        payload = self._choice(str(payload), PAYLOAD_FORMATS, olid, "Integration.PayloadFormatVersion")
        try:
            target = self.r.resolve(props["Target"])
        except Unresolvable:
            target = None                   # _cfn_function says why
        if isinstance(target, str) and target.startswith(("http://", "https://")):
            integration = _Integration(lid, "HTTP_PROXY", "", "1.0")
        else:
            function = self._cfn_function(props["Target"], functions, lid, "Target", api.stage_variables)
            integration = _Integration(lid, INTEGRATION_PROXY, function or "", payload)
        authorizer, scopes = self._http_route_auth(route_overrides, olid, api, authorizers, "Route.")
        self._http_add_route(api, method, path, integration, authorizer, scopes, lid,
                             route_overrides.get("OperationName"))

    def _http_add_route(self, api: ApiSpec, method: str, path: str, integration: _Integration,
                        authorizer: Optional[AuthorizerSpec], scopes: tuple, lid: str, operation: Any) -> None:
        if integration.type != INTEGRATION_PROXY:
            self._cfn_unsupported(api, method, path, integration.label or integration.type, lid)
        self._cfn_add_route(RouteSpec(
            api=api, method=method, path=path, function=integration.function,
            payload_format=integration.payload_format, operation_name=None if operation is None else str(operation),
            authorizer=authorizer, authorization_scopes=scopes, integration=integration.type), lid)

    def _http_route_auth(self, props: dict, lid: str, api: ApiSpec, authorizers: dict,
                         prefix: str) -> tuple[Optional[AuthorizerSpec], tuple[str, ...]]:
        authorization = self._choice(self._get(props, "AuthorizationType", lid, f"{prefix}AuthorizationType") or
                                     "NONE", ROUTE_AUTHORIZATION_TYPES, lid, f"{prefix}AuthorizationType")
        scopes = tuple(self._str_list(self._get(props, "AuthorizationScopes", lid, f"{prefix}AuthorizationScopes"),
                                      lid, f"{prefix}AuthorizationScopes"))
        if authorization == "NONE":
            return None, scopes
        if authorization == IAM:
            return IAM_AUTHORIZER, scopes
        ref = self._cfn_ref(props, "AuthorizerId", lid, (V2 + "Authorizer",), where=f"{prefix}AuthorizerId")
        if ref is None:
            return None, scopes
        owner, authorizer = authorizers[ref]
        wanted, what = ("JWT", "a JWT authorizer") if authorization == "JWT" else \
            ("LAMBDA", "a REQUEST (Lambda) authorizer")
        if owner != api.logical_id:
            raise self.err(f"{ref} is an authorizer of another API ({owner})", resource=lid,
                           prop=f"{prefix}AuthorizerId")
        if authorizer.type != wanted:
            raise self.err(f"AuthorizationType {authorization} needs {what}; {ref} is not one", resource=lid,
                           prop=f"{prefix}AuthorizerId")
        return authorizer, scopes

    def _http_integrations(self, functions: dict) -> dict[str, _Integration]:
        found = {}
        for lid, props in self._cfn_of_type(V2 + "Integration").items():
            api = self._cfn_api(props, "ApiId", lid, "HTTP")
            if api is None:
                continue
            itype = self._get(props, "IntegrationType", lid)
            if itype not in INTEGRATION_TYPES:
                raise self.err(f"an HTTP API takes proxy integrations only (AWS_PROXY, HTTP_PROXY), not {itype!r}",
                               resource=lid, prop="IntegrationType")
            subtype = self._get(props, "IntegrationSubtype", lid)
            if itype == "HTTP_PROXY":
                found[lid] = _Integration(api.logical_id, itype, "", "1.0")
                continue
            if subtype is not None:
                found[lid] = _Integration(api.logical_id, "AWS", "", "1.0", f"{itype} {subtype}")
                continue
            payload = self._get(props, "PayloadFormatVersion", lid)
            if payload is None:
                raise self.err("is required for a Lambda proxy integration (1.0 or 2.0), as CloudFormation requires it",
                               resource=lid, prop="PayloadFormatVersion")
            payload = self._choice(str(payload), PAYLOAD_FORMATS, lid, "PayloadFormatVersion")
            if "IntegrationUri" not in props:
                raise self.err("is required: the function's ARN or invocation URI", resource=lid,
                               prop="IntegrationUri")
            function = self._cfn_function(props["IntegrationUri"], functions, lid, "IntegrationUri",
                                          api.stage_variables)
            found[lid] = _Integration(api.logical_id, itype, function or "", payload)
        return found

    # --- authorizers --------------------------------------------------------------------------------

    def _http_authorizers(self, functions: dict) -> dict[str, tuple[Optional[str], AuthorizerSpec]]:
        """Authorizer logical id -> (its API's logical id, the authorizer)."""
        found = {}
        for lid, props in self._cfn_of_type(V2 + "Authorizer").items():
            api = self._cfn_api_id(props, "ApiId", lid, "HTTP")
            atype = self._choice(self._get(props, "AuthorizerType", lid), ("JWT", "REQUEST"), lid, "AuthorizerType")
            if atype is None:
                raise self.err("is required (JWT or REQUEST)", resource=lid, prop="AuthorizerType")
            sources = self._get(props, "IdentitySource", lid)
            sources = tuple(self._str_list([sources] if isinstance(sources, str) else sources, lid, "IdentitySource"))
            if atype == "JWT":
                found[lid] = (api, self._http_jwt_authorizer(lid, props, sources))
                continue
            payload = self._get(props, "AuthorizerPayloadFormatVersion", lid)
            if payload is None:
                raise self.err("is required for an HTTP API Lambda authorizer (1.0 or 2.0)", resource=lid,
                               prop="AuthorizerPayloadFormatVersion")
            payload = self._choice(str(payload), PAYLOAD_FORMATS, lid, "AuthorizerPayloadFormatVersion")
            simple = self._flag(self._get(props, "EnableSimpleResponses", lid), lid, "EnableSimpleResponses", False)
            if simple and payload != "2.0":
                raise self.err("simple responses need AuthorizerPayloadFormatVersion 2.0", resource=lid,
                               prop="EnableSimpleResponses")
            if "AuthorizerUri" not in props:
                raise self.err("is required for a REQUEST authorizer: the function's invocation URI", resource=lid,
                               prop="AuthorizerUri")
            stage_variables = self.apis[api].stage_variables if api in self.apis else None
            found[lid] = (api, AuthorizerSpec(
                name=lid, type="LAMBDA", identity_sources=sources, payload_format=payload, simple_responses=simple,
                function=self._cfn_function(props["AuthorizerUri"], functions, lid, "AuthorizerUri", stage_variables),
                ttl_s=result_ttl_s(self._get(props, "AuthorizerResultTtlInSeconds", lid), True, self._fail_for(lid),
                                   "AuthorizerResultTtlInSeconds")))
        return found

    def _http_jwt_authorizer(self, lid: str, props: dict, sources: tuple[str, ...]) -> AuthorizerSpec:
        config = props.get("JwtConfiguration")
        if not isinstance(config, dict):
            config = self._get(props, "JwtConfiguration", lid)
        if not isinstance(config, dict):
            raise self.err("a JWT authorizer needs a JwtConfiguration with Issuer and Audience", resource=lid,
                           prop="JwtConfiguration")
        audience = self._str_list(self._get(config, "Audience", lid, "JwtConfiguration.Audience"), lid,
                                  "JwtConfiguration.Audience")
        unknown = [a for a in audience if a in self.live]       # a Ref to a UserPoolClient, say
        audience = [a for a in audience if a not in unknown]
        if unknown:
            self.warn(f"{lid}: JwtConfiguration.Audience {', '.join(unknown)}: a resource of this template, whose id "
                      "is not known locally; " + ("tokens issued for it are refused" if audience else
                                                  "tokens' audience is not checked"))
        issuer = self._cfn_id(config, "Issuer", lid, True, "JwtConfiguration.Issuer")
        issuers: tuple[str, ...] = ()
        if issuer is not None:
            pool = self._cfn_template_pool(issuer)
            if pool is not None:
                self._cfn_pool_warning(lid, pool)
            else:
                issuers = (issuer,)
        return AuthorizerSpec(name=lid, type="JWT", identity_sources=sources or (HTTP_TOKEN_SOURCE,),
                              issuers=issuers, audience=tuple(audience))
