"""No leak of the host environment: a Python worker's initial environment block
(/proc/self/environ, which os.environ does not change) holds only names AWS gives every function
too, never what the shell that started lambdagate had."""
from __future__ import annotations

import json

import pytest

from gateway.scheduler.zygote import ZYGOTE_ENVIRONMENT

pytestmark = pytest.mark.integration   # starts real processes

READS_ITS_ENVIRON = """
import os

def handler(event, context):
    with open("/proc/self/environ", "rb") as f:
        block = f.read()
    return {"block": sorted(item.split(b"=", 1)[0].decode() for item in block.split(b"\\0") if item),
            "secret_in_block": b"hunter2-marker" in block,
            "environ_has_secret": "LAMBDAGATE_TEST_SECRET" in os.environ}
"""

AWS_GIVES = {"PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME"}


def test_the_hosts_secrets_are_not_in_a_workers_environment_block(run, make_function, open_scheduler, monkeypatch):
    monkeypatch.setenv("LAMBDAGATE_TEST_SECRET", "hunter2-marker")
    monkeypatch.setenv("AWS_SECRET_SHELL_ONLY", "hunter2-marker")
    spec = make_function(READS_ITS_ENVIRON, name="Reader")

    async def body():
        async with open_scheduler([spec]) as s:
            return json.loads((await s.invoke(spec.logical_id, b"{}")).payload)

    seen = run(body())
    assert seen["secret_in_block"] is False and seen["environ_has_secret"] is False
    assert set(seen["block"]) <= AWS_GIVES, set(seen["block"]) - AWS_GIVES
    assert set(ZYGOTE_ENVIRONMENT) <= AWS_GIVES     # what lambdagate passes on is only ever AWS's names
