"""The API Gateway part of a SAM template: AWS::Serverless::Api and ::HttpApi resources (and the
implicit ServerlessRestApi / ServerlessHttpApi), and the routes functions' Api and HttpApi events
declare on them. A part of the template loader (gateway.sam.template), kept apart by what it reads."""
from __future__ import annotations

from typing import Any, Optional

from gateway.errors import TemplateError
from gateway.sam.cors import HTTP_METHODS, http_cors, rest_cors
from gateway.sam.template_io import env_string
from gateway.types import ApiSpec, RouteSpec

SERVERLESS_API, SERVERLESS_HTTP_API = "AWS::Serverless::Api", "AWS::Serverless::HttpApi"
IMPLICIT_REST_API, IMPLICIT_HTTP_API = "ServerlessRestApi", "ServerlessHttpApi"


class ApiDeclarations:
    """Mixed into the loader, whose err, warn, _get, _choice, _str_list, r, live, globals, apis and
    routes these use."""

    # APIs
    def _api(self, lid: str, http: bool, props: dict, implicit: bool) -> ApiSpec:
        def get(name: str) -> Any:
            return self._get(props, name, lid)

        def fail(message: str, prop: str) -> TemplateError:
            return self.err(message, resource=lid, prop=prop)

        if "DefinitionBody" in props or "DefinitionUri" in props:
            self.warn(f"API {lid}: OpenAPI definitions (DefinitionBody/DefinitionUri) are not read; its routes "
                      "come from the functions' events only")
        if props.get("Auth"):
            self.warn(f"API {lid}: Auth (authorizers, API keys) is not enforced locally")
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
        var_prop = "StageVariables" if http else "Variables"
        variables = get(var_prop)
        if variables is not None and not isinstance(variables, dict):
            raise self.err("must be a mapping of names to values", resource=lid, prop=var_prop)
        binary = [] if http else self._str_list(get("BinaryMediaTypes"), lid, "BinaryMediaTypes")
        cors = http_cors(get("CorsConfiguration"), fail) if http else \
            rest_cors(get("Cors"), fail, lambda message: self.warn(f"API {lid}: {message}"))
        return ApiSpec(logical_id=lid, kind="HTTP" if http else "REST", stage_name=stage,
                       stage_variables=None if variables is None else
                       {str(k): env_string(v) for k, v in variables.items()},
                       binary_media_types=tuple(t.replace("~1", "/") for t in binary), cors=cors)

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
        if props.get("Auth"):
            self.warn(f"function {lid}: {where}.Auth (authorizers, API keys, scopes) is not enforced locally")
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
        operation = get("OperationName")
        route = RouteSpec(api=api, method=method, path=path, function=lid, payload_format=payload,
                          operation_name=None if operation is None else str(operation))
        key = (api.logical_id, method, path)
        if key in self.routes:
            self.warn(f"API {api.logical_id}: {method} {path} is defined more than once; "
                      f"{lid} ({where}) wins")
            del self.routes[key]
        self.routes[key] = route

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
