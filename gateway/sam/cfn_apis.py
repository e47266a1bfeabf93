"""Raw CloudFormation API Gateway resources: AWS::ApiGateway::* (REST) and AWS::ApiGatewayV2::*
(HTTP API), read into the same ApiSpec / RouteSpec values as SAM's own API resources. A part of the
template loader (gateway.sam.template), kept apart by what it reads: REST resources in
gateway.sam.cfn_rest_apis, HTTP API resources in gateway.sam.cfn_http_apis, what both use here.

A resource may also extend a SAM API (AWS::Serverless::Api / HttpApi, implicit ones included): SAM
deploys those as the same CloudFormation types under the same logical id, so a raw Method or Route
that names one adds to it, as it does on AWS.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping, Optional

from gateway.sam.api_declarations import SERVERLESS_API, SERVERLESS_HTTP_API
from gateway.sam.cfn_http_apis import CfnHttpApis
from gateway.sam.cfn_rest_apis import CfnRestApis
from gateway.sam.intrinsics import NO_VALUE, Unresolvable
from gateway.sam.mock_integrations import (MOCK_KEYS, OPEN, FixedResponse, MockAnswer, MockShapeError, from_cfn,
                                          mock_answer)
from gateway.sam.openapi import INTERNAL_ERROR_BODY
from gateway.sam.property_values import PropertyValues
from gateway.sam.user_pools import USER_POOL_TYPE, template_pool_warning, user_pool_named
from gateway.types import ApiSpec, FunctionSpec, RouteSpec, ThrottleSpec

_API_TYPES = {"REST": ("AWS::ApiGateway::RestApi", SERVERLESS_API),
              "HTTP": ("AWS::ApiGatewayV2::Api", SERVERLESS_HTTP_API)}


class CfnApis(CfnRestApis, CfnHttpApis, PropertyValues):
    """Mixed into the loader (see ApiDeclarations for what it provides; _function_for_uri is
    OpenApiDefinitions')."""

    def _cfn_apis(self, functions: dict[str, FunctionSpec]) -> None:
        """Adds the APIs, routes, API keys and usage plans the template declares as raw resources."""
        types = {rtype for rtype, _ in self.live.values()}
        if any(t.startswith("AWS::ApiGateway::") for t in types):
            self._cfn_rest_apis(functions)
        if any(t.startswith("AWS::ApiGatewayV2::") for t in types):
            self._cfn_http_apis(functions)

    # --- reading resources and references ---------------------------------------------------------

    def _cfn_of_type(self, rtype: str) -> dict[str, dict]:
        """Logical id -> properties of the template's resources of this type (Condition true)."""
        return {lid: props for lid, (t, props) in self.live.items() if t == rtype}

    def _cfn_id(self, props: dict, prop: str, lid: str, required: bool = True,
                where: Optional[str] = None) -> Optional[str]:
        """A string property (an id, most often a Ref); None when absent, or, after a warning, when
        it cannot be worked out locally (AWS would still deploy it)."""
        where = where or prop
        try:
            value = self.r.resolve(props[prop]) if prop in props else None
        except Unresolvable as exc:
            self.warn(f"{lid}: {where} cannot be resolved locally ({exc}); {lid} is left out")
            return None
        if value is None or value is NO_VALUE:
            if required:
                raise self.err(f"{where} is required", resource=lid, prop=where)
            return None
        if not isinstance(value, str) or not value:
            raise self.err("must be a string (an id or a Ref to a resource)", resource=lid, prop=where)
        return value

    def _cfn_ref(self, props: dict, prop: str, lid: str, types: tuple[str, ...], required: bool = True,
                 where: Optional[str] = None) -> Optional[str]:
        """The logical id of the resource of one of `types` that a property refers to; None, after a
        warning, when it names nothing in this template (a resource of another stack)."""
        where = where or prop
        value = self._cfn_id(props, prop, lid, required, where)
        if value is None:
            return None
        if value in self.live:
            if self.live[value][0] in types:
                return value
            raise self.err(f"{value} is an {self.live[value][0]}, not an {' or '.join(types)}", resource=lid,
                           prop=where)
        self.warn(f"{lid}: {where} {value!r} is no resource of this template; {lid} is left out")
        return None

    def _cfn_api_id(self, props: dict, prop: str, lid: str, kind: str, where: Optional[str] = None) -> Optional[str]:
        """The logical id of the API (of `kind`, REST or HTTP, SAM's included) a property refers to;
        None, after a warning, when it names no API of this template."""
        where = where or prop
        value = self._cfn_id(props, prop, lid, True, where)
        if value is None:
            return None
        if (value in self.live and self.live[value][0] in _API_TYPES[kind]) or \
                (value in self.apis and self.apis[value].kind == kind):
            return value
        if value in self.live or value in self.apis:
            rtype = "REST API" if kind == "REST" else "HTTP API"
            raise self.err(f"{value!r} is not a {rtype} of this template ({' or '.join(_API_TYPES[kind])})",
                           resource=lid, prop=where)
        self.warn(f"{lid}: {where} {value!r} is no API of this template; {lid} is left out")
        return None

    def _cfn_api(self, props: dict, prop: str, lid: str, kind: str, where: Optional[str] = None) -> Optional[ApiSpec]:
        """The served API (of `kind`) a property refers to; None when it is not served here (a
        WebSocket API, an API of another stack)."""
        value = self._cfn_api_id(props, prop, lid, kind, where)
        return None if value is None else self.apis.get(value)

    # --- what both API kinds share ------------------------------------------------------------------

    def _cfn_function(self, uri: Any, functions: Mapping[str, FunctionSpec], lid: str, prop: str,
                      variables: Optional[Mapping[str, str]] = None) -> Optional[str]:
        """The logical id of the template function an integration or authorizer URI invokes (a
        Lambda ARN or an API Gateway invocation URI, `:alias` suffix allowed, stage variables filled
        in from `variables`); None when it invokes nothing lambdagate runs, which
        _function_for_uri reports."""
        return self._function_for_uri(uri, functions, f"{lid} {prop}", variables)

    def _cfn_stage_throttles(self, api: str, throttle_for: Callable[[RouteSpec], Optional[ThrottleSpec]]) -> None:
        """Gives each route of the API the throttle its served stage sets for it (OpenAPI routes too)."""
        for key, route in list(self.routes.items()):
            if key[0] == api:
                throttle = throttle_for(route)
                if throttle is not None:
                    self.routes[key] = replace(route, throttle=throttle)

    def _cfn_add_route(self, route: RouteSpec, lid: str) -> None:
        key = (route.api.logical_id, route.method, route.path)
        if key in self.routes:
            self.warn(f"API {route.api.logical_id}: {route.method} {route.path} is defined more than once; "
                      f"{lid} wins")
            del self.routes[key]
        self.routes[key] = route

    def _cfn_unsupported(self, api: ApiSpec, method: str, path: str, integration: str, lid: str) -> None:
        self.warn(f"API {api.logical_id}: {method} {path} ({lid}) has a{'n' if integration[0] in 'AH' else ''} "
                  f"{integration} integration; lambdagate only runs Lambda proxy integrations and answers it with "
                  f"API Gateway's 500 {INTERNAL_ERROR_BODY[api.kind]}")

    def _cfn_mock_answer(self, integration: dict, lid: str, api: ApiSpec, method: str,
                         path: str) -> Optional[FixedResponse]:
        """The fixed answer of a Method's MOCK integration, None when it has none (said at startup)."""
        try:
            mock = from_cfn(self.r.resolve({key: value for key, value in integration.items() if key in MOCK_KEYS}))
        except Unresolvable as exc:
            answer = MockAnswer(OPEN, reason=f"its Integration cannot be resolved locally: {exc}")
        except MockShapeError as exc:
            raise self.err(exc.message, resource=lid, prop=f"Integration.{exc.prop}") from None
        else:
            answer = mock_answer(mock)
        warning = answer.warning(f"{method} {path} ({lid})")
        if warning is not None:
            self.warn(f"API {api.logical_id}: {warning}")
        return answer.response

    def _cfn_template_pool(self, value: str) -> Optional[str]:
        """The logical id of this template's Cognito user pool that a resolved ARN or issuer names
        (Ref and GetAtt give logical ids locally, not the pool's id), else None."""
        return user_pool_named(value, {lid for lid, (rtype, _) in self.live.items() if rtype == USER_POOL_TYPE})

    def _cfn_pool_warning(self, lid: str, pool: str) -> None:
        self.warn(f"{lid}: {template_pool_warning(pool)}")
