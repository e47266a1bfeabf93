"""A Python function runs on an interpreter of the version its runtime declares: found with --python,
on PATH, in pyenv or in uv (gateway.scheduler.interpreters), with a zygote of its own that runs
lambdagate's worker runtime on that bare interpreter; and on lambdagate's own interpreter, with one
warning, where that version is not installed.

The real-path tests use whatever second interpreter this machine has (none is installed by them) and
skip, saying what was looked for, where there is none. The lookup-order tests use fake interpreters
(scripts that answer the probe) in a temporary directory."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import stat
import subprocess
import sys
import textwrap

import pytest

from gateway.config import Config
from gateway.runtime import worker as runtime_worker
from gateway.scheduler import Scheduler, interpreters
from gateway.scheduler.interpreters import Interpreter, InterpreterError
from gateway.scheduler.isolation import Isolation, _needed_paths
from gateway.types import FunctionSpec
from support.orjson_spelling import comparable
from support.processes import host_descendants, proc_ancestors, proc_cmdline, run_bounded
from support.servers import lambdagate_process

pytestmark = pytest.mark.integration   # starts real processes

RUNNING = "%d.%d" % sys.version_info[:2]
LOOKED_FOR = [f"3.{minor}" for minor in range(8, 15) if f"3.{minor}" != RUNNING]
WHERE = ("on PATH, in pyenv ($PYENV_ROOT or ~/.pyenv/versions/3.X.*) and in uv ($UV_PYTHON_INSTALL_DIR or "
         "~/.local/share/uv/python/cpython-3.X.*)")

# runs on every version from 3.8: no syntax or library newer than that
APP = """
import os, sys, time
from decimal import Decimal

print("Init on", sys.version.split()[0])


def handler(event, context):
    action = event.get("action")
    if action == "fail":
        raise ValueError("bad input: " + event.get("what", ""))
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "allocate":   # in 1 MB pieces, as real code grows: the memory watchdog runs between them
        hog = [b"x" * (1024 * 1024) for _ in range(event["mb"])]
        time.sleep(5)
        return sum(map(len, hog))
    if action == "echo":
        return event["value"]
    if action == "decimal":
        return {"price": Decimal("1.50"), "when": event.get("when")}
    print("running on", sys.version.split()[0])
    return {"version": list(sys.version_info[:3]), "sys_version": sys.version, "executable": sys.executable,
            "execution_env": os.environ.get("AWS_EXECUTION_ENV"), "pid": os.getpid(),
            "sees_executable": os.path.exists(sys.executable),
            "sees_host_file": os.path.exists(event["host_file"]) if event.get("host_file") else None,
            "remaining_ms": context.get_remaining_time_in_millis()}
"""

ECHOED = [{"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{\"ok\": true}"},
          {"text": "héllo ✓ 🎉 \u2028 \x00", "floats": [0.1, 1e-5, 2.5e-7, 1e16, 1.5e300],
           "ints": [2**63, -2**63]},
          [None, True, False, [], {}], "plain", 12345678901234567890123, 3.0]


def _installed() -> dict:
    return {version: found for version in LOOKED_FOR if (found := interpreters.find(version)) is not None}


def _version_key(version: str) -> tuple:
    return tuple(int(part) for part in version.split("."))


@pytest.fixture(scope="module")
def installed() -> dict:
    found = _installed()
    if not found:
        pytest.skip(f"no Python interpreter other than lambdagate's own ({RUNNING}) is installed: looked for "
                    f"{', '.join('python' + v for v in LOOKED_FOR)} {WHERE}")
    return found


@pytest.fixture(scope="module")
def second(installed) -> Interpreter:
    """The newest interpreter of another version than the running one."""
    return installed[max(installed, key=_version_key)]


def _function(tmp_path, name: str, version: str, code: str = APP, **fields) -> FunctionSpec:
    code_dir = tmp_path / "functions" / name
    code_dir.mkdir(parents=True)
    (code_dir / "app.py").write_text(textwrap.dedent(code).lstrip("\n"))
    return FunctionSpec(logical_id=name, function_name=name, handler="app.handler", runtime=f"python{version}",
                        code_dir=str(code_dir), **fields)


def _scheduler(tmp_path, functions, **config) -> Scheduler:
    config.setdefault("state_dir", str(tmp_path / "state"))
    config.setdefault("console_logs", False)
    return Scheduler(functions, Config(**config))


async def _invoke(scheduler: Scheduler, name: str, event) -> tuple:
    result = await scheduler.invoke(name, json.dumps(event).encode(), want_log=True)
    return result, result.log.decode()


# ------------------------------------------------------------------------------- a real scheduler

def test_a_function_runs_on_an_interpreter_of_its_declared_version(tmp_path, second):
    spec = _function(tmp_path, "Versioned", second.version)
    host_file = f"/tmp/lambdagate-host-file-{os.getpid()}"      # in the host's /tmp, not the environment's
    with open(host_file, "w"):
        pass

    async def body():
        scheduler = _scheduler(tmp_path, [spec])
        await scheduler.start()
        try:
            cold, cold_log = await _invoke(scheduler, "Versioned", {"host_file": host_file})
            warm, warm_log = await _invoke(scheduler, "Versioned", {})
            worker_pid = scheduler.worker_pids("Versioned")[0]
            zygotes = scheduler.zygote_pids()
            facts = {"exe": os.path.realpath(f"/proc/{worker_pid}/exe"),
                     "ancestors": proc_ancestors(worker_pid, zygotes[second.version]),
                     "level": scheduler.isolation.level}
        finally:
            await scheduler.close()
        return cold, cold_log, warm, warm_log, zygotes, facts

    try:
        cold, cold_log, warm, warm_log, zygotes, facts = run_bounded(body())
    finally:
        os.unlink(host_file)
    assert cold.function_error is None, cold.payload
    seen = json.loads(cold.payload)
    assert seen["version"][:2] == list(_version_key(second.version))
    assert seen["sys_version"].startswith(f"{second.version}.")
    assert seen["executable"] == second.executable and seen["sees_executable"]
    assert seen["execution_env"] == f"AWS_Lambda_python{second.version}"
    assert 0 < seen["remaining_ms"] <= spec.timeout_s * 1000
    # the platform's lines, as for lambdagate's own version
    assert re.match(rf"INIT_START Runtime Version: python:{re.escape(second.version)}\.lambdagate\t"
                    r"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}\n", cold_log), cold_log
    assert f"Init on {seen['sys_version'].split()[0]}" in cold_log
    assert f"running on {seen['sys_version'].split()[0]}" in cold_log
    assert re.search(r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t"
                     r"Max Memory Used: \d+ MB\tInit Duration: [\d.]+ ms", cold_log), cold_log
    assert "INIT_START" not in warm_log and "Init Duration" not in warm_log and "REPORT RequestId" in warm_log
    assert json.loads(warm.payload)["pid"] == seen["pid"]            # the same warm worker
    # forked from that version's zygote, a process of its own beside lambdagate's
    assert set(zygotes) >= {RUNNING, second.version} and zygotes[RUNNING] != zygotes[second.version]
    assert facts["exe"] == os.path.realpath(second.executable)
    assert facts["ancestors"][-1] == zygotes[second.version], facts
    # an environment of its own at the namespaces level: pid 2, a private /tmp (where the interpreter, its
    # libraries and the code stay visible when they lie under the host's)
    if facts["level"] == "namespaces":
        assert seen["pid"] == 2 and seen["sees_host_file"] is False
    else:
        assert seen["sees_host_file"] is True


def test_results_and_errors_are_the_bytes_lambdagates_own_version_gives(tmp_path, second):
    """Without orjson and msgpack on the other interpreter the worker answers the same bytes."""
    own = _function(tmp_path, "Own", RUNNING)
    other = _function(tmp_path, "Other", second.version)
    events = [{"action": "echo", "value": value} for value in ECHOED]
    events += [{"action": "decimal", "when": "é"}, {"action": "fail", "what": "ünïcode"}]

    async def body():
        scheduler = _scheduler(tmp_path, [own, other])
        await scheduler.start()
        try:
            answers = []
            for event in events:
                answers.append([(await scheduler.invoke(name, json.dumps(event).encode()))
                                for name in ("Own", "Other")])
            return answers
        finally:
            await scheduler.close()

    for event, (mine, theirs) in zip(events, run_bounded(body())):
        if event["action"] == "fail":
            assert mine.function_error == theirs.function_error == "ValueError"
            own_error, their_error = json.loads(mine.payload), json.loads(theirs.payload)
            assert their_error["errorMessage"] == own_error["errorMessage"] == "bad input: ünïcode"
            assert any("app.py" in line for line in their_error["stackTrace"]), their_error
            continue
        assert theirs.function_error is None and comparable(theirs.payload) == comparable(mine.payload), event
        if event["action"] == "echo":   # and what lambdagate's own runtime code makes of it
            expected = runtime_worker.marshal(runtime_worker.unmarshal(json.dumps(event).encode())["value"])
            assert comparable(theirs.payload) == comparable(expected)


def test_an_init_error_a_timeout_and_running_out_of_memory_there(tmp_path, second):
    broken = _function(tmp_path, "Broken", second.version,
                       "import sys\nraise RuntimeError('%d.%d' % sys.version_info[:2])\n")
    slow = _function(tmp_path, "Slow", second.version, timeout_s=1.0)
    hungry = _function(tmp_path, "Hungry", second.version, memory_mb=128, timeout_s=20.0)

    async def body():
        scheduler = _scheduler(tmp_path, [broken, slow, hungry])
        await scheduler.start()
        try:
            return [await _invoke(scheduler, "Broken", {}),
                    await _invoke(scheduler, "Slow", {"action": "sleep", "seconds": 5}),
                    await _invoke(scheduler, "Slow", {}),
                    await _invoke(scheduler, "Hungry", {"action": "allocate", "mb": 300})]
        finally:
            await scheduler.close()

    (init, init_log), (timeout, timeout_log), (after, after_log), (oom, oom_log) = run_bounded(body())
    assert init.function_error == "RuntimeError"
    assert json.loads(init.payload)["errorMessage"] == second.version
    assert f"INIT_START Runtime Version: python:{second.version}.lambdagate" in init_log
    assert "INIT_REPORT Init Duration:" in init_log
    assert "Phase: init\tStatus: error\tError Type: RuntimeError" in init_log
    assert timeout.function_error == "Sandbox.Timedout"
    assert json.loads(timeout.payload)["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert "Status: timeout" in timeout_log
    # the environment was reset: the next call starts a new one, on the same version
    assert after.function_error is None and "INIT_START" in after_log
    assert json.loads(after.payload)["sys_version"].startswith(f"{second.version}.")
    assert oom.function_error == "Runtime.OutOfMemory", oom.payload   # the watchdog's frame, packed without msgpack
    assert "Error Type: Runtime.OutOfMemory" in oom_log


def test_every_installed_version_runs_its_own_functions_side_by_side(tmp_path, installed):
    specs = [_function(tmp_path, f"On{version.replace('.', '')}", version) for version in installed]
    echo = json.dumps({"action": "echo", "value": ECHOED[1]}).encode()
    fail = json.dumps({"action": "fail", "what": "é"}).encode()

    async def body():
        scheduler = _scheduler(tmp_path, specs)
        await scheduler.start()
        try:
            answers = await asyncio.gather(*(scheduler.invoke(spec.logical_id, b"{}") for spec in specs))
            echoes = [await scheduler.invoke(spec.logical_id, echo) for spec in specs]
            failures = [await scheduler.invoke(spec.logical_id, fail) for spec in specs]
            return answers, echoes, failures, scheduler.zygote_pids()
        finally:
            await scheduler.close()

    answers, echoes, failures, zygotes = run_bounded(body(), timeout_s=60)
    expected_echo = runtime_worker.marshal(ECHOED[1])
    for version, answer, echoed, failure in zip(installed, answers, echoes, failures):
        assert answer.function_error is None, answer.payload
        assert json.loads(answer.payload)["executable"] == installed[version].executable
        assert json.loads(answer.payload)["version"][:2] == list(_version_key(version))
        assert comparable(echoed.payload) == comparable(expected_echo), version
        assert failure.function_error == "ValueError" and json.loads(failure.payload)["errorMessage"] == "bad input: é"
    assert len(set(zygotes.values())) == len(installed) + 1, zygotes    # one per version, and lambdagate's own


def test_the_process_isolation_level_holds_for_another_versions_zygote(tmp_path, second):
    spec = _function(tmp_path, "Contained", second.version, """
        import ctypes, os, sys, tempfile
        def handler(event, context):
            libc = ctypes.CDLL(None)
            return {"tmp": tempfile.gettempdir(), "dumpable": libc.prctl(3, 0, 0, 0, 0),
                    "version": "%d.%d" % sys.version_info[:2]}
        """)

    async def body():
        scheduler = _scheduler(tmp_path, [spec], isolation="process")
        await scheduler.start()
        try:
            return scheduler.isolation.level, await scheduler.invoke("Contained", b"{}")
        finally:
            await scheduler.close()

    level, answer = run_bounded(body())
    seen = json.loads(answer.payload)
    assert level == "process" and seen["version"] == second.version
    assert os.path.basename(os.path.dirname(seen["tmp"])).startswith("lambdagate-tmp-")   # its own TMPDIR
    assert seen["dumpable"] == 0        # PR_GET_DUMPABLE: siblings cannot read its memory or environment


def test_a_version_that_is_not_installed_runs_on_lambdagates_own_with_one_warning(tmp_path, monkeypatch, caplog):
    missing = "3.14" if RUNNING != "3.14" else "3.13"
    empty = tmp_path / "nothing-installed"
    empty.mkdir()
    for name in ("PATH", "PYENV_ROOT", "UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME", "HOME"):
        monkeypatch.setenv(name, str(empty))
    specs = [_function(tmp_path, name, missing) for name in ("First", "Second")]
    caplog.set_level(logging.WARNING, logger="lambdagate")

    async def body():
        scheduler = _scheduler(tmp_path, specs)
        await scheduler.start()
        try:
            return await scheduler.invoke("First", b"{}", want_log=True)
        finally:
            await scheduler.close()

    answer = run_bounded(body())
    seen = json.loads(answer.payload)
    assert seen["version"][:2] == list(sys.version_info[:2])
    assert seen["execution_env"] == f"AWS_Lambda_python{missing}"      # what the function declared
    warnings = [record.getMessage() for record in caplog.records
                if record.levelno == logging.WARNING and "not installed" in record.getMessage()]
    assert warnings == [f"python{missing} is not installed: functions First, Second run on Python {RUNNING} "
                        f"(give one with --python {missing}=PATH)"]


def test_a_wrong_python_flag_fails_the_start_and_leaves_no_zygote(tmp_path):
    other = LOOKED_FOR[-1]
    spec = _function(tmp_path, "Flagged", other)

    def zygotes() -> set:
        # (servers that other tests of this session keep running have zygotes below this process too)
        return {pid for pid in host_descendants(os.getpid()) if "gateway.runtime.zygote" in " ".join(_cmdline(pid))}

    before = zygotes()

    async def body():
        scheduler = _scheduler(tmp_path, [spec], python_interpreters={other: sys.executable})
        try:
            with pytest.raises(InterpreterError, match=f"it is Python {RUNNING}, not {other}"):
                await scheduler.start()
            # lambdagate's own zygote was already on its way when the flag was found wrong
            return zygotes() - before
        finally:
            await scheduler.close()

    assert run_bounded(body()) == set()


def _cmdline(pid: int) -> list:
    try:
        return proc_cmdline(pid)
    except OSError:
        return []


# ------------------------------------------------------------------------------- the command line

TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Versioned:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python{version}
      CodeUri: .
      Timeout: 30
"""


def _cli_invoke(tmp_path, version: str, *args: str, event: str = "{}") -> subprocess.CompletedProcess:
    (tmp_path / "template.yaml").write_text(TEMPLATE.format(version=version))
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "event.json").write_text(event)
    proc = lambdagate_process(tmp_path, "invoke", "-e", "event.json", "--state-dir", str(tmp_path / "state"), *args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"lambdagate invoke did not end: {err.decode()}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())


@pytest.mark.parametrize("given", [False, True], ids=["found", "given-with---python"])
def test_lambdagate_invoke_runs_the_function_on_its_declared_version(tmp_path, second, given):
    args = ("--python", f"{second.version}={second.executable}") if given else ()
    done = _cli_invoke(tmp_path, second.version, *args)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["version"][:2] == list(_version_key(second.version)) and seen["executable"] == second.executable
    assert f"INIT_START Runtime Version: python:{second.version}.lambdagate" in done.stderr
    assert f"python{second.version} is not installed" not in done.stderr    # no fallback to lambdagate's own


def test_lambdagate_invoke_reports_a_function_error_there(tmp_path, second):
    done = _cli_invoke(tmp_path, second.version, event='{"action": "fail", "what": "x"}')
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["errorType"] == "ValueError"
    assert "REPORT RequestId:" in done.stderr and "Traceback" not in done.stderr.split("REPORT")[-1]


def test_a_python_flag_of_the_wrong_version_is_refused_with_a_clear_error(tmp_path):
    other = LOOKED_FOR[-1]
    done = _cli_invoke(tmp_path, other, "--python", f"{other}={sys.executable}")
    assert done.returncode == 2
    assert f"--python {other}={sys.executable}: it is Python {RUNNING}, not {other}" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------------------- the lookup, with fakes

def _fake(path, version: str, executable: str = "", runs: bool = True, missing: str = ""):
    """A script that answers the probe as an interpreter of `version` would (or fails as a pyenv shim of a
    version not selected does; `missing`: its ctypes import error); each run is counted in <path>.runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    major, minor = version.split(".")
    answer = json.dumps([[int(major), int(minor)], executable or str(path), [str(path.parent.parent)],
                         [str(path.parent.parent / "lib")], missing])
    body = f"echo run >> '{path}.runs'\n" + (f"echo '{answer}'\n" if runs else
                                              f"echo 'pyenv: {path.name}: command not found' >&2\nexit 127\n")
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def _runs(path) -> int:
    try:
        with open(f"{path}.runs") as f:
            return len(f.read().split())
    except FileNotFoundError:
        return 0


@pytest.fixture
def places(tmp_path):
    """An environment of empty places to look in: PATH (two directories), pyenv, uv. What earlier
    lookups found is forgotten before and after."""
    interpreters.forget()
    dirs = {name: tmp_path / name for name in ("bin1", "bin2", "pyenv", "uv", "home")}
    for directory in dirs.values():
        directory.mkdir()
    env = {"PATH": f"{dirs['bin1']}{os.pathsep}{dirs['bin2']}", "PYENV_ROOT": str(dirs["pyenv"]),
           "UV_PYTHON_INSTALL_DIR": str(dirs["uv"]), "HOME": str(dirs["home"])}
    yield dirs, env
    interpreters.forget()


def test_the_lookup_order_is_path_then_pyenv_newest_patch_then_uv(places):
    dirs, env = places
    uv = _fake(dirs["uv"] / "cpython-3.12.7-linux-x86_64-gnu" / "bin" / "python3.12", "3.12")
    _fake(dirs["uv"] / "cpython-3.12.11+freethreaded-linux-x86_64-gnu" / "bin" / "python3.12", "3.12")
    uv_newest = _fake(dirs["uv"] / "cpython-3.12.10-linux-x86_64-gnu" / "bin" / "python3.12", "3.12")
    assert interpreters.find("3.12", env).executable == str(uv_newest)      # the final release before a variant
    assert _runs(uv) == 0

    _fake(dirs["pyenv"] / "versions" / "3.12.9" / "bin" / "python3.12", "3.12")
    pyenv_newest = _fake(dirs["pyenv"] / "versions" / "3.12.10" / "bin" / "python3.12", "3.12")
    _fake(dirs["pyenv"] / "versions" / "3.12.11rc1" / "bin" / "python3.12", "3.12")
    _fake(dirs["pyenv"] / "versions" / "3.13.1" / "bin" / "python3.13", "3.13")
    interpreters.forget()       # installed since: look again
    assert interpreters.find("3.12", env).executable == str(pyenv_newest)   # 3.12.10 > 3.12.9, final > rc

    on_path = _fake(dirs["bin2"] / "python3.12", "3.12")
    interpreters.forget()
    assert interpreters.find("3.12", env).executable == str(on_path)
    first_on_path = _fake(dirs["bin1"] / "python3.12", "3.12")
    interpreters.forget()
    assert interpreters.find("3.12", env).executable == str(first_on_path)


def test_a_shim_that_fails_a_binary_of_another_version_and_one_without_ctypes_are_passed_over(places):
    dirs, env = places
    shim = _fake(dirs["bin1"] / "python3.12", "3.12", runs=False)       # pyenv's shim, 3.12 not selected
    liar = _fake(dirs["bin2"] / "python3.12", "3.13")                   # named 3.12, is 3.13
    no_ctypes = _fake(dirs["pyenv"] / "versions" / "3.12.9" / "bin" / "python3.12", "3.12",
                      missing="No module named '_ctypes'")              # built without libffi's headers
    real = _fake(dirs["pyenv"] / "versions" / "3.12.4" / "bin" / "python3.12", "3.12")
    found = interpreters.find("3.12", env)
    assert found.executable == str(real) and found.version == "3.12"
    assert _runs(shim) == 1 and _runs(liar) == 1 and _runs(no_ctypes) == 1    # each tried, once
    with pytest.raises(InterpreterError, match=re.escape(f"--python 3.12={no_ctypes}: it has no ctypes (No module")):
        interpreters.given("3.12", str(no_ctypes), env)


def test_a_shim_is_replaced_by_the_binary_it_runs(places):
    dirs, env = places
    binary = dirs["pyenv"] / "versions" / "3.12.4" / "bin" / "python3.12"
    _fake(dirs["bin1"] / "python3.12", "3.12", executable=str(binary))
    assert interpreters.find("3.12", env).executable == str(binary)


def test_uvs_default_place_is_under_xdg_data_home(places, tmp_path):
    dirs, env = places
    del env["UV_PYTHON_INSTALL_DIR"]
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    found = _fake(tmp_path / "data" / "uv" / "python" / "cpython-3.10.4-linux-x86_64-gnu" / "bin" / "python3.10",
                  "3.10")
    assert interpreters.find("3.10", env).executable == str(found)


def test_lookups_are_kept_and_nothing_found_is_none(places):
    dirs, env = places
    fake = _fake(dirs["bin1"] / "python3.9", "3.9")
    assert interpreters.find("3.9", env).executable == str(fake)
    assert interpreters.find("3.9", env).executable == str(fake)
    assert _runs(fake) == 1
    assert interpreters.find("3.10", env) is None


def test_the_python_flag_comes_before_every_other_place(places, tmp_path):
    dirs, env = places
    _fake(dirs["bin1"] / "python3.12", "3.12")
    flagged = _fake(tmp_path / "elsewhere" / "bin" / "python", "3.12")
    specs = [FunctionSpec(logical_id="F", function_name="F", handler="app.handler", runtime="python3.12",
                          code_dir=str(tmp_path))]
    chosen = interpreters.choose(specs, Config(python_interpreters={"3.12": str(flagged)}), env)
    assert chosen["python3.12"].executable == str(flagged) and not chosen["python3.12"].own
    wrong = _fake(tmp_path / "wrong" / "bin" / "python", "3.13")
    with pytest.raises(InterpreterError, match=re.escape(f"--python 3.12={wrong}: it is Python 3.13, not 3.12")):
        interpreters.choose(specs, Config(python_interpreters={"3.12": str(wrong)}), env)


def test_lambdagates_own_version_keeps_lambdagates_own_interpreter(places, tmp_path):
    dirs, env = places
    decoy = _fake(dirs["bin1"] / f"python{RUNNING}", RUNNING)
    specs = [FunctionSpec(logical_id="F", function_name="F", handler="app.handler", runtime=f"python{RUNNING}",
                          code_dir=str(tmp_path))]
    chosen = interpreters.choose(specs, Config(), env)[f"python{RUNNING}"]
    assert chosen.own and chosen.executable == sys.executable and _runs(decoy) == 0


def test_the_warning_names_each_missing_version_and_its_functions_once(places, tmp_path, caplog):
    dirs, env = places
    present, lower, higher = LOOKED_FOR[1], LOOKED_FOR[0], LOOKED_FOR[-1]     # e.g. 3.9, 3.8 and 3.14
    _fake(dirs["bin1"] / f"python{present}", present)
    specs = [FunctionSpec(logical_id=name, function_name=name, handler="app.handler", runtime=f"python{version}",
                          code_dir=str(tmp_path))
             for name, version in (("A", higher), ("B", higher), ("C", present), ("D", lower), ("E", RUNNING))]
    caplog.set_level(logging.WARNING, logger="lambdagate")
    chosen = interpreters.choose(specs, Config(), env)
    assert chosen[f"python{present}"].executable == str(dirs["bin1"] / f"python{present}")
    assert chosen[f"python{higher}"].own and chosen[f"python{lower}"].own and chosen[f"python{RUNNING}"].own
    missing = [r.getMessage() for r in caplog.records if "not installed" in r.getMessage()]
    assert missing == [f"python{lower} is not installed: function D runs on Python {RUNNING}; python{higher} is not "
                       f"installed: functions A, B run on Python {RUNNING} (give one with --python {lower}=PATH "
                       f"--python {higher}=PATH)"]


def test_an_environment_keeps_the_interpreters_own_paths(tmp_path):
    interpreter = Interpreter("3.12", "/tmp/uv/cpython-3.12.7/bin/python3.12", ("/tmp/uv/cpython-3.12.7",),
                              ("/tmp/uv/cpython-3.12.7/lib/python3.12",))
    worker_spec = {"code_dir": str(tmp_path), "sys_path": list(interpreter.sys_path), "env": {}}
    kept = _needed_paths(worker_spec, interpreter.executable, interpreter.roots)
    assert "/tmp/uv/cpython-3.12.7" in kept and "/tmp/uv/cpython-3.12.7/lib/python3.12" in kept
    isolation = Isolation(Config(state_dir=str(tmp_path / "state")), [])
    spec = FunctionSpec(logical_id="F", function_name="F", handler="app.handler", runtime="python3.12",
                        code_dir=str(tmp_path))
    _, kept_for_it = isolation._paths_of(spec, worker_spec, interpreter)
    assert "/tmp/uv/cpython-3.12.7" in kept_for_it
