"""The gateway's side of isolating execution environments: which level is in force (the zygote
finds what the machine allows; gateway/runtime/sandbox.py builds it), what each environment is
given (its /tmp, the paths it may not see, its cgroup), and removing all of it when it ends."""
from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import tempfile
from typing import Iterable, Optional

from gateway import wire
from gateway.config import Config
from gateway.runtime.sandbox import not_dumpable, within
from gateway.errors import LambdagateError
from gateway.scheduler.cgroups import Cgroup, CgroupTree
from gateway.scheduler.commands import RUNTIME_DIR
from gateway.scheduler.interpreters import Interpreter
from gateway.types import FunctionSpec

log = logging.getLogger("lambdagate")


def _needed_paths(worker_spec: dict, interpreter: str, roots: Iterable[str] = ()) -> list:
    """What the worker must still see where its private /tmp covers the host's: its code, the
    interpreter's environment (a venv: its whole directory, pyvenv.cfg and bin/ included; `roots`:
    the prefixes of an interpreter other than lambdagate's) and import path, the programs it runs
    and lambdagate's own package (its runtimes). Links are kept as named and as resolved: a venv's
    bin/python is a link out of it."""
    paths = [worker_spec["code_dir"], *worker_spec.get("sys_path", ()), os.path.dirname(RUNTIME_DIR),
             sys.prefix, sys.exec_prefix, *roots, os.path.dirname(os.path.dirname(os.path.abspath(interpreter)))]
    # programs and class paths ("-cp a:b") among the arguments
    paths += [part for arg in worker_spec.get("argv", ()) for part in arg.split(os.pathsep) if os.path.isabs(part)]
    return sorted({q for p in paths for q in (os.path.abspath(p), os.path.realpath(p))})


def _remove_tree(path: str) -> None:
    """Off the event loop when there is one: a function may leave thousands of files behind."""
    try:
        asyncio.get_running_loop().run_in_executor(None, shutil.rmtree, path, True)
    except RuntimeError:
        shutil.rmtree(path, ignore_errors=True)


class _Environment:
    __slots__ = ("cgroup", "tmp_dir")

    def __init__(self, cgroup: Optional[Cgroup], tmp_dir: Optional[str]):
        self.cgroup = cgroup
        self.tmp_dir = tmp_dir


class Isolation:
    def __init__(self, config: Config, functions: Iterable[FunctionSpec]):
        self.requested = config.isolation
        self.level: Optional[str] = None        # known once the zygote has said
        self.note = ""                          # why not stronger
        self.cgroups: Optional[CgroupTree] = None
        self.cgroup_note = ""
        home = os.path.expanduser("~")
        # never visible to a function: lambdagate's state (logs and events of every function),
        # the Lambda API's credentials, the user's AWS and SSH keys
        secret = [config.state_dir, config.credentials_file, os.path.join(home, ".aws"), os.path.join(home, ".ssh")]
        self._secret = [os.path.abspath(p) for p in secret if p]
        self._code_dirs = sorted({os.path.realpath(spec.code_dir) for spec in functions})
        self._environments: dict = {}          # worker pid -> _Environment
        self._tmp_root: Optional[str] = None
        self._interpreter = config.python
        self._paths: dict = {}                  # (code dir, argv) -> (hidden, kept), see _paths_of

    @property
    def active(self) -> bool:
        return self.level is not None and self.level != wire.ISOLATION_NONE

    def started(self, level: str, note: str) -> None:
        """The zygote's answer to what was asked. Said once on the console (a restarted zygote gives
        the same answer)."""
        if self.level is not None:
            return
        if self.requested == wire.ISOLATION_NAMESPACES and level != wire.ISOLATION_NAMESPACES:
            raise LambdagateError(f"--isolation namespaces is not available here: {note}")
        self.level, self.note = level, note
        if self.active:
            self.cgroups, self.cgroup_note = CgroupTree.open()
        if level == wire.ISOLATION_PROCESS:
            # a sibling under the same uid could otherwise read every function's environment and
            # payloads from the gateway's memory
            not_dumpable()
        log.info("isolation: %s", self.describe())

    def describe(self) -> str:
        if self.level == wire.ISOLATION_NONE:
            return "none (--isolation none: functions share the host's processes, /tmp and files)"
        quotas = (f"cgroup v{self.cgroups.version} quotas" if self.cgroups
                  else f"no cgroup ({self.cgroup_note}): no process or CPU quota")
        if self.level == wire.ISOLATION_NAMESPACES:
            return f"pidns+mountns+cgroup, uid 0 without capabilities, {quotas}" if self.cgroups else \
                f"pidns+mountns, uid 0 without capabilities, {quotas}"
        return f"process only ({self.note}), {quotas}"

    # ------------------------------------------------------------------ one environment

    def prepare(self, spec: FunctionSpec, worker_spec: dict,
                interpreter: Optional[Interpreter] = None) -> Optional[_Environment]:
        """Add to the zygote's spec what this environment gets; None at the none level. `interpreter`:
        the Python worker's, when it is not lambdagate's own."""
        if not self.active:
            return None
        cgroup = self.cgroups.create(spec.memory_mb) if self.cgroups is not None else None
        env = worker_spec["env"]
        sandbox: dict = {"cgroups": cgroup.join_files(self.cgroups.version) if cgroup else []}
        tmp_dir = None
        if self.level == wire.ISOLATION_NAMESPACES:
            if "TMPDIR" not in spec.environment:
                env.pop("TMPDIR", None)         # the host's: /tmp is the environment's own, as on AWS
            sandbox["tmp_mb"] = spec.ephemeral_storage_mb
            sandbox["hidden"], sandbox["keep"] = self._paths_of(spec, worker_spec, interpreter)
        else:
            if self._tmp_root is None:
                self._tmp_root = tempfile.mkdtemp(prefix="lambdagate-tmp-")
            tmp_dir = tempfile.mkdtemp(dir=self._tmp_root)   # 0700: the environment's own
            env["TMPDIR"] = tmp_dir
        worker_spec["sandbox"] = sandbox
        return _Environment(cgroup, tmp_dir)

    def _paths_of(self, spec: FunctionSpec, worker_spec: dict, interpreter: Optional[Interpreter] = None) -> tuple:
        """(hidden, kept) for a function's environments: the same for every one of them, so worked
        out (realpath on every import path entry) at its first cold start only."""
        executable = interpreter.executable if interpreter is not None else self._interpreter
        # sys_path too: an SDK installed (`lambdagate setup sdk`) while lambdagate runs joins it
        key = (spec.code_dir, tuple(worker_spec.get("argv", ())), tuple(worker_spec.get("sys_path", ())), executable)
        paths = self._paths.get(key)
        if paths is None:
            paths = self._paths[key] = (self._hidden_from(os.path.realpath(spec.code_dir)),
                                        _needed_paths(worker_spec, executable,
                                                      interpreter.roots if interpreter is not None else ()))
        return paths

    def _hidden_from(self, code_dir: str) -> list:
        """What a function with this code may not see: the secrets, even inside its code directory
        (`CodeUri: .` beside the default .lambdagate), unless they contain it; other functions' code,
        except what contains its own or lies inside it (as `sam build` would package it with it)."""
        secrets = [path for path in self._secret if not within(code_dir, path)]
        others = [path for path in self._code_dirs if not within(code_dir, path) and not within(path, code_dir)]
        return secrets + others

    def attach(self, pid: int, environment: Optional[_Environment]) -> None:
        if environment is not None and pid > 0:
            self._environments[pid] = environment

    def initialised(self, pid: int) -> None:
        """Init is over: from now on the environment gets its share of CPU, not a burst."""
        environment = self._environments.get(pid)
        if environment is not None and environment.cgroup is not None:
            try:
                self.cgroups.limit_cpu(environment.cgroup)
            except OSError as exc:
                log.warning("cannot limit the CPU of worker %d: %s", pid, exc)

    def ended(self, pid: int) -> None:
        """The worker (and with it its environment) ended: remove what was made for it."""
        self.discard(self._environments.pop(pid, None))

    def discard(self, environment: Optional[_Environment]) -> None:
        if environment is None:
            return
        if environment.cgroup is not None:
            try:
                self.cgroups.remove(environment.cgroup)
            except OSError as exc:
                log.warning("cannot remove cgroup %s: %s", environment.cgroup.dirs, exc)
        if environment.tmp_dir is not None:
            _remove_tree(environment.tmp_dir)

    def end_all(self) -> None:
        """The zygote is gone, and every environment with it."""
        for environment in self._environments.values():
            self.discard(environment)
        self._environments.clear()

    def close(self) -> None:
        self.end_all()
        if self.cgroups is not None:
            self.cgroups.close()
        if self._tmp_root is not None:
            shutil.rmtree(self._tmp_root, ignore_errors=True)
            self._tmp_root = None
