"""A zygote: a Python interpreter that has already imported the worker runtime and
the common standard library, and forks a new worker for every cold start.

Started by the gateway as `python -m gateway.runtime.zygote <control fd> <gateway pid> <isolation>`, or,
on an interpreter of another Python version, by gateway.scheduler.zygote.zygote_command, which loads
the `gateway` package alone from lambdagate's tree: msgpack and orjson may be missing there, and
gateway.wire and the worker then fall back to gateway.runtime.stdlib_msgpack and stdlib_json. The
control socket is SOCK_SEQPACKET: one msgpack message per request, with the new
worker's pipe ends and log file attached as file descriptors. The zygote reports
each fork's pid and each child's exit status. When the control socket closes
(the gateway exited or died), it kills every worker it forked and exits. Each fork is an
execution environment isolated as `<isolation>` asks and the machine allows (sandbox.py).
"""
from __future__ import annotations

import array
import gc
import os
import resource
import select
import signal
import socket
import sys

# Preloaded so that forked workers do not pay for them; kept to what handlers
# commonly use, since fork cost grows with the zygote's memory.
import base64  # noqa: F401
import collections  # noqa: F401
import dataclasses  # noqa: F401
import datetime  # noqa: F401
import decimal  # noqa: F401
import hashlib  # noqa: F401
import json  # noqa: F401
import logging  # noqa: F401
import re  # noqa: F401
import typing  # noqa: F401
import urllib.parse  # noqa: F401
import uuid  # noqa: F401

from gateway import wire
from gateway.runtime import sandbox
from gateway.runtime import worker as worker_runtime

_FDS_SPACE = socket.CMSG_SPACE(3 * array.array("i").itemsize)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_parent(signum: int = signal.SIGKILL) -> None:
    sandbox.prctl(sandbox.PR_SET_PDEATHSIG, signum)


# Lambda's per-environment quota of open files. (Its 1024 processes/threads are not RLIMIT_NPROC:
# the kernel counts that per user across the machine, threads included, so on a busy desktop a
# worker could not start a thread at all; that quota belongs to a pids cgroup per environment.)
_OPEN_FILES = 1024


def _aws_limits() -> None:
    """Each environment starts with AWS's open-files limit, not the gateway's raised one: set once
    in the zygote, which needs few descriptors itself, and inherited by every fork."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > _OPEN_FILES:
        hard = _OPEN_FILES
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(_OPEN_FILES, hard), hard))
    except (ValueError, OSError):
        pass


def _batch_scheduling() -> None:
    """SCHED_BATCH for the zygote and, inherited, every worker: same CPU share as before, but
    a worker woken by an invocation does not preempt whatever runs on its CPU. Under load that
    is mostly the gateway, whose time every other request waits on."""
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux, or a sandbox that forbids it: stay as we are
        pass


class Zygote:
    def __init__(self, control: socket.socket, isolation: str = wire.ISOLATION_NONE, isolation_note: str = ""):
        self.control = control
        self.isolation = isolation
        self.isolation_note = isolation_note
        # each worker forked: pid -> the pid of its environment's init (namespaces level), else 0;
        # and back, so that an init that ended first is never signalled by a pid it no longer owns
        self.children: dict = {}
        self._inits: dict = {}
        self.pid = os.getpid()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        self._forker = None
        if isolation == wire.ISOLATION_NAMESPACES:
            self._forker = sandbox.NamespaceForker(self.pid, lambda: (self.control, self.wake_r, self.wake_w))

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # the preloaded modules, shared with every worker: the collector of a worker never walks
        # them, so it neither spends time on them nor dirties (copies) their pages
        gc.collect()
        gc.freeze()
        self._send(wire.zygote_ready_message(os.getpid(), self.isolation, self.isolation_note))
        try:
            while True:
                if self._forker is not None:
                    try:
                        self._forker.prepare()   # the next environment's init, while nobody waits
                    except OSError:
                        pass                     # tried again at the next fork, which says why if it fails
                readable, _, _ = select.select([self.control, self.wake_r], [], [])
                if self.wake_r in readable:
                    os.read(self.wake_r, 4096)
                if self.control in readable and not self._handle_request():
                    return
                self._reap()
        finally:
            self._kill_all()

    def _handle_request(self) -> bool:
        try:
            data, ancdata, _, _ = self.control.recvmsg(1 << 20, _FDS_SPACE)
        except InterruptedError:
            return True
        except ConnectionResetError:
            return False  # the gateway closed with our messages unread: it is gone
        if not data:
            return False
        fds = array.array("i")
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(cdata[: len(cdata) - (len(cdata) % fds.itemsize)])
        try:
            message = wire.read_message(data)
        except ValueError:
            message = None
        if message is not None and message.kind == wire.FORK:
            self._fork(message.seq, message.spec, list(fds))
        else:
            for fd in fds:
                os.close(fd)
        return True

    def _fork(self, seq: int, spec: dict, fds: list) -> None:
        # a Python worker gets its two pipe ends and log file; an executable runtime only its log file
        expected = 1 if "argv" in spec else 3
        if len(fds) != expected:
            for fd in fds:
                os.close(fd)
            self._send(wire.fork_failed_message(seq, f"expected {expected} file descriptors"))
            return
        init = 0
        try:
            if self._forker is not None:
                pid, init = self._forker.fork(tuple(fds))
            else:
                pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            self._send(wire.fork_failed_message(seq, str(exc)))
            return
        if pid == 0:
            self._enter_environment(spec, fds)
            if expected == 1:
                self._become_executable(spec, fds[0])
            self._become_worker(spec, fds[0], fds[1], fds[2])
        for fd in fds:
            os.close(fd)
        self.children[pid] = init
        if init:
            self._inits[init] = pid
        self._send(wire.forked_message(seq, pid))

    def _enter_environment(self, spec: dict, fds: list) -> None:
        """In the child: leave the zygote, then become the environment the isolation level builds."""
        self._leave_zygote()
        box = spec.get("sandbox") or {}
        try:
            if self.isolation == wire.ISOLATION_NAMESPACES:
                sandbox.become_environment(box)
            elif self.isolation == wire.ISOLATION_PROCESS:
                sandbox.become_process_worker(box)
        except BaseException as exc:  # say why in the function's log, and end
            try:
                os.write(fds[-1], f"lambdagate: cannot isolate the environment: {exc}\n".encode())
            finally:
                os._exit(126)

    def _leave_zygote(self) -> None:
        """What every child does first: drop the zygote's signals and sockets, follow its death."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGPIPE, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        self.control.close()
        os.close(self.wake_r)
        os.close(self.wake_w)
        if self._forker is not None:
            self._forker.close()
        os.setsid()   # its own session and group: kill(0, ...) reaches nothing outside it
        _die_with_parent()  # kept across exec

    def _become_executable(self, spec: dict, log_fd: int) -> None:
        try:
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.chdir(spec["code_dir"])
            argv = spec["argv"]
            os.execve(argv[0], argv, spec["env"])
        except BaseException as exc:  # the exec failed: say why in the function's log
            try:
                os.write(2, f"lambdagate: cannot start {spec.get('argv')}: {exc}\n".encode())
            finally:
                os._exit(127)

    def _become_worker(self, spec: dict, invoke_fd: int, result_fd: int, log_fd: int) -> None:
        status = 1
        try:
            status = worker_runtime.run(spec, invoke_fd, result_fd, log_fd)
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(status)

    def _reap(self) -> None:
        reaped = False
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid not in self.children:
                # an environment's init that was ended (or killed from outside: its worker is then
                # being ended by the kernel), the spare one, or an orphan adopted at the process level
                worker = self._inits.pop(pid, None)
                if worker in self.children:
                    self.children[worker] = 0
                if self._forker is not None:
                    self._forker.forget_spare(pid)
                continue
            reaped = True
            init = self.children.pop(pid)
            # an environment ends whole, as on AWS: what the handler started goes with it. At the
            # namespaces level, ending the init makes the kernel kill all that is left in the
            # namespace, setsid or not; otherwise the worker's process group is killed (the group
            # keeps the pid from being reused meanwhile)
            if init:
                sandbox.kill(init)     # not reaped yet (see above): still its pid
            _kill_group(pid)
            # the worker's peak resident set: Max Memory Used of an environment that died
            self._send(wire.exited_message(pid, status, usage.ru_maxrss))
        if reaped and self.isolation == wire.ISOLATION_PROCESS:
            sandbox.kill_adopted(self.children)   # what an ended worker left behind, setsid or not

    def _send(self, message: bytes) -> None:
        """One message (built by a wire.*_message function) to the gateway."""
        try:
            self.control.send(message)
        except OSError:
            pass  # the gateway is gone; serve() ends on the next read

    def _kill_all(self) -> None:
        # the gateway's death arrives twice (SIGTERM, and the control socket closing): the second
        # must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        inits = [init for init in self.children.values() if init]
        if self._forker is not None and self._forker.spare_init():
            inits.append(self._forker.spare_init())
        for pid in list(self.children):
            _kill_group(pid)
        for init in inits:
            sandbox.kill(init)     # and with it everything in its namespace
        for pid in [*self.children, *inits]:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        if self.isolation == wire.ISOLATION_PROCESS:
            sandbox.kill_descendants()
        self.children.clear()


def _stop_on_sigterm(*_) -> None:
    raise SystemExit(0)   # serve()'s finally kills every worker and what they started


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    requested = argv[2] if len(argv) > 2 else wire.ISOLATION_NONE
    isolation, note = sandbox.resolve(requested)
    if isolation == wire.ISOLATION_PROCESS:
        # without namespaces nothing else ends a setsid grandchild: the zygote adopts orphans, and
        # on the gateway's death gets SIGTERM, not SIGKILL, so that it can kill them on its way out
        sandbox.adopt_orphans()
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        _die_with_parent(signal.SIGTERM)
    else:
        _die_with_parent()
    if len(argv) > 1 and os.getppid() != int(argv[1]):
        return  # the gateway died before the death signal was armed
    if isolation != wire.ISOLATION_NONE:
        sandbox.not_dumpable()   # its memory holds every function's environment
    control = socket.socket(fileno=int(argv[0]))
    control.setblocking(True)
    _batch_scheduling()
    _aws_limits()
    Zygote(control, isolation, note).serve()


if __name__ == "__main__":
    main()
