"""Access control SAM declares on its APIs: the `Auth` of an AWS::Serverless::Api or ::HttpApi
(authorizers, the default one, API keys, usage plans) and of an Api or HttpApi event, read into
AuthorizerSpec, ApiKeySpec and UsagePlanSpec values as SAM deploys them (samtranslator's
ApiGatewayAuthorizer, ApiGatewayV2Authorizer, api_generator, http_api_generator and the Api event
sources). A part of the template loader, mixed into ApiDeclarations."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

from gateway.sam.authorizer_defaults import IAM, IAM_AUTHORIZER, result_ttl_s, validation_expression
from gateway.sam.lambda_uris import function_invoked_by
from gateway.sam.property_values import PropertyValues
from gateway.sam.template_io import is_intrinsic
from gateway.sam.user_pools import USER_POOL_ARN_FORM, cognito_issuer, template_pool_warning
from gateway.types import ApiKeySpec, ApiSpec, AuthorizerSpec, UsagePlanSpec

REST_AUTH_KEYS = ("Authorizers", "DefaultAuthorizer", "InvokeRole", "AddDefaultAuthorizerToCorsPreflight",
                  "AddApiKeyRequiredToCorsPreflight", "ApiKeyRequired", "ResourcePolicy", "UsagePlan")
HTTP_AUTH_KEYS = ("Authorizers", "DefaultAuthorizer", "EnableIamAuthorizer")
JWT_KEYS = frozenset({"AuthorizationScopes", "JwtConfiguration", "IdentitySource"})
HTTP_LAMBDA_KEYS = frozenset({"FunctionArn", "FunctionInvokeRole", "Identity", "AuthorizerPayloadFormatVersion",
                              "EnableSimpleResponses", "EnableFunctionDefaultPermissions"})
USAGE_PLAN_KEYS = ("CreateUsagePlan", "Description", "Quota", "Tags", "Throttle", "UsagePlanName")
SCOPED_TYPES = ("COGNITO_USER_POOLS", "JWT")      # the authorizers API Gateway checks scopes for
# where a Lambda authorizer's Identity lists come from, as REST and HTTP APIs write them
REST_SOURCES = (("Headers", "method.request.header."), ("QueryStrings", "method.request.querystring."),
                ("StageVariables", "stageVariables."), ("Context", "context."))
HTTP_SOURCES = (("Headers", "$request.header."), ("QueryStrings", "$request.querystring."),
                ("StageVariables", "$stageVariables."), ("Context", "$context."))
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class ApiAuth:
    """An API's SAM `Auth`, as its routes use it."""
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)  # by name; AWS_IAM when usable
    scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)     # AuthorizationScopes of each
    default: Optional[str] = None                                        # DefaultAuthorizer
    default_on_preflight: bool = True        # REST: AddDefaultAuthorizerToCorsPreflight
    api_key_required: bool = False           # REST: ApiKeyRequired (every method)
    api_key_on_preflight: bool = True        # REST: AddApiKeyRequiredToCorsPreflight
    usage_plan: Optional[dict] = None        # REST: UsagePlan, resolved


class EventAccess(NamedTuple):
    """What an Api/HttpApi event's `Auth` (with its API's defaults) gives its route."""
    authorizer: Optional[AuthorizerSpec]
    scopes: tuple[str, ...]
    api_key_required: bool
    sets_authorizer: bool       # the event names an Authorizer (NONE included)
    sets_api_key: bool          # the event sets ApiKeyRequired


class SamAuth(PropertyValues):
    """Mixed into the loader through ApiDeclarations; uses its err, warn, _get, _number, _choice,
    _str_list, r, functions, api_keys and usage_plans."""

    # the API's Auth
    def _api_auth(self, lid: str, http: bool, props: dict, inline: bool) -> ApiAuth:
        auth = props.get("Auth")
        if is_intrinsic(auth):
            auth = self._get(props, "Auth", lid)
        if not auth:
            return ApiAuth(authorizers={} if http else {IAM: IAM_AUTHORIZER})
        if not isinstance(auth, dict):
            raise self.err("must be a mapping", resource=lid, prop="Auth")
        keys = HTTP_AUTH_KEYS if http else REST_AUTH_KEYS
        unknown = set(auth) - set(keys)
        if unknown:
            raise self.err(f"unknown key(s) {', '.join(sorted(unknown))}; Auth takes {', '.join(keys)}",
                           resource=lid, prop="Auth")
        if not inline:
            raise self.err("SAM adds Auth only to an inline OpenAPI document (DefinitionBody), not to DefinitionUri",
                           resource=lid, prop="Auth")

        def flag(key: str, default: bool) -> bool:
            return self._flag(self._get(auth, key, lid, f"Auth.{key}"), lid, f"Auth.{key}", default)

        result = ApiAuth()
        if http:
            if flag("EnableIamAuthorizer", False):
                result.authorizers[IAM] = IAM_AUTHORIZER
        else:
            result.authorizers[IAM] = IAM_AUTHORIZER     # a REST method may always ask for AWS_IAM
        declared = auth.get("Authorizers")
        if is_intrinsic(declared):
            declared = self._get(auth, "Authorizers", lid, "Auth.Authorizers")
        if declared is not None and not isinstance(declared, dict):
            raise self.err("must be a mapping of authorizer names to authorizers", resource=lid,
                           prop="Auth.Authorizers")
        for name, raw in (declared or {}).items():
            where = f"Auth.Authorizers.{name}"
            if not isinstance(raw, dict):
                raise self.err("must be a mapping", resource=lid, prop=where)
            spec = self._http_authorizer(lid, str(name), raw, where) if http else \
                self._rest_authorizer(lid, str(name), raw, where)
            result.authorizers[str(name)] = spec
            result.scopes[str(name)] = tuple(self._str_list(
                self._get(raw, "AuthorizationScopes", lid, f"{where}.AuthorizationScopes"), lid,
                f"{where}.AuthorizationScopes"))
        default = self._get(auth, "DefaultAuthorizer", lid, "Auth.DefaultAuthorizer")
        if default is not None:
            if not isinstance(default, str) or default not in result.authorizers:
                hint = " (AWS_IAM needs EnableIamAuthorizer: true)" if http and default == IAM else ""
                raise self.err(f"{default!r} is not defined in Auth.Authorizers{hint}", resource=lid,
                               prop="Auth.DefaultAuthorizer")
            result.default = default
        if not http:
            result.default_on_preflight = flag("AddDefaultAuthorizerToCorsPreflight", True)
            result.api_key_required = flag("ApiKeyRequired", False)
            result.api_key_on_preflight = flag("AddApiKeyRequiredToCorsPreflight", True)
            if auth.get("ResourcePolicy"):
                self.warn(f"API {lid}: Auth.ResourcePolicy is not enforced locally")
            if auth.get("UsagePlan") is not None:
                result.usage_plan = self._get(auth, "UsagePlan", lid, "Auth.UsagePlan")
        return result

    def _rest_authorizer(self, lid: str, name: str, raw: dict, where: str) -> AuthorizerSpec:
        identity = self._identity(raw, lid, where)
        header = identity.get("Header") or "Authorization"
        if not isinstance(header, str):
            raise self.err("must be a header name", resource=lid, prop=f"{where}.Identity.Header")

        def expression() -> Optional[str]:      # SAM writes it for Cognito and TOKEN authorizers only
            return validation_expression(identity.get("ValidationExpression"), self._fail_for(lid),
                                         f"{where}.Identity.ValidationExpression")

        if raw.get("UserPoolArn") is not None:
            # no result cache: API Gateway validates a Cognito token on every request
            return AuthorizerSpec(name=name, type="COGNITO_USER_POOLS",
                                  identity_sources=(f"method.request.header.{header}",),
                                  validation_expression=expression(), ttl_s=0,
                                  issuers=self._user_pool_issuers(raw, lid, name, f"{where}.UserPoolArn"))
        function = self._authorizer_function(raw, lid, where)
        payload = self._get(raw, "FunctionPayloadType", lid, f"{where}.FunctionPayloadType") or "TOKEN"
        self._choice(payload, ("TOKEN", "REQUEST"), lid, f"{where}.FunctionPayloadType")
        ttl_s = self._reauthorize_every_s(identity, False, lid, where)
        if payload == "TOKEN":
            return AuthorizerSpec(name=name, type="TOKEN", function=function,
                                  identity_sources=(f"method.request.header.{header}",),
                                  validation_expression=expression(), ttl_s=ttl_s)
        sources = self._identity_sources(identity, REST_SOURCES, lid, where)
        if not sources and ttl_s > 0:
            raise self.err("a REQUEST authorizer needs Identity with at least one of Headers, QueryStrings, "
                           "StageVariables or Context (or ReauthorizeEvery: 0)", resource=lid, prop=f"{where}.Identity")
        return AuthorizerSpec(name=name, type="REQUEST", function=function, identity_sources=sources, ttl_s=ttl_s)

    def _http_authorizer(self, lid: str, name: str, raw: dict, where: str) -> AuthorizerSpec:
        if "OpenIdConnectUrl" in raw:
            raise self.err("is no longer supported by SAM; use JwtConfiguration", resource=lid,
                           prop=f"{where}.OpenIdConnectUrl")
        jwt = raw.get("JwtConfiguration") is not None
        misplaced = sorted(key for key, value in raw.items() if value is not None and key in
                           (HTTP_LAMBDA_KEYS if jwt else JWT_KEYS))
        if misplaced:
            kind = "Lambda authorizers (FunctionArn)" if jwt else "OAuth2/JWT authorizers (JwtConfiguration)"
            raise self.err(f"is only for {kind}", resource=lid, prop=f"{where}.{misplaced[0]}")
        if jwt:
            return self._jwt_authorizer(lid, name, raw, where)
        function = self._authorizer_function(raw, lid, where)
        version = self._get(raw, "AuthorizerPayloadFormatVersion", lid, f"{where}.AuthorizerPayloadFormatVersion")
        if version is None:
            raise self.err("is required for an HTTP API Lambda authorizer: 1.0 or 2.0", resource=lid,
                           prop=f"{where}.AuthorizerPayloadFormatVersion")
        version = f"{version:.1f}" if isinstance(version, float) else str(version)
        self._choice(version, ("1.0", "2.0"), lid, f"{where}.AuthorizerPayloadFormatVersion")
        simple = self._flag(self._get(raw, "EnableSimpleResponses", lid, f"{where}.EnableSimpleResponses"), lid,
                            f"{where}.EnableSimpleResponses", False)
        if simple and version != "2.0":
            raise self.err("simple responses need AuthorizerPayloadFormatVersion 2.0", resource=lid,
                           prop=f"{where}.EnableSimpleResponses")
        identity = self._identity(raw, lid, where)
        sources = self._identity_sources(identity, HTTP_SOURCES, lid, where)
        # SAM leaves authorizerResultTtlInSeconds out unless ReauthorizeEvery is set
        ttl_s = self._reauthorize_every_s(identity, True, lid, where)
        if ttl_s and not sources:
            raise self.err("caching (ReauthorizeEvery) needs at least one identity source (Headers, QueryStrings, "
                           "StageVariables or Context)", resource=lid, prop=f"{where}.Identity")
        return AuthorizerSpec(name=name, type="LAMBDA", function=function, identity_sources=sources, ttl_s=ttl_s,
                              payload_format=version, simple_responses=simple)

    def _jwt_authorizer(self, lid: str, name: str, raw: dict, where: str) -> AuthorizerSpec:
        prop = f"{where}.JwtConfiguration"
        config = raw["JwtConfiguration"]
        if is_intrinsic(config):
            config = self._get(raw, "JwtConfiguration", lid, prop)
        if not isinstance(config, dict):
            raise self.err("must be a mapping with issuer and audience", resource=lid, prop=prop)
        config = {str(key).lower(): value for key, value in config.items()}    # SAM takes Issuer or issuer
        for key in ("issuer", "audience"):
            if config.get(key) is None:
                raise self.err(f"{key} is required", resource=lid, prop=f"{prop}.{key}")
        source = self._get(raw, "IdentitySource", lid, f"{where}.IdentitySource")
        if not isinstance(source, str) or not source.startswith("$"):
            raise self.err('is required: where the token is, e.g. "$request.header.Authorization"', resource=lid,
                           prop=f"{where}.IdentitySource")
        issuers = self._known_values(config, "issuer", lid, name, prop)
        audience = self._known_values(config, "audience", lid, name, prop)
        return AuthorizerSpec(name=name, type="JWT", identity_sources=(source,), ttl_s=0, issuers=issuers,
                              audience=audience)

    def _known_values(self, config: dict, key: str, lid: str, name: str, prop: str) -> tuple[str, ...]:
        """A JWT issuer or audience list; empty when it names a resource of the template, whose id
        (a user pool's, an app client's) is only known once deployed."""
        resource = self._template_resource_in(config[key])
        if resource is not None:
            accepted = "the issuers given with --jwks" if key == "issuer" else "any audience"
            self.warn(f"API {lid}: authorizer {name}'s {key} comes from {resource}, which is only known once deployed; "
                      f"tokens are accepted from {accepted}")
            return ()
        value = self._get(config, key, lid, f"{prop}.{key}")
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise self.err("must be a string or a list of strings", resource=lid, prop=f"{prop}.{key}")
        return tuple(values)

    def _identity(self, raw: dict, lid: str, where: str) -> dict:
        identity = self._get(raw, "Identity", lid, f"{where}.Identity") or {}
        if not isinstance(identity, dict):
            raise self.err("must be a mapping", resource=lid, prop=f"{where}.Identity")
        return identity

    def _reauthorize_every_s(self, identity: dict, http: bool, lid: str, where: str) -> int:
        return result_ttl_s(identity.get("ReauthorizeEvery"), http, self._fail_for(lid),
                            f"{where}.Identity.ReauthorizeEvery")

    def _identity_sources(self, identity: dict, prefixes: tuple, lid: str, where: str) -> tuple[str, ...]:
        sources: list[str] = []
        for key, prefix in prefixes:
            names = self._str_list(identity.get(key), lid, f"{where}.Identity.{key}")
            sources.extend(prefix + name for name in names)
        return tuple(sources)

    def _authorizer_function(self, raw: dict, lid: str, where: str) -> str:
        """The logical id of the template function a Lambda authorizer's FunctionArn names."""
        prop = f"{where}.FunctionArn"
        if raw.get("FunctionArn") is None:
            raise self.err("is required: the authorizer function's ARN (e.g. !GetAtt AuthFunction.Arn)", resource=lid,
                           prop=prop)
        arn = self._get(raw, "FunctionArn", lid, prop)
        if not isinstance(arn, str) or not arn:
            raise self.err("must be a Lambda function ARN", resource=lid, prop=prop)
        function, why_not = function_invoked_by(arn, self.functions)
        if function is None:
            raise self.err(f"{why_not}; a Lambda authorizer runs locally only when its function is one of the "
                           "template's", resource=lid, prop=prop)
        return function

    def _user_pool_issuers(self, raw: dict, lid: str, name: str, prop: str) -> tuple[str, ...]:
        """The token issuers of a Cognito authorizer's user pools (a UserPoolArn or a list of them)."""
        pools = raw["UserPoolArn"] if isinstance(raw["UserPoolArn"], list) else [raw["UserPoolArn"]]
        for pool in pools:
            resource = self._template_resource_in(pool)
            if resource is not None:
                self.warn(f"API {lid}: authorizer {name}: {template_pool_warning(resource)}")
                return ()
        arns = self._get(raw, "UserPoolArn", lid, prop)
        issuers = []
        for arn in arns if isinstance(arns, list) else [arns]:
            issuer = cognito_issuer(arn)
            if issuer is None:
                raise self.err(f"{arn!r} is not a user pool ARN ({USER_POOL_ARN_FORM})", resource=lid, prop=prop)
            issuers.append(issuer)
        return tuple(issuers)

    def _template_resource_in(self, raw: Any) -> Optional[str]:
        """The resource of this template an unresolved value refers to (Ref, Fn::GetAtt, ${X} in
        Fn::Sub), else None."""
        resources, parameters = self.r.resources, self.r.parameters
        if isinstance(raw, list):
            return next((found for found in map(self._template_resource_in, raw) if found), None)
        if not isinstance(raw, dict):
            return None
        if len(raw) == 1:
            key, arg = next(iter(raw.items()))
            if key == "Ref":
                return arg if isinstance(arg, str) and arg in resources and arg not in parameters else None
            if key == "Fn::GetAtt":
                target = arg.split(".", 1)[0] if isinstance(arg, str) else (arg[0] if isinstance(arg, list) and arg
                                                                             else None)
                return target if isinstance(target, str) and target in resources else None
            if key == "Fn::Sub":
                text, variables = arg, {}
                if isinstance(arg, list) and arg:
                    text = arg[0]
                    variables = arg[1] if len(arg) > 1 and isinstance(arg[1], dict) else {}
                for name in _SUB_NAME.findall(text if isinstance(text, str) else ""):
                    base = name.split(".", 1)[0]
                    if base in resources and base not in variables and base not in parameters:
                        return base
                return self._template_resource_in(list(variables.values()))
        return self._template_resource_in(list(raw.values()))

    # usage plans (REST)
    def _usage_plan(self, api: ApiSpec, plan: Any, lid: str) -> None:
        """The usage plan and API key SAM creates for Auth.UsagePlan (PER_API: <Api>UsagePlan and
        <Api>ApiKey; SHARED: ServerlessUsagePlan and ServerlessApiKey, covering every API that asks).
        The plan is named by UsagePlanName, else by its logical id."""
        prop = "Auth.UsagePlan"
        if not isinstance(plan, dict):
            raise self.err("must be a mapping with CreateUsagePlan", resource=lid, prop=prop)
        unknown = set(plan) - set(USAGE_PLAN_KEYS)
        if unknown:
            raise self.err(f"unknown key(s) {', '.join(sorted(unknown))}; UsagePlan takes {', '.join(USAGE_PLAN_KEYS)}",
                           resource=lid, prop=prop)
        mode = plan.get("CreateUsagePlan")
        if mode is None:
            raise self.err("is required: PER_API, SHARED or NONE", resource=lid, prop=f"{prop}.CreateUsagePlan")
        self._choice(mode, ("PER_API", "SHARED", "NONE"), lid, f"{prop}.CreateUsagePlan")
        if mode == "NONE":
            return
        resource, key = (f"{lid}UsagePlan", f"{lid}ApiKey") if mode == "PER_API" else \
            ("ServerlessUsagePlan", "ServerlessApiKey")
        name = plan.get("UsagePlanName") or resource
        if not isinstance(name, str):
            raise self.err("must be a string", resource=lid, prop=f"{prop}.UsagePlanName")
        named = vars(self).setdefault("_sam_usage_plan_names", {})     # plan resource -> its current name
        earlier = self.usage_plans.pop(named[resource]) if resource in named else None
        if name in self.usage_plans:
            self.warn(f"API {lid}: another usage plan is also named {name}; {resource} wins")
        stages = earlier.stages if earlier is not None else ()
        stage = (api.logical_id, api.stage_name)
        # a SHARED plan takes the settings (name included) of the last API that declares it, as SAM's output does
        self.usage_plans[name] = UsagePlanSpec(
            name=name, stages=stages + ((stage,) if stage not in stages else ()),
            throttle=self._throttle(plan.get("Throttle"), "RateLimit", "BurstLimit", lid, f"{prop}.Throttle"),
            quota=self._quota(plan.get("Quota"), lid, f"{prop}.Quota"))
        named[resource] = name
        self.api_keys[key] = ApiKeySpec(name=key, value=None, enabled=True, usage_plans=(name,))

    # an event's Auth
    def _event_access(self, lid: str, where: str, http: bool, method: str, props: dict, auth: ApiAuth) -> EventAccess:
        prop = f"{where}.Auth"
        event = self._get(props, "Auth", lid, prop) or {}
        if not isinstance(event, dict):
            raise self.err("must be a mapping", resource=lid, prop=prop)
        known = ("Authorizer", "AuthorizationScopes") if http else \
            ("Authorizer", "AuthorizationScopes", "ApiKeyRequired", "ResourcePolicy", "InvokeRole", "OverrideApiAuth")
        unknown = set(event) - set(known)
        if unknown:
            self.warn(f"function {lid}: {prop} key(s) {', '.join(sorted(unknown))} are not SAM properties; ignored")
        name = event.get("Authorizer")
        if name is not None and not isinstance(name, str):
            raise self.err("must be an authorizer name, NONE or AWS_IAM", resource=lid, prop=f"{prop}.Authorizer")
        scopes = event.get("AuthorizationScopes")
        if scopes is not None:
            scopes = tuple(self._str_list(scopes, lid, f"{prop}.AuthorizationScopes"))
        if name is None and scopes is not None and not http:
            raise self.err("needs Authorizer on the event (SAM sets scopes only with it)", resource=lid,
                           prop=f"{prop}.AuthorizationScopes")
        if name is None and event and http:
            if not auth.default:
                raise self.err("an event's Auth needs Authorizer, or a DefaultAuthorizer on the HttpApi", resource=lid,
                               prop=f"{prop}.Authorizer")
            name = auth.default
        if name == "NONE" and not auth.default:
            raise self.err("NONE is only valid when the API has a DefaultAuthorizer", resource=lid,
                           prop=f"{prop}.Authorizer")
        chosen = name
        # the default: on every method, but HTTP APIs never give it to OPTIONS, REST APIs unless
        # AddDefaultAuthorizerToCorsPreflight is false
        if name is None and not (method == "OPTIONS" and (http or not auth.default_on_preflight)):
            chosen = auth.default
        spec = None
        if chosen is not None and chosen != "NONE":
            spec = auth.authorizers.get(chosen)
            if spec is None:
                hint = " (AWS_IAM needs EnableIamAuthorizer: true on the HttpApi's Auth)" if chosen == IAM else ""
                raise self.err(f"{chosen!r} is not defined in the API's Auth.Authorizers{hint}", resource=lid,
                               prop=f"{prop}.Authorizer")
        route_scopes: tuple[str, ...] = ()
        if spec is not None and spec.type in SCOPED_TYPES:
            # the event's scopes replace the authorizer's (HTTP: only when it lists some)
            replaces = scopes is not None and (bool(scopes) or not http)
            route_scopes = scopes if replaces else auth.scopes.get(chosen, ())
        required = self._flag(event.get("ApiKeyRequired"), lid, f"{prop}.ApiKeyRequired", auth.api_key_required)
        if event.get("ApiKeyRequired") is not None and not required and not auth.api_key_required:
            raise self.err("ApiKeyRequired: false needs ApiKeyRequired: true on the API's Auth", resource=lid,
                           prop=f"{prop}.ApiKeyRequired")
        if method == "OPTIONS" and auth.api_key_required and not auth.api_key_on_preflight:
            required = False
        if event.get("ResourcePolicy"):
            self.warn(f"function {lid}: {prop}.ResourcePolicy is not enforced locally")
        overriding = self._flag(event.get("OverrideApiAuth"), lid, f"{prop}.OverrideApiAuth", False)
        if overriding and not any(event.get(k) is not None for k in ("Authorizer", "ApiKeyRequired", "ResourcePolicy")):
            raise self.err("OverrideApiAuth needs Authorizer, ApiKeyRequired or ResourcePolicy", resource=lid,
                           prop=f"{prop}.OverrideApiAuth")
        return EventAccess(spec, route_scopes, required and not http, name is not None,
                           event.get("ApiKeyRequired") is not None)
