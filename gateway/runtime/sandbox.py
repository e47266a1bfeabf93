"""An execution environment of its own for each worker, as close to Lambda's microVM as Linux allows
without one. This is the runtime side (the zygote and its forks; standard library only); the
gateway side, which picks the level and owns the cgroups, is gateway/scheduler/isolation.py.

Levels, strongest first (`resolve()` finds what this machine allows):

- "namespaces" (root with CAP_SYS_ADMIN): each environment is a PID namespace with its own mount
  namespace. Its first process is a small init (`_run_init`) that reaps orphans and, when the
  worker ends, reports how and exits, which makes the kernel end everything left in the namespace,
  setsid or not. The worker sees no other process (no sibling's environ or memory, no gateway or
  zygote to signal), the whole filesystem read-only, a private tmpfs /tmp sized by
  EphemeralStorage, a /dev with only the harmless devices, the state directory and every other
  function's code hidden under empty mounts, and it holds no capability.
- "process" (no privilege needed): the zygote and every worker are not dumpable (their /proc files
  belong to root, so a sibling cannot read its environ or memory), /tmp is a private directory
  given as TMPDIR, and the zygote, a child subreaper, kills what a worker leaves behind.
- "none": workers are plain forks, as `sam local` without Docker would run them.
"""
from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import stat
import struct

from gateway import wire

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECUREBITS = 1, 4, 28
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
_SYS_MOUNT_SETATTR = 442            # the same number on every architecture (added in Linux 5.12)
_AT_FDCWD, _AT_RECURSIVE = -100, 0x8000
_MOUNT_ATTR_RDONLY = 0x1
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SECBIT_NOROOT, _SECBIT_NOROOT_LOCKED, _SECBIT_KEEP_CAPS_LOCKED = 1 << 0, 1 << 1, 1 << 5

# The devices an environment gets; everything else of the host's /dev (its disks above all, which
# uid 0 could open even without capabilities) is not there.
_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}
_DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                 "stderr": "/proc/self/fd/2"}
# Kernel knobs that uid 0 may write by file mode alone: read-only in an environment.
_PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger")

# Records on an environment's report pipe (each one write, under PIPE_BUF, so never interleaved).
_WORKER_PID = b"P"                  # + int32: the worker's pid as the gateway sees it
_ENDED = b"S"                       # + int32 wait status + int64 peak RSS kB: how the worker ended
_FAILED = b"E"                      # + text: the environment could not be built
_PID_RECORD = struct.Struct("=i")
_END_RECORD = struct.Struct("=iq")
_REPORT_WAIT_S = 5.0


class SandboxError(OSError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise SandboxError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source, target: str, fstype, flags: int, data: str = "") -> None:
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, flags, data.encode() if data else None),
           f"mount {target}")


def _read_only_tree(path: str) -> None:
    """Every mount at and below `path` read-only, in one call."""
    attr = struct.pack("=QQQQ", _MOUNT_ATTR_RDONLY, 0, 0, 0)   # attr_set, attr_clr, propagation, userns_fd
    buf = ctypes.create_string_buffer(attr, len(attr))
    _check(0 if _libc.syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, path.encode(), _AT_RECURSIVE, buf,
                              ctypes.c_size_t(len(attr))) == 0 else -1, f"mount_setattr {path}")


def prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl {option}")


def die_with_parent(parent_pid: int, signum: int = signal.SIGKILL) -> None:
    """Get `signum` when the parent ends; end now if it already has (it may have died before this)."""
    prctl(PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent_pid:
        os._exit(1)


def _die_with_zygote(zygote_pid: int) -> None:
    """die_with_parent for a namespace's init, whose parent is outside its namespace (getppid()
    answers 0): the host's /proc, still mounted here, says whether the zygote is alive."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if not os.path.exists(f"/proc/{zygote_pid}"):
        os._exit(1)


def not_dumpable() -> None:
    """/proc/<pid>/{environ,mem,maps,fd} of this process belong to root from now on, and nobody
    without CAP_SYS_PTRACE may trace it, even under the same uid. (An exec makes it dumpable again.)"""
    prctl(PR_SET_DUMPABLE, 0)


def drop_capabilities() -> None:
    """No capability left and none to be regained: the environment cannot mount, trace, load
    modules, or undo any of the above. Three calls, not one per capability: with the "no root"
    securebits locked and no_new_privs, no exec (of a setuid or file-capability program, or by
    uid 0) can give any back, so the bounding set need not be emptied too."""
    prctl(PR_SET_SECUREBITS, _SECBIT_NOROOT | _SECBIT_NOROOT_LOCKED | _SECBIT_KEEP_CAPS_LOCKED)
    header = ctypes.create_string_buffer(struct.pack("=Ii", _LINUX_CAPABILITY_VERSION_3, 0), 8)
    data = ctypes.create_string_buffer(24)   # effective, permitted, inheritable: zero, both 32-bit halves
    _check(_libc.capset(header, data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


# --------------------------------------------------------------------------- choosing a level

def _namespaces_unavailable() -> str | None:
    """Why the namespaces level cannot work here, or None. Tried for real, in a throwaway fork."""
    if os.geteuid() != 0:
        return "not root"
    reason_r, reason_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reason_r)
        try:
            unshare(CLONE_NEWNS | CLONE_NEWPID)
            mount(None, "/", None, MS_REC | MS_PRIVATE)
            _read_only_tree("/")
            mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
            os._exit(0)
        except BaseException as exc:
            os.write(reason_w, str(exc).encode()[:500])
            os._exit(1)
    os.close(reason_w)
    reason = os.read(reason_r, 1024).decode(errors="replace")
    os.close(reason_r)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    return reason or "the namespace probe failed"


def resolve(requested: str) -> tuple:
    """(level, why not stronger): what `requested` ("auto" or a level) means on this machine."""
    if requested == wire.ISOLATION_NONE:
        return wire.ISOLATION_NONE, ""
    if requested in (wire.ISOLATION_AUTO, wire.ISOLATION_NAMESPACES):
        reason = _namespaces_unavailable()
        if reason is None:
            return wire.ISOLATION_NAMESPACES, ""
        return wire.ISOLATION_PROCESS, reason
    return wire.ISOLATION_PROCESS, "process level requested"


# --------------------------------------------------------------------------- the namespaces level

class NamespaceForker:
    """Forks each environment as the first process of a new PID namespace, from the zygote,
    which itself stays where it is."""

    def __init__(self):
        self._own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)

    def fork(self) -> int:
        unshare(CLONE_NEWPID)           # only children are moved: the next fork is the new namespace's init
        pid = os.fork()
        if pid != 0:
            setns(self._own_pid_ns, CLONE_NEWPID)   # later forks (the next one's unshare) start afresh
        return pid

    def close(self) -> None:
        os.close(self._own_pid_ns)


def become_environment(sandbox: dict, report_fd: int, zygote_pid: int, keep_fds: tuple) -> None:
    """In a fresh fork of NamespaceForker: build the environment. Returns in its worker, which then
    becomes the function's runtime; this process itself stays the namespace's init and never returns."""
    try:
        _die_with_zygote(zygote_pid)
        for procs in sandbox.get("cgroups", ()):
            with open(procs, "w") as f:    # "0": the writer; the worker and all it starts follow
                f.write("0")
        unshare(CLONE_NEWNS)
        mount(None, "/", None, MS_REC | MS_PRIVATE)   # nothing done here propagates to the host
        not_dumpable()                  # the worker may not trace its init
        init_pid = os.getpid()
        worker = os.fork()
    except BaseException as exc:
        _report(report_fd, _FAILED + f"cannot build the environment: {exc}".encode()[:400])
        os._exit(1)
    if worker == 0:
        _become_worker(sandbox, report_fd, init_pid)
        return
    _run_init(worker, report_fd, keep_fds)


def _become_worker(sandbox: dict, report_fd: int, init_pid: int) -> None:
    os.setsid()                         # its own session: kill(0, ...) reaches nothing outside
    die_with_parent(init_pid)
    # still the host's /proc here, which names pids as the gateway sees them
    _report(report_fd, _WORKER_PID + _PID_RECORD.pack(int(os.readlink("/proc/self"))))
    os.close(report_fd)
    _build_filesystem(sandbox)
    drop_capabilities()


def _run_init(worker: int, report_fd: int, keep_fds: tuple) -> None:
    """The namespace's pid 1: reap whatever is orphaned into it until the worker ends, then say how
    and exit, and the kernel kills the rest. Signals from inside the namespace do not reach it."""
    for fd in keep_fds:
        os.close(fd)                    # the worker's pipes and log are the worker's alone
    while True:
        try:
            pid, status, usage = os.wait4(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
        if pid == worker:
            _report(report_fd, _ENDED + _END_RECORD.pack(status, usage.ru_maxrss))
            os._exit(0)


def _report(fd: int, record: bytes) -> None:
    try:
        os.write(fd, record)
    except OSError:
        pass


def _build_filesystem(sandbox: dict) -> None:
    """The worker's view: the host's tree read-only, then on top of it what may differ."""
    _read_only_tree("/")
    # what the worker runs from (its code, the interpreter's path, lambdagate) may be under /tmp:
    # held open while the private /tmp covers it, then bound back, read-only as everything else
    held = []
    for path in sandbox.get("keep", ()):
        # (/tmp itself, on the path of a script run from there, is not the worker's to keep)
        if path != "/tmp" and _within(path, "/tmp") and os.path.exists(path) and \
                not any(_within(path, p) for p, _ in held):
            held.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC)))
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(sandbox['tmp_mb'])}m,mode=1777")
    for path, fd in held:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)   # this namespace's processes only
    for path in _PROC_READ_ONLY:
        if os.path.exists(path):
            mount(path, path, None, MS_BIND)
            mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _build_dev()
    for path in sandbox.get("hidden", ()):
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
        elif os.path.exists(path):
            mount("/dev/null", path, None, MS_BIND)


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _build_dev() -> None:
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    for name, (major, minor) in _DEVICES.items():
        os.mknod(f"/dev/{name}", stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)   # past the umask
    for name, to in _DEVICE_LINKS.items():
        os.symlink(to, f"/dev/{name}")
    mount(None, "/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


def read_worker_pid(report_fd: int) -> tuple:
    """In the zygote, after NamespaceForker.fork: (the worker's pid, None) or (-1, why not)."""
    readable, _, _ = select.select([report_fd], [], [], _REPORT_WAIT_S)
    if not readable:
        return -1, "the environment did not start its worker in time"
    record = os.read(report_fd, 1 + _PID_RECORD.size)
    if record[:1] == _WORKER_PID and len(record) == 1 + _PID_RECORD.size:
        return _PID_RECORD.unpack(record[1:])[0], None
    if record[:1] == _FAILED:
        return -1, (record[1:] + os.read(report_fd, 512)).decode(errors="replace")
    return -1, "the environment ended before its worker started"


def read_end(report_fd: int):
    """In the zygote, once the init has exited: (wait status, peak RSS kB) of its worker, or None."""
    os.set_blocking(report_fd, False)
    try:
        record = os.read(report_fd, 1 + _END_RECORD.size)
    except OSError:
        return None
    if record[:1] == _ENDED and len(record) == 1 + _END_RECORD.size:
        return _END_RECORD.unpack(record[1:])
    return None


# --------------------------------------------------------------------------- the process level

def become_process_worker(sandbox: dict) -> None:
    """A worker without namespaces: not readable by its siblings, its own TMPDIR, no capability."""
    not_dumpable()
    tmp_dir = sandbox.get("tmp_dir")
    if tmp_dir:
        os.makedirs(tmp_dir, mode=0o700, exist_ok=True)
    if os.geteuid() == 0:
        drop_capabilities()


def adopt_orphans() -> None:
    """The zygote, at the process level: what a worker leaves behind when it ends (a setsid child
    too) becomes the zygote's child instead of init's, so that it can be found and killed."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def _children_by_parent() -> dict:
    children: dict = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split(maxsplit=2)[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def kill_adopted(own_children) -> None:
    """Kill the zygote's children that it did not fork itself: orphans of ended workers."""
    for pid in _children_by_parent().get(os.getpid(), ()):
        if pid not in own_children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def kill_descendants(rounds: int = 20) -> None:
    """Kill every process below this one, however deep, until none is left (each round's victims'
    orphans are adopted by this subreaper and found by the next)."""
    me = os.getpid()
    for _ in range(rounds):
        children = _children_by_parent()
        stack, found = list(children.get(me, ())), []
        while stack:
            pid = stack.pop()
            found.append(pid)
            stack.extend(children.get(pid, ()))
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        while True:   # reap what was killed, so that the next round does not count zombies
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
