"""The route table: which RouteSpec serves a method + path (aws-contract.md §1.6).

Precedence, as API Gateway resolves it:

* segment by segment, a literal segment beats ``{var}``, which beats a greedy ``{name+}``
  (the earlier literal segment wins: ``/a/b/{proxy+}`` beats ``/a/{x}/c`` for ``/a/b/c``);
* on the chosen path, an explicit method beats ``ANY``; when neither is declared there, matching
  goes on with the next candidate path (``GET /pets/{id}`` still serves ``GET /pets/dog`` when
  ``/pets/dog`` only declares ``POST``);
* then the HTTP API ``$default`` route.

A greedy variable needs at least one segment (``/parent/{proxy+}`` does not match ``/parent``).
Trailing and repeated slashes are ignored for matching (both API kinds serve ``/hello/`` from
``/hello``; an empty segment never fills a variable).

Full-literal routes sit in a dict keyed by (method, path); routes with variables in a segment
trie; a lookup costs one dict probe plus a walk bounded by the path depth.
"""
from __future__ import annotations

from typing import Iterable, Optional
from urllib.parse import unquote

from gateway.types import RouteSpec

__all__ = ["RouteTable", "normalized_path"]


class _Node:
    __slots__ = ("literal", "var", "greedy", "terminal")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.var: Optional[_Node] = None
        # method -> (route, ((segment index, name), ...), greedy name, greedy start index)
        self.greedy: dict[str, tuple] = {}
        self.terminal: dict[str, tuple] = {}


def _segments(path: str) -> list[str]:
    """Non-empty path segments, percent-decoded."""
    return [unquote(s) if "%" in s else s for s in path.split("/") if s]


def normalized_path(raw_path: str) -> str:
    """The path as ``match`` sees it: "/" + its non-empty segments, each percent-decoded, joined by
    "/" (no trailing or repeated slash). Whatever decides on a request by its path (an authorizer's
    policy) must look at this string, not at a spelling of it the route table treats alike."""
    if "%" not in raw_path and "//" not in raw_path and raw_path[:1] == "/" and (
            len(raw_path) == 1 or raw_path[-1] != "/"):
        return raw_path         # already normal: the common case costs no split
    return "/" + "/".join(_segments(raw_path))


def _is_var(seg: str) -> bool:
    return len(seg) > 2 and seg[0] == "{" and seg[-1] == "}"


class RouteTable:
    """Routes of every API served on one port. ``warnings`` lists what was ignored and why."""

    def __init__(self, routes: Iterable[RouteSpec], api_kinds: Iterable[str] = ()):
        """`api_kinds`: the kinds of every API served, those left without a route included, for
        the not-found answer (an HTTP API with no routes still answers 404, not REST's 403)."""
        self.routes: list[RouteSpec] = []
        self.warnings: list[str] = []
        self._literal: dict[tuple[str, str], RouteSpec] = {}
        self._literal_by_path: dict[str, dict[str, RouteSpec]] = {}
        self._root = _Node()
        self._default: Optional[RouteSpec] = None
        self._seen: dict[tuple[str, str], RouteSpec] = {}
        for route in routes:
            self._add(route)
        self._kinds = {r.api.kind for r in self.routes} | set(api_kinds)

    # ------------------------------------------------------------------ building

    def _duplicate(self, key: tuple[str, str], route: RouteSpec) -> bool:
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = route
            return False
        self.warnings.append(
            f"Route {route.method} {route.path} (function {route.function}, API {route.api.logical_id}) "
            f"is declared more than once; the first declaration wins "
            f"(function {first.function}, API {first.api.logical_id})")
        return True

    def _add(self, route: RouteSpec) -> None:
        method = route.method.upper()
        if route.path == "$default":
            if route.api.kind != "HTTP":
                self.warnings.append(
                    f"Route $default (function {route.function}) belongs to REST API "
                    f"{route.api.logical_id}; $default exists only on HTTP APIs, ignored")
                return
            if self._duplicate(("$default", "$default"), route):
                return
            self._default = route
            self.routes.append(route)
            return

        segs = [s for s in route.path.split("/") if s]
        shape: list[str] = []
        var_positions: list[tuple[int, str]] = []
        greedy: Optional[str] = None
        for i, seg in enumerate(segs):
            if _is_var(seg):
                name = seg[1:-1]
                if name.endswith("+"):
                    if i != len(segs) - 1:
                        self.warnings.append(
                            f"Route {route.method} {route.path} (function {route.function}): a greedy "
                            f"variable must be the last segment; route ignored")
                        return
                    greedy = name[:-1]
                    shape.append("{+}")
                else:
                    var_positions.append((i, name))
                    shape.append("{}")
            else:
                shape.append(seg)
        if self._duplicate((method, "/" + "/".join(shape)), route):
            return
        self.routes.append(route)

        if greedy is None and not var_positions:
            path = "/" + "/".join(segs)
            self._literal[(method, path)] = route
            self._literal_by_path.setdefault(path, {})[method] = route
            return

        node = self._root
        last = len(segs) - 1 if greedy is not None else len(segs)
        for seg in segs[:last]:
            if _is_var(seg):
                if node.var is None:
                    node.var = _Node()
                node = node.var
            else:
                child = node.literal.get(seg)
                if child is None:
                    child = node.literal[seg] = _Node()
                node = child
        entry = (route, tuple(var_positions), greedy, last)
        if greedy is not None:
            node.greedy[method] = entry
        else:
            node.terminal[method] = entry

    # ------------------------------------------------------------------ lookups

    def _walk(self, node: _Node, segs: list[str], i: int, method: Optional[str]) -> Optional[tuple]:
        """Depth-first by precedence: literal child, then variable child, then greedy here.

        Returns (methods dict, entry); ``method=None`` takes any method.
        """
        if i == len(segs):
            table = node.terminal
            if table:
                entry = _pick(table, method)
                if entry is not None:
                    return table, entry
            return None
        child = node.literal.get(segs[i])
        if child is not None:
            found = self._walk(child, segs, i + 1, method)
            if found is not None:
                return found
        if node.var is not None:
            found = self._walk(node.var, segs, i + 1, method)
            if found is not None:
                return found
        table = node.greedy
        if table:
            entry = _pick(table, method)
            if entry is not None:
                return table, entry
        return None

    def match(self, method: str, path: str) -> Optional[tuple[RouteSpec, Optional[dict]]]:
        """The route serving ``method`` + ``path`` and its path parameters (decoded segment values;
        a greedy value has no leading slash), or None. Parameters are None for a route without
        variables. Pass the percent-encoded path when you have it: segments are split before
        decoding, so ``%2F`` stays inside one segment."""
        segs = _segments(path)
        key = "/" + "/".join(segs)
        route = self._literal.get((method, key)) or self._literal.get(("ANY", key))
        if route is not None:
            return route, None
        found = self._walk(self._root, segs, 0, method)
        if found is not None:
            route, var_positions, greedy, start = found[1]
            params = {name: segs[i] for i, name in var_positions}
            if greedy is not None:
                params[greedy] = "/".join(segs[start:])
            return route, params
        if self._default is not None:
            return self._default, None
        return None

    def _path_routes(self, path: str) -> Optional[dict[str, RouteSpec]]:
        """method -> route on the most specific resource matching ``path``, whatever the method."""
        segs = _segments(path)
        by_method = self._literal_by_path.get("/" + "/".join(segs))
        if by_method:
            return by_method
        found = self._walk(self._root, segs, 0, None)
        if found is None:
            return None
        return {m: entry[0] for m, entry in found[0].items()}

    def not_found_kind(self, path: str) -> str:
        """Which API's not-found error applies when ``match`` found nothing: ``"REST"`` (403 Missing
        Authentication Token) or ``"HTTP"`` (404 Not Found).

        The kind of the API owning a route on this path (any method); else REST when the table has
        only REST routes, HTTP when only HTTP routes, else the kind of the first route.
        """
        by_method = self._path_routes(path)
        if by_method:
            return next(iter(by_method.values())).api.kind
        if len(self._kinds) == 1:
            return next(iter(self._kinds))
        return self.routes[0].api.kind if self.routes else "REST"

    def methods_for(self, path: str) -> list[str]:
        """Methods declared on the most specific resource matching ``path`` (``ANY`` included as is),
        e.g. for a CORS preflight's Access-Control-Allow-Methods. Empty when nothing matches."""
        by_method = self._path_routes(path)
        return sorted(by_method) if by_method else []


def _pick(table: dict, method: Optional[str]):
    if method is None:
        return next(iter(table.values()))
    entry = table.get(method)
    if entry is None:
        entry = table.get("ANY")
    return entry
