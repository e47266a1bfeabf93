"""The two pipes between the gateway and a Python worker: each descriptor closed once, by its owner.

uvloop's pipe transports close the descriptor themselves and then close the file object they were
given, so a file object that also owned the descriptor closed it a second time: by then perhaps a
file another thread of the gateway had just opened under the same number. asyncio's transports
close only the file object, which must then own the descriptor."""
from __future__ import annotations

import asyncio
import os

import pytest
import uvloop

HELLO = """
def handler(event, context):
    return "hi"
"""


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


@pytest.mark.parametrize("loop_kind", ["uvloop", "asyncio"])
def test_pipe_descriptors_have_one_owner_and_are_closed_with_the_worker(make_function, open_scheduler, loop_kind):
    spec = make_function(HELLO, name="Hello")

    async def body():
        async with open_scheduler([spec]) as s:
            assert (await s.invoke("Hello", b"{}")).payload == b'"hi"'
            [worker] = [w for w in s._workers if w is not None]
            files = [worker.writer.get_extra_info("pipe"), worker.transport.get_extra_info("pipe")]
            fds = [f.fileno() for f in files]
            owned_by_file = [f.closefd for f in files]
            worker.kill()
            for _ in range(20):
                await asyncio.sleep(0.005)
                if not any(_fd_open(fd) for fd in fds):
                    break
            return owned_by_file, [_fd_open(fd) for fd in fds]

    runner = uvloop.run if loop_kind == "uvloop" else asyncio.run
    owned_by_file, still_open = runner(asyncio.wait_for(body(), 30))
    # uvloop closes the descriptor itself: the file must not close it again; asyncio relies on the file
    assert owned_by_file == ([False, False] if loop_kind == "uvloop" else [True, True])
    assert still_open == [False, False]      # and nothing leaks either way
