"""Helpers for the tests of the API Gateway port over real sockets: lambdagate's httptools
protocol (gateway.http_protocol), served in a background thread, and a raw HTTP/1.1 client.

`ApiGatewayProtocol` sends each complete response in one transport write (`respond_whole`,
reached through the scope's RESPOND_KEY) and keeps one lazy keep-alive timer per connection.
Starlette's TestClient takes the plain ASGI path and never reaches either, so these tests serve
build_api_app() with uvicorn on a uvloop loop in a background thread, on 127.0.0.1, and talk to
it with raw sockets where the exact bytes matter (httpx elsewhere). Routes come from the pets-api
example through the real SAM loader; a FakeInvoker scripts what the functions answer.
"""
from __future__ import annotations

import asyncio
import base64
import email.utils
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from typing import Optional

import orjson
import pytest
import uvloop

import gateway.http_protocol as http_protocol
from gateway.app import build_api_app
from gateway.sam.template import load_template
from gateway.config import Config
from support.fakes import FakeInvoker
from support.servers import EXAMPLES, wait_for

ROUTES = load_template(EXAMPLES / "pets-api" / "template.yaml").routes
# REST (PetsRestApi, BinaryMediaTypes image/png): GET /pets/{petId}, ANY /files/{proxy+}
# HTTP API (payload 2.0): GET /v2/pets/{petId}, ANY $default
FUNCTIONS = ("PetsFunction", "ImageFunction", "ProxyFunction")

REST_502 = b'{"message": "Internal server error"}'
HTTP_500 = b'{"message":"Internal Server Error"}'
REQUEST_ID_HEADERS = (b"x-amzn-requestid", b"apigw-requestid")
TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")     # RFC 9110 field-name

KEEP_ALIVE_S = 0.3
CLOSE_BOUND_S = 1.5          # an idle connection is closed within keep-alive + this
CLOCK_SLACK_S = 0.005        # uvloop timers and loop.time() have whole-millisecond resolution
IO_TIMEOUT_S = 10.0

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) + b"\r\n\x00\xff"
LARGE_TEXT = "".join(f"{i:07d}\n" for i in range(5120))     # 40 KB, every line distinct
assert len(LARGE_TEXT) == 40960


# --------------------------------------------------------------------------- what the functions answer

CASES_COMMON = {
    "status-headers": {"statusCode": 201, "body": "created",
                       "headers": {"X-Custom": "yes", "Content-Type": "text/plain", "Cache-Control": "no-store"}},
    "json": {"statusCode": 200, "headers": {"Content-Type": "application/json"},
             "body": orjson.dumps({"id": 7, "name": "Rex \u00fc\u4e2d", "tags": ["a", "b"]}).decode()},
    "binary": {"statusCode": 200, "headers": {"Content-Type": "image/png"},
               "body": base64.b64encode(PNG).decode(), "isBase64Encoded": True},
    "large": {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": LARGE_TEXT},
    "empty": {"statusCode": 200, "headers": {"X-Empty": "1"}, "body": ""},
}
CASES_REST = {  # multiValueHeaders: REST (payload 1.0) only
    "multi-headers": {"statusCode": 202, "headers": {"X-Single": "1", "X-Multi": "replaced"},
                      "multiValueHeaders": {"X-Multi": ["a", "b", "c"], "Set-Cookie": ["s=1; Path=/", "t=2; HttpOnly"]},
                      "body": "multi"},
}
CASES_HTTP = {  # cookies: HTTP API payload 2.0 only
    "cookies": {"statusCode": 200, "headers": {"X-Single": "1"},
                "cookies": ["a=1; Path=/", "b=2; HttpOnly", "c=3; Secure"], "body": "cookies"},
}
CASES_BODILESS = {  # statuses after which no content may follow; the function sends some anyway
    "no-content": {"statusCode": 204, "headers": {"X-A": "1"}, "body": "oops"},
    "not-modified": {"statusCode": 304, "headers": {"ETag": "\"v1\""}, "body": "stale body"},
}
REST_CASES = {**CASES_COMMON, **CASES_REST}
HTTP_CASES = {**CASES_COMMON, **CASES_HTTP}


def _query(event) -> dict:
    return event.get("queryStringParameters") or {}


def _api_of(event) -> str:
    return "http" if event.get("version") == "2.0" else "rest"


def _method_of(event) -> str:
    return event["requestContext"]["http"]["method"] if _api_of(event) == "http" else event["httpMethod"]


def _echo(event) -> dict:
    """``<api> <method> <path> n=<n>``: tells which request an answer belongs to."""
    method = _method_of(event)
    path = event.get("rawPath") or event["path"]
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"},
            "body": f"{_api_of(event)} {method} {path} n={_query(event).get('n', '-')}"}


async def scripted_answer(event):
    """The one script of every function: ``?case=`` picks the answer, ``?ms=`` delays it."""
    query = _query(event)
    ms = int(query.get("ms", "0"))
    if ms:
        await asyncio.sleep(ms / 1000)
    case = query.get("case", "echo")
    if case == "echo":
        obj = _echo(event)
    elif case == "size":                     # a text body of exactly n bytes
        size = int(query["bytes"])
        obj = {"statusCode": 200, "headers": {"Content-Type": "text/plain"},
               "body": "".join(f"{i:07d}\n" for i in range(size // 8 + 1))[:size]}
    elif case == "bad":                      # the payload the test put into INJECTIONS
        obj = INJECTIONS[query["which"]]
    else:
        obj = CASES_BODILESS.get(case) or (HTTP_CASES if _api_of(event) == "http" else REST_CASES)[case]
    return FakeInvoker.raw(orjson.dumps(obj))


INJECTIONS = {  # what a function returns with header bytes HTTP forbids (test_server_wire.py)
    "rest-crlf-value": {"statusCode": 200, "headers": {"X-Ok": "fine", "X-Evil": "a\r\nX-Injected: 1"}, "body": "x"},
    "rest-lf-multi": {"statusCode": 200, "multiValueHeaders": {"X-Evil": ["ok", "b\nX-Injected: 1"]}, "body": "x"},
    "rest-space-name": {"statusCode": 200, "headers": {"Bad Name": "v"}, "body": "x"},
    "rest-nul-value": {"statusCode": 200, "headers": {"X-Nul": "a\u0000b"}, "body": "x"},
    "http-crlf-value": {"statusCode": 200, "headers": {"x-evil": "a\r\nX-Injected: 1"}, "body": "x"},
    "http-space-name": {"statusCode": 200, "headers": {"bad name": "v"}, "body": "x"},
    "http-crlf-cookie": {"statusCode": 200, "cookies": ["a=1\r\nX-Injected: 1"], "body": "x"},
    "http-colon-name": {"statusCode": 200, "headers": {"x-a:b": "v"}, "body": "x"},
    # names outside HTTP's token grammar: a strict client could not parse the answer
    "rest-empty-name": {"statusCode": 200, "headers": {"": "1"}, "body": "x"},
    "rest-slash-name": {"statusCode": 200, "headers": {"x/y": "1"}, "body": "x"},
    "rest-question-name": {"statusCode": 200, "multiValueHeaders": {"x?y": ["1"]}, "body": "x"},
    "rest-non-ascii-name": {"statusCode": 200, "headers": {"X-\u00dc": "1"}, "body": "x"},
    "http-empty-name": {"statusCode": 200, "headers": {"": "1"}, "body": "x"},
    "http-non-ascii-name": {"statusCode": 200, "headers": {"x-\u4e2d": "1"}, "body": "x"},
}


# --------------------------------------------------------------------------- raw HTTP/1.1 over a socket

@dataclass
class WireResponse:
    status: int
    headers: list            # [(name bytes as sent, value bytes)]
    body: bytes
    raw: bytes               # every byte of this response as received

    def values(self, name: bytes) -> list:
        return [v for n, v in self.headers if n.lower() == name]

    def value(self, name: bytes) -> bytes:
        found = self.values(name)
        assert len(found) == 1, f"{name!r}: {found}"
        return found[0]


class Conn:
    """A client socket with a receive buffer; parses responses strictly (one content-length,
    no chunked encoding, RFC field names, no bare CR/LF/NUL in values)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.recvs = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, what: str) -> None:
        self.sock.settimeout(IO_TIMEOUT_S)
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            pytest.fail(f"the server closed the connection before {what}; buffered: {bytes(self.buf[:300])!r}")
        self.recvs += 1
        self.buf += chunk

    def read_response(self, head_only: bool = False) -> WireResponse:
        """One response; ``head_only`` for the answer to a HEAD request (headers, no body)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill("a complete status line and headers")
        head_end = self.buf.index(b"\r\n\r\n") + 4
        status_line, *lines = bytes(self.buf[:head_end - 4]).split(b"\r\n")
        version, status, _reason = status_line.split(b" ", 2)
        assert version == b"HTTP/1.1", status_line
        headers = []
        for line in lines:
            name, sep, value = line.partition(b":")
            assert sep and TOKEN.match(name), f"malformed header line {line!r}"
            value = value.strip(b" \t")
            assert b"\r" not in value and b"\x00" not in value, f"malformed header value {line!r}"
            headers.append((name, value))
        assert not [v for n, v in headers if n.lower() == b"transfer-encoding"], headers
        lengths = [v for n, v in headers if n.lower() == b"content-length"]
        if status in (b"204", b"304"):   # nothing follows the head, whatever a header says
            assert status == b"304" or not lengths, f"a 204 with content-length: {lengths}"
            lengths = [b"0"]
        assert len(lengths) == 1, f"content-length headers: {lengths}"
        length = int(lengths[0])
        end = head_end + (0 if head_only else length)
        while len(self.buf) < end:
            self._fill(f"the {length}-byte body")
        raw = bytes(self.buf[:end])
        del self.buf[:end]
        response = WireResponse(int(status), headers, raw[head_end:], raw)
        if not head_only:
            assert len(response.body) == length
        return response

    def expect_closed(self, within_s: float) -> float:
        """Wait for the server to close the connection (no bytes before); the monotonic time it did."""
        assert not self.buf, f"unread bytes: {bytes(self.buf[:300])!r}"
        deadline = time.monotonic() + within_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"the server did not close the connection within {within_s:.2f} s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return time.monotonic()
            now = time.monotonic()
            assert chunk == b"", f"unexpected bytes instead of a close: {chunk[:300]!r}"
            return now

    def quiet_until(self, when_s: float) -> None:
        """Wait until monotonic ``when_s``; the server must neither send nor close meanwhile."""
        remaining = when_s - time.monotonic()
        if remaining > 0:
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if readable:
                chunk = self.sock.recv(4096)
                pytest.fail("the server closed the connection" if not chunk else f"unexpected bytes: {chunk[:300]!r}")


def request(method: str, target: str, *headers: str, version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {target} {version}", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


# --------------------------------------------------------------------------- the real server

class CountingTransport:
    """Records every write and writelines call the protocol makes on the real uvloop transport."""

    def __init__(self, transport, writes: list):
        self._transport = transport
        self._writes = writes

    def write(self, data) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def writelines(self, chunks) -> None:
        chunks = list(chunks)
        self._writes.append(b"".join(bytes(c) for c in chunks))
        self._transport.writelines(chunks)

    def __getattr__(self, name):
        return getattr(self._transport, name)


class CountingProtocol(http_protocol.ApiGatewayProtocol):
    """lambdagate's protocol, unchanged, over a transport that counts writes (per client port)."""
    writes_by_port: dict = {}

    def connection_made(self, transport) -> None:
        writes: list = []
        self.writes_by_port[transport.get_extra_info("peername")[1]] = writes
        super().connection_made(CountingTransport(transport, writes))


class WireServer:
    """`http_server(build_api_app(...), "127.0.0.1", port, Config(http_keep_alive_s=..., access_log=...),
    protocol)` serving on a uvloop loop in a thread; the listening socket is bound here (port 0: no race)."""

    def __init__(self, routes, invoker, keep_alive_s: float, protocol, access_log: bool = False):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        config = Config(http_keep_alive_s=keep_alive_s, access_log=access_log)
        self.server = http_protocol.http_server(build_api_app(routes, invoker), "127.0.0.1", self.port, config,
                                                protocol)
        self.error: Optional[BaseException] = None
        self.conns: list = []
        self.thread = threading.Thread(target=self._run, name=f"wire-server-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.server.serve(sockets=[self.listener]))
        except BaseException as exc:  # reported by start() and stop()
            self.error = exc
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def start(self) -> "WireServer":
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 10, "the server to start")
        assert self.server.started, f"the server did not start: {self.error!r}"
        return self

    def connect(self, rcvbuf: Optional[int] = None) -> Conn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(IO_TIMEOUT_S)
        sock.connect(("127.0.0.1", self.port))
        conn = Conn(sock)
        self.conns.append(conn)
        return conn

    def stop(self) -> None:
        for conn in self.conns:
            conn.sock.close()
        self.server.should_exit = True
        self.thread.join(20)
        self.listener.close()
        assert not self.thread.is_alive(), "the server did not stop"
        if self.error is not None:
            raise self.error


def wait_calls(calls: list, n: int) -> list:
    # the server thread records a call just after its write: the client may have the bytes first
    wait_for(lambda: len(calls) >= n, 5, f"{n} respond_whole calls")
    return calls


def comparable(headers) -> list:
    """Header pairs with lower-cased names, minus what differs per request or per path (date)."""
    return [(n.lower(), v) for n, v in headers if n.lower() not in (b"date", *REQUEST_ID_HEADERS)]


def check_date(response: WireResponse) -> None:
    assert email.utils.parsedate_to_datetime(response.value(b"date").decode()) is not None
