"""What SAM writes into an API's own OpenAPI document (DefinitionBody) before API Gateway imports
it: the API's DefaultAuthorizer and ApiKeyRequired on every method with an integration, the
security schemes they need, and the API's Models (samtranslator SwaggerEditor / OpenApiEditor:
set_path_default_authorizer, set_path_default_apikey_required, add_models)."""
from __future__ import annotations

import copy
from typing import Optional

from gateway.sam.sam_auth import ApiAuth

INTEGRATION = "x-amazon-apigateway-integration"
METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "any",
                     "x-amazon-apigateway-any-method"})
API_KEY_SCHEME = {"type": "apiKey", "name": "x-api-key", "in": "header"}
IAM_SCHEME = {"type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}
# markers SAM reads and removes: a method opting out of the default authorizer / API key
NONE, API_KEY, API_KEY_FALSE = "NONE", "api_key", "api_key_false"


def with_sam_auth(doc: dict, http: bool, auth: ApiAuth, models: dict[str, dict]) -> dict:
    """A copy of `doc` as SAM deploys it; `doc` itself when SAM changes nothing."""
    keys = not http and auth.api_key_required
    if not (auth.default or keys or models):
        return doc
    doc = copy.deepcopy(doc)
    uses_iam = False
    paths = doc.get("paths")
    for item in (paths.values() if isinstance(paths, dict) else ()):
        if not isinstance(item, dict):
            continue
        for method, definition in item.items():
            method = str(method).lower()
            if method not in METHODS or not isinstance(definition, dict) or not definition.get(INTEGRATION):
                continue
            options = method == "options"
            security = definition.get("security") or []
            if not isinstance(security, list) or not all(isinstance(entry, dict) for entry in security):
                continue                 # malformed: left for the document reader to report
            if auth.default:
                if http:
                    security = _http_default(security, auth, options)
                elif auth.default_on_preflight or not options:
                    security = _rest_default(security, auth)
            if keys:
                security = _rest_api_key(security, drop=options and not auth.api_key_on_preflight)
            if security or "security" in definition:     # absent stays absent: the document's own default
                definition["security"] = security
            uses_iam = uses_iam or any("AWS_IAM" in entry for entry in security)
    swagger = "swagger" in doc
    added = {API_KEY: API_KEY_SCHEME} if keys else {}
    if uses_iam:
        added["AWS_IAM"] = IAM_SCHEME
    schemes = _section(doc, "securityDefinitions" if swagger else "securitySchemes") if added else None
    for name, scheme in added.items() if schemes is not None else ():
        schemes.setdefault(name, dict(scheme))
    definitions = _section(doc, "definitions" if swagger else "schemas") if models and not http else None
    for name, schema in models.items() if definitions is not None else ():
        definitions[name.lower()] = copy.deepcopy(schema)
    return doc


def _section(doc: dict, name: str) -> Optional[dict]:
    """A top-level section of Swagger 2.0 (securityDefinitions, definitions) or one under OpenAPI 3's
    components (securitySchemes, schemas), created when absent; None when the document's is malformed."""
    holder = doc if name in ("securityDefinitions", "definitions") else doc.setdefault("components", {})
    section = holder.setdefault(name, {}) if isinstance(holder, dict) else None
    return section if isinstance(section, dict) else None


def _rest_default(security: list, auth: ApiAuth) -> list:
    """One authorizer entry per method: the method's own, else none when it says NONE, else the default."""
    names = set(auth.authorizers) | {"AWS_IAM"}
    others = [entry for entry in security if names.isdisjoint(entry)]
    chosen = [entry for entry in security if not names.isdisjoint(entry)]
    if any(NONE in entry for entry in others):
        return [entry for entry in others if NONE not in entry]
    if not chosen:
        chosen = [{auth.default: list(auth.scopes.get(auth.default, ()))}]
    return others + chosen


def _http_default(security: list, auth: ApiAuth, options: bool) -> list:
    """An HTTP API method without security gets the default authorizer; OPTIONS methods never do."""
    if not security and not options:
        return [{auth.default: list(auth.scopes.get(auth.default, ()))}]
    return [entry for entry in security if NONE not in entry]


def _rest_api_key(security: list, drop: bool) -> list:
    others = [entry for entry in security if API_KEY not in entry and API_KEY_FALSE not in entry]
    if drop or any(API_KEY_FALSE in entry for entry in security):
        return others
    return others + [{API_KEY: []}]
