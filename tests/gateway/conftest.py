"""Fixtures for the API Gateway front end: a fake Invoker for the ASGI surface, and real
`lambdagate start-api` processes on free ports for the end-to-end tests.

Example apps live in tests/gateway/apps/<name>/ (template.yaml + code); tests copy them into a
temporary directory first, so that workers never write into the repository and tests may edit
the code (reload) freely. Helpers shared with the test modules are in gwtestlib.py.
"""
from __future__ import annotations

import pytest

from gwtestlib import FakeInvoker, ServerPool, TestClient


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
