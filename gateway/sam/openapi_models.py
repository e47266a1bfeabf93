"""Request validation of an OpenAPI operation as API Gateway imports it: the request validator
(`x-amazon-apigateway-request-validators` / `-request-validator`), the body models (JSON Schema
draft 4, `$ref`s inlined) and the required parameters, narrowed to what the validator checks."""
from __future__ import annotations

from typing import Any, Callable, Optional
from urllib.parse import unquote

from gateway.types import RequestValidation

Warn = Callable[[str], None]

VALIDATORS_KEY = "x-amazon-apigateway-request-validators"
VALIDATOR_KEY = "x-amazon-apigateway-request-validator"
# OpenAPI parameter locations and the RequestValidation field each one fills
_REQUIRED_FIELDS = {"query": "required_querystrings", "header": "required_headers", "path": "required_paths"}


class Missing(LookupError):
    """A `$ref` that points nowhere in the document."""


def pointer(doc: Any, ref: str) -> Any:
    """The value a local `$ref` ("#/definitions/Pet", JSON pointer escapes allowed) designates."""
    if not ref.startswith("#"):
        raise Missing(f"{ref!r} is not a reference inside this document")
    node = doc
    for raw in (part for part in ref[1:].split("/") if part):
        key = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise Missing(f"{ref!r} designates nothing in the document")
    return node


def dereference(doc: dict, node: Any, warn: Warn, where: str) -> Any:
    """`node`, or what its `$ref` designates (followed through chains of references)."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if ref in seen:
            warn(f"{where}: {ref} refers to itself; ignored")
            return None
        seen.add(ref)
        try:
            node = pointer(doc, ref)
        except Missing as exc:
            warn(f"{where}: {exc}; ignored")
            return None
    return node


def inline_schema(doc: dict, schema: Any, warn: Warn, where: str) -> dict:
    """`schema` with every local `$ref` replaced by what it designates, as API Gateway stores a
    model. A recursive reference cannot be inlined: it becomes "#/definitions/<name>" and the
    schema it names is carried in the model's own `definitions`, so the model stands alone."""
    recursive: dict[str, str] = {}          # ref -> its name under the model's definitions

    def name_for(ref: str) -> str:
        if ref not in recursive:
            base = ref.rstrip("/").rsplit("/", 1)[-1] or "schema"
            name, n = base, 1
            while name in recursive.values():
                n += 1
                name = f"{base}{n}"
            recursive[ref] = name
        return recursive[ref]

    def inline(node: Any, open_refs: tuple) -> Any:
        if isinstance(node, list):
            return [inline(item, open_refs) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in open_refs:
                return {"$ref": "#/definitions/" + name_for(ref)}
            try:
                target = pointer(doc, ref)
            except Missing as exc:
                warn(f"{where}: {exc}; that part of the model accepts anything")
                return {}
            return inline(target, open_refs + (ref,))
        return {key: inline(value, open_refs) for key, value in node.items()}

    model = inline(schema, ())
    if not isinstance(model, dict):
        warn(f"{where}: the schema is not a mapping; ignored")
        return {}
    if recursive:
        definitions: dict[str, Any] = {}
        done: set[str] = set()
        while len(done) < len(recursive):    # inlining one may reveal another recursive reference
            for ref in [r for r in recursive if r not in done]:
                done.add(ref)
                definitions[recursive[ref]] = inline(pointer(doc, ref), (ref,))
        model = {**model, "definitions": {**(model.get("definitions") or {}), **definitions}}
    return model


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def request_validation(doc: dict, path_item: dict, operation: dict, warn: Warn,
                       where: str) -> Optional[RequestValidation]:
    """What the operation's request validator checks; None when nothing is validated."""
    name = operation.get(VALIDATOR_KEY, doc.get(VALIDATOR_KEY))
    if name is None:
        return None
    validators = doc.get(VALIDATORS_KEY)
    validator = validators.get(name) if isinstance(validators, dict) and isinstance(name, str) else None
    if not isinstance(validator, dict):
        warn(f"{where}: request validator {name!r} is not declared in {VALIDATORS_KEY}; requests are not "
             "validated")
        return None
    check_body, check_params = _flag(validator.get("validateRequestBody")), \
        _flag(validator.get("validateRequestParameters"))
    required: dict[str, list[str]] = {field: [] for field in _REQUIRED_FIELDS.values()}
    body_models: dict[str, dict] = {}
    swagger = "swagger" in doc
    # path-level parameters apply to every operation; the operation's own win (same name and place)
    params: dict[tuple, dict] = {}
    for source in (path_item.get("parameters"), operation.get("parameters")):
        for raw in source if isinstance(source, list) else ():
            param = dereference(doc, raw, warn, where)
            if isinstance(param, dict):
                params[(param.get("in"), param.get("name"))] = param
    for (place, name_), param in params.items():
        if place in _REQUIRED_FIELDS and isinstance(name_, str) and _flag(param.get("required")):
            required[_REQUIRED_FIELDS[place]].append(name_)
        elif place == "body" and swagger and check_body and "schema" in param:
            consumes = operation.get("consumes") or doc.get("consumes") or ["application/json"]
            model = inline_schema(doc, param["schema"], warn, f"{where} body parameter {name_}")
            for media_type in consumes if isinstance(consumes, list) else [consumes]:
                body_models[str(media_type)] = model
    body = dereference(doc, operation.get("requestBody"), warn, where) if check_body else None
    content = body.get("content") if isinstance(body, dict) else None
    for media_type, media in (content.items() if isinstance(content, dict) else ()):
        if isinstance(media, dict) and "schema" in media:
            body_models[str(media_type)] = inline_schema(doc, media["schema"], warn,
                                                         f"{where} requestBody {media_type}")
    validation = RequestValidation(
        body_models=body_models if check_body else {},
        **{field: tuple(names) if check_params else () for field, names in required.items()})
    if not validation.body_models and not any(getattr(validation, f) for f in _REQUIRED_FIELDS.values()):
        return None
    return validation
