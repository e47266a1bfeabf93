import importlib

import pytest


def _impls():
    impls = [pytest.param(importlib.import_module("_core.fallback"), id="python")]
    try:
        impls.append(pytest.param(importlib.import_module("_core._native"), id="native"))
    except ImportError:
        pass
    return impls


@pytest.fixture(params=_impls())
def core(request):
    return request.param
