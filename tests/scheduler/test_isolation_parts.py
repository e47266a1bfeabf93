"""The gateway's side of isolation, part by part: CPU quotas, what each environment may not see and
must still see, and the cgroups themselves (real ones, where this machine has them)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from gateway import wire
from gateway.config import Config
from gateway.scheduler import cgroups
from gateway.scheduler.isolation import Isolation, _needed_paths
from gateway.types import FunctionSpec


def test_cpu_follows_memory_as_on_aws():
    assert cgroups.cpu_quota_us(1769) == cgroups.CPU_PERIOD_US            # one vCPU
    assert cgroups.cpu_quota_us(3538) == 2 * cgroups.CPU_PERIOD_US
    assert cgroups.cpu_quota_us(128) == 7235                              # 7.2 % of one
    assert cgroups.cpu_quota_us(10240) == 578_858                         # 5.79 vCPUs, the most
    assert cgroups.cpu_quota_us(1) == 1000                                # the kernel's floor


def _spec(code_dir: str, name: str) -> FunctionSpec:
    return FunctionSpec(name, name, "app.handler", "python3.11", code_dir)


def test_a_function_may_not_see_the_state_the_credentials_or_other_code_but_keeps_its_own(tmp_path):
    root = tmp_path / "project"
    dirs = {name: root / name for name in ("a", "b", "a/nested")}
    for path in dirs.values():
        path.mkdir(parents=True)
    specs = [_spec(str(dirs["a"]), "A"), _spec(str(dirs["b"]), "B"), _spec(str(dirs["a/nested"]), "Nested"),
             _spec(str(root), "Whole")]
    config = Config(state_dir=str(tmp_path / "state"), credentials_file=str(tmp_path / "creds"))
    isolation = Isolation(config, specs)
    hidden_from_b = isolation._hidden_from(str(dirs["b"]))
    assert str(dirs["a"]) in hidden_from_b and str(dirs["a/nested"]) in hidden_from_b
    assert str(tmp_path / "state") in hidden_from_b and str(tmp_path / "creds") in hidden_from_b
    assert os.path.join(os.path.expanduser("~"), ".aws") in hidden_from_b
    assert str(dirs["b"]) not in hidden_from_b
    # hiding the project would hide B's own code with it; hiding a/nested would hide part of A's
    assert str(root) not in hidden_from_b
    assert str(dirs["a/nested"]) not in isolation._hidden_from(str(dirs["a"]))
    assert isolation._hidden_from(str(root)) == [p for p in isolation._secret]


def test_an_environment_keeps_its_code_import_path_programs_and_class_path():
    spec = {"code_dir": "/tmp/code", "sys_path": ["/tmp/venv/lib"], "env": {},
            "argv": ["/tmp/jdk/bin/java", "-cp", "/tmp/cache/classes:/tmp/code/lib/x.jar", "Main"]}
    kept = _needed_paths(spec, "/tmp/other-venv/bin/python")
    for path in ("/tmp/code", "/tmp/venv/lib", "/tmp/jdk/bin/java", "/tmp/cache/classes", "/tmp/code/lib/x.jar",
                 "/tmp/other-venv", sys.prefix):
        assert path in kept
    assert "-cp" not in kept and "Main" not in kept


def test_without_isolation_nothing_is_added_to_the_workers_spec(tmp_path):
    isolation = Isolation(Config(isolation="none", state_dir=str(tmp_path)), [])
    isolation.started(wire.ISOLATION_NONE, "")
    spec = {"env": {"TMPDIR": "/x"}, "code_dir": str(tmp_path)}
    assert isolation.prepare(_spec(str(tmp_path), "F"), spec) is None
    assert spec == {"env": {"TMPDIR": "/x"}, "code_dir": str(tmp_path)}
    assert isolation.describe().startswith("none")


def test_namespaces_asked_for_where_they_are_missing_is_refused(tmp_path):
    isolation = Isolation(Config(isolation="namespaces", state_dir=str(tmp_path)), [])
    with pytest.raises(Exception, match="--isolation namespaces is not available here: not root"):
        isolation.started(wire.ISOLATION_PROCESS, "not root")


def _cgroups_available() -> bool:
    if os.geteuid() != 0:
        return False
    tree, _ = cgroups.CgroupTree.open()
    if tree is None:
        return False
    tree.close()
    return True


needs_cgroups = pytest.mark.skipif(not _cgroups_available(),
                                   reason="needs root and writable pids and cpu cgroup controllers")


@needs_cgroups
@pytest.mark.integration
def test_a_cgroup_caps_processes_takes_its_process_and_is_removed(tmp_path):
    tree, _ = cgroups.CgroupTree.open()
    try:
        group = tree.create(memory_mb=128)
        for directory in group.dirs:
            assert os.path.isdir(directory)
        pids_dir = group.dirs[0]
        with open(os.path.join(pids_dir, "pids.max")) as f:
            assert f.read().strip() == "1024"
        joins = group.join_files(tree.version)
        script = "import sys\nfor path in sys.argv[1:]:\n    open(path, 'w').write('0')\nimport time; time.sleep(60)"
        child = subprocess.Popen([sys.executable, "-c", script, *joins])
        try:
            joined = False
            for _ in range(500):
                with open(os.path.join(pids_dir, "cgroup.procs")) as f:
                    joined = str(child.pid) in f.read().split()
                if joined:
                    break
                time.sleep(0.01)
            assert joined, "the child never joined"
            tree.limit_cpu(group)
            tree.remove(group)          # kills what is left in it
            assert child.wait(timeout=5) == -9
        finally:
            child.kill()
            child.wait()
        tree.remove(cgroups.Cgroup((), 128))   # retries the leftover, if the first rmdir was early
        for directory in group.dirs:
            assert not os.path.exists(directory)
    finally:
        tree.close()
    for base in tree.bases.values():
        assert not os.path.exists(base)


@needs_cgroups
@pytest.mark.integration
def test_two_gateways_in_one_process_have_cgroups_of_their_own():
    first, _ = cgroups.CgroupTree.open()
    second, _ = cgroups.CgroupTree.open()
    try:
        mine = first.create(memory_mb=128)
        theirs = second.create(memory_mb=128)
        assert set(mine.dirs).isdisjoint(theirs.dirs)
        first.close()
        assert all(os.path.isdir(d) for d in theirs.dirs)   # one closing leaves the other's alone
    finally:
        first.close()
        second.close()


@needs_cgroups
@pytest.mark.integration
def test_the_cgroups_of_a_gateway_that_was_killed_are_removed_by_the_next(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    tree, _ = cgroups.CgroupTree.open()
    stale = [os.path.join(os.path.dirname(base), f"lambdagate-{dead.pid}-1") for base in tree.bases.values()]
    tree.close()
    for base in stale:
        os.makedirs(os.path.join(base, "env-1"))
    tree, _ = cgroups.CgroupTree.open()
    tree.close()
    for base in stale:
        assert not os.path.exists(base)
