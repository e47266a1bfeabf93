"""Functions cannot see, steal from or starve each other (issue: tenancy). Each test is the attack,
run by a real worker against real siblings, the real zygote and this process as the gateway: at
the namespaces level it must fail, and the victim must keep being served. The same attack at
`isolation="none"` shows that it is real."""
from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import pathlib
import shutil
import signal
import socket
import stat
import tempfile
import textwrap
import time
import uuid

import pytest

from gateway.types import FunctionSpec
from support.processes import host_parents, pid_namespace
from support.isolation import (ATTACKER, SECRET, VICTIM, async_wait_until_gone, call_ok, host_pids_with, kill_marked,
                               machine_level, needs_namespaces)

pytestmark = pytest.mark.integration   # real zygote, real workers



def _functions(make_function, **attacker_fields):
    victim = make_function(VICTIM, name="Victim", environment={"SECRET": SECRET})
    attacker = make_function(ATTACKER, name="Attacker", **attacker_fields)
    return victim, attacker




@needs_namespaces
def test_a_function_cannot_read_a_siblings_or_the_gateways_memory_or_environment(make_function, open_scheduler, run):
    async def body():
        async with open_scheduler(list(_functions(make_function))) as sched:
            assert (await call_ok(sched, "Victim", {}))["secret"] == SECRET   # warm, with the secret in its environ
            targets = [*sched.worker_pids("Victim"), sched.zygote_pid, os.getpid()]
            found = await call_ok(sched, "Attacker", {"action": "snoop", "secret": SECRET, "targets": targets})
            # (its own environment's init lists its fds by file mode, but reads and opens nothing)
            assert [leak for leak in found["leaks"] if leak != "1/fd"] == []
            # its /proc holds its own environment only: the init and the worker
            assert len(found["visible"]) <= 3, found["visible"]
            assert (await call_ok(sched, "Victim", {}))["secret"] == SECRET
    run(body())


def test_without_isolation_the_same_snooping_reads_the_secret(make_function, open_scheduler, run):
    async def body():
        async with open_scheduler(list(_functions(make_function)), isolation="none") as sched:
            await call_ok(sched, "Victim", {})
            targets = sched.worker_pids("Victim")
            found = await call_ok(sched, "Attacker", {"action": "snoop", "secret": SECRET, "targets": targets})
            assert f"{targets[0]}/secret-in-memory" in found["leaks"]
    run(body())


@needs_namespaces
def test_a_function_cannot_signal_the_zygote_the_gateway_or_a_sibling(make_function, open_scheduler, run, kit):
    async def body():
        async with open_scheduler(list(_functions(make_function))) as sched:
            await call_ok(sched, "Victim", {})
            victims, zygote = sched.worker_pids("Victim"), sched.zygote_pid
            targets = [*victims, zygote, os.getpid()]
            results = await call_ok(sched, "Attacker", {"action": "kill", "targets": targets, "everyone": True})
            for target in targets:
                assert results[str(target)] in ("ESRCH", "EPERM"), results
            assert results["parent"] == 0          # its parent (the zygote) has no pid in its namespace
            assert kit.pid_running(zygote) and all(kit.pid_running(pid) for pid in victims)
            assert sched.zygote_pid == zygote
            assert (await call_ok(sched, "Victim", {}))["secret"] == SECRET
            assert sched.worker_pids("Victim") == victims      # the same warm worker answered
    run(body())


def test_without_isolation_killing_the_zygote_works(make_function, open_scheduler, run, kit):
    async def body():
        async with open_scheduler(list(_functions(make_function)), isolation="none") as sched:
            await call_ok(sched, "Victim", {})
            zygote = sched.zygote_pid
            results = await call_ok(sched, "Attacker", {"action": "kill", "targets": [zygote]})
            assert results[str(zygote)] == "killed"
            assert await kit.async_still_there([zygote], check=kit.pid_running) == []
    run(body())


@needs_namespaces
def test_tmp_is_private_sized_by_ephemeral_storage_and_gone_with_the_environment(make_function, open_scheduler,
                                                                                  run, tmp_path):
    async def body():
        # a whole vCPU, so that writing 512 MB takes well under the timeout
        attacker = make_function(ATTACKER, name="Filler", ephemeral_storage_mb=512, memory_mb=1769, timeout_s=30)
        other = make_function(ATTACKER, name="Other")
        async with open_scheduler([attacker, other]) as sched:
            filled = await call_ok(sched, "Filler", {"action": "fill_tmp", "limit": 1 << 40, "name": "Filler"})
            assert filled["error"] == "ENOSPC"   # as on AWS: the 513th MB does not fit
            assert 500 * (1 << 20) <= filled["written"] <= 512 * (1 << 20)
            assert "left-by-Filler" in filled["tmp"] and filled["tempdir"] == "/tmp"
            assert not os.path.exists("/tmp/left-by-Filler")           # not the host's /tmp
            seen = await call_ok(sched, "Other", {"action": "fill_tmp", "limit": 1 << 20, "name": "Other"})
            assert "left-by-Other" in seen["tmp"] and "left-by-Filler" not in seen["tmp"]   # nor the sibling's
            sched.retire("Filler")                                      # the environment ends...
            again = await call_ok(sched, "Filler", {"action": "fill_tmp", "limit": 1 << 20, "name": "Again"})
            assert "left-by-Filler" not in again["tmp"] and again["written"] == 1 << 20   # ...and its /tmp with it
    run(body())


@pytest.fixture
def outside_tmp():
    """A directory outside /tmp, which an environment sees as the host has it (under /tmp it would
    be missing from the private /tmp anyway, and hiding would go untested)."""
    path = tempfile.mkdtemp(prefix="lambdagate-test-", dir="/var/tmp")
    yield pathlib.Path(path)
    shutil.rmtree(path, ignore_errors=True)


def _spec_in(directory: pathlib.Path, name: str, code: str, **fields) -> FunctionSpec:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(textwrap.dedent(code))
    return FunctionSpec(name, name, "app.handler", "python3.11", str(directory), **fields)


@needs_namespaces
def test_the_filesystem_is_read_only_and_hides_other_functions_and_lambdagates_state(open_scheduler, run,
                                                                                  outside_tmp):
    """The default layout: `CodeUri: .` with lambdagate's state (.lambdagate) inside the code."""
    victim = _spec_in(outside_tmp / "victim", "Victim", VICTIM, environment={"SECRET": SECRET})
    attacker = _spec_in(outside_tmp / "project", "Attacker", ATTACKER)
    state = outside_tmp / "project" / ".lambdagate"
    state.mkdir()
    (state / "events.sqlite3").write_text("every function's events")

    async def body():
        async with open_scheduler([victim, attacker], state_dir=str(state)) as sched:
            return await call_ok(sched, "Attacker", {
                "action": "look", "paths": [victim.code_dir, str(state), attacker.code_dir],
                "write": [os.path.join(attacker.code_dir, "planted.py"), os.path.join(victim.code_dir, "app.py"),
                          "/usr/planted", "/tmp/allowed"]})
    looked = run(body())
    assert looked["seen"][victim.code_dir] == []           # another function's code: an empty mount
    assert looked["seen"][str(state)] == []                # every function's logs and events: the same
    assert "app.py" in looked["seen"][attacker.code_dir]   # its own code is there
    writes = looked["writes"]
    assert writes[os.path.join(attacker.code_dir, "planted.py")] == "EROFS"
    assert writes[os.path.join(victim.code_dir, "app.py")] == "EROFS"
    assert writes["/usr/planted"] == "EROFS"
    assert writes["/tmp/allowed"] == "written"
    # no disk to open: only the harmless devices
    assert set(looked["dev"]) <= {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr"}
    assert not (outside_tmp / "project" / "planted.py").exists()
    assert (outside_tmp / "victim" / "app.py").read_text() == textwrap.dedent(VICTIM)


@pytest.fixture
def host_things(outside_tmp):
    """What a host offers uid 0 beyond files: a root daemon's socket in /run, a device node outside
    /dev, a SysV shared-memory segment."""
    libc = ctypes.CDLL(None, use_errno=True)
    token = uuid.uuid4().hex[:12]
    server = socket.socket(socket.AF_UNIX)
    server.bind(f"/run/lambdagate-test-{token}.sock")
    server.listen()
    device = outside_tmp / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    key = int(token[:7], 16)
    segment = libc.shmget(key, 4096, 0o1000 | 0o600)   # IPC_CREAT
    try:
        yield {"socket": server.getsockname(), "device": str(device), "shm_key": key}
    finally:
        server.close()
        os.unlink(f"/run/lambdagate-test-{token}.sock")
        if segment >= 0:
            libc.shmctl(segment, 0, None)                   # IPC_RMID


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_a_function_cannot_reach_host_sockets_devices_ipc_keyrings_or_a_user_namespace(make_function,
                                                                                       open_scheduler, run,
                                                                                       host_things, isolation):
    if isolation == "auto" and machine_level() != "namespaces":
        pytest.skip("needs root with mount and PID namespaces (CI runs as root and runs these)")

    async def body():
        async with open_scheduler([make_function(ATTACKER, name="Reacher")], isolation=isolation) as sched:
            return await call_ok(sched, "Reacher", {"action": "reach", **host_things})
    got = run(body())
    if isolation == "none":     # the attack is real: as plain root every door is open
        assert got["socket"] == "connected" and got["device"] == "opened"
        assert got["shm"] == "found" and got["user_namespace"] == "made" and got["keyring"] == "read"
        assert got["proc_irq"] == "writable"
        return
    assert got["socket"] == "ENOENT"             # /run is an empty mount: no daemon to talk to
    assert got["device"] == "EACCES"             # nodev everywhere but the environment's own /dev
    assert got["shm"] == "ENOENT"                # SysV IPC of its own
    assert got["user_namespace"] == "EPERM"      # no capabilities to win back in a user namespace
    assert got["keyring"] == "EPERM"             # the host's keyrings are out of reach
    assert got["proc_irq"] == "EROFS"            # nor the host's IRQ routing, PCI space, sysctls
    assert got["proc_keys"] == ""


@needs_namespaces
def test_a_setsid_child_dies_with_its_environment(make_function, open_scheduler, run):
    marker = f"lambdagate-setsid-{os.getpid()}-env"

    async def body():
        async with open_scheduler([make_function(ATTACKER, name="Spawner")]) as sched:
            await call_ok(sched, "Spawner", {"action": "spawn", "marker": marker})
            assert host_pids_with(marker), "the child never started"
            sched.retire("Spawner")
            assert await async_wait_until_gone(marker) == []
    try:
        run(body())
    finally:
        kill_marked(marker)


@needs_namespaces
def test_an_environment_has_1024_processes_and_threads(make_function, open_scheduler, run):
    async def body():
        async with open_scheduler([make_function(ATTACKER, name="Forker", memory_mb=1769, timeout_s=30)]) as sched:
            started = (await call_ok(sched, "Forker", {"action": "threads"}))["threads"]
            # the init, the worker's main thread and its watchdog take a few of the 1024
            assert 1000 <= started < 1024
            assert (await call_ok(sched, "Forker", {"action": "threads"}))["threads"] == started   # all released
    run(body())


@needs_namespaces
def test_cpu_is_shared_in_proportion_to_memory(make_function, open_scheduler, run):
    """A 128 MB function spinning gets about 128/1769 of a CPU, as on AWS, so it cannot take a core
    from the others; a 1769 MB one gets a whole one."""
    async def body():
        small = make_function(ATTACKER, name="Small", memory_mb=128)
        big = make_function(ATTACKER, name="Big", memory_mb=1769)
        async with open_scheduler([small, big]) as sched:
            small_cpu = (await call_ok(sched, "Small", {"action": "spin", "seconds": 1.0}))["cpu_s"]
            big_cpu = (await call_ok(sched, "Big", {"action": "spin", "seconds": 1.0}))["cpu_s"]
            assert 0.02 <= small_cpu <= 0.2, small_cpu       # 0.072 s of CPU per second of wall time
            assert big_cpu >= 0.5, big_cpu
    run(body())


@needs_namespaces
def test_a_spinning_function_does_not_starve_a_healthy_one(make_function, open_scheduler, run):
    """Three 128 MB functions spin for 2 s, more than this machine's cores; a healthy function keeps
    being served meanwhile at no less than half the rate it had alone (without the CPU quota each
    spinner takes a whole core)."""
    async def healthy_calls(sched, seconds: float) -> int:
        count, stop = 0, time.monotonic() + seconds
        while time.monotonic() < stop:
            await call_ok(sched, "Healthy", {"secret": "x"})
            count += 1
        return count

    async def body():
        spinners = [make_function(ATTACKER, name=f"Spinner{i}", memory_mb=128, timeout_s=10) for i in range(3)]
        healthy = make_function(VICTIM, name="Healthy", memory_mb=1769, environment={"SECRET": "x"})
        async with open_scheduler([*spinners, healthy]) as sched:
            await call_ok(sched, "Healthy", {})
            for spinner in spinners:                 # Init done: the next call is the spin alone
                await call_ok(sched, spinner.function_name, {"action": "spin", "seconds": 0})
            alone = await healthy_calls(sched, 1.0)
            spins = [asyncio.ensure_future(call_ok(sched, s.function_name, {"action": "spin", "seconds": 2.0}))
                     for s in spinners]
            await asyncio.sleep(0.2)                 # the spinners are spinning
            beside = await healthy_calls(sched, 1.0)
            used = [r["cpu_s"] for r in await asyncio.gather(*spins)]
            assert all(cpu <= 0.35 for cpu in used), used    # about 0.145 s each in 2 s
            assert beside >= alone * 0.5, (alone, beside)
    run(body())


@needs_namespaces
def test_the_isolation_in_force_is_said_once_at_startup(make_function, open_scheduler, run, caplog):
    async def body():
        async with open_scheduler([make_function(VICTIM, name="Victim", environment={"SECRET": "x"})]) as sched:
            await call_ok(sched, "Victim", {})
            return sched.isolation.level
    with caplog.at_level(logging.INFO, logger="lambdagate"):
        level = run(body())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("isolation: ")]
    assert level == machine_level() == "namespaces"
    assert len(lines) == 1 and lines[0].startswith("isolation: pidns+mountns"), lines


@needs_namespaces
def test_a_gateway_run_from_a_script_in_tmp_still_starts_workers(make_function, open_scheduler, run, monkeypatch):
    """sys.path[0] is /tmp for `python /tmp/script.py`: /tmp itself is not bound over the private one."""
    monkeypatch.setattr("sys.path", ["/tmp", *__import__("sys").path])

    async def body():
        async with open_scheduler([make_function(ATTACKER, name="Looker")]) as sched:
            looked = await call_ok(sched, "Looker", {"action": "look", "paths": ["/tmp"], "write": ["/tmp/mine"]})
            assert looked["writes"]["/tmp/mine"] == "written"
            assert not os.path.exists("/tmp/mine")
    run(body())


@needs_namespaces
def test_the_spare_init_killed_from_outside_costs_nothing(make_function, open_scheduler, run, kit):
    """The next environment's init waits in the zygote; if something kills it, the next cold start
    makes another instead of failing, and the zygote and its warm workers carry on."""
    async def body():
        async with open_scheduler([make_function(VICTIM, name="Warm", environment={"SECRET": "w"}),
                                   make_function(VICTIM, name="Cold", environment={"SECRET": "c"})]) as sched:
            await call_ok(sched, "Warm", {})
            zygote, warm = sched.zygote_pid, sched.worker_pids("Warm")
            await kit.wait_for(lambda: len(_zygote_children(zygote)) == 3, timeout_s=3.0)   # + the spare
            spare = [pid for pid in _zygote_children(zygote) if pid not in warm and
                     pid_namespace(pid) != pid_namespace(warm[0])]
            assert len(spare) == 1, (spare, warm)
            os.kill(spare[0], signal.SIGKILL)
            await asyncio.sleep(0.1)
            assert (await call_ok(sched, "Cold", {}))["secret"] == "c"
            assert sched.zygote_pid == zygote and sched.worker_pids("Warm") == warm
            assert (await call_ok(sched, "Warm", {}))["secret"] == "w"
    run(body())


def _zygote_children(zygote: int) -> list:
    return [pid for pid, parent in host_parents().items() if parent == zygote]
