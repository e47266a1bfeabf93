"""Installing an SDK that Lambda's runtime includes on first need (gateway/sdk_autoinstall.py):
`start-api` installs it beside serving without delaying its ports, `invoke` waits for it, the
install happens once even with two lambdagate processes at once, offline says what failed and the
command to retry, and --no-sdk-install or LAMBDAGATE_NO_SDK_INSTALL=1 turns it off.

The real path throughout: lambdagate processes whose pip installs "boto3" from a package index on
127.0.0.1 (tests/support/package_index.py) into a temporary XDG_CACHE_HOME. The functions run on a
Python of lambdagate's version without boto3 (a bare venv, given with --python): lambdagate's own
environment has boto3, a test dependency, which would serve them instead."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from gateway import sdk_autoinstall, sdks
from gateway.cli import build_parser, config_from_args
from gateway.sdks import MissingSdk
from support.npm_registry import NpmRegistry
from support.package_index import REGISTRY_TROUBLE, PackageIndex
from support.servers import ApiServer, checkout_env, free_port, wait_for

pytestmark = pytest.mark.integration   # lambdagate, pip and worker processes

PY = sdks.running_python_version()
FAKE_ORIGIN = "the test's package index"
PY_SDK_DIR_NAME = f"python-{PY}"
STARTED = f"installing boto3 for Python {PY} into {{dir}} (first use; `lambdagate setup sdk` does this ahead)"
HINT = f"is not installed for Python {PY}"

AT_INIT_APP = """
    import json
    import boto3   # at Init: a worker that lacks it fails its Init, and the next request starts another

    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps({"origin": boto3.ORIGIN, "file": boto3.__file__})}
"""
IN_HANDLER_APP = """
    import json

    def handler(event, context):
        import boto3   # in the handler: a warm worker keeps the import path it started with
        return {"statusCode": 200, "body": json.dumps({"origin": boto3.ORIGIN})}
"""
INVOKED_APP = """
    import boto3

    def handler(event, context):
        return {"origin": boto3.ORIGIN, "file": boto3.__file__}
"""


def function_yaml(name: str, handler: str, path: str = "") -> str:
    events = (f"      Events:\n        Get:\n          Type: HttpApi\n          Properties:\n"
              f"            Path: {path}\n            Method: GET\n") if path else ""
    return (f"  {name}:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: {handler}\n"
            f"      Runtime: python{PY}\n      CodeUri: .\n      Timeout: 30\n{events}")


def write_app(root, files: dict, functions: list) -> str:
    """A template of `functions` (function_yaml texts) with their code `files`; its path."""
    os.makedirs(root, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(textwrap.dedent(text).lstrip())
    template = os.path.join(root, "template.yaml")
    with open(template, "w") as f:
        f.write("AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n"
                + "".join(functions))
    return template


def cache_entries() -> list:
    """The SDK cache's entries besides the install locks: a finished install, never a half one."""
    root = sdks.sdk_root()
    return sorted(n for n in os.listdir(root) if not n.endswith(".lock")) if os.path.isdir(root) else []


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> str:
    """A Python of lambdagate's version with nothing installed: boto3 only from lambdagate's cache."""
    root = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    python = os.path.join(str(root), "bin", "python")
    assert subprocess.run([python, "-c", "import boto3"], capture_output=True, timeout=60).returncode != 0
    return python


@pytest.fixture
def installing(tmp_path, monkeypatch):
    """This test's lambdagate processes install on their own (conftest turns that off for the
    rest), into a cache of their own, with pip's settings of this machine left out."""
    for name in list(os.environ):
        if name.upper().startswith(("PIP_", "NPM_CONFIG_")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("LAMBDAGATE_NO_SDK_INSTALL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")      # each install fetches: the index counts them
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "10")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")


@pytest.fixture
def index(installing, monkeypatch):
    served = PackageIndex("boto3", "1.99.0", {"boto3/__init__.py": f"ORIGIN = {FAKE_ORIGIN!r}\n"}).start()
    monkeypatch.setenv("PIP_INDEX_URL", served.url)
    yield served
    served.close()


def lambdagate(cwd, *args: str, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=env or checkout_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def invoke(tmp_path, bare_python: str, *extra: str, env=None) -> subprocess.CompletedProcess:
    template = write_app(tmp_path / "app", {"app.py": INVOKED_APP}, [function_yaml("Fn", "app.handler")])
    proc = lambdagate(tmp_path, "invoke", "Fn", "-t", template, "--python", f"{PY}={bare_python}",
                      "--state-dir", str(tmp_path / "state"), *extra, env=env)
    out, err = proc.communicate(timeout=90)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def get(url: str) -> tuple:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# ---------------------------------------------------------------------------- start-api

def test_start_api_installs_beside_serving_and_later_workers_find_it(tmp_path, index, bare_python):
    index.hold()
    template = write_app(tmp_path / "app", {"at_init.py": AT_INIT_APP, "in_handler.py": IN_HANDLER_APP},
                         [function_yaml("AtInit", "at_init.handler", "/init"),
                          function_yaml("InHandler", "in_handler.handler", "/handler")])
    server = ApiServer(template, tmp_path / "server", ["--python", f"{PY}={bare_python}"]).start()
    try:
        # the port answers while the download is held: startup did not wait for the install
        wait_for(lambda: index.downloads_started, 30, "pip to ask the index for the wheel")
        assert index.downloads == 0 and server.proc.poll() is None
        started = STARTED.format(dir=sdks.python_sdk_dir(PY))
        assert started in server.stderr_text() and HINT not in server.stderr_text()

        # meanwhile functions run as they do without the SDK
        assert get(f"{server.base_url}/init")[0] == 500   # an HTTP API route: a failed function is a 500
        wait_for(lambda: "No module named 'boto3'" in server.log_text("AtInit"), 10, "the Init error in the log")
        assert get(f"{server.base_url}/handler")[0] == 500     # and that worker stays warm

        index.release()
        done = wait_for(lambda: [line for line in server.stderr_text().splitlines()
                                 if f"installed boto3 for Python {PY} (boto3 1.99.0)" in line], 60, "the install")
        assert done[0].endswith("workers started from now on find it; warm workers keep what they had until "
                                "they are retired"), done

        status, body = get(f"{server.base_url}/init")       # a new worker
        assert status == 200 and json.loads(body) == {
            "origin": FAKE_ORIGIN, "file": os.path.join(sdks.python_sdk_dir(PY), "boto3", "__init__.py")}
        assert get(f"{server.base_url}/handler")[0] == 500     # the warm one keeps what it had
        assert (index.downloads, cache_entries()) == (1, [PY_SDK_DIR_NAME])
    finally:
        server.kill()
    assert server.stderr_text().count("installing boto3") == 1

    # the next start finds it: no second install, no hint
    again = ApiServer(template, tmp_path / "again", ["--python", f"{PY}={bare_python}"]).start()
    try:
        status, body = get(f"{again.base_url}/init")
        assert status == 200 and json.loads(body)["origin"] == FAKE_ORIGIN
    finally:
        again.kill()
    assert "boto3" not in again.stderr_text() and index.page_requests == 1


def test_stopping_start_api_midway_stops_the_install_and_leaves_no_trace(tmp_path, index, bare_python):
    index.hold()
    template = write_app(tmp_path / "app", {"at_init.py": AT_INIT_APP}, [function_yaml("AtInit", "at_init.handler")])
    server = ApiServer(template, tmp_path / "server", ["--python", f"{PY}={bare_python}"]).start()
    try:
        wait_for(lambda: index.downloads_started, 30, "pip to ask the index for the wheel")
        unfinished = [n for n in os.listdir(sdks.sdk_root()) if n.startswith(f".{PY_SDK_DIR_NAME}-new-")]
        assert len(unfinished) == 1, os.listdir(sdks.sdk_root())
        stopped_s = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.wait(15) == 0
        assert time.monotonic() - stopped_s < 10    # not held up by the download, still held by the index
    finally:
        server.kill()
    assert f"stopped installing boto3 for Python {PY}: lambdagate is stopping" in server.stderr_text()
    assert cache_entries() == [] and not any(n.startswith(".python") and not n.endswith(".lock")
                                              for n in os.listdir(sdks.sdk_root()))


# ---------------------------------------------------------------------------- invoke

def test_invoke_waits_for_the_install_and_two_processes_install_once(tmp_path, index, bare_python):
    index.hold()
    first = lambdagate(tmp_path, "invoke", "Fn", "-t",
                       write_app(tmp_path / "app", {"app.py": INVOKED_APP}, [function_yaml("Fn", "app.handler")]),
                       "--python", f"{PY}={bare_python}", "--state-dir", str(tmp_path / "state1"))
    wait_for(lambda: index.downloads_started, 30, "the first invoke's pip to ask for the wheel")
    second = Watched(lambdagate(tmp_path, "invoke", "Fn", "-t", str(tmp_path / "app" / "template.yaml"),
                                "--python", f"{PY}={bare_python}", "--state-dir", str(tmp_path / "state2")))
    wait_for(lambda: second.says(f"another lambdagate process is installing boto3 for Python {PY}"), 30,
             "the second invoke to wait for the first")
    index.release()
    first_out, first_err = first.communicate(timeout=60)
    second_status, second_out, second_err = second.finish()

    expected = {"origin": FAKE_ORIGIN, "file": os.path.join(sdks.python_sdk_dir(PY), "boto3", "__init__.py")}
    assert (first.returncode, json.loads(first_out)) == (0, expected), first_err
    # invoke's progress: the start line, pip's own output indented, the end line; then the invocation
    started = first_err.index(STARTED.format(dir=sdks.python_sdk_dir(PY)))
    installed = first_err.index(f"installed boto3 for Python {PY} (boto3 1.99.0)")
    assert started < first_err.index("\n    ", started) < installed < first_err.index("START RequestId")
    assert f"into {sdks.python_sdk_dir(PY)}" in first_err[installed:].splitlines()[0]
    assert "the invocation finds it" in first_err[installed:].splitlines()[0]
    assert (second_status, json.loads(second_out)) == (0, expected), second_err
    assert f"boto3 for Python {PY} is in {sdks.python_sdk_dir(PY)}, installed meanwhile by another lambdagate " \
           f"process: the invocation finds it" in second_err
    assert STARTED.format(dir=sdks.python_sdk_dir(PY)) not in second_err
    assert (index.downloads, cache_entries()) == (1, [PY_SDK_DIR_NAME])

    third = invoke(tmp_path, bare_python)
    assert (third.returncode, json.loads(third.stdout)) == (0, expected)
    assert "boto3" not in third.stderr and index.page_requests == 1


class Watched:
    """A lambdagate process whose stderr lines are read as they come (on a thread: a test may poll
    them meanwhile)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.err_lines: list = []
        self._reader = threading.Thread(target=lambda: self.err_lines.extend(iter(proc.stderr.readline, "")),
                                        daemon=True)
        self._reader.start()

    def says(self, text: str) -> bool:
        return any(text in line for line in self.err_lines)

    def finish(self, timeout_s: float = 60) -> tuple:
        """(status, stdout, stderr) once it has exited."""
        out = self.proc.stdout.read()
        self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout_s)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, out, "".join(self.err_lines)


def test_setup_sdk_twice_at_once_installs_one_after_the_other(tmp_path, index):
    index.hold()
    first = lambdagate(tmp_path, "setup", "sdk", "--python", PY)
    wait_for(lambda: index.downloads_started, 30, "the first install's download")
    second = Watched(lambdagate(tmp_path, "setup", "sdk", "--python", PY))
    wait_for(lambda: second.says("another lambdagate process is installing"), 30,
             "the second install to wait for the first")
    index.release()
    first_err = first.communicate(timeout=60)[1]
    second_status, _, second_err = second.finish()
    for status, err in ((first.returncode, first_err), (second_status, second_err)):
        assert status == 0, err
        assert f"installed boto3 for Python {PY} (boto3 1.99.0) into {sdks.python_sdk_dir(PY)}" in err
    assert index.downloads == 2      # asked for, each installs: one after the other, each swapped in whole
    assert cache_entries() == [PY_SDK_DIR_NAME]
    assert sorted(os.listdir(sdks.python_sdk_dir(PY))) == ["boto3", "boto3-1.99.0.dist-info"]


def test_an_install_removes_what_a_killed_one_left(tmp_path, index):
    for leftover in (f".{PY_SDK_DIR_NAME}-new-killed", f".{PY_SDK_DIR_NAME}-old-killed"):
        os.makedirs(os.path.join(sdks.sdk_root(), leftover, "boto3"))
    proc = lambdagate(tmp_path, "setup", "sdk", "--python", PY)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 0, err
    assert sorted(os.listdir(sdks.sdk_root())) == [f".{PY_SDK_DIR_NAME}.lock", PY_SDK_DIR_NAME]


def test_invoke_offline_says_what_why_and_the_command_then_runs_without_it(tmp_path, installing, bare_python,
                                                                          monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{free_port()}/simple/")   # nobody listens there
    monkeypatch.setenv("PIP_RETRIES", "1")    # (pip says why it retries; without retries it says only "none found")
    result = invoke(tmp_path, bare_python)
    failed = [line for line in result.stderr.splitlines() if "could not install boto3" in line]
    assert len(failed) == 1, result.stderr
    assert f"could not install boto3 for Python {PY} into {sdks.python_sdk_dir(PY)}: the Python package index " \
           f"cannot be reached (offline?)" in failed[0]
    assert f"To install it later: lambdagate setup sdk --python {PY}" in failed[0]
    assert "--no-sdk-install or LAMBDAGATE_NO_SDK_INSTALL=1" in failed[0] and "WARNING" in failed[0]
    assert "Traceback" not in result.stderr[:result.stderr.index("INIT_START")]    # (the function's own follows)
    # the function ran, as on a runtime without the SDK
    assert result.returncode == 1 and json.loads(result.stdout)["errorType"] == "Runtime.ImportModuleError"
    assert cache_entries() == []


@pytest.mark.parametrize("how", ["environment", "flag"])
def test_no_sdk_install_keeps_the_hint_and_installs_nothing(tmp_path, index, bare_python, how):
    env = checkout_env(LAMBDAGATE_NO_SDK_INSTALL="1") if how == "environment" else None
    result = invoke(tmp_path, bare_python, *(["--no-sdk-install"] if how == "flag" else []), env=env)
    hint = next(line for line in result.stderr.splitlines() if HINT in line)
    assert f"Run `lambdagate setup sdk --python {PY}` once to install it into {sdks.python_sdk_dir(PY)}" in hint
    assert "installing boto3" not in result.stderr and index.page_requests == 0
    assert result.returncode == 1 and json.loads(result.stdout)["errorType"] == "Runtime.ImportModuleError"


def test_no_sdk_install_default_follows_the_environment(monkeypatch):
    for command in (["invoke"], ["start-api"], ["start-lambda"]):
        monkeypatch.delenv("LAMBDAGATE_NO_SDK_INSTALL", raising=False)
        assert config_from_args(build_parser().parse_args(command)).sdk_install is True
        assert config_from_args(build_parser().parse_args([*command, "--no-sdk-install"])).sdk_install is False
        monkeypatch.setenv("LAMBDAGATE_NO_SDK_INSTALL", "1")
        assert config_from_args(build_parser().parse_args(command)).sdk_install is False


# ---------------------------------------------------------------------------- Node.js

NODE_APP = """
    import { origin } from '@aws-sdk/client-dynamodb';
    export const handler = async () => ({ origin });
"""


def invoke_node(tmp_path) -> subprocess.CompletedProcess:
    root = tmp_path / "node-app"
    os.makedirs(root, exist_ok=True)
    with open(root / "app.mjs", "w") as f:
        f.write(textwrap.dedent(NODE_APP).lstrip())
    with open(root / "template.yaml", "w") as f:
        f.write("AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\nResources:\n"
                "  Node:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.handler\n"
                "      Runtime: nodejs20.x\n      CodeUri: .\n      Timeout: 30\n")
    proc = lambdagate(tmp_path, "invoke", "-t", str(root / "template.yaml"), "--state-dir", str(tmp_path / "state"))
    out, err = proc.communicate(timeout=110)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def npm_env(installing, tmp_path, monkeypatch):
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    monkeypatch.setenv("npm_config_userconfig", os.devnull)
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))    # each install fetches
    monkeypatch.setenv("npm_config_fetch_retries", "0")


def test_invoke_installs_the_javascript_sdk_from_the_registry_first(tmp_path, npm_env, monkeypatch):
    registry = NpmRegistry(sdks.NODE_PACKAGES, "3.999.0", "the test's npm registry").start()
    monkeypatch.setenv("npm_config_registry", registry.url)
    try:
        result = invoke_node(tmp_path)
    finally:
        registry.close()
    assert (result.returncode, json.loads(result.stdout)) == (0, {"origin": "the test's npm registry"}), result.stderr
    assert f"installing the AWS SDK for JavaScript v3 into {sdks.node_sdk_dir()} (first use" in result.stderr
    assert f"installed the AWS SDK for JavaScript v3 ({len(sdks.NODE_PACKAGES)} packages) into {sdks.node_sdk_dir()}" \
        in result.stderr
    assert registry.tarball_downloads == len(sdks.NODE_PACKAGES) and cache_entries() == ["nodejs"]


def test_invoke_offline_says_the_npm_registry_cannot_be_reached(tmp_path, npm_env, monkeypatch):
    monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{free_port()}/")
    result = invoke_node(tmp_path)
    failed = next(line for line in result.stderr.splitlines() if "could not install" in line)
    assert f"could not install the AWS SDK for JavaScript v3 into {sdks.node_sdk_dir()}: the npm registry cannot be " \
           f"reached (offline?)" in failed and "To install it later: lambdagate setup sdk --node " in failed
    assert result.returncode == 1 and "Cannot find package '@aws-sdk/client-dynamodb'" in result.stdout
    assert cache_entries() == []


# ---------------------------------------------------------------------------- the installs, on their own

def test_installs_stop_ends_a_held_install_and_the_thread(index, bare_python):
    index.hold()
    sdk = MissingSdk("python", ("Fn",), PY, bare_python)
    installs = sdk_autoinstall.Installs([sdk], sys.executable)
    wait_for(lambda: index.downloads_started, 30, "pip to ask for the wheel")
    assert not installs.wait(0.2)
    installs.stop()
    assert installs.wait(0)
    outcome = installs.outcomes[sdk]
    assert not outcome.ok and outcome.message.startswith(f"stopped installing boto3 for Python {PY}")
    assert cache_entries() == [] and not sdk.installed()


def test_survey_notes_leave_the_hint_to_the_install(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    from gateway.types import FunctionSpec
    spec = FunctionSpec(logical_id="Fn", function_name="Fn", handler="app.handler", runtime="python9.97",
                        code_dir=str(code), timeout_s=3)

    class Bare:
        version, sys_path, executable, own = "9.97", [str(tmp_path / "empty")], "/opt/python9.97", False

    survey = sdks.survey_sdks([spec], lambda spec: Bare)
    assert survey.missing == [MissingSdk("python", ("Fn",), "9.97", "/opt/python9.97")]
    assert survey.missing[0].setup_command == "lambdagate setup sdk --python 9.97"
    assert [HINT.replace(PY, "9.97") in note for note in survey.notes()] == [True]
    assert survey.notes(installing=True) == []


# ---------------------------------------------------------------------------- the real index

def pip_index_url() -> str:
    """The index this machine's pip uses: its environment's, its configuration's, else pip's own default."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True,
                         text=True, timeout=60)
    if os.environ.get("PIP_INDEX_URL") or (out.returncode == 0 and out.stdout.strip()):
        return os.environ.get("PIP_INDEX_URL") or out.stdout.strip()
    from pip._internal.models.index import PyPI
    return PyPI.simple_url


@pytest.mark.slow
def test_invoke_installs_the_real_boto3_on_first_use(tmp_path, bare_python, monkeypatch):
    monkeypatch.delenv("LAMBDAGATE_NO_SDK_INSTALL", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "15")
    index = pip_index_url()
    try:
        parts = urllib.parse.urlsplit(index)
        socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), 5).close()
    except OSError as exc:
        pytest.skip(f"the Python package index ({index}) is not reachable: {exc}")
    app = """
        import boto3

        def handler(event, context):
            client = boto3.client("dynamodb", region_name="eu-west-1")
            return {"file": boto3.__file__, "service": client.meta.service_model.service_name}
    """
    template = write_app(tmp_path / "app", {"app.py": app}, [function_yaml("Fn", "app.handler")])
    proc = lambdagate(tmp_path, "invoke", "-t", template, "--python", f"{PY}={bare_python}",
                      "--state-dir", str(tmp_path / "state"))
    try:
        out, err = proc.communicate(timeout=110)
    except subprocess.TimeoutExpired:
        # a registry that answers but crawls is the network's state, not lambdagate's
        proc.kill()
        proc.communicate()
        pytest.skip("the Python package index did not serve boto3 within 110 s")
    if proc.returncode != 0 and any(why in err for why in REGISTRY_TROUBLE):
        pytest.skip(f"the Python package index is not reachable: {err.strip().splitlines()[-1]}")
    assert (proc.returncode, json.loads(out)) == (0, {
        "file": os.path.join(sdks.python_sdk_dir(PY), "boto3", "__init__.py"), "service": "dynamodb"}), err
