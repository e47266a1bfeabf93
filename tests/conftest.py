"""Fixtures shared by the whole suite."""
import importlib
import os

import pytest

# no test installs an AWS SDK from a registry on its own (tests/runtime/test_sdks.py's turn it back on)
os.environ.setdefault("LAMBDAGATE_NO_SDK_INSTALL", "1")

# fixtures shared across test packages: the HTTP surfaces' (fake invoker, start-api processes, the API
# port over real sockets) and the process helpers' (`kit`)
pytest_plugins = ["support.gateway_fixtures", "support.processes"]


def _core_implementations():
    impls = [pytest.param(importlib.import_module("_core.fallback"), id="python")]
    try:
        impls.append(pytest.param(importlib.import_module("_core._native"), id="native"))
    except ImportError:
        if os.environ.get("LAMBDAGATE_REQUIRE_NATIVE") == "1":
            raise
        impls.append(pytest.param(None, id="native", marks=pytest.mark.skip(reason="native core not built")))
    return impls


@pytest.fixture(params=_core_implementations())
def core(request):
    """Each _core implementation in turn: tests using it run against both."""
    return request.param
