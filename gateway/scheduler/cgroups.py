"""One cgroup per execution environment, for AWS's per-environment quotas: 1024 processes and
threads (`pids.max`) and CPU in proportion to memory (1,769 MB = one vCPU: `cpu.max`, or
`cpu.cfs_quota_us` on cgroup v1). The environment's first process joins it before anything else
runs there (gateway/runtime/sandbox.py); what it starts follows.

cgroup v2 where its pids and cpu controllers can be delegated to us, else the v1 pids and cpu
hierarchies. Every cgroup lives under `lambdagate-<gateway pid>-<n>`; those of a gateway that died
(kill -9) are removed by the next one that starts.
"""
from __future__ import annotations

import errno
import os
import signal
import time
from typing import Optional

MAX_PROCESSES = 1024        # AWS: processes/threads per execution environment
MB_PER_VCPU = 1769          # AWS: CPU is allocated in proportion to memory
CPU_PERIOD_US = 100_000
_MOUNT = "/sys/fs/cgroup"


_trees_opened = 0


def cpu_quota_us(memory_mb: int) -> int:
    return max(1000, memory_mb * CPU_PERIOD_US // MB_PER_VCPU)


class Cgroup:
    """An environment's cgroup: one directory (v2) or one per v1 controller."""
    __slots__ = ("dirs", "memory_mb")

    def __init__(self, dirs: tuple, memory_mb: int):
        self.dirs = dirs
        self.memory_mb = memory_mb

    def join_files(self, version: int) -> list:
        """What the environment's first process, single-threaded, writes "0" into to join. On v1 the
        `tasks` file: moving only the writing thread skips the global threadgroup lock that a
        cgroup.procs write takes, whose RCU grace period cost 5-15 ms per cold start."""
        name = "tasks" if version == 1 else "cgroup.procs"
        return [os.path.join(d, name) for d in self.dirs]


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


class CgroupTree:
    """This gateway's cgroups."""

    def __init__(self, version: int, bases: dict):
        self.version = version
        self.bases = bases          # controller ("pids", "cpu"; "" for v2) -> this gateway's directory
        self._count = 0
        self._leftover: list = []   # cgroups whose last process had not quite gone when removed

    @classmethod
    def open(cls) -> tuple:
        """(a tree, "") or (None, why there is none)."""
        if os.geteuid() != 0:
            return None, "not root"
        global _trees_opened
        _trees_opened += 1   # several schedulers in one process (tests, embedding) each get their own
        name = f"lambdagate-{os.getpid()}-{_trees_opened}"
        reasons = []
        for attempt in (cls._open_v2, cls._open_v1):
            try:
                tree = attempt(name)
            except OSError as exc:
                reasons.append(str(exc))
                continue
            if tree is not None:
                return tree, ""
        return None, "; ".join(reasons) or "no cgroup pids and cpu controllers"

    @classmethod
    def _open_v2(cls, name: str) -> Optional["CgroupTree"]:
        try:
            with open(os.path.join(_MOUNT, "cgroup.controllers")) as f:
                available = f.read().split()
        except FileNotFoundError:
            return None
        if "pids" not in available or "cpu" not in available:
            return None
        _remove_stale(_MOUNT, v2=True)
        _write(os.path.join(_MOUNT, "cgroup.subtree_control"), "+pids +cpu")
        base = os.path.join(_MOUNT, name)
        os.makedirs(base, exist_ok=True)
        _write(os.path.join(base, "cgroup.subtree_control"), "+pids +cpu")
        return cls(2, {"": base})

    @classmethod
    def _open_v1(cls, name: str) -> Optional["CgroupTree"]:
        bases = {}
        for controller in ("pids", "cpu"):
            root = os.path.join(_MOUNT, controller)
            if not os.path.exists(os.path.join(root, "cgroup.procs")):
                return None
            _remove_stale(root, v2=False)
            base = os.path.join(root, name)
            os.makedirs(base, exist_ok=True)
            bases[controller] = base
        return cls(1, bases)

    def create(self, memory_mb: int) -> Cgroup:
        """A new environment's cgroup, its process quota set; CPU is limited after Init (limit_cpu)."""
        self._count += 1
        leaf = f"env-{self._count}"
        if self.version == 2:
            path = os.path.join(self.bases[""], leaf)
            os.mkdir(path)
            _write(os.path.join(path, "pids.max"), str(MAX_PROCESSES))
            return Cgroup((path,), memory_mb)
        pids = os.path.join(self.bases["pids"], leaf)
        cpu = os.path.join(self.bases["cpu"], leaf)
        os.mkdir(pids)
        os.mkdir(cpu)
        _write(os.path.join(pids, "pids.max"), str(MAX_PROCESSES))
        return Cgroup((pids, cpu), memory_mb)

    def limit_cpu(self, cgroup: Cgroup) -> None:
        """AWS's CPU share from here on. Init ran unthrottled: Lambda, too, gives Init a full burst."""
        quota = cpu_quota_us(cgroup.memory_mb)
        if self.version == 2:
            _write(os.path.join(cgroup.dirs[0], "cpu.max"), f"{quota} {CPU_PERIOD_US}")
        else:
            # (a new cgroup's cpu.cfs_period_us is the kernel's default, CPU_PERIOD_US)
            _write(os.path.join(cgroup.dirs[1], "cpu.cfs_quota_us"), str(quota))

    def remove(self, cgroup: Cgroup) -> None:
        """Kill whatever is left in it and remove it (later, if its processes are still exiting)."""
        v2 = self.version == 2
        pending = [c for c in self._leftover if not _remove(c.dirs, v2)]
        if not _remove(cgroup.dirs, v2):
            pending.append(cgroup)
        self._leftover = pending

    def close(self, wait_s: float = 1.0) -> None:
        v2 = self.version == 2
        deadline = time.monotonic() + wait_s
        while self._leftover and time.monotonic() < deadline:
            self._leftover = [c for c in self._leftover if not _remove(c.dirs, v2)]
            if self._leftover:
                time.sleep(0.01)
        self._leftover.clear()
        for base in self.bases.values():
            _remove_tree(base, v2)


def _kill_members(directory: str, v2: bool) -> None:
    if v2:
        try:
            _write(os.path.join(directory, "cgroup.kill"), "1")
            return
        except OSError:
            pass  # before Linux 5.14: one by one
    try:
        with open(os.path.join(directory, "cgroup.procs")) as f:
            pids = [int(line) for line in f if line.strip()]
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _remove(dirs: tuple, v2: bool) -> bool:
    """True once every directory is gone."""
    done = True
    for directory in dirs:
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            _kill_members(directory, v2)
            done = False
    return done


def _remove_tree(base: str, v2: bool) -> None:
    try:
        leaves = [os.path.join(base, e) for e in os.listdir(base) if e.startswith("env-")]
    except FileNotFoundError:
        return
    for leaf in leaves:
        _kill_members(leaf, v2)
    for leaf in leaves:
        try:
            os.rmdir(leaf)
        except OSError:
            pass
    try:
        os.rmdir(base)
    except OSError:
        pass


def _remove_stale(root: str, v2: bool) -> None:
    """Cgroups of gateways that are gone (killed with -9: nobody else removes them)."""
    try:
        entries = os.listdir(root)
    except OSError:
        return
    for entry in entries:
        pid = entry[11:].split("-")[0]
        if entry.startswith("lambdagate-") and pid.isdigit() and not _alive(int(pid)):
            _remove_tree(os.path.join(root, entry), v2)
