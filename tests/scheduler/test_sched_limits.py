"""AWS's per-environment quota of 1024 open files, whatever the gateway itself runs with (it
raises its own open-files limit for its connections)."""
from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration   # starts real processes

READS_LIMITS = """
import os, resource, tempfile

def handler(event, context):
    opened = []
    try:
        for _ in range(2000):
            opened.append(os.open(os.devnull, os.O_RDONLY))
        refused = None
    except OSError as exc:
        refused = exc.errno
    finally:
        for fd in opened:
            os.close(fd)
    return {"nofile": resource.getrlimit(resource.RLIMIT_NOFILE), "opened": len(opened), "refused": refused}
"""


def test_an_environment_gets_1024_open_files(run, make_function, open_scheduler):
    spec = make_function(READS_LIMITS, name="Limits")

    async def body():
        async with open_scheduler([spec]) as s:
            return json.loads((await s.invoke(spec.logical_id, b"{}")).payload)

    seen = run(body())
    assert seen["nofile"] == [1024, 1024]
    assert seen["refused"] == 24 and seen["opened"] < 1024      # EMFILE before the 1025th descriptor
