"""Fixtures for the API Gateway front end: a fake Invoker for the ASGI surface, and real
`lambdagate start-api` processes on free ports for the end-to-end tests.

Example apps live in tests/gateway/apps/<name>/ (template.yaml + code); tests copy them into a
temporary directory first, so that workers never write into the repository and tests may edit
the code (reload) freely. Helpers shared with the test modules are in gwtestlib.py.
"""
from __future__ import annotations

import pytest

import gateway.http_protocol as http_protocol
from support.fakes import FakeInvoker
from support.servers import ServerPool, TestClient
from support.wire import FUNCTIONS, ROUTES, WireServer, CountingProtocol, scripted_answer


@pytest.fixture
def fake_invoker() -> FakeInvoker:
    return FakeInvoker()


@pytest.fixture
def asgi_client():
    """``asgi_client(routes, invoker)``: a started TestClient on build_api_app(routes, invoker)."""
    from gateway.app import build_api_app

    clients = []

    def make(routes, invoker):
        client = TestClient(build_api_app(routes, invoker))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def guarded_client():
    """``guarded_client(routes, **build_access_args) -> (client, invoker)``: a started TestClient on the
    app with its access checks (gateway.apigw.access_setup.build_access) and a FakeInvoker."""
    from gateway.apigw.access_setup import build_access
    from gateway.app import build_api_app

    clients = []

    def make(routes, **access_args):
        invoker = FakeInvoker()
        client = TestClient(build_api_app(routes, invoker, build_access(routes, invoker, region="us-east-1",
                                                                          **access_args)))
        client.__enter__()
        clients.append(client)
        return client, invoker

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def start_api(tmp_path):
    """``start_api(template, *cli_args) -> ApiServer``; every server is stopped at teardown."""
    pool = ServerPool(tmp_path)
    try:
        yield pool.start
    finally:
        pool.close()


@pytest.fixture(scope="module")
def module_start_api(tmp_path_factory):
    """Like start_api, for servers shared by a whole module."""
    pool = ServerPool(tmp_path_factory.mktemp("servers"))
    try:
        yield pool.start
    finally:
        pool.close()


# --------------------------------------------------------------------------- the API port over real sockets
# (test_server_wire.py, test_server_connections.py; helpers in wirelib.py)

@pytest.fixture
def invoker() -> FakeInvoker:
    fake = FakeInvoker(FUNCTIONS)
    for name in FUNCTIONS:
        fake.script[name] = scripted_answer
    return fake


@pytest.fixture
def wire_server(invoker):
    """``wire_server(keep_alive_s=5.0, protocol=ApiGatewayProtocol, routes=ROUTES, access_log=False)``: a started
    WireServer on the `invoker` fixture; stopped at teardown."""
    servers = []

    def make(keep_alive_s: float = 5.0, protocol=http_protocol.ApiGatewayProtocol, routes=ROUTES,
             access_log: bool = False) -> WireServer:
        server = WireServer(routes, invoker, keep_alive_s, protocol, access_log)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def whole(monkeypatch):
    """Every `respond_whole` call as (method, path, status, sent whole?). The protocol binds the
    module's `respond_whole` per request, so replacing it here sees them all."""
    calls: list = []
    original = http_protocol.respond_whole

    def spy(cycle, status, headers, body):
        sent = original(cycle, status, headers, body)
        calls.append((cycle.scope["method"], cycle.scope["path"], status, sent))
        return sent

    monkeypatch.setattr(http_protocol, "respond_whole", spy)
    return calls


@pytest.fixture
def counting():
    CountingProtocol.writes_by_port = {}
    yield CountingProtocol
    CountingProtocol.writes_by_port = {}
