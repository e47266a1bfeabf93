"""Route table: AWS precedence, parameters, not-found kinds, trailing slashes."""
from gateway.apigw.routing import RouteTable
from gateway.types import ApiSpec, RouteSpec

REST = ApiSpec("ServerlessRestApi", "REST", "Prod")
HTTP = ApiSpec("ServerlessHttpApi", "HTTP", "$default")


def r(method, path, fn=None, api=REST):
    return RouteSpec(api, method, path, fn or f"{method} {path}")


def h(method, path, fn=None):
    return RouteSpec(HTTP, method, path, fn or f"{method} {path}", payload_format="2.0")


def served(table, method, path):
    found = table.match(method, path)
    return None if found is None else found[0].function


def test_docs_precedence_table():
    # http-api-develop-routes.md example
    t = RouteTable([h("GET", "/pets/dog/1"), h("GET", "/pets/dog/{id}"), h("GET", "/pets/{proxy+}"),
                    h("ANY", "/{proxy+}"), h("ANY", "$default")])
    cases = {
        ("GET", "/pets/dog/1"): "GET /pets/dog/1",
        ("GET", "/pets/dog/2"): "GET /pets/dog/{id}",
        ("GET", "/pets/cat/1"): "GET /pets/{proxy+}",
        ("POST", "/test/5"): "ANY /{proxy+}",
        ("GET", "/"): "ANY $default",
    }
    for (method, path), fn in cases.items():
        assert served(t, method, path) == fn, (method, path)


def test_literal_beats_var_beats_greedy_segment_by_segment():
    t = RouteTable([r("GET", "/a/{x}/c"), r("GET", "/a/b/{proxy+}"), r("GET", "/a/{x}/{y}"),
                    r("GET", "/{proxy+}"), r("GET", "/a/{x}")])
    assert served(t, "GET", "/a/b/c") == "GET /a/b/{proxy+}"  # earlier literal segment wins
    assert served(t, "GET", "/a/z/c") == "GET /a/{x}/c"
    assert served(t, "GET", "/a/z/q") == "GET /a/{x}/{y}"
    assert served(t, "GET", "/a/z") == "GET /a/{x}"
    assert served(t, "GET", "/a/z/q/w") == "GET /{proxy+}"


def test_explicit_method_beats_any():
    t = RouteTable([r("ANY", "/items"), r("GET", "/items"), r("ANY", "/items/{id}"), r("DELETE", "/items/{id}")])
    assert served(t, "GET", "/items") == "GET /items"
    assert served(t, "POST", "/items") == "ANY /items"
    assert served(t, "DELETE", "/items/1") == "DELETE /items/{id}"
    assert served(t, "PUT", "/items/1") == "ANY /items/{id}"


def test_method_mismatch_falls_through_to_next_candidate():
    t = RouteTable([r("POST", "/pets/dog"), r("GET", "/pets/{id}"), r("GET", "/{proxy+}")])
    assert served(t, "GET", "/pets/dog") == "GET /pets/{id}"
    assert served(t, "POST", "/pets/dog") == "POST /pets/dog"
    assert served(t, "PUT", "/pets/dog") is None


def test_literal_any_beats_var_with_method():
    t = RouteTable([r("ANY", "/pets/dog"), r("GET", "/pets/{id}")])
    assert served(t, "GET", "/pets/dog") == "ANY /pets/dog"


def test_params_extraction():
    t = RouteTable([r("GET", "/users/{userId}/posts/{postId}"), r("ANY", "/files/{proxy+}"), r("GET", "/plain")])
    assert t.match("GET", "/users/u1/posts/p2")[1] == {"userId": "u1", "postId": "p2"}
    assert t.match("GET", "/files/a/b/c.txt")[1] == {"proxy": "a/b/c.txt"}
    assert t.match("GET", "/plain")[1] is None


def test_params_are_decoded_segments():
    t = RouteTable([r("GET", "/files/{name}"), r("GET", "/caf\u00e9"), r("ANY", "/g/{proxy+}")])
    assert t.match("GET", "/files/a%2Fb%20c") [1] == {"name": "a/b c"}  # %2F stays inside the segment
    assert served(t, "GET", "/caf%C3%A9") == "GET /caf\u00e9"
    assert t.match("GET", "/g/x%20y/z")[1] == {"proxy": "x y/z"}


def test_greedy_does_not_match_parent():
    t = RouteTable([r("ANY", "/parent/{proxy+}")])
    assert t.match("GET", "/parent") is None
    assert t.match("GET", "/parent/") is None
    assert t.match("GET", "/parent/x")[1] == {"proxy": "x"}


def test_root_routes():
    t = RouteTable([r("GET", "/"), r("ANY", "/{proxy+}")])
    assert served(t, "GET", "/") == "GET /"
    assert served(t, "GET", "") == "GET /"
    assert served(t, "POST", "/") is None  # /{proxy+} needs a segment
    assert served(t, "POST", "/x") == "ANY /{proxy+}"


def test_trailing_and_repeated_slashes_are_ignored():
    t = RouteTable([r("GET", "/hello"), r("GET", "/pets/{id}"), r("ANY", "/{proxy+}", "greedy")])
    assert served(t, "GET", "/hello/") == "GET /hello"
    assert served(t, "GET", "//hello") == "GET /hello"
    assert t.match("GET", "/pets/7/") [1] == {"id": "7"}
    assert t.match("GET", "/test-path/")[1] == {"proxy": "test-path"}
    # an empty segment never fills a variable: /pets/ is /pets, served by the greedy route
    assert t.match("GET", "/pets/") == (t.routes[2], {"proxy": "pets"})


def test_default_route_only_for_http_and_last():
    t = RouteTable([h("ANY", "$default", "default"), h("GET", "/x")])
    assert served(t, "GET", "/x") == "GET /x"
    assert served(t, "GET", "/anything/else") == "default"
    assert t.match("GET", "/anything")[1] is None
    t2 = RouteTable([r("ANY", "$default")])
    assert t2.match("GET", "/") is None
    assert len(t2.warnings) == 1 and "$default" in t2.warnings[0]


def test_no_match():
    t = RouteTable([r("GET", "/a")])
    assert t.match("GET", "/b") is None
    assert t.match("POST", "/a") is None


def test_duplicates_first_wins_with_warning():
    t = RouteTable([r("GET", "/a", "first"), r("GET", "/a", "second"),
                    r("GET", "/p/{id}", "p1"), r("GET", "/p/{other}", "p2"), r("POST", "/a", "post")])
    assert served(t, "GET", "/a") == "first"
    assert served(t, "GET", "/p/1") == "p1"
    assert served(t, "POST", "/a") == "post"
    assert len(t.warnings) == 2
    assert "GET /a" in t.warnings[0] and "second" in t.warnings[0] and "first" in t.warnings[0]


def test_greedy_not_last_is_rejected_with_warning():
    t = RouteTable([r("GET", "/{proxy+}/x")])
    assert t.match("GET", "/a/x") is None and t.warnings


def test_not_found_kind():
    mixed = RouteTable([r("GET", "/rest/{id}"), h("GET", "/http/items"), r("GET", "/shared")])
    assert mixed.not_found_kind("/rest/1") == "REST"     # path known to a REST route (wrong method)
    assert mixed.not_found_kind("/http/items") == "HTTP"
    assert mixed.not_found_kind("/nowhere") == "REST"     # first route's kind
    http_first = RouteTable([h("GET", "/x"), r("GET", "/y")])
    assert http_first.not_found_kind("/nowhere") == "HTTP"
    assert http_first.not_found_kind("/y") == "REST"
    assert RouteTable([h("GET", "/x")]).not_found_kind("/zzz") == "HTTP"
    assert RouteTable([r("GET", "/x")]).not_found_kind("/zzz") == "REST"
    assert RouteTable([]).not_found_kind("/") == "REST"


def test_methods_for():
    t = RouteTable([r("GET", "/items"), r("POST", "/items"), r("ANY", "/items/{id}"), r("DELETE", "/items/{id}")])
    assert t.methods_for("/items") == ["GET", "POST"]
    assert t.methods_for("/items/3") == ["ANY", "DELETE"]
    assert t.methods_for("/nothing") == []


def test_many_routes_lookup_is_fast():
    import time
    routes = [r("GET", f"/svc{i}/items/{{id}}/sub{j}") for i in range(50) for j in range(10)]
    routes += [r("GET", f"/lit{i}/x") for i in range(500)]
    t = RouteTable(routes)
    assert served(t, "GET", "/svc42/items/9/sub7") == "GET /svc42/items/{id}/sub7"
    start = time.perf_counter()
    for _ in range(20000):
        t.match("GET", "/svc42/items/9/sub7")
        t.match("GET", "/lit499/x")
    per_call = (time.perf_counter() - start) / 40000
    assert per_call < 50e-6, per_call
