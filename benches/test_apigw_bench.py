"""Micro-benchmarks of the API Gateway event builders and response mapping (per-request CPU).

    python -m pytest benches/test_apigw_bench.py --benchmark-columns=median,ops -q

Inputs are built the way ``gateway.apigw.endpoint.ApiGateway._handle`` sees them: an ASGI scope as
uvicorn's httptools protocol fills it (plus the client-cased raw headers lambdagate's server adds),
routes from the example templates matched through ``RouteTable``, ids and clock passed in.
"""
import dataclasses
from pathlib import Path

import orjson
import pytest

from gateway.apigw.events import build_http_event, build_rest_event
from gateway.apigw.routing import RouteTable
from gateway.apigw.responses import map_http_response, map_rest_response
from gateway.http_io import RAW_HEADERS_KEY
from gateway.sam.template import load_template

NOW_MS = 1_700_000_000_123
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
SHORT_ID = "LV7fzho-PHcEJPw="

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HELLO = RouteTable(load_template(EXAMPLES / "hello-world" / "template.yaml").routes)
PETS = RouteTable(load_template(EXAMPLES / "pets-api" / "template.yaml").routes)

# what wrk sends: `GET /hello HTTP/1.1` and a Host header
WRK_HEADERS = [(b"Host", b"localhost:3000")]
# a browser's typical request headers
BROWSER_HEADERS = [
    (b"Host", b"localhost:3000"),
    (b"Connection", b"keep-alive"),
    (b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    b"Chrome/120.0.0.0 Safari/537.36"),
    (b"Accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"),
    (b"Accept-Encoding", b"gzip, deflate, br"),
    (b"Accept-Language", b"en-GB,en;q=0.9"),
    (b"Cache-Control", b"max-age=0"),
    (b"Sec-Fetch-Mode", b"navigate"),
]


def _scope(method, target, raw_headers):
    path, _, query = target.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "server": ("127.0.0.1", 3000), "client": ("127.0.0.1", 51234), "scheme": "http",
        "root_path": "", "headers": [(k.lower(), v) for k, v in raw_headers], "state": {},
        "method": method, "path": path, "raw_path": path.encode(), "query_string": query.encode(),
    }
    scope[RAW_HEADERS_KEY] = list(raw_headers)
    return scope


def _match(table, scope):
    route, params = table.match(scope["method"], scope["raw_path"].decode("latin-1"))
    return route, params


def _rest(scope, route, params):
    return build_rest_event(scope, b"", route, params, request_id=REQUEST_ID, extended_request_id=SHORT_ID,
                            now_ms=NOW_MS, raw_headers=scope.get(RAW_HEADERS_KEY))


def _http(scope, route, params):
    return build_http_event(scope, b"", route, params, request_id=SHORT_ID, now_ms=NOW_MS)


# --------------------------------------------------------------------------- events

def test_rest_event_wrk(benchmark):
    scope = _scope("GET", "/hello", WRK_HEADERS)
    route, params = _match(HELLO, scope)
    assert route.api.kind == "REST"
    benchmark(_rest, scope, route, params)


def test_rest_event_browser(benchmark):
    scope = _scope("GET", "/pets/7?limit=10&sort=name&tag=a&tag=b", BROWSER_HEADERS)
    route, params = _match(PETS, scope)
    assert route.api.kind == "REST" and params == {"petId": "7"}
    benchmark(_rest, scope, route, params)


def test_http_event_v2_wrk(benchmark):
    scope = _scope("GET", "/v2/pets/7", WRK_HEADERS)
    route, params = _match(PETS, scope)
    assert route.api.kind == "HTTP" and route.payload_format == "2.0"
    benchmark(_http, scope, route, params)


def test_http_event_v2_browser(benchmark):
    scope = _scope("GET", "/v2/pets/7?limit=10&sort=name&tag=a&tag=b", BROWSER_HEADERS)
    route, params = _match(PETS, scope)
    benchmark(_http, scope, route, params)


def test_http_event_v1_browser(benchmark):
    """An HTTP API route with PayloadFormatVersion 1.0 (built by build_rest_event)."""
    scope = _scope("GET", "/v2/pets/7?limit=10&sort=name&tag=a&tag=b", BROWSER_HEADERS)
    route, params = _match(PETS, scope)
    route = dataclasses.replace(route, payload_format="1.0")
    benchmark(_rest, scope, route, params)


# --------------------------------------------------------------------------- responses

HELLO_RESULT = orjson.dumps({"statusCode": 200, "body": '{"message": "hello world"}'})
HEADERS_RESULT = orjson.dumps({
    "statusCode": 200, "body": '{"message": "hello world"}',
    "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", "X-Request-Count": 3},
    "multiValueHeaders": {"Set-Cookie": ["a=1; Path=/", "b=2; Path=/"]},
})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize("payload", [HELLO_RESULT, HEADERS_RESULT], ids=["hello", "headers"])
def test_map_rest_response(benchmark, payload):
    benchmark(map_rest_response, payload, ACCEPT, ())


@pytest.mark.parametrize("payload", [HELLO_RESULT, HEADERS_RESULT], ids=["hello", "headers"])
def test_map_http_response_v2(benchmark, payload):
    benchmark(map_http_response, payload, "2.0")


@pytest.mark.parametrize("payload", [HELLO_RESULT, HEADERS_RESULT], ids=["hello", "headers"])
def test_map_http_response_v1(benchmark, payload):
    benchmark(map_http_response, payload, "1.0")
