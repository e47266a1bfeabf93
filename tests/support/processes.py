"""Process helpers shared by the tests that start real processes: a bounded uvloop run, and
polling /proc for pids that must go away."""
from __future__ import annotations

import asyncio
import os
import time

import pytest
import uvloop


def run_bounded(coro, timeout_s: float = 30.0):
    """Run a coroutine to completion on a fresh uvloop (the loop lambdagate itself uses)."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout_s)
    return uvloop.run(bounded())


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (zombies included: os.kill(pid, 0) succeeds on them)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_running(pid: int) -> bool:
    """Like pid_alive, but a zombie (dead, waiting for a parent that is not ours to reap it) counts as gone."""
    if not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    state = stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3]
    return state not in (b"Z", b"X")


def still_there(pids, timeout_s: float = 3.0, check=pid_alive) -> list:
    """Poll until every pid is gone or the deadline passes; the pids still there (empty: all gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for pid in pids if check(pid)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.01)


async def async_still_there(pids, timeout_s: float = 3.0, check=pid_alive) -> list:
    """The same, for use while the scheduler's loop must keep running."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = [pid for pid in pids if check(pid)]
        if not left or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(0.01)


async def async_wait_for(predicate, timeout_s: float = 3.0) -> bool:
    """Poll predicate() on the loop until true or the deadline passes; its last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        await asyncio.sleep(0.01)


def proc_ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def proc_cmdline(pid: int) -> list:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [part.decode() for part in f.read().split(b"\0") if part]


def proc_ancestors(pid: int, until: int, max_depth: int = 16) -> list:
    """The host pids above `pid`, nearest first, up to and including `until` (or up to pid 1 when
    `until` is not an ancestor). A worker's list is [zygote] at every isolation level."""
    chain = []
    while len(chain) < max_depth:
        pid = proc_ppid(pid)
        chain.append(pid)
        if pid in (until, 0, 1):
            break
    return chain


def pid_namespace(pid: int) -> str:
    """The PID namespace a process is in ("pid:[inode]"), "" once it is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def environment_pids(worker_pid: int) -> list:
    """The host pids of a worker's execution environment: with a PID namespace of its own (the
    namespaces level), every process in it, its init included; otherwise the worker alone."""
    namespace = pid_namespace(worker_pid)
    if not namespace or namespace == pid_namespace(os.getpid()):
        return [worker_pid]
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and pid_namespace(int(entry)) == namespace]


def host_parents() -> dict:
    """pid -> parent pid, for every process on the host."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = proc_ppid(int(entry))
            except OSError:
                continue
    return parents


def host_descendants(root: int, parents=None) -> list:
    """Every process below `root` on the host, nearest generations first."""
    parents = host_parents() if parents is None else parents
    found, frontier = [], {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier}
        found += frontier
    return found


def thread_names(pid: int) -> set:
    """The names (comm) of a process's threads; empty once it is gone."""
    names = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return names
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names.add(f.read().strip())
        except OSError:
            continue
    return names


class Kit:
    """Helpers the tests share, handed out by the `kit` fixture."""
    run = staticmethod(run_bounded)
    pid_alive = staticmethod(pid_alive)
    pid_running = staticmethod(pid_running)
    still_there = staticmethod(still_there)
    async_still_there = staticmethod(async_still_there)
    wait_for = staticmethod(async_wait_for)
    proc_ppid = staticmethod(proc_ppid)
    proc_cmdline = staticmethod(proc_cmdline)


@pytest.fixture
def kit():
    return Kit
