"""The gateway's side of a zygote: start it, ask it to fork workers, learn their exits."""
from __future__ import annotations

import array
import asyncio
import os
import socket
import subprocess
import sys
from typing import Callable, Optional

from gateway import wire


# What the zygote is started with. Every worker forked from it keeps this block as its initial
# environment (/proc/<pid>/environ), whatever it sets in os.environ afterwards: so only names
# that AWS gives every function too, and that the interpreter needs to start, come from lambdagate's
# own environment; no secret of the shell lambdagate runs in reaches a function.
ZYGOTE_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "PYTHONPATH", "PYTHONHOME")


def zygote_environment(host_env) -> dict:
    return {name: host_env[name] for name in ZYGOTE_ENVIRONMENT if name in host_env}


# lambdagate's package directory, whichever way it is installed
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# How an interpreter of another Python version starts a zygote: it loads the `gateway` package alone
# from PACKAGE_DIR, not the directory that holds it, which may be a site-packages of lambdagate's own
# version (its compiled modules would not load, its pure-Python ones would shadow the interpreter's).
# Its working directory ("" under -c) leaves the import path too, as -m would have it first.
_START_FROM_PACKAGE_DIR = (
    "import sys\n"
    "if sys.path and not sys.path[0]:\n"
    "    del sys.path[0]\n"
    "from importlib.util import module_from_spec, spec_from_file_location\n"
    "package = sys.argv.pop(1)\n"
    "spec = spec_from_file_location('gateway', package + '/__init__.py', submodule_search_locations=[package])\n"
    "sys.modules['gateway'] = module = module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    # that interpreter's own msgpack or orjson may be any release (an old msgpack reads strings as
    # bytes): the runtime's stdlib codecs stand in for them, so its frames are the ones lambdagate reads
    "from gateway.runtime import stdlib_json, stdlib_msgpack\n"
    "saved = {name: sys.modules.get(name) for name in ('msgpack', 'orjson')}\n"
    "sys.modules['msgpack'], sys.modules['orjson'] = stdlib_msgpack, stdlib_json\n"
    "try:\n"
    "    from gateway.runtime.zygote import main\n"
    "finally:\n"
    "    for name, found in saved.items():\n"
    "        sys.modules.pop(name, None) if found is None else sys.modules.__setitem__(name, found)\n"
    "main()\n")


def zygote_command(python: str, own: bool, args: list) -> list:
    """argv of a zygote: lambdagate's own interpreter imports lambdagate as it does; another runs
    the runtime from PACKAGE_DIR, standard library only."""
    if own:
        return [python, "-m", "gateway.runtime.zygote", *args]
    return [python, "-c", _START_FROM_PACKAGE_DIR, PACKAGE_DIR, *args]


def other_interpreter_environment(host_env) -> dict:
    """A zygote of another Python version starts without PYTHONHOME, which is lambdagate's own
    installation's."""
    env = zygote_environment(host_env)
    env.pop("PYTHONHOME", None)
    return env


class ZygoteError(RuntimeError):
    pass


class ZygoteProcess:
    """One zygote interpreter (per runtime) and its control socket."""

    def __init__(self, python: str = sys.executable, on_exit: Optional[Callable[[int, int], None]] = None,
                 on_lost: Optional[Callable[[list], None]] = None, isolation: str = wire.ISOLATION_NONE,
                 own: bool = True):
        self.python = python
        self.own = own                    # lambdagate's own interpreter, else one of another version
        self.isolation = isolation        # asked for; once ready, what the zygote gives (never "auto")
        self.isolation_note = ""          # why not stronger
        self.on_exit = on_exit            # (pid, wait status) for every forked worker that ends
        self.on_lost = on_lost            # the zygote is gone, and with it every worker it forked (their pids)
        self.process: Optional[subprocess.Popen] = None
        self._control: Optional[socket.socket] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._seq = 0
        self._forks: dict = {}            # seq -> future of pid
        self._exits: dict = {}            # pid -> (wait status, max rss kB), for exits nobody asked about yet
        self._exit_waiters: dict = {}     # pid -> future of (wait status, max rss kB)
        self._children: set = set()       # pids forked that have not exited
        self.ready: Optional[asyncio.Future] = None

    def start(self) -> None:
        """Spawn the zygote; `ready` resolves once it has imported what workers need and knows
        which isolation it gives."""
        self._loop = asyncio.get_running_loop()
        self.ready = self._loop.create_future()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # the python binary itself, never a shim: a shim costs ~100 ms per start
        self.process = subprocess.Popen(
            zygote_command(self.python, self.own, [str(theirs.fileno()), str(os.getpid()), self.isolation]),
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
            env=zygote_environment(os.environ) if self.own else other_interpreter_environment(os.environ),
        )
        theirs.close()
        ours.setblocking(False)
        self._control = ours
        self._loop.add_reader(ours.fileno(), self._on_readable)

    @property
    def alive(self) -> bool:
        return self._control is not None and self.process is not None and self.process.poll() is None

    async def fork(self, spec: dict, worker_fds: tuple, log_fd: int) -> int:
        """Fork a worker with this spec; the descriptors are handed over. Returns its pid.

        `worker_fds` are a Python worker's two pipe ends (invocations in, results out); a
        spec with "argv" execs that program, which gets none (it talks to the Runtime API).
        """
        if not self.alive:
            raise ZygoteError("the zygote is not running")
        self._seq += 1
        seq = self._seq
        future = self._loop.create_future()
        self._forks[seq] = future
        fds = array.array("i", [*worker_fds, log_fd])
        try:
            self._control.sendmsg([wire.fork_message(seq, spec)],
                                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)])
        except OSError as exc:
            del self._forks[seq]
            raise ZygoteError(f"cannot reach the zygote: {exc}") from exc
        return await future

    def has_exited(self, pid: int) -> bool:
        """Whether an exit of pid was reported that nobody has asked about yet."""
        return pid in self._exits

    def wait_exit(self, pid: int) -> "asyncio.Future":
        """A future of the worker's (wait status, peak RSS in kB); done already if it has exited."""
        future = self._loop.create_future()
        if pid in self._exits:
            future.set_result(self._exits.pop(pid))
        else:
            self._exit_waiters[pid] = future
        return future

    def _on_readable(self) -> None:
        while True:
            try:
                data = self._control.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self._lost()
                return
            try:
                message = wire.read_message(data)
            except ValueError:
                continue  # not ours to act on
            kind = message.kind
            if kind == wire.READY:
                if not self.ready.done():
                    self.isolation, self.isolation_note = message.isolation, message.isolation_note
                    self.ready.set_result(message.pid)
            elif kind == wire.FORKED:
                # an unclaimed exit of an earlier process with this pid is not the new one's
                self._exits.pop(message.pid, None)
                future = self._forks.pop(message.seq, None)
                if message.pid > 0:
                    self._children.add(message.pid)
                if future is not None and not future.done():
                    if message.pid > 0:
                        future.set_result(message.pid)
                    else:
                        future.set_exception(ZygoteError(f"fork failed: {message.error}"))
            elif kind == wire.EXITED:
                pid, status = message.pid, message.wait_status
                self._children.discard(pid)
                outcome = (status, message.max_rss_kb)
                waiter = self._exit_waiters.pop(pid, None)
                if waiter is not None:
                    if not waiter.done():
                        waiter.set_result(outcome)
                else:
                    self._exits[pid] = outcome
                    if len(self._exits) > 4096:  # nobody asked about these; keep the map bounded
                        self._exits.pop(next(iter(self._exits)))
                if self.on_exit is not None:
                    self.on_exit(pid, status)

    def _lost(self) -> None:
        """The control socket is gone: nothing awaited from the zygote will come."""
        if self._control is not None:
            self._loop.remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        error = ZygoteError("the zygote exited")
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(error)
            self.ready.exception()
        for future in self._forks.values():
            if not future.done():
                future.set_exception(error)
        self._forks.clear()
        for future in self._exit_waiters.values():
            if not future.done():
                future.set_result((-1, 0))
        self._exit_waiters.clear()
        children, self._children = list(self._children), set()
        if self.on_lost is not None:
            on_lost, self.on_lost = self.on_lost, None
            on_lost(children)

    def close(self, timeout_s: float = 5.0) -> None:
        """Closing the control socket makes the zygote kill its workers and exit."""
        self._lost()
        if self.process is not None:
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
