"""Event builders: the one-pass header collection and the per-route/per-second caches against a
straightforward reference (collect per name, add the gateway's headers, then lay out the event).

The reference below is the builders' earlier, obviously-correct formulation; the builders must
give exactly its output, key order included, for odd input too.
"""
import random

import orjson
import pytest

from gateway.apigw import events as apigw_events
from gateway.apigw.events import build_http_event, build_rest_event
from gateway.types import ApiSpec, RouteSpec

NOW_MS = 1589522469693
REST_API = ApiSpec("ServerlessRestApi", "REST", "Prod")
HTTP_API = ApiSpec("ServerlessHttpApi", "HTTP", "dev")


# --------------------------------------------------------------------------- the reference

def _title(lname):
    return "-".join(p[:1].upper() + p[1:] for p in lname.decode("latin-1").split("-"))


def _dec(b):
    try:
        return b.decode()
    except UnicodeDecodeError:
        return b.decode("latin-1")


def ref_collect(src, dropped, title, raw):
    coll = {}
    for name, value in src:
        lname = name.lower() if raw else name
        if lname in dropped:
            continue
        entry = coll.get(lname)
        if entry is None:
            display = name.decode("latin-1") if raw else _title(lname) if title else lname.decode("latin-1")
            coll[lname] = [display, [_dec(value)]]
        else:
            entry[1].append(_dec(value))
    return coll


def ref_set(coll, lname, title, value):
    entry = coll.get(lname)
    if entry is None:
        coll[lname] = [_title(lname) if title else lname.decode("latin-1"), [value]]
    else:
        entry[1] = [value]


def ref_gateway_headers(coll, scope, title, trace):
    peer = scope["client"][0] if scope.get("client") else "127.0.0.1"
    xff = coll.get(b"x-forwarded-for")
    if xff is None:
        ref_set(coll, b"x-forwarded-for", title, peer)
    else:
        xff[1] = [", ".join(xff[1] + [peer])]
    scheme = scope.get("scheme") or "http"
    server = scope.get("server")
    port = server[1] if server and len(server) > 1 and server[1] is not None else (443 if scheme == "https" else 80)
    ref_set(coll, b"x-forwarded-port", title, str(port))
    ref_set(coll, b"x-forwarded-proto", title, scheme)
    if b"x-amzn-trace-id" not in coll:
        ref_set(coll, b"x-amzn-trace-id", title, trace)


def ref_v1_headers(scope, raw_headers, http_api, trace, body=b""):
    if http_api:
        coll = ref_collect(scope["headers"], {b"connection"}, False, False)
        ref_set(coll, b"content-length", False, str(len(body)))
    elif raw_headers is not None:
        coll = ref_collect(raw_headers, {b"content-length", b"connection"}, True, True)
    else:
        coll = ref_collect(scope["headers"], {b"content-length", b"connection"}, True, False)
    ref_gateway_headers(coll, scope, not http_api, trace)
    headers, multi = {}, {}
    for display, values in coll.values():
        headers[display] = values[-1]
        multi[display] = values
    return headers, multi, coll


def ref_v2_headers(scope, trace, body=b""):
    coll = ref_collect(scope["headers"], {b"connection"}, False, False)
    cookie = coll.pop(b"cookie", None)
    ref_set(coll, b"content-length", False, str(len(body)))
    ref_gateway_headers(coll, scope, False, trace)
    headers = {d: (v[0] if len(v) == 1 else ",".join(v)) for d, v in coll.values()}
    cookies = [c.strip() for value in (cookie[1] if cookie else []) for c in value.split(";") if c.strip()]
    return headers, cookies


# --------------------------------------------------------------------------- helpers

def scope_of(headers, *, query=b"", client=("10.1.2.3", 4000), server=("127.0.0.1", 3000), scheme="http"):
    return {"type": "http", "method": "GET", "path": "/pets/7", "raw_path": b"/pets/7", "query_string": query,
            "headers": list(headers), "client": client, "server": server, "scheme": scheme,
            "http_version": "1.1"}


def rest(scope, route=None, raw_headers=None, body=b""):
    route = route or RouteSpec(REST_API, "GET", "/pets/{id}", "Fn")
    return build_rest_event(scope, body, route, {"id": "7"}, request_id="r", extended_request_id="e",
                            now_ms=NOW_MS, raw_headers=raw_headers)


def http_v2(scope, body=b""):
    route = RouteSpec(HTTP_API, "GET", "/pets/{id}", "Fn", payload_format="2.0")
    return build_http_event(scope, body, route, {"id": "7"}, request_id="r", now_ms=NOW_MS)


def trace_of(headers):
    return next(v for k, v in headers.items() if k.lower() == "x-amzn-trace-id")


def same_order(a, b):
    """Equal, and equal as orjson sees them (which keeps insertion order)."""
    return a == b and orjson.dumps(a) == orjson.dumps(b)


ODD_HEADER_LISTS = [
    [(b"Host", b"localhost:3000")],
    [],
    [(b"X-A", b"1"), (b"x-a", b"2"), (b"accept", b"*/*"), (b"X-A", b"3")],            # casing variants
    [(b"X-Forwarded-For", b"10.0.0.1"), (b"x-forwarded-for", b"10.0.0.2")],          # XFF already there
    [(b"x-forwarded-port", b"1"), (b"Host", b"h"), (b"X-Forwarded-Proto", b"ftp")],   # replaced in place
    [(b"X-Amzn-Trace-Id", b"Root=1-abc"), (b"x-amzn-trace-id", b"Root=1-def")],     # client trace kept
    [(b"User-Agent", b"caf\xc3\xa9"), (b"X-Bin", b"\xff\xfe"), (b"X-Utf", b"\xe2\x82\xac")],  # non-ASCII
    [(b"Content-Length", b"5"), (b"Connection", b"close"), (b"content-type", b"text/plain")],
    [(b"Cookie", b"a=1; b=2"), (b"cookie", b"c=3"), (b"Cookie", b" ;; ")],
    [(b"\xdf", b"x"), (b"ss", b"y"), (b"SS", b"z")],                                   # latin-1 names
]


# --------------------------------------------------------------------------- REST / payload 1.0

@pytest.mark.parametrize("raw", ODD_HEADER_LISTS)
@pytest.mark.parametrize("mode", ["raw", "asgi", "http-1.0"])
def test_v1_headers_match_the_reference(raw, mode):
    scope = scope_of([(k.lower(), v) for k, v in raw])
    if mode == "http-1.0":
        ev = rest(scope, RouteSpec(HTTP_API, "GET", "/pets/{id}", "Fn", payload_format="1.0"), body=b"hey")
    else:
        ev = rest(scope, raw_headers=raw if mode == "raw" else None, body=b"hey")
    headers, multi, coll = ref_v1_headers(scope, raw if mode == "raw" else None, mode == "http-1.0",
                                          trace_of(ev["headers"]), b"hey")
    assert same_order(ev["headers"], headers)
    assert same_order(ev["multiValueHeaders"], multi)
    first = {k: v[1][0] for k, v in coll.items()}
    assert ev["requestContext"]["identity"]["userAgent"] == first.get(b"user-agent")


def test_v1_headers_when_names_share_a_title_case_slot():
    """Non-lower-cased ASGI names (odd input): b"X-A" and b"x-a" both show as "X-A"; the name that
    arrived first last (b"x-a") owns the slot; b"X-Forwarded-For" is overridden by the gateway's."""
    raw = [(b"X-A", b"1"), (b"x-a", b"2"), (b"X-A", b"3"), (b"x-a", b"4"), (b"X-Forwarded-For", b"9.9.9.9"),
           (b"X-Amzn-Trace-Id", b"Root=1-client")]
    scope = scope_of(raw)
    ev = rest(scope)
    headers, multi, _ = ref_v1_headers(scope, None, False, trace_of(ev["headers"]))
    assert same_order(ev["headers"], headers) and same_order(ev["multiValueHeaders"], multi)
    assert ev["multiValueHeaders"]["X-A"] == ["2", "4"] and ev["headers"]["X-A"] == "4"
    assert ev["headers"]["X-Forwarded-For"] == "10.1.2.3"
    assert ev["headers"]["X-Amzn-Trace-Id"] != "Root=1-client"  # b"x-amzn-trace-id" was not sent


def test_v1_headers_match_the_reference_on_random_input():
    rng = random.Random(7)
    names = [b"Host", b"host", b"X-A", b"x-a", b"X-Forwarded-For", b"x-forwarded-port", b"X-Forwarded-Proto",
             b"x-amzn-trace-id", b"Content-Length", b"connection", b"Cookie", b"User-Agent", b"\xdf", b"SS"]
    values = [b"v", b"1", b"caf\xc3\xa9", b"\xff", b"", b"a, b", b"localhost:3000"]
    for _ in range(500):
        raw = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(0, 8))]
        lower = rng.random() < 0.7
        scope = scope_of([(k.lower() if lower else k, v) for k, v in raw], scheme=rng.choice(["http", "https"]),
                         server=rng.choice([("h", 8443), None]), client=rng.choice([("1.2.3.4", 5), None]))
        for mode in ("raw", "asgi", "http-1.0"):
            if mode == "http-1.0":
                ev = rest(scope, RouteSpec(HTTP_API, "GET", "/p", "Fn", payload_format="1.0"))
            else:
                ev = rest(scope, raw_headers=raw if mode == "raw" else None)
            headers, multi, _ = ref_v1_headers(scope, raw if mode == "raw" else None, mode == "http-1.0",
                                               trace_of(ev["headers"]))
            assert same_order(ev["headers"], headers), (mode, raw)
            assert same_order(ev["multiValueHeaders"], multi), (mode, raw)


def test_rest_event_layout_and_fresh_objects():
    route = RouteSpec(ApiSpec("Api", "REST", "dev", stage_variables={"v": "1"}), "GET", "/pets/{id}", "Fn",
                      operation_name="GetPet")
    first = rest(scope_of([(b"host", b"api.example.com:3000")], query=b"a=1&a=2&b=%20x"), route)
    assert list(first) == ["resource", "path", "httpMethod", "headers", "multiValueHeaders",
                           "queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
                           "stageVariables", "requestContext", "body", "isBase64Encoded"]
    rc = first["requestContext"]
    assert list(rc) == ["accountId", "apiId", "deploymentId", "domainName", "domainPrefix", "extendedRequestId",
                        "httpMethod", "identity", "path", "protocol", "requestId", "requestTime",
                        "requestTimeEpoch", "resourceId", "resourcePath", "stage", "operationName"]
    assert list(rc["identity"]) == [
        "accessKey", "accountId", "apiKey", "apiKeyId", "caller", "cognitoAuthenticationProvider",
        "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId",
        "sourceIp", "user", "userAgent", "userArn"]
    assert rc["domainName"] == "api.example.com" and rc["domainPrefix"] == "api"
    assert rc["path"] == "/dev/pets/7" and rc["operationName"] == "GetPet"
    assert first["queryStringParameters"] == {"a": "2", "b": " x"}
    assert first["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [" x"]}
    # per-route templates are copied: changing one event leaves the next untouched
    rc["identity"]["user"] = "someone"
    rc["stage"] = "changed"
    first["stageVariables"]["v"] = "changed"
    second = rest(scope_of([(b"host", b"api.example.com:3000")]), route)
    assert second["requestContext"]["identity"]["user"] is None
    assert second["requestContext"]["stage"] == "dev" and second["stageVariables"] == {"v": "1"}


def test_http_1_0_event_layout_and_fresh_authorizer():
    route = RouteSpec(ApiSpec("H", "HTTP", "$default"), "GET", "/p", "Fn", payload_format="1.0")
    first = rest(scope_of([]), route)
    assert list(first)[0] == "version"
    rc = first["requestContext"]
    assert list(rc) == ["accountId", "apiId", "authorizer", "domainName", "domainPrefix", "extendedRequestId",
                        "httpMethod", "identity", "path", "protocol", "requestId", "requestTime",
                        "requestTimeEpoch", "resourceId", "resourcePath", "stage"]
    assert first["path"] == rc["path"] == "/pets/7"  # $default: no stage prefix
    rc["authorizer"]["claims"] = {"sub": "x"}
    assert rest(scope_of([]), route)["requestContext"]["authorizer"] == {"claims": None, "scopes": None}


def test_route_cache_checks_identity():
    """An entry is used only for the very route object it was made for."""
    a = RouteSpec(ApiSpec("A", "REST", "one"), "GET", "/a", "Fn")
    b = RouteSpec(ApiSpec("B", "REST", "two"), "GET", "/b", "Fn")
    ev_a = rest(scope_of([]), a)
    entry = apigw_events._routes_v1[id(a)]
    apigw_events._routes_v1[id(b)] = entry  # as if b had a's id: must not be taken for a
    ev_b = rest(scope_of([]), b)
    assert ev_b["requestContext"]["stage"] == "two" and ev_b["resource"] == "/b"
    assert ev_b["requestContext"]["apiId"] != ev_a["requestContext"]["apiId"]
    assert apigw_events._routes_v1[id(b)][0] is b


def test_clock_cache_follows_the_second():
    route = RouteSpec(REST_API, "GET", "/p", "Fn")
    for now_ms in (1587481701067, 1587481701999, 1587481702000, 1587481701500):
        ev = build_rest_event(scope_of([]), b"", route, None, request_id="r", extended_request_id="e",
                              now_ms=now_ms)
        sec = now_ms // 1000
        assert ev["requestContext"]["requestTime"] == apigw_events.clf_time(now_ms)
        assert ev["headers"]["X-Amzn-Trace-Id"].startswith(f"Root=1-{sec:08x}-")
        assert len(ev["headers"]["X-Amzn-Trace-Id"]) == len("Root=1-") + 8 + 1 + 24
    assert apigw_events.clf_time(1587481702000) == "21/Apr/2020:15:08:22 +0000"


def test_trace_id_is_the_formatted_random_bits():
    random.seed(42)
    value = apigw_events._trace_id("Root=1-5eb0aa25-")
    random.seed(42)
    assert value == f"Root=1-5eb0aa25-{random.getrandbits(96):024x}"


def test_host_parts_cache_gives_the_parsed_values():
    for host, expected in [(None, ("localhost", "localhost")), ("", ("localhost", "localhost")),
                           ("a.b.c:3000", ("a.b.c", "a")), ("[::1]:3000", ("[::1]", "[::1]")),
                           ("a:b:c", ("a:b:c", "a:b:c")), ("example", ("example", "example"))]:
        assert apigw_events._host_parts(host) == expected
        assert apigw_events._host_parts(host) == expected  # cached


# --------------------------------------------------------------------------- HTTP API payload 2.0

@pytest.mark.parametrize("raw", ODD_HEADER_LISTS)
def test_v2_headers_match_the_reference(raw):
    scope = scope_of([(k.lower(), v) for k, v in raw])
    ev = http_v2(scope, b"{}")
    headers, cookies = ref_v2_headers(scope, trace_of(ev["headers"]), b"{}")
    assert same_order(ev["headers"], headers)
    assert ev.get("cookies", []) == cookies and ("cookies" in ev) == bool(cookies)


def test_v2_headers_match_the_reference_on_random_input():
    rng = random.Random(11)
    names = [b"host", b"x-a", b"x-forwarded-for", b"x-forwarded-port", b"x-amzn-trace-id", b"content-length",
             b"connection", b"cookie", b"user-agent", b"content-type"]
    values = [b"v", b"1", b"caf\xc3\xa9", b"\xff", b"", b"a, b", b"k=v; j=w"]
    for _ in range(500):
        scope = scope_of([(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(0, 8))])
        body = rng.choice([b"", b"x"])
        ev = http_v2(scope, body)
        headers, cookies = ref_v2_headers(scope, trace_of(ev["headers"]), body)
        assert same_order(ev["headers"], headers), scope["headers"]
        assert ev.get("cookies", []) == cookies


def test_v2_event_layout():
    scope = scope_of([(b"user-agent", b"ua"), (b"cookie", b"a=1")], query=b"a=1&a=2")
    ev = http_v2(scope, b"{}")
    assert list(ev) == ["version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
                        "queryStringParameters", "requestContext", "body", "pathParameters", "isBase64Encoded"]
    rc = ev["requestContext"]
    assert list(rc) == ["accountId", "apiId", "domainName", "domainPrefix", "http", "requestId", "routeKey",
                        "stage", "time", "timeEpoch"]
    assert rc["routeKey"] == ev["routeKey"] == "GET /pets/{id}" and ev["rawPath"] == "/dev/pets/7"
    assert list(rc["http"]) == ["method", "path", "protocol", "sourceIp", "userAgent"]
    assert ev["queryStringParameters"] == {"a": "1,2"}
    rc["stage"] = "changed"
    assert http_v2(scope)["requestContext"]["stage"] == "dev"
