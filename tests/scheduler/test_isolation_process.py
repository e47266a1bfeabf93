"""The process level: what lambdagate does where namespaces are not available (not root). Forced
here with isolation="process", so that it is tested on every machine."""
from __future__ import annotations

import os

import pytest

from support.isolation import ATTACKER, SECRET, VICTIM, async_wait_until_gone, call_ok, host_pids_with, kill_marked

pytestmark = pytest.mark.integration   # real zygote, real workers





def test_a_function_cannot_read_a_siblings_memory_or_the_zygotes(make_function, open_scheduler, run):
    async def body():
        victim = make_function(VICTIM, name="Victim", environment={"SECRET": SECRET})
        attacker = make_function(ATTACKER, name="Attacker")
        async with open_scheduler([victim, attacker], isolation="process") as sched:
            assert sched.isolation.level == "process"
            await call_ok(sched, "Victim", {})
            targets = [*sched.worker_pids("Victim"), sched.zygote_pid]
            found = await call_ok(sched, "Attacker", {"action": "snoop", "secret": SECRET, "targets": targets})
            stolen = [leak for leak in found["leaks"] if int(leak.split("/")[0]) in targets]
            if os.geteuid() == 0:   # uid 0 lists any root-owned directory, fd numbers included; it opens none
                stolen = [leak for leak in stolen if not leak.endswith("/fd")]
            assert stolen == []
            assert (await call_ok(sched, "Victim", {}))["secret"] == SECRET
    run(body())


def test_each_environment_has_its_own_tmpdir_removed_when_it_ends(make_function, open_scheduler, run, kit):
    async def body():
        one = make_function(ATTACKER, name="One")
        two = make_function(ATTACKER, name="Two")
        async with open_scheduler([one, two], isolation="process") as sched:
            first = await call_ok(sched, "One", {"action": "fill_tmp", "limit": 1 << 20, "name": "One"})
            second = await call_ok(sched, "Two", {"action": "fill_tmp", "limit": 1 << 20, "name": "Two"})
            assert first["tempdir"] != second["tempdir"] and "/tmp" not in (first["tempdir"], second["tempdir"])
            assert os.path.isdir(first["tempdir"]) and (os.stat(first["tempdir"]).st_mode & 0o777) == 0o700
            sched.retire("One")
            assert await kit.wait_for(lambda: not os.path.exists(first["tempdir"]), 5.0)
        assert not os.path.exists(second["tempdir"])
    run(body())


@pytest.mark.parametrize("how", ["environment ends", "lambdagate stops"])
def test_a_setsid_child_is_killed_with_its_environment(make_function, open_scheduler, run, how):
    marker = f"lambdagate-setsid-{os.getpid()}-process-{how.replace(' ', '-')}"

    async def body():
        async with open_scheduler([make_function(ATTACKER, name="Spawner")], isolation="process") as sched:
            await call_ok(sched, "Spawner", {"action": "spawn", "marker": marker})
            assert host_pids_with(marker), "the child never started"
            if how == "environment ends":
                sched.retire("Spawner")
                assert await async_wait_until_gone(marker) == []
        assert await async_wait_until_gone(marker) == []
    try:
        run(body())
    finally:
        kill_marked(marker)


@pytest.mark.skipif(os.geteuid() != 0, reason="cgroups are lambdagate's to make only as root")
def test_as_root_a_process_level_worker_joins_its_cgroup(make_function, open_scheduler, run):
    async def body():
        async with open_scheduler([make_function(VICTIM, name="Victim", environment={"SECRET": "x"})],
                                  isolation="process") as sched:
            await call_ok(sched, "Victim", {})
            if sched.isolation.cgroups is None:
                pytest.skip(f"no cgroup here: {sched.isolation.cgroup_note}")
            [pid] = sched.worker_pids("Victim")
            with open(f"/proc/{pid}/cgroup") as f:
                return f.read()
    memberships = run(body())
    assert "/lambdagate-" in memberships and "/env-" in memberships, memberships
