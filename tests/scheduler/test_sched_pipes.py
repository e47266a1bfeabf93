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

pytestmark = pytest.mark.integration   # starts real processes

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


# A handler that writes into the result pipe a whole frame whose header is no message of the
# protocol (an unknown kind), then would run on: the gateway must not wait for the deadline.
FORGES_A_FRAME = """
import os, struct, time

def handler(event, context):
    head = bytes([0x92, event["kind"], 0xa1, 0x78])       # msgpack [kind, "x"]
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                continue
            with open(f"/proc/self/fdinfo/{fd}") as info:
                flags = int(info.read().split("flags:")[1].split()[0], 8)
        except OSError:
            continue
        if flags & os.O_ACCMODE == os.O_WRONLY:             # the result pipe: the worker's only write end
            os.write(fd, struct.pack(">II", len(head) + 4, len(head)) + head)
    time.sleep(event["sleep"])
    return "not reached"
"""


def test_a_frame_that_is_not_of_the_protocol_ends_the_worker(run, make_function, open_scheduler):
    spec = make_function(FORGES_A_FRAME, name="Forger", timeout_s=20)

    async def body():
        async with open_scheduler([spec]) as s:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            result = await s.invoke("Forger", b'{"kind": 99, "sleep": 15}')
            return result, loop.time() - t0, s.worker_pids("Forger")

    result, elapsed_s, pids = run(body())
    assert result.function_error == "Runtime.ExitError" and result.status == "error"
    assert elapsed_s < 10          # killed at once, not left to run into its 20 s deadline
    assert pids == []
