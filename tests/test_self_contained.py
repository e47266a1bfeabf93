"""The suite needs no file outside the repository: no absolute path of a development machine, no
shared folder beside the checkout, and the tests that read fixtures, examples and sample events pass
from a copy of the tree in a temporary directory with nothing beside it."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("gateway", "_core", "tests", "benches", "examples", "setup.py")
# built from parts so that this file does not name them itself
OUTSIDE = tuple("/" + part + "/" for part in ("work", "root", "home")) + (".." + "/shared",)


def _tracked_files() -> list:
    """The files a clone has: git's view where this is a checkout, else every file but build output."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        files = [ROOT / name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in ROOT.rglob("*") if p.is_file()]
    return [p for p in files if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".so", ".pyc")
            and "build" not in p.relative_to(ROOT).parts[:1] and ".git" not in p.relative_to(ROOT).parts]


def _python_files():
    for path in _tracked_files():
        rel = path.relative_to(ROOT)
        if rel.suffix == ".py" and (rel.parts[0] in SCANNED or str(rel) in SCANNED):
            yield path


def test_no_python_string_names_a_path_outside_the_repository():
    offenders = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if any(marker in node.value for marker in OUTSIDE):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:80]!r}")
    assert offenders == []


def test_the_scan_would_see_an_outside_path(tmp_path):
    """The check above can fail: a literal naming a development machine's path is found."""
    sample = tmp_path / "sample.py"
    sample.write_text(f"EVENTS = {OUTSIDE[0] + 'x/spec/events'!r}\n")
    hits = [n for n in ast.walk(ast.parse(sample.read_text()))
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and any(m in n.value for m in OUTSIDE)]
    assert len(hits) == 1


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_fixture_reading_tests_pass_from_a_copy_of_the_tree(tmp_path):
    copy = tmp_path / "lambdagate-copy"
    for path in _tracked_files():
        target = copy / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    assert not (copy.parent / "shared").exists()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDAGATE_", "PYTEST_"))}
    # the copy has no native build: its pure-Python twin runs; PYTHONPATH puts the copy's packages
    # ahead of the installed ones, and the check below proves they are the ones imported
    env.update(LAMBDAGATE_PUREPYTHON="1", PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    where = subprocess.run([sys.executable, "-c", "import gateway, _core; print(gateway.__file__); print(_core.__file__)"],
                           cwd=copy, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(copy)) for line in where.stdout.split()), where.stdout
    # the tests that read fixtures, example apps, sample events and the benchmarks' templates
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                          "tests/apigw", "tests/sam", "tests/test_layers.py", "benches/test_apigw_bench.py",
                          "--benchmark-disable"],
                         cwd=copy, env=env, capture_output=True, text=True, timeout=540)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout.splitlines()[-1]
