"""Where a Lambda authorizer's identity comes from: its identity sources, read off one request.

AWS writes them two ways, both accepted for either API kind:

* REST: ``method.request.header.NAME``, ``method.request.multivalueheader.NAME``,
  ``method.request.querystring.NAME``, ``method.request.multivaluequerystring.NAME``,
  ``stageVariables.NAME``, ``context.NAME`` (one string may list several, comma-separated);
* HTTP API: ``$request.header.NAME``, ``$request.querystring.NAME``, ``$stageVariables.NAME``,
  ``$context.NAME``.

Header names compare case-insensitively, query string names case-sensitively. A source that is
absent, null or empty has no value: API Gateway then answers 401 without invoking the function.
A repeated header or query parameter gives its last value on a REST API and its values joined with
commas on an HTTP API (as the HTTP API event shows them); the multi-value forms always join.
"""
from __future__ import annotations

from typing import Iterable, Optional

from gateway.sam.authorizer_settings import invalid_setting

__all__ = ["IdentitySource", "parse_identity_sources", "header_value"]

_KINDS = {  # prefix (REST spelling) -> kind
    "method.request.header.": "header",
    "method.request.multivalueheader.": "multiheader",
    "method.request.querystring.": "query",
    "method.request.multivaluequerystring.": "multiquery",
    "stageVariables.": "stage",
    "context.": "context",
}
# $context variables an HTTP API 2.0 event keeps elsewhere than a REST-shaped requestContext does
_V2_CONTEXT = {
    ("httpMethod",): ("http", "method"),
    ("path",): ("http", "path"),
    ("protocol",): ("http", "protocol"),
    ("identity", "sourceIp"): ("http", "sourceIp"),
    ("identity", "userAgent"): ("http", "userAgent"),
}


def header_value(headers, lname: bytes, join: bool) -> Optional[str]:
    """The value of header `lname` (lower-case bytes) in ASGI `headers`: the last one, or all joined
    with commas when `join`; None when absent."""
    found = None
    for name, raw in headers:
        if name == lname:
            try:
                value = raw.decode()
            except UnicodeDecodeError:
                value = raw.decode("latin-1")
            found = value if found is None or not join else found + "," + value
    return found


class IdentitySource:
    """One identity source: `value(request)` is its non-empty text, or None."""

    __slots__ = ("expression", "kind", "name", "header", "path", "join")

    def __init__(self, expression: str, join_repeated: bool, where: str = "IdentitySource"):
        """`where` names the authorizer and its setting in the TemplateError an expression that
        is no identity source raises."""
        self.expression = expression
        text = expression.strip() if isinstance(expression, str) else ""
        if text.startswith("$"):            # HTTP API spelling
            text = text[1:]
            if text.startswith("request."):
                text = "method." + text
        for prefix, kind in _KINDS.items():
            if text.startswith(prefix) and len(text) > len(prefix):
                break
        else:
            raise invalid_setting(where, f"{expression!r} is no identity source: expected a header, query "
                                         f"string, stage variable or context variable (e.g. "
                                         f"method.request.header.Authorization or $request.header.Authorization)")
        self.kind = "header" if kind == "multiheader" else "query" if kind == "multiquery" else kind
        self.join = join_repeated or kind in ("multiheader", "multiquery")
        self.name = text[len(prefix):]
        self.header = self.name.lower().encode("latin-1") if self.kind == "header" else b""
        self.path = tuple(self.name.split(".")) if self.kind == "context" else ()

    def value(self, request) -> Optional[str]:
        """The source's value in `request` (gateway.apigw.access.AccessRequest), None when absent or empty."""
        kind = self.kind
        if kind == "header":
            value = header_value(request.scope["headers"], self.header, self.join)
        elif kind == "query":
            value = self._query(request)
        elif kind == "stage":
            variables = request.route.api.stage_variables
            value = variables.get(self.name) if variables else None
        else:
            value = self._context(request)
        return value or None

    def _query(self, request) -> Optional[str]:
        event = request.event
        if request.v1:
            values = (event.get("multiValueQueryStringParameters") or {}).get(self.name)
            if not values:
                return None
            return ",".join(values) if self.join else values[-1]
        return (event.get("queryStringParameters") or {}).get(self.name)   # already comma-joined

    def _context(self, request) -> Optional[str]:
        path = self.path
        if path == ("routeKey",):           # the HTTP API cache-per-route key; a 1.0 event lacks it
            route = request.route
            return "$default" if route.path == "$default" else f"{route.method} {route.path}"
        if not request.v1:
            path = _V2_CONTEXT.get(path, path)
        value = request.event.get("requestContext")
        for part in path:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        if value is None or isinstance(value, (dict, list)):
            return None
        return value if isinstance(value, str) else str(value)


def parse_identity_sources(expressions: Iterable[str], join_repeated: bool,
                           where: str = "IdentitySource") -> tuple[IdentitySource, ...]:
    """The sources of an authorizer, in order; raises TemplateError naming `where` (the authorizer
    and its setting) for one that is no identity source."""
    sources = []
    for expression in expressions:
        if not isinstance(expression, str):
            raise invalid_setting(where, f"{expression!r} is no identity source: expected a string")
        for part in expression.split(","):
            if part.strip():
                sources.append(IdentitySource(part, join_repeated, where))
    return tuple(sources)
