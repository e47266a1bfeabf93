"""Authorizers and API keys of an OpenAPI document, as API Gateway imports them: security schemes
(Swagger `securityDefinitions`, OpenAPI 3 `components.securitySchemes`) with
`x-amazon-apigateway-authorizer` or `x-amazon-apigateway-authtype`, and the `security` requirements
of operations, which pick a method's authorizer, its scopes and whether it needs an API key."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from gateway.sam.authorizer_defaults import (HTTP_TOKEN_SOURCE, IAM, IAM_AUTHORIZER, REST_TOKEN_SOURCE, Fail,
                                             iam_authorizer, result_ttl_s, validation_expression)
from gateway.sam.user_pools import USER_POOL_ARN_FORM, cognito_issuer, template_pool_warning, user_pool_named
from gateway.types import AuthorizerSpec

AUTHORIZER_KEY = "x-amazon-apigateway-authorizer"
AUTHTYPE_KEY = "x-amazon-apigateway-authtype"
AUTH_KEY = "x-amazon-apigateway-auth"
API_KEY = "api_key"                 # the scheme name SAM gives API keys
_OIDC_SUFFIX = "/.well-known/openid-configuration"

Warn = Callable[[str], None]
FunctionFor = Callable[[Any, str], Optional[str]]   # (authorizerUri, where) -> function logical id


def security_schemes(doc: dict) -> tuple[str, dict]:
    """(where the schemes are, as a property path, the schemes by name)."""
    if "swagger" in doc or "securityDefinitions" in doc:
        schemes, where = doc.get("securityDefinitions"), "securityDefinitions"
    else:
        components = doc.get("components")
        schemes = components.get("securitySchemes") if isinstance(components, dict) else None
        where = "components.securitySchemes"
    return where, schemes if isinstance(schemes, dict) else {}


def is_api_key_scheme(name: str, scheme: Any) -> bool:
    """An `apiKey` scheme that stands for API Gateway's API key (x-api-key), not an authorizer."""
    if not isinstance(scheme, dict) or AUTHORIZER_KEY in scheme or AUTHTYPE_KEY in scheme:
        return False
    return scheme.get("type") == "apiKey" and (
        name == API_KEY or (scheme.get("in") == "header" and str(scheme.get("name", "")).lower() == "x-api-key"))


@dataclass
class DocumentSecurity:
    """The schemes of one document, ready for its operations' `security` requirements."""
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)   # usable by name
    declared: dict[str, AuthorizerSpec] = field(default_factory=dict)      # the document's own
    api_keys: set[str] = field(default_factory=set)                        # API key scheme names


def read_security(doc: dict, http: bool, function_for: FunctionFor, fail: Fail, warn: Warn,
                  extra: Optional[Mapping[str, AuthorizerSpec]] = None,
                  user_pools: frozenset = frozenset()) -> DocumentSecurity:
    """The document's authorizers and API key schemes. `extra`: authorizers declared outside the
    document (SAM's Auth.Authorizers), usable by name and winning over a scheme of the same name, as
    SAM writes them into the document. `user_pools`: logical ids of the template's own user pools."""
    section, schemes = security_schemes(doc)
    found = DocumentSecurity()
    for name, scheme in schemes.items():
        name = str(name)
        where = f"{section}.{name}"
        if is_api_key_scheme(name, scheme):
            found.api_keys.add(name)
            continue
        if not isinstance(scheme, dict):
            raise fail("a security scheme must be a mapping", where)
        spec = _authorizer(name, scheme, http, where, function_for, fail, warn, user_pools)
        if spec is not None:
            found.declared[name] = spec
    found.authorizers = {**found.declared, **(extra or {})}
    return found


def _authorizer(name: str, scheme: dict, http: bool, where: str, function_for: FunctionFor, fail: Fail,
                warn: Warn, user_pools: frozenset) -> Optional[AuthorizerSpec]:
    config = scheme.get(AUTHORIZER_KEY)
    authtype = scheme.get(AUTHTYPE_KEY)
    if config is None:
        if isinstance(authtype, str) and authtype.lower().startswith("aws"):     # awsSigv4 and aws*
            return iam_authorizer(name)
        return None                      # an OpenAPI scheme API Gateway does not act on: see route_security
    where = f"{where}.{AUTHORIZER_KEY}"
    if not isinstance(config, dict):
        raise fail("must be a mapping with a type", where)
    kind = str(config.get("type", "")).lower()
    api = "an HTTP API" if http else "a REST API"
    allowed = ("request", "jwt") if http else ("token", "request", "cognito_user_pools")
    if kind not in allowed:
        raise fail(f"{config.get('type')!r} is not an authorizer type of {api}; use one of {', '.join(allowed)}",
                   f"{where}.type")
    ttl = result_ttl_s(config.get("authorizerResultTtlInSeconds"), http, fail, f"{where}.authorizerResultTtlInSeconds")
    sources = _identity_sources(config.get("identitySource"), fail, f"{where}.identitySource")
    if kind == "jwt":
        return _jwt(name, scheme, config, sources, fail, where)
    header = scheme.get("name") if scheme.get("in") == "header" and isinstance(scheme.get("name"), str) else None
    expression_prop = f"{where}.identityValidationExpression"
    if kind == "cognito_user_pools":
        return AuthorizerSpec(
            name=name, type="COGNITO_USER_POOLS", ttl_s=ttl,
            identity_sources=sources or ((f"method.request.header.{header}",) if header else (REST_TOKEN_SOURCE,)),
            validation_expression=validation_expression(config.get("identityValidationExpression"), fail,
                                                        expression_prop),
            issuers=_issuers(config.get("providerARNs"), fail, warn, f"{where}.providerARNs", user_pools))
    if config.get("authorizerUri") is None:
        raise fail(f"a {kind} authorizer needs authorizerUri, the Lambda function it invokes", f"{where}.authorizerUri")
    function = function_for(config["authorizerUri"], f"authorizer {name}")
    if kind == "token":
        if not sources and header is None:
            raise fail("a token authorizer needs the header that carries the token: name it in the scheme "
                       "(in: header, name: Authorization) or in identitySource", where)
        return AuthorizerSpec(name=name, type="TOKEN", function=function, ttl_s=ttl,
                              identity_sources=sources or (f"method.request.header.{header}",),
                              validation_expression=validation_expression(config.get("identityValidationExpression"),
                                                                          fail, expression_prop))
    if not http:
        return AuthorizerSpec(name=name, type="REQUEST", function=function, ttl_s=ttl, identity_sources=sources)
    payload = config.get("authorizerPayloadFormatVersion")
    payload = None if payload is None else str(payload)
    if payload not in ("1.0", "2.0"):
        raise fail("an HTTP API Lambda authorizer needs authorizerPayloadFormatVersion \"1.0\" or \"2.0\"",
                   f"{where}.authorizerPayloadFormatVersion")
    simple = config.get("enableSimpleResponses") in (True, "true")
    if simple and payload != "2.0":
        warn(f"{where}.enableSimpleResponses: simple responses need payload format 2.0; the authorizer returns "
             "an IAM policy")
        simple = False
    return AuthorizerSpec(name=name, type="LAMBDA", function=function, ttl_s=ttl, identity_sources=sources,
                          payload_format=payload, simple_responses=simple)


def _jwt(name: str, scheme: dict, config: dict, sources: tuple, fail: Fail, where: str) -> AuthorizerSpec:
    jwt = config.get("jwtConfiguration")
    if not isinstance(jwt, dict):
        raise fail("a jwt authorizer needs jwtConfiguration {issuer, audience}", f"{where}.jwtConfiguration")
    issuer = jwt.get("issuer")
    url = scheme.get("openIdConnectUrl")
    if issuer is None and isinstance(url, str) and url.endswith(_OIDC_SUFFIX):
        issuer = url[:-len(_OIDC_SUFFIX)]      # API Gateway finds the issuer from the discovery URL
    if not isinstance(issuer, str) or not issuer:
        raise fail("a jwt authorizer needs an issuer (jwtConfiguration.issuer, or the scheme's openIdConnectUrl)",
                   f"{where}.jwtConfiguration.issuer")
    audience = jwt.get("audience")
    audience = [audience] if isinstance(audience, str) else audience or []
    if not isinstance(audience, list) or not all(isinstance(a, str) for a in audience):
        raise fail("must be a list of strings", f"{where}.jwtConfiguration.audience")
    return AuthorizerSpec(name=name, type="JWT", identity_sources=sources or (HTTP_TOKEN_SOURCE,),
                          issuers=(issuer,), audience=tuple(audience))


def _identity_sources(value: Any, fail: Fail, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise fail("must be a comma-separated string or a list of mapping expressions", where)
    return tuple(p.strip() for p in parts if p.strip())


def _issuers(arns: Any, fail: Fail, warn: Warn, where: str, user_pools: frozenset) -> tuple[str, ...]:
    arns = [arns] if isinstance(arns, str) else arns
    if not isinstance(arns, list) or not arns:
        raise fail("a cognito_user_pools authorizer needs providerARNs, the user pools' ARNs", where)
    issuers = []
    for arn in arns:
        issuer = cognito_issuer(arn)
        if issuer is not None:
            issuers.append(issuer)
            continue
        pool = user_pool_named(arn, user_pools) if isinstance(arn, str) else None
        if pool is not None:
            warn(f"{where}: {template_pool_warning(pool)}")
        else:
            warn(f"{where}: {arn!r} is not a user pool ARN ({USER_POOL_ARN_FORM}); "
                 "tokens cannot be checked against it")
    return tuple(issuers)


def route_security(requirements: Any, security: DocumentSecurity, http: bool, warn: Warn,
                   where: str) -> tuple[Optional[AuthorizerSpec], tuple[str, ...], bool]:
    """(authorizer, authorization scopes, API key required) of an operation's `security` list.

    The list's entries are alternatives in OpenAPI; API Gateway gives a method one authorizer and
    an API key flag, so the entries are taken together: an API key scheme anywhere requires a key,
    the first authorizer named is the method's."""
    if requirements is None:
        return None, (), False
    if not isinstance(requirements, list):
        warn(f"{where}: security must be a list of requirements; ignored")
        return None, (), False
    chosen: list[tuple[AuthorizerSpec, Any]] = []
    api_key = False
    for requirement in requirements:
        for name, scopes in (requirement.items() if isinstance(requirement, dict) else ()):
            if name in security.authorizers:
                chosen.append((security.authorizers[name], scopes))
            elif name in security.api_keys or name == API_KEY:
                api_key = True
            elif name == IAM:
                chosen.append((IAM_AUTHORIZER, scopes))
            else:
                warn(f"{where}: security names {name!r}, which is no API Gateway authorizer or API key of the "
                     "document; it is not enforced")
    if http and api_key:
        warn(f"{where}: HTTP APIs have no API keys; the api_key requirement is ignored")
        api_key = False
    if not chosen:
        return None, (), api_key
    if len({spec.name for spec, _ in chosen}) > 1:
        warn(f"{where}: API Gateway gives a method one authorizer; {chosen[0][0].name} is used, "
             f"{', '.join(sorted({s.name for s, _ in chosen[1:]} - {chosen[0][0].name}))} ignored")
    spec, scopes = chosen[0]
    if spec.type not in ("JWT", "COGNITO_USER_POOLS") or not scopes:
        return spec, (), api_key
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        warn(f"{where}: the scopes of {spec.name} must be a list of strings; ignored")
        return spec, (), api_key
    return spec, tuple(scopes), api_key
