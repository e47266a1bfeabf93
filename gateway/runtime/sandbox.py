"""An execution environment of its own for each worker, as close to Lambda's microVM as Linux allows
without one. This is the runtime side (the zygote and its forks; standard library only); the
gateway side, which picks the level and owns the cgroups, is gateway/scheduler/isolation.py.

Levels, strongest first (`resolve()` finds what this machine allows):

- "namespaces" (root with CAP_SYS_ADMIN): each worker is pid 2 of a PID namespace of its own, with
  its own mount and IPC namespaces. Pid 1 is a small init (`_run_init`), forked ahead of time, that
  reaps orphans; when the worker ends the zygote kills it, which makes the kernel end everything
  left in the namespace, setsid or not. The worker sees no other process (no sibling's environ or
  memory, no gateway or zygote to signal), the whole filesystem read-only, nosuid and nodev, a
  private tmpfs /tmp sized by EphemeralStorage, a /dev with only the harmless devices, an empty
  /run, the state directory and every other function's code hidden under empty mounts; it holds no
  capability, and a seccomp filter keeps it from user namespaces and the kernel keyrings.
- "process" (no privilege needed): the zygote and every worker are not dumpable (their /proc files
  belong to root, so a sibling cannot read its environ or memory), /tmp is a private directory
  given as TMPDIR, and the zygote, a child subreaper, kills what a worker leaves behind.
- "none": workers are plain forks, as `sam local` without Docker would run them.
"""
from __future__ import annotations

import ctypes
import errno
import os
import signal
import stat
import struct

from gateway import wire

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECUREBITS = 1, 4, 28
PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 36, 38
_SYS_MOUNT_SETATTR = 442            # the same number on every architecture (added in Linux 5.12)
_AT_FDCWD, _AT_RECURSIVE = -100, 0x8000
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_SECBIT_NOROOT, _SECBIT_NOROOT_LOCKED, _SECBIT_KEEP_CAPS_LOCKED = 1 << 0, 1 << 1, 1 << 5

# The devices an environment gets; everything else of the host's /dev (its disks above all, which
# uid 0 could open even without capabilities) is not there.
_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9)}
_DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
                 "stderr": "/proc/self/fd/2"}
# What /proc shows of the host's keys and timers: empty in an environment.
_PROC_MASKED = ("/proc/keys", "/proc/timer_list", "/proc/sched_debug")

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
    """Every mount at and below `path` read-only, nosuid and nodev, in one call."""
    # attr_set, attr_clr, propagation, userns_fd: read-only, and no device node (a host one under
    # /var/tmp would open read-write whatever the mount) or setuid bit works anywhere below
    attr = struct.pack("=QQQQ", _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV, 0, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    _check(0 if _libc.syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, path.encode(), _AT_RECURSIVE, buf,
                              ctypes.c_size_t(len(attr))) == 0 else -1, f"mount_setattr {path}")


def prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl {option}")


def not_dumpable() -> None:
    """/proc/<pid>/{environ,mem,maps,fd} of this process belong to root from now on, and nobody
    without CAP_SYS_PTRACE may trace it, even under the same uid. (An exec makes it dumpable again.)"""
    prctl(PR_SET_DUMPABLE, 0)


# capset's header and data (effective, permitted, inheritable: zero, both 32-bit halves), made once
_NO_CAPABILITIES = (ctypes.create_string_buffer(struct.pack("=Ii", _LINUX_CAPABILITY_VERSION_3, 0), 8),
                    ctypes.create_string_buffer(24))


def drop_capabilities() -> None:
    """No capability left and none to be regained: the environment cannot mount, trace, load
    modules, or undo any of the above. Three calls, not one per capability: with the "no root"
    securebits locked and no_new_privs, no exec (of a setuid or file-capability program, or by
    uid 0) can give any back, so the bounding set need not be emptied too."""
    prctl(PR_SET_SECUREBITS, _SECBIT_NOROOT | _SECBIT_NOROOT_LOCKED | _SECBIT_KEEP_CAPS_LOCKED)
    _check(_libc.capset(*_NO_CAPABILITIES), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


# The system calls an environment may not make: a user namespace would give it every capability
# back inside one (enough to mount cgroupfs and lift its own quotas), and the kernel keyrings are
# shared with the host's root. clone3's flags are out of a filter's reach, so it answers ENOSYS and
# the C library falls back to clone, whose flags are checked.
_SYSCALLS = {   # machine: (audit arch, seccomp, unshare, clone, clone3, keyctl, add_key, request_key)
    "x86_64": (0xC000003E, 317, 272, 56, 435, 250, 248, 249),
    "aarch64": (0xC00000B7, 277, 97, 220, 435, 219, 217, 218),
}
_CLONE_NEWUSER = 0x10000000
_X32_SYSCALL_BIT = 0x40000000
_SECCOMP_RET_ALLOW, _SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
_SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1, 1 << 2
_BPF_LD_W_ABS, _BPF_JEQ, _BPF_JGE, _BPF_JSET, _BPF_RET = 0x20, 0x15, 0x35, 0x45, 0x06


def _seccomp_filter():
    """(seccomp's number, the sock_fprog buffer and what it points to): built once, in the zygote,
    so that a cold start only makes the call. None on a machine not listed (nothing is installed
    there, rather than a filter of guessed numbers; the README says which machines have it)."""
    numbers = _SYSCALLS.get(os.uname().machine)
    if numbers is None:
        return None
    arch, seccomp_nr, unshare_nr, clone_nr, clone3_nr, *keys = numbers
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    # (code, jump if true, jump if false, k); jumps count the instructions to skip
    program = [
        (_BPF_LD_W_ABS, 0, 0, 4),                        # seccomp_data.arch
        (_BPF_JEQ, 1, 0, arch),
        (_BPF_RET, 0, 0, deny),                          # another ABI (i386, ...): nothing
        (_BPF_LD_W_ABS, 0, 0, 0),                        # seccomp_data.nr
        (_BPF_JGE, 0, 1, _X32_SYSCALL_BIT),
        (_BPF_RET, 0, 0, deny),                          # x32 numbers
        (_BPF_JEQ, 0, 1, clone3_nr),
        (_BPF_RET, 0, 0, _SECCOMP_RET_ERRNO | errno.ENOSYS),
        (_BPF_JEQ, 2, 0, keys[0]),
        (_BPF_JEQ, 1, 0, keys[1]),
        (_BPF_JEQ, 0, 1, keys[2]),
        (_BPF_RET, 0, 0, deny),
        (_BPF_JEQ, 1, 0, unshare_nr),
        (_BPF_JEQ, 0, 3, clone_nr),
        (_BPF_LD_W_ABS, 0, 0, 16),                       # the low half of args[0]: the flags
        (_BPF_JSET, 0, 1, _CLONE_NEWUSER),
        (_BPF_RET, 0, 0, deny),
        (_BPF_RET, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    filters = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    instructions = ctypes.create_string_buffer(filters, len(filters))
    fprog = struct.pack("=HxxxxxxQ", len(program), ctypes.addressof(instructions))
    return seccomp_nr, ctypes.create_string_buffer(fprog, len(fprog)), instructions


_FILTER = _seccomp_filter()


def restrict_syscalls() -> None:
    """Install the filter (after no_new_privs)."""
    if _FILTER is None:
        return
    seccomp_nr, fprog, _ = _FILTER
    # seccomp(2), not prctl: only it takes SPEC_ALLOW, without which kernels booted with
    # spec_store_bypass_disable=seccomp slow every filtered process down (SSBD forced on)
    result = _libc.syscall(ctypes.c_long(seccomp_nr), ctypes.c_ulong(_SECCOMP_SET_MODE_FILTER),
                           ctypes.c_ulong(_SECCOMP_FILTER_FLAG_SPEC_ALLOW), ctypes.c_void_p(ctypes.addressof(fprog)))
    _check(0 if result == 0 else -1, "seccomp filter")


# --------------------------------------------------------------------------- choosing a level

def _namespaces_unavailable() -> str | None:
    """Why the namespaces level cannot work here, or None. Tried for real: a throwaway environment
    is built whole, as a worker's is (a container may allow the namespaces but not the mounts)."""
    if os.geteuid() != 0:
        return "not root"
    reason_r, reason_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reason_r)
        try:
            unshare(CLONE_NEWPID)
            inner = os.fork()           # the new namespace's first process builds the environment
            if inner == 0:
                try:
                    become_environment({"tmp_mb": 1})
                    os._exit(0)
                except BaseException as exc:
                    os.write(reason_w, str(exc).encode()[:500])
                    os._exit(1)
            _, status = os.waitpid(inner, 0)
            os._exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else 1)
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
    """Forks each worker as pid 2 of a PID namespace of its own, from the zygote, which itself stays
    where it is. Pid 1 is the environment's init, forked ahead of time (`prepare`, while the zygote
    is idle) so that a cold start pays for one fork, as without isolation."""

    def __init__(self, zygote_pid: int, close_in_init):
        self._zygote_pid = zygote_pid
        self._close_in_init = close_in_init   # what an init must not keep: the zygote's sockets
        self._own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        self._spare = None                    # (init pid, its namespace's fd)

    def prepare(self, inherited: tuple = ()) -> None:
        """Have an init ready for the next environment. `inherited`: descriptors of the request at
        hand, which the init must not keep (when it is forked for a cold start that found no spare)."""
        if self._spare is not None:
            return
        unshare(CLONE_NEWPID)               # only children move: the next fork is the namespace's init
        try:
            init = os.fork()
            if init == 0:
                _run_init(self._zygote_pid, lambda: (*self._close_in_init(), self._own_pid_ns, *inherited))
        finally:
            self._restore()
        try:
            self._spare = (init, os.open(f"/proc/{init}/ns/pid", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            kill(init)
            raise

    def fork(self, inherited: tuple = ()) -> tuple:
        """(worker pid, its init's pid) in the zygote; (0, 0) in the worker. OSError if no environment
        can be made; the zygote is then as before."""
        self.prepare(inherited)
        init, ns_fd = self._spare
        self._spare = None
        try:
            setns(ns_fd, CLONE_NEWPID)
            pid = os.fork()
        except BaseException:
            self._restore()
            kill(init)
            os.close(ns_fd)
            raise
        os.close(ns_fd)
        if pid == 0:
            return 0, 0
        self._restore()
        return pid, init

    def _restore(self) -> None:
        setns(self._own_pid_ns, CLONE_NEWPID)   # the zygote's own next fork starts afresh

    def spare_init(self) -> int:
        return self._spare[0] if self._spare is not None else 0

    def forget_spare(self, pid: int) -> None:
        """The spare init ended (killed from outside): the next environment needs a new one."""
        if self._spare is not None and self._spare[0] == pid:
            os.close(self._spare[1])
            self._spare = None

    def close(self) -> None:
        """In the zygote at exit, or in a worker: forget the spare (the zygote kills it)."""
        if self._spare is not None:
            os.close(self._spare[1])
            self._spare = None
        os.close(self._own_pid_ns)


def kill(pid: int) -> None:
    """SIGKILL a process that may already be gone."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _host_parent() -> int:
    """The parent's pid as the host sees it (getppid() answers 0 across a namespace), read from the
    host's /proc, which an init, in the host's mount namespace, still has."""
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def _run_init(zygote_pid: int, close_in_init) -> None:
    """A namespace's pid 1: reaps whatever is orphaned into it and otherwise sleeps. Signals from
    inside the namespace do not reach it; the zygote kills it when the worker has ended, and the
    kernel then kills everything left in the namespace. Never returns."""
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})   # kept pending for sigwaitinfo
        for what in close_in_init():
            what.close() if hasattr(what, "close") else os.close(what)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.set_wakeup_fd(-1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if _host_parent() != zygote_pid:  # the zygote died before the line above
            os._exit(1)
        not_dumpable()                  # no worker may trace it
        while True:
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            signal.sigwaitinfo({signal.SIGCHLD})
    finally:
        os._exit(1)


def _join_cgroups(sandbox: dict) -> None:
    for join in sandbox.get("cgroups", ()):
        with open(join, "w") as f:      # "0": this thread, before it starts any other
            f.write("0")


def become_environment(sandbox: dict) -> None:
    """In a worker forked by NamespaceForker, before anything of the function runs: its cgroup,
    its mount namespace and view of the filesystem, no capability, a session of its own."""
    _join_cgroups(sandbox)
    unshare(CLONE_NEWNS | CLONE_NEWIPC)   # and SysV IPC of its own, not the host's segments
    mount(None, "/", None, MS_REC | MS_PRIVATE)   # nothing done here propagates to the host
    _build_filesystem(sandbox)
    drop_capabilities()
    restrict_syscalls()


def _build_filesystem(sandbox: dict) -> None:
    """The worker's view: the host's tree read-only, without device nodes or setuid programs, then
    on top of it what may differ."""
    _read_only_tree("/")
    # what the worker runs from (its code, the interpreter's environment, lambdagate) may be under
    # /tmp; the host's name service may read /etc/resolv.conf from /run
    keep = sandbox.get("keep", ())
    _cover("/tmp", f"size={int(sandbox['tmp_mb'])}m,mode=1777", keep, writable=True)
    _cover("/run", "size=64k,mode=0755", (os.path.realpath("/etc/resolv.conf"),), writable=False)
    # this namespace's processes only, and read-only whole: the kernel knobs, PCI config space and
    # IRQ routing that uid 0 may write by file mode alone with it (one mount, where masking each of
    # them cost two and a millisecond of every cold start)
    mount("proc", "/proc", "proc", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _build_dev()   # before the masks below: they are binds of its /dev/null (the host's is nodev now)
    for path in _PROC_MASKED:
        if os.path.exists(path):
            mount("/dev/null", path, None, MS_BIND)
    for path in sandbox.get("hidden", ()):
        if os.path.isdir(path):
            mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
        elif os.path.exists(path):
            mount("/dev/null", path, None, MS_BIND)


def _cover(directory: str, options: str, keep, writable: bool) -> None:
    """An empty tmpfs over `directory` (a private /tmp; a /run without the host's sockets, which
    uid 0 could connect to), with the `keep` paths under it bound back, read-only: each held open
    while the tmpfs covers it."""
    if not os.path.isdir(directory) or os.path.islink(directory):
        return
    held = []
    for path in keep:
        # (the directory itself, e.g. /tmp on the path of a script run from there, is not kept)
        if path != directory and within(path, directory) and os.path.exists(path) and \
                not any(within(path, p) for p, _ in held):
            held.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC)))
    mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV | (0 if writable or held else MS_RDONLY), options)
    for path, fd in held:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    if held and not writable:
        mount(None, directory, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, options)


def within(path: str, directory: str) -> bool:
    """Whether `path` is `directory` or lies below it (both absolute and normalised)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _build_dev() -> None:
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755")
    umask = os.umask(0)                 # the nodes are 0666, whatever the zygote's umask
    for name, (major, minor) in _DEVICES.items():
        os.mknod(f"/dev/{name}", stat.S_IFCHR | 0o666, os.makedev(major, minor))
    os.umask(umask)
    for name, to in _DEVICE_LINKS.items():
        os.symlink(to, f"/dev/{name}")
    mount(None, "/dev", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC)


# --------------------------------------------------------------------------- the process level

def become_process_worker(sandbox: dict) -> None:
    """A worker without namespaces: not readable by its siblings, no capability, its cgroup's quotas
    where lambdagate (as root) made one. (Its own TMPDIR the gateway made and put in its environment.)"""
    _join_cgroups(sandbox)
    not_dumpable()
    if os.geteuid() == 0:
        drop_capabilities()
    else:
        prctl(PR_SET_NO_NEW_PRIVS, 1)
    restrict_syscalls()


def adopt_orphans() -> None:
    """The zygote, at the process level: what a worker leaves behind when it ends (a setsid child
    too) becomes the zygote's child instead of init's, so that it can be found and killed."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def children_of(pid: int) -> list:
    """The processes whose parent is `pid`, from the kernel's per-thread children lists: no walk
    over every process of the host."""
    children = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return children
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                children.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return children


def process_tree(pid: int) -> list:
    """`pid` and every process descended from it (threads' children included)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children_of(current))
    return tree


def kill_adopted(own_children) -> None:
    """Kill the zygote's children that it did not fork itself: orphans of ended workers."""
    for pid in children_of(os.getpid()):
        if pid not in own_children:
            kill(pid)


def kill_descendants(rounds: int = 20) -> None:
    """Kill every process below this one, however deep, until none is left (each round's victims'
    orphans are adopted by this subreaper and found by the next)."""
    me = os.getpid()
    for _ in range(rounds):
        found = process_tree(me)[1:]
        if not found:
            return
        for pid in found:
            kill(pid)
        while True:   # reap what was killed, so that the next round does not count zombies
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
