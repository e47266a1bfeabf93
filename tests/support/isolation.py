"""What the isolation tests share: which level this machine gives, host-side process lookups, and
the handlers that play the attacker."""
from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from support.processes import pid_running
from support.servers import REPO



@functools.lru_cache(maxsize=None)
def machine_level() -> str:
    """What "auto" gives here, found the way the zygote finds it (in a separate interpreter)."""
    out = subprocess.run([sys.executable, "-c", "from gateway.runtime import sandbox; print(sandbox.resolve('auto')[0])"],
                         capture_output=True, text=True, cwd=REPO, timeout=60)
    return out.stdout.strip() or "process"


def needs_namespaces(test):
    return pytest.mark.skipif(machine_level() != "namespaces", reason="needs root with mount and PID namespaces (CI runs as root and runs these)")(test)


def host_pids_with(marker: str) -> list:
    """Pids on the host whose command line carries `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_until_gone(marker: str, timeout_s: float = 5.0) -> list:
    """The marked processes still alive (not zombies) after up to timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [pid for pid in host_pids_with(marker) if pid_running(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


async def async_wait_until_gone(marker: str, timeout_s: float = 5.0) -> list:
    """wait_until_gone for a test whose event loop runs the gateway: polls without blocking it."""
    deadline = time.monotonic() + timeout_s
    while True:
        alive = [pid for pid in host_pids_with(marker) if pid_running(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        await asyncio.sleep(0.02)


def kill_marked(marker: str) -> None:
    for pid in host_pids_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


SECRET = "s3cr3t-of-the-victim"


async def call_ok(sched, name: str, event: dict) -> dict:
    """Invoke `name` with `event` and return its (successful) result."""
    result = await sched.invoke(name, json.dumps(event).encode())
    assert result.function_error is None, result.payload
    return json.loads(result.payload)


VICTIM = """
import os
def handler(event, context):
    return {"secret": os.environ["SECRET"]}
"""

# Tries every way in to other processes it can name: the pids in its own /proc, and the host pids
# the test hands it (a sibling's workers, the zygote, the gateway).
ATTACKER = """
import errno, os, signal, subprocess, sys, tempfile

def _try_read(path, limit=1 << 16):
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError as exc:
        return None

def _secret_in_memory(pid, mem, secret):
    maps = _try_read(f"/proc/{pid}/maps", 1 << 22) or b""
    for line in maps.decode().splitlines():
        span, perms = line.split()[:2]
        if not perms.startswith("rw"):
            continue
        start, end = (int(x, 16) for x in span.split("-"))
        try:
            if secret in os.pread(mem, min(end - start, 64 << 20), start):
                return True
        except OSError:
            continue
    return False

def snoop(event):
    secret = event["secret"].encode()
    pids = sorted({p for p in os.listdir("/proc") if p.isdigit()} | {str(t) for t in event["targets"]})
    leaks = []
    for pid in pids:
        if pid == str(os.getpid()):
            continue
        environ = _try_read(f"/proc/{pid}/environ")
        if environ and secret in environ:
            leaks.append(f"{pid}/environ")
        try:
            mem = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
        except OSError:
            mem = None
        if mem is not None:
            leaks.append(f"{pid}/mem")
            if _secret_in_memory(pid, mem, secret):
                leaks.append(f"{pid}/secret-in-memory")
            os.close(mem)
        if _try_read(f"/proc/{pid}/maps"):
            leaks.append(f"{pid}/maps")
        try:
            if os.listdir(f"/proc/{pid}/fd"):
                leaks.append(f"{pid}/fd")
        except OSError:
            pass
    return {"leaks": leaks, "visible": [p for p in os.listdir("/proc") if p.isdigit()]}

def kill(event):
    results = {}
    for target in event["targets"]:
        try:
            os.kill(target, signal.SIGKILL)
            results[str(target)] = "killed"
        except OSError as exc:
            results[str(target)] = errno.errorcode[exc.errno]
    if event.get("everyone"):
        # getppid() is 0 where the parent is outside the namespace (kill(0) would be suicide)
        parent = os.getppid()
        results["parent"] = parent
        for target in ([-1, 1] + ([parent] if parent > 0 else [])):
            try:
                os.kill(target, signal.SIGKILL)
            except OSError as exc:
                pass
    return results

def fill_tmp(event):
    written, error = 0, None
    chunk = b"x" * (1 << 20)
    with open("/tmp/fill", "wb") as f:
        try:
            while written < event["limit"]:
                f.write(chunk)
                f.flush()
                written += len(chunk)
        except OSError as exc:
            error = errno.errorcode[exc.errno]
    os.unlink("/tmp/fill")
    with open(f"/tmp/left-by-{event['name']}", "w") as f:
        f.write("x")
    return {"written": written, "error": error, "tmp": sorted(os.listdir("/tmp")),
            "tempdir": tempfile.gettempdir()}

def look(event):
    seen = {}
    for path in event["paths"]:
        try:
            seen[path] = sorted(os.listdir(path))
        except OSError as exc:
            seen[path] = errno.errorcode[exc.errno]
    writes = {}
    for path in event["write"]:
        try:
            with open(path, "w") as f:
                f.write("x")
            writes[path] = "written"
        except OSError as exc:
            writes[path] = errno.errorcode[exc.errno]
    return {"seen": seen, "writes": writes, "dev": sorted(os.listdir("/dev"))}

def spawn(event):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", event["marker"]],
                             start_new_session=True)
    return {"spawned": child.pid}

def threads(event):
    import threading
    gate = threading.Event()
    started = []
    try:
        for _ in range(2000):
            t = threading.Thread(target=gate.wait)
            t.start()
            started.append(t)
    except RuntimeError:
        pass
    gate.set()
    for t in started:
        t.join()
    return {"threads": len(started)}

def spin(event):
    import time
    start_cpu, end = time.process_time(), time.monotonic() + event["seconds"]
    while time.monotonic() < end:
        pass
    return {"cpu_s": time.process_time() - start_cpu}

def _outcome(call, success):
    try:
        call()
        return success
    except OSError as exc:
        return errno.errorcode[exc.errno]

def reach(event):
    import ctypes, socket
    libc = ctypes.CDLL(None, use_errno=True)
    def connect():
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(event["socket"])
    def open_device():
        os.close(os.open(event["device"], os.O_RDWR))
    def shm():
        if libc.shmget(event["shm_key"], 0, 0) < 0:
            raise OSError(ctypes.get_errno(), "shmget")
    def keyring():   # keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, create)
        number = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
        if libc.syscall(number, 0, -4, 1) < 0:
            raise OSError(ctypes.get_errno(), "keyctl")
    def user_namespace():   # in a child: unshare needs a single-threaded process
        child = os.fork()
        if child == 0:
            os._exit(0 if libc.unshare(0x10000000) == 0 else ctypes.get_errno())
        code = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
        if code:
            raise OSError(code, "unshare")
    def proc_irq():
        os.close(os.open("/proc/irq/default_smp_affinity", os.O_WRONLY))
    with open("/proc/keys") as f:
        keys = f.read()
    return {"socket": _outcome(connect, "connected"), "device": _outcome(open_device, "opened"),
            "shm": _outcome(shm, "found"), "keyring": _outcome(keyring, "read"),
            "user_namespace": _outcome(user_namespace, "made"), "proc_irq": _outcome(proc_irq, "writable"),
            "proc_keys": keys}

def handler(event, context):
    return globals()[event["action"]](event)
"""
