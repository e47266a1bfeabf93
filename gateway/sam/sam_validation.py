"""Request validation SAM declares for a REST API: the API's `Models` and an Api event's
`RequestModel` / `RequestParameters`, read into the RequestValidation API Gateway's validator
enforces (samtranslator's Api event source and SwaggerEditor)."""
from __future__ import annotations

import copy
import re
from typing import Any, Callable, Optional

from gateway.types import RequestValidation

Fail = Callable[[str, str], Exception]               # (message, property) -> the exception to raise

_PARAMETER = re.compile(r"^method\.request\.(querystring|path|header)\.(.+)$")
_MODEL_REF = re.compile(r"^(?:#/definitions/|#/components/schemas/|"
                        r"https://apigateway\.amazonaws\.com/restapis/[^/]+/models/)(.+)$")
JSON = "application/json"    # SAM adds a model as the method's application/json request body


def api_models(raw: Any, fail: Fail) -> dict[str, dict]:
    """`Models` of an AWS::Serverless::Api: model name -> JSON Schema (draft 4)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(schema, dict) for schema in raw.values()):
        raise fail("must be a mapping of model names to JSON Schemas", "Models")
    for name, schema in raw.items():
        if not schema.get("type"):
            raise fail("a model's schema needs a type (as SAM requires)", f"Models.{name}")
    return {str(name): schema for name, schema in raw.items()}


def _bool(value: Any, fail: Fail, prop: str, default: Optional[bool]) -> Optional[bool]:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise fail("must be true or false (SAM takes no strings or intrinsics here)", prop)
    return value


def request_validation(model_raw: Any, parameters_raw: Any, models: dict[str, dict], fail: Fail,
                       where: str) -> Optional[RequestValidation]:
    """What an Api event's validator checks, None when SAM gives the method no validator.

    SAM adds a validator only when RequestModel sets ValidateBody or ValidateParameters (the one left
    out is false); without one API Gateway checks neither the model nor required parameters.
    `Required` on a model only marks the OpenAPI body required, which API Gateway does not enforce."""
    required = _parameters(parameters_raw, fail, f"{where}.RequestParameters")
    if model_raw is None:
        return None
    if not isinstance(model_raw, dict):
        raise fail("must be a mapping with Model", f"{where}.RequestModel")
    prop = f"{where}.RequestModel"
    name = model_raw.get("Model")
    if not isinstance(name, str) or not name:
        raise fail("Model is required: the name of one of the API's Models", f"{prop}.Model")
    if not models:
        raise fail(f"model {name!r} cannot be used: the API defines no Models", f"{prop}.Model")
    if name not in models:
        raise fail(f"model {name!r} is not one of the API's Models ({', '.join(sorted(models))})", f"{prop}.Model")
    _bool(model_raw.get("Required"), fail, f"{prop}.Required", None)
    body = _bool(model_raw.get("ValidateBody"), fail, f"{prop}.ValidateBody", None)
    parameters = _bool(model_raw.get("ValidateParameters"), fail, f"{prop}.ValidateParameters", None)
    if body is None and parameters is None:
        return None
    if not body and not parameters:
        return None
    return RequestValidation(
        body_models={JSON: resolved_model(models[name], models)} if body else {},
        required_querystrings=tuple(n for kind, n in required if kind == "querystring") if parameters else (),
        required_headers=tuple(n for kind, n in required if kind == "header") if parameters else (),
        required_paths=tuple(n for kind, n in required if kind == "path") if parameters else ())


def _parameters(raw: Any, fail: Fail, prop: str) -> list[tuple[str, str]]:
    """RequestParameters: ["method.request.querystring.q", {"method.request.header.H": {Required: true}}]
    -> the (location, name) pairs marked Required."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail("must be a list of parameter names or {name: {Required, Caching}}", prop)
    required = []
    for index, entry in enumerate(raw):
        settings: Any = {}
        if isinstance(entry, dict) and len(entry) == 1:
            entry, settings = next(iter(entry.items()))
            if not isinstance(settings, dict) or set(settings) - {"Required", "Caching"}:
                raise fail("a parameter's settings are {Required: true|false, Caching: true|false}",
                           f"{prop}[{index}]")
        match = _PARAMETER.match(entry) if isinstance(entry, str) else None
        if match is None:
            raise fail(f"{entry!r} must look like method.request.querystring.NAME (or .header., .path.)",
                       f"{prop}[{index}]")
        if _bool(settings.get("Required"), fail, f"{prop}[{index}].Required", False):
            required.append((match.group(1), match.group(2)))
        _bool(settings.get("Caching"), fail, f"{prop}[{index}].Caching", False)
    return required


def resolved_model(schema: dict, models: dict[str, dict]) -> dict:
    """A model's schema with its references to other models ("#/definitions/Name", API Gateway's
    model URLs) answerable within itself, as API Gateway resolves them."""
    refs: set[str] = set()

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                match = _MODEL_REF.match(value) if key == "$ref" and isinstance(value, str) else None
                if match:
                    refs.add(match.group(1))
                    value = f"#/definitions/{match.group(1)}"
                out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    result = rewrite(schema)
    if not refs:
        return copy.deepcopy(schema)
    by_name = {**{name.lower(): s for name, s in models.items()}, **models}
    definitions = dict(result.get("definitions") or {})
    pending = set(refs)
    while pending:                       # models may refer to further models
        name = pending.pop()
        if name not in definitions and name in by_name:
            known = set(refs)
            definitions[name] = rewrite(by_name[name])
            pending |= refs - known
    result["definitions"] = definitions
    return result
