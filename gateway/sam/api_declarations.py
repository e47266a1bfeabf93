"""The API Gateway part of a SAM template: AWS::Serverless::Api and ::HttpApi resources (and the
implicit ServerlessRestApi / ServerlessHttpApi), and the routes functions' Api and HttpApi events
declare on them, with the access control SAM deploys for each (gateway.sam.sam_auth, sam_throttles,
sam_validation, sam_definitions). A part of the template loader (gateway.sam.template), kept apart
by what it reads."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

from gateway.sam.cors import HTTP_METHODS, http_cors, rest_cors
from gateway.sam.openapi import api_key_source, binary_media_types
from gateway.sam.sam_auth import ApiAuth, SamAuth
from gateway.sam.sam_definitions import with_sam_auth
from gateway.sam.sam_throttles import (StageThrottles, http_route_settings, rest_method_settings,
                                       route_key_of)
from gateway.sam.sam_validation import api_models, request_validation
from gateway.types import ApiSpec, RouteSpec, ThrottleSpec

SERVERLESS_API, SERVERLESS_HTTP_API = "AWS::Serverless::Api", "AWS::Serverless::HttpApi"
IMPLICIT_REST_API, IMPLICIT_HTTP_API = "ServerlessRestApi", "ServerlessHttpApi"


@dataclass
class SamApi:
    """What an API's SAM properties say about its routes, beyond its ApiSpec."""
    auth: ApiAuth
    throttles: StageThrottles
    models: dict[str, dict] = field(default_factory=dict)
    # whether SAM adds the functions' events to the API: always to the document it writes itself,
    # to an HttpApi's DefinitionBody, to an Api's only with MergeDefinitions
    events_merged: bool = True
    definition_routes: frozenset = frozenset()      # (api, method, path) keys its own document declares

    def throttle(self, http: bool, method: str, path: str) -> Optional[ThrottleSpec]:
        return self.throttles.http_route(route_key_of(method, path)) if http else \
            self.throttles.rest_route(method, path)


class ApiDeclarations(SamAuth):
    """Mixed into the loader, whose err, warn, _get, _number, _choice, _str_list, _function, r, live,
    globals, apis, routes, api_keys and usage_plans these use (and _definition, _openapi_routes of
    OpenApiDefinitions)."""

    def _sam_apis(self) -> dict[str, SamApi]:
        return vars(self).setdefault("_sam_api_settings", {})

    # APIs
    def _api(self, lid: str, http: bool, props: dict, implicit: bool) -> ApiSpec:
        def get(name: str) -> Any:
            return self._get(props, name, lid)

        fail = self._fail_for(lid)
        if implicit:
            stage = "$default" if http else "Prod"
        else:
            stage = get("StageName")
            if stage is None:
                if not http:
                    raise self.err("StageName is required for an AWS::Serverless::Api", resource=lid,
                                   prop="StageName")
                stage = "$default"
            if not isinstance(stage, str) or not stage:
                raise self.err("must be a string", resource=lid, prop="StageName")
        variables = self._stage_variables(props, "StageVariables" if http else "Variables", lid)
        cors = http_cors(get("CorsConfiguration"), fail) if http else \
            rest_cors(get("Cors"), fail, lambda message: self.warn(f"API {lid}: {message}"))
        has_body, has_uri = props.get("DefinitionBody") is not None, props.get("DefinitionUri") is not None
        doc = self._definition(props, lid, "DefinitionBody", "DefinitionUri")
        inline = has_body or not has_uri        # SAM edits only a document it writes or is given inline
        settings = SamApi(
            auth=self._api_auth(lid, http, props, inline),
            throttles=http_route_settings(get("DefaultRouteSettings"), get("RouteSettings"), lid, self._number, fail)
            if http else rest_method_settings(get("MethodSettings"), lid, self._number, fail),
            models={} if http else api_models(get("Models"), fail),
            events_merged=not (has_body or has_uri) or
            (has_body and (http or self._flag(get("MergeDefinitions"), lid, "MergeDefinitions", False))))
        if settings.models and not inline:
            raise fail("SAM adds Models only to an inline OpenAPI document (DefinitionBody), not to DefinitionUri",
                       "Models")
        api = ApiSpec(logical_id=lid, kind="HTTP" if http else "REST", stage_name=stage,
                      stage_variables=variables,
                      binary_media_types=() if http else self._binary_media_types(get("BinaryMediaTypes"), doc, lid),
                      cors=cors, api_key_source="HEADER" if http else self._api_key_source(get("ApiKeySourceType"),
                                                                                          doc, lid))
        self._sam_apis()[lid] = settings
        if settings.auth.usage_plan is not None:
            self._usage_plan(api, settings.auth.usage_plan, lid)
        if cors is not None and not http:
            self._preflight_warnings(lid, settings.auth)
        if doc is not None:
            self._definition_routes(api, doc, settings)
        return api

    def _binary_media_types(self, declared: Any, doc: Optional[dict], lid: str) -> tuple[str, ...]:
        """BinaryMediaTypes, which SAM writes over the document's own list; else the document's."""
        if declared is None and doc is not None:
            return binary_media_types(doc)
        return tuple(t.replace("~1", "/") for t in self._str_list(declared, lid, "BinaryMediaTypes"))

    def _api_key_source(self, declared: Any, doc: Optional[dict], lid: str) -> str:
        """ApiKeySourceType (the RestApi property wins over the document's x-amazon-apigateway-api-key-source)."""
        if declared is not None:
            return self._choice(declared, ("HEADER", "AUTHORIZER"), lid, "ApiKeySourceType")
        return (api_key_source(doc) if doc is not None else None) or "HEADER"

    def _preflight_warnings(self, lid: str, auth: ApiAuth) -> None:
        # the OPTIONS methods SAM generates for Cors are answered here without running any check
        if auth.default and auth.default_on_preflight:
            self.warn(f"API {lid}: on AWS its CORS preflights need the DefaultAuthorizer too "
                      "(AddDefaultAuthorizerToCorsPreflight is true); locally they are answered without it")
        if auth.api_key_required and auth.api_key_on_preflight:
            self.warn(f"API {lid}: on AWS its CORS preflights need an API key too "
                      "(AddApiKeyRequiredToCorsPreflight is true); locally they are answered without one")

    def _definition_routes(self, api: ApiSpec, doc: dict, settings: SamApi) -> None:
        """The routes of the API's own OpenAPI document, as SAM deploys it (its Auth written in),
        with the stage's throttling."""
        http = api.kind == "HTTP"
        self._openapi_routes(api, with_sam_auth(doc, http, settings.auth, settings.models),
                             self.functions, authorizers=settings.auth.authorizers)
        keys = []
        for key, route in list(self.routes.items()):
            if key[0] != api.logical_id:
                continue
            keys.append(key)
            throttle = settings.throttle(http, route.method, route.path)
            if throttle is not None:
                self.routes[key] = replace(route, throttle=throttle)
        settings.definition_routes = frozenset(keys)

    # events and routes
    def _events(self, lid: str, events: Any) -> None:
        if events is None:
            return
        if not isinstance(events, dict):
            raise self.err("must be a mapping of event names to events", resource=lid, prop="Events")
        ignored: dict[str, list[str]] = {}
        for name, event in events.items():
            where = f"Events.{name}"
            if not isinstance(event, dict) or not isinstance(event.get("Type"), str):
                raise self.err("an event needs a Type", resource=lid, prop=f"{where}.Type")
            if event["Type"] not in ("Api", "HttpApi"):
                ignored.setdefault(event["Type"], []).append(name)
                continue
            props = event.get("Properties") or {}
            if not isinstance(props, dict):
                raise self.err("must be a mapping", resource=lid, prop=f"{where}.Properties")
            self._route(lid, where, event["Type"] == "HttpApi", props)
        for etype, names in ignored.items():
            self.warn(f"function {lid}: {etype} events are not served by lambdagate yet "
                      f"({', '.join(names)} ignored)")

    def _route(self, lid: str, where: str, http: bool, props: dict) -> None:
        def get(name: str) -> Any:
            return self._get(props, name, lid, f"{where}.{name}")

        path, method = get("Path"), get("Method")
        if http and path is None and method is None:
            path, method = "$default", "ANY"
        for key, value in (("Path", path), ("Method", method)):
            if value is None:
                raise self.err(f"the event is missing key '{key}'", resource=lid, prop=f"{where}.{key}")
            if not isinstance(value, str):
                raise self.err("must be a string", resource=lid, prop=f"{where}.{key}")
        if not path.startswith("/") and not (http and path == "$default"):
            raise self.err(f"{path!r} must start with /", resource=lid, prop=f"{where}.Path")
        method = method.upper()
        if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD"):
            method = "ANY"
        elif method not in HTTP_METHODS:
            raise self.err(f"{method!r} is not an HTTP method (GET, POST, ..., or ANY)", resource=lid,
                           prop=f"{where}.Method")
        payload = "1.0"
        if http:
            payload = get("PayloadFormatVersion")
            payload = "2.0" if payload is None else str(payload)
            self._choice(payload, ("1.0", "2.0"), lid, f"{where}.PayloadFormatVersion")
        api_key = "ApiId" if http else "RestApiId"
        raw = props.get(api_key)
        ref = raw["Ref"] if isinstance(raw, dict) and len(raw) == 1 and isinstance(raw.get("Ref"), str) \
            else get(api_key)
        api = self._target_api(lid, where, http, ref)
        if api is None:
            return
        settings = self._sam_apis()[api.logical_id]
        key = (api.logical_id, method, path)
        if not settings.events_merged:
            self._event_on_definition(lid, where, http, key, props, settings)
            return
        merged = self.routes.get(key) if key in settings.definition_routes else None
        if merged is not None and http:
            self.warn(f"API {api.logical_id}: {method} {path} is in its DefinitionBody, which SAM leaves as it is; "
                      f"{lid} ({where}) adds nothing")
            return
        access = self._event_access(lid, where, http, method, props, settings.auth)
        validation = None
        if not http:
            validation = request_validation(get("RequestModel"), get("RequestParameters"), settings.models,
                                            self._fail_for(lid), where)
        else:
            route_settings = get("RouteSettings")
            if route_settings is not None and not isinstance(route_settings, dict):
                raise self.err("must be a mapping", resource=lid, prop=f"{where}.RouteSettings")
            if route_settings is not None:
                settings.throttles.add_http_route(route_key_of(method, path), route_settings, lid,
                                                  f"{where}.RouteSettings", self._number)
        operation = get("OperationName")
        route = RouteSpec(api=api, method=method, path=path, function=lid, payload_format=payload,
                          operation_name=None if operation is None else str(operation),
                          authorizer=access.authorizer, authorization_scopes=access.scopes,
                          api_key_required=access.api_key_required, validation=validation,
                          throttle=settings.throttle(http, method, path))
        if merged is not None:
            # MergeDefinitions: what SAM generates for the event wins over the document's method, key
            # by key; what the event leaves out stays the document's
            route = replace(route, operation_name=route.operation_name or merged.operation_name,
                            authorizer=route.authorizer if access.sets_authorizer else merged.authorizer,
                            authorization_scopes=route.authorization_scopes if access.sets_authorizer
                            else merged.authorization_scopes,
                            api_key_required=route.api_key_required if access.sets_api_key else merged.api_key_required,
                            validation=route.validation or merged.validation)
        elif key in self.routes:
            self.warn(f"API {api.logical_id}: {method} {path} is defined more than once; {lid} ({where}) wins")
        self.routes.pop(key, None)
        self.routes[key] = route

    def _event_on_definition(self, lid: str, where: str, http: bool, key: tuple[str, str, str], props: dict,
                             settings: SamApi) -> None:
        """An event on an API whose OpenAPI document SAM does not add events to: the document's
        route serves it (with the event's Auth only under OverrideApiAuth), if it has one."""
        route = self.routes.get(key) if key in settings.definition_routes else None
        if route is None:
            self.warn(f"function {lid}: {where} ({key[1]} {key[2]}) is not in API {key[0]}'s OpenAPI definition, "
                      "and SAM adds events only to APIs without one (or with MergeDefinitions: true); AWS does not "
                      "serve it")
            return
        auth = self._get(props, "Auth", lid, f"{where}.Auth")
        if isinstance(auth, dict) and self._flag(auth.get("OverrideApiAuth"), lid, f"{where}.Auth.OverrideApiAuth",
                                                 False):
            access = self._event_access(lid, where, http, key[1], props, settings.auth)
            self.routes[key] = replace(
                route,
                authorizer=access.authorizer if access.sets_authorizer else route.authorizer,
                authorization_scopes=access.scopes if access.sets_authorizer else route.authorization_scopes,
                api_key_required=access.api_key_required if access.sets_api_key else route.api_key_required)

    def _target_api(self, lid: str, where: str, http: bool, ref: Any) -> Optional[ApiSpec]:
        prop = f"{where}.{'ApiId' if http else 'RestApiId'}"
        if ref is None:
            implicit = IMPLICIT_HTTP_API if http else IMPLICIT_REST_API
            if implicit not in self.apis:
                section = "HttpApi" if http else "Api"
                self.apis[implicit] = self._api(implicit, http, dict(self.globals.get(section) or {}), True)
            return self.apis[implicit]
        if not isinstance(ref, str):
            raise self.err("must be a logical id or a Ref to one", resource=lid, prop=prop)
        if ref in self.r.removed:
            self.warn(f"function {lid}: {where} targets {ref}, which is left out (Condition false); "
                      "the route is not served")
            return None
        wanted = SERVERLESS_HTTP_API if http else SERVERLESS_API
        if ref not in self.live or self.live[ref][0] != wanted:
            raise self.err(f"{ref!r} is not an {wanted} of this template", resource=lid, prop=prop)
        return self.apis[ref]
