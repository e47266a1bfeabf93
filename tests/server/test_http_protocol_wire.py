"""The API Gateway port's responses over real sockets: each one whole, in one write
(`respond_whole`), answering as the ASGI path does; HEAD, 100-continue, access logging, and
header bytes HTTP forbids. The server and the raw-socket client are in wirelib.py."""
from __future__ import annotations

import logging
import select

import httpx
import pytest

from support.wire import (
    HTTP_500,
    HTTP_CASES,
    INJECTIONS,
    IO_TIMEOUT_S,
    LARGE_TEXT,
    PNG,
    REQUEST_ID_HEADERS,
    REST_502,
    REST_CASES,
    ROUTES,
    check_date,
    comparable,
    _method_of,
    wait_calls,
    request,
)


# --------------------------------------------------------------------------- same answers as the ASGI path

PARITY = [("rest", "/pets/7", case) for case in REST_CASES] + \
         [("http", "/v2/pets/7", case) for case in HTTP_CASES]


@pytest.mark.parametrize("api, path, case", PARITY, ids=[f"{a}-{c}" for a, _, c in PARITY])
def test_socket_answers_match_the_asgi_path(wire_server, asgi_client, invoker, whole, api, path, case):
    target = f"{path}?case={case}"
    expected = asgi_client(ROUTES, invoker).get(target, headers={"Accept": "image/png"})
    server = wire_server()
    conn = server.connect()
    conn.send(request("GET", target, "Accept: image/png"))
    response = conn.read_response()

    assert response.status == expected.status_code
    assert comparable(response.headers) == comparable(expected.headers.raw)
    assert response.body == expected.content
    assert response.value(b"content-length") == str(len(response.body)).encode()
    check_date(response)
    assert response.values(REQUEST_ID_HEADERS[0] if api == "rest" else REQUEST_ID_HEADERS[1])
    assert not response.values(b"connection")
    assert not conn.buf                                   # nothing after the declared body
    assert wait_calls(whole, 1) == [("GET", path, response.status, True)]


def test_socket_answers_carry_what_the_function_returned(wire_server, whole):
    """The parity above, pinned to the function's values (not only to the ASGI path's)."""
    conn = wire_server().connect()
    conn.send(request("GET", "/pets/7?case=status-headers"))
    response = conn.read_response()
    assert response.status == 201 and response.body == b"created"
    assert b"\r\nX-Custom: yes\r\n" in response.raw           # the function's casing, as given
    assert response.value(b"cache-control") == b"no-store"

    conn.send(request("GET", "/pets/7?case=multi-headers"))
    response = conn.read_response()
    assert response.status == 202
    assert response.values(b"x-multi") == [b"a", b"b", b"c"]
    assert response.values(b"set-cookie") == [b"s=1; Path=/", b"t=2; HttpOnly"]

    conn.send(request("GET", "/v2/pets/7?case=cookies"))
    response = conn.read_response()
    assert response.values(b"set-cookie") == [b"a=1; Path=/", b"b=2; HttpOnly", b"c=3; Secure"]

    for path in ("/pets/7?case=binary", "/v2/pets/7?case=binary"):
        conn.send(request("GET", path, "Accept: image/png"))
        response = conn.read_response()
        assert response.body == PNG and response.value(b"content-type") == b"image/png"

    for path in ("/pets/7?case=large", "/v2/pets/7?case=large"):
        conn.send(request("GET", path))
        assert conn.read_response().body == LARGE_TEXT.encode()

    conn.send(request("GET", "/v2/pets/7?case=empty"))
    response = conn.read_response()
    assert response.body == b"" and response.value(b"content-length") == b"0"
    assert [sent for *_, sent in wait_calls(whole, 8)] == [True] * 8


def test_an_http_client_reads_every_case(wire_server):
    server = wire_server()
    with httpx.Client(base_url=server.base_url, timeout=IO_TIMEOUT_S) as client:
        for _ in range(2):                                    # the second round reuses the connection
            response = client.get("/pets/7", params={"case": "json"})
            assert response.json() == {"id": 7, "name": "Rex \u00fc\u4e2d", "tags": ["a", "b"]}
            response = client.get("/v2/pets/7", params={"case": "binary"})
            assert response.content == PNG
            response = client.get("/pets/7", params={"case": "large"})
            assert response.text == LARGE_TEXT
            response = client.get("/v2/pets/7", params={"case": "empty"})
            assert response.status_code == 200 and response.content == b""
            response = client.get("/pets/7", params={"case": "multi-headers"})
            assert response.headers.get_list("x-multi") == ["a", "b", "c"]


# --------------------------------------------------------------------------- one write per response

@pytest.mark.parametrize("path", [
    "/pets/1?case=size&bytes=0",
    "/pets/1?case=size&bytes=1",
    "/v2/pets/1?case=size&bytes=300",
    "/pets/1?case=size&bytes=16383",          # largest body copied into the head's buffer
    "/v2/pets/1?case=size&bytes=16384",       # smallest body sent as a vectored head + body write
    "/pets/1?case=large",
    "/nothing/matches/this?case=echo",        # the HTTP API's $default route
])
def test_each_response_is_one_write_and_one_complete_response(wire_server, counting, whole, path):
    server = wire_server(protocol=counting)
    conn = server.connect()
    conn.send(request("GET", path))
    response = conn.read_response()
    assert response.status == 200
    assert not conn.buf                                          # exactly one response, nothing more
    writes = counting.writes_by_port[conn.sock.getsockname()[1]]
    assert writes == [response.raw]                              # one transport write, all of it
    assert wait_calls(whole, 1)[0][3] is True


def test_a_small_response_fits_one_recv_on_a_fresh_connection(wire_server):
    """On loopback one write of a few hundred bytes is delivered whole: the first recv after the
    socket turns readable holds the complete response (two writes could split it)."""
    server = wire_server()
    for path in ("/pets/3?case=status-headers", "/v2/pets/3?case=json", "/pets/3?case=empty"):
        conn = server.connect()
        conn.send(request("GET", path))
        readable, _, _ = select.select([conn.sock], [], [], IO_TIMEOUT_S)
        assert readable
        conn._fill("the first bytes")
        first = bytes(conn.buf)
        response = conn.read_response()
        assert conn.recvs == 1 and first == response.raw, path


# --------------------------------------------------------------------------- HEAD

@pytest.mark.parametrize("head_target, size", [
    ("/files/a/b?case=size&bytes=1234", 1234),        # REST ANY /files/{proxy+}
    ("/anything/x?case=size&bytes=1234", 1234),       # HTTP API $default
    ("/files/a/b?case=large", 40960),                 # a body that would go as a vectored write
    ("/anything/x?case=size&bytes=0", 0),
])
def test_head_has_the_full_content_length_and_no_body(wire_server, counting, whole, invoker, head_target, size):
    server = wire_server(protocol=counting)
    conn = server.connect()
    conn.send(request("HEAD", head_target))
    response = conn.read_response(head_only=True)
    assert response.status == 200
    assert response.value(b"content-length") == str(size).encode()
    assert response.body == b"" and not conn.buf
    assert _method_of(invoker.last_event) == "HEAD"
    # the connection is still usable, and the next bytes are the next response (no stray body)
    conn.send(request("GET", head_target.replace("size&bytes=1234", "size&bytes=77")))
    response = conn.read_response()
    assert response.status == 200 and len(response.body) == (77 if "1234" in head_target else size)
    assert not conn.buf
    writes = counting.writes_by_port[conn.sock.getsockname()[1]]
    assert len(writes) == 2
    assert [(m, sent) for m, _, _, sent in wait_calls(whole, 2)] == [("HEAD", True), ("GET", True)]


def test_pipelined_head_between_gets_keeps_the_framing(wire_server):
    conn = wire_server().connect()
    conn.send(request("GET", "/pets/1?n=1") + request("HEAD", "/files/x?case=large")
              + request("GET", "/v2/pets/1?n=3"))
    assert conn.read_response().body == b"rest GET /pets/1 n=1"
    head = conn.read_response(head_only=True)
    assert head.value(b"content-length") == b"40960"
    assert conn.read_response().body == b"http GET /v2/pets/1 n=3"


def test_expect_100_continue_then_the_answer(wire_server, invoker):
    conn = wire_server().connect()
    conn.send(b"POST /pets?n=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    while len(conn.buf) < len(interim):
        conn._fill("the interim 100 Continue")
    assert bytes(conn.buf) == interim                 # asked for the body, nothing else yet
    del conn.buf[:]
    conn.send(b"hello")
    assert conn.read_response().body == b"rest POST /pets n=1"
    assert invoker.last_event["body"] == "hello"
    # body sent along with the headers: an interim answer, if any, comes before the final one
    conn.send(b"POST /pets?n=2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\n\r\nworld")
    while len(conn.buf) < len(interim):
        conn._fill("an answer")
    if conn.buf.startswith(interim):
        del conn.buf[:len(interim)]
    assert conn.read_response().body == b"rest POST /pets n=2"
    assert invoker.last_event["body"] == "world"
    conn.send(request("GET", "/pets/3?n=3"))          # no stray interim answer comes late
    assert conn.read_response().body == b"rest GET /pets/3 n=3"
    assert not conn.buf


def test_pipelined_posts_deliver_each_body_to_its_request(wire_server, invoker):
    conn = wire_server().connect()
    posts = [(f"/pets?n={i}" if i % 2 else f"/anything/{i}?n={i}", f"body-{i}-" + "x" * (i * 300)) for i in range(6)]
    conn.send(b"".join(request("POST", target, "Content-Type: text/plain", f"Content-Length: {len(body)}")
                       + body.encode() for target, body in posts))
    answers = [conn.read_response().body for _ in posts]
    assert answers == [(f"rest POST /pets n={i}" if i % 2 else f"http POST /anything/{i} n={i}").encode()
                       for i in range(6)]
    assert [event["body"] for _, event, _ in invoker.calls] == [body for _, body in posts]


def test_access_logging_takes_the_asgi_path_with_the_same_answer(wire_server, whole):
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    server = wire_server(access_log=True)
    access = logging.getLogger("uvicorn.access")
    handler, level = Collect(), access.level
    access.addHandler(handler)                       # connections made from now on log access
    access.setLevel(logging.INFO)
    try:
        conn = server.connect()
        conn.send(request("GET", "/pets/7?case=multi-headers"))
        response = conn.read_response()
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    assert response.status == 202
    assert response.values(b"x-multi") == [b"a", b"b", b"c"]
    assert response.value(b"content-length") == b"5" and response.body == b"multi"
    check_date(response)
    assert wait_calls(whole, 1)[0][3] is False
    assert any('"GET /pets/7?case=multi-headers HTTP/1.1" 202' in r for r in records), records


def test_a_handler_on_the_access_logger_does_not_turn_access_logging_on(wire_server, whole):
    """Access logging follows lambdagate's Config, not the handlers a logger happens to have (a
    test runner's log capture, an application's logging setup): the one-write path stays on."""
    access = logging.getLogger("uvicorn.access")
    handler = logging.NullHandler()
    access.addHandler(handler)
    try:
        conn = wire_server().connect()
        conn.send(request("GET", "/pets/7?case=multi-headers"))
        response = conn.read_response()
    finally:
        access.removeHandler(handler)
    assert response.status == 202 and response.body == b"multi"
    assert wait_calls(whole, 1)[0][3] is True


# --------------------------------------------------------------------------- headers HTTP forbids



@pytest.mark.parametrize("which", list(INJECTIONS))
def test_forbidden_header_bytes_are_an_aws_error_and_the_server_keeps_serving(wire_server, asgi_client, invoker,
                                                                               which):
    rest = which.startswith("rest")
    target = f"/pets/1?case=bad&which={which}" if rest else f"/v2/pets/1?case=bad&which={which}"
    server = wire_server()
    conn = server.connect()
    conn.send(request("GET", target))
    response = conn.read_response()
    if rest:
        assert response.status == 502 and response.body == REST_502
        assert response.value(b"x-amzn-errortype") == b"InternalServerErrorException"
    else:
        assert response.status == 500 and response.body == HTTP_500
    assert not response.values(b"x-injected") and b"X-Injected" not in response.raw
    assert not conn.buf
    expected = asgi_client(ROUTES, invoker).get(target)               # the ASGI path agrees
    assert (expected.status_code, expected.content) == (response.status, response.body)
    # the same connection, and a new one, go on being served
    conn.send(request("GET", "/pets/1?n=next"))
    assert conn.read_response().body == b"rest GET /pets/1 n=next"
    with httpx.Client(base_url=server.base_url, timeout=IO_TIMEOUT_S) as client:
        assert client.get("/v2/pets/2", params={"n": "new"}).text == "http GET /v2/pets/2 n=new"
