"""The AWS SDKs Lambda's runtimes include (gateway/sdks.py, gateway/sdk_install.py): a function's
own copy wins over lambdagate's cache, the cache serves the others, `lambdagate setup sdk` installs
it, and says clearly when it cannot. Functions run on real workers through the scheduler; the cache
is a fake SDK built in a temporary XDG_CACHE_HOME (the real install test needs the registries)."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import urllib.parse

import pytest

from gateway import sdk_install, sdks
from gateway.cli import build_parser
from gateway.config import Config
from gateway.scheduler import Scheduler
from gateway.scheduler import commands
from gateway.scheduler.commands import runtime_command
from gateway.types import FunctionSpec
from support.isolation import machine_level
from support.processes import run_bounded
from support.package_index import REGISTRY_TROUBLE
from support.servers import checkout_env, free_port

HAVE_NODE = shutil.which("node") is not None
needs_node = pytest.mark.skipif(not HAVE_NODE, reason="node is not installed")
PY = sdks.running_python_version()
ISOLATIONS = [pytest.param("none"),
              pytest.param("namespaces", marks=pytest.mark.skipif(
                  machine_level() != "namespaces", reason="needs root with mount and PID namespaces"))]


@pytest.fixture(autouse=True)
def xdg_cache(tmp_path, monkeypatch):
    """Every test gets its own cache under /tmp: never the real one (and, under /tmp, the namespaces
    isolation covers it with the environment's own /tmp unless it keeps the SDK visible)."""
    cache = tmp_path / "xdg-cache"
    cache.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def cache_entries() -> list:
    """What the SDK cache holds besides the install locks (which stay, empty, once made)."""
    return sorted(name for name in os.listdir(sdks.sdk_root()) if not name.endswith(".lock"))


def write_tree(root, files: dict) -> str:
    for name, text in files.items():
        path = os.path.join(str(root), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text).lstrip())
    return str(root)


def fake_node_package(node_modules: str, origin: str) -> None:
    """A dual (ESM and CommonJS) '@aws-sdk/client-dynamodb' that says where it was found."""
    write_tree(os.path.join(node_modules, "@aws-sdk", "client-dynamodb"), {
        "package.json": json.dumps({"name": "@aws-sdk/client-dynamodb", "version": "3.0.0-fake",
                                    "exports": {".": {"import": "./index.mjs", "require": "./index.cjs"}}}),
        "index.mjs": f"export const origin = {origin!r}; export const kind = 'esm';\n",
        "index.cjs": f"exports.origin = {origin!r}; exports.kind = 'cjs';\n",
    })


def node_spec(tmp_path, name: str, files: dict, handler: str, runtime: str = "nodejs20.x",
              environment=None) -> FunctionSpec:
    code = write_tree(tmp_path / "functions" / name, files)
    return FunctionSpec(logical_id=name, function_name=name, handler=handler, runtime=runtime, code_dir=code,
                        timeout_s=10, memory_mb=256, environment=environment or {})


def python_spec(tmp_path, name: str, files: dict, version: str = PY) -> FunctionSpec:
    code = write_tree(tmp_path / "functions" / name, files)
    return FunctionSpec(logical_id=name, function_name=name, handler="app.handler", runtime=f"python{version}",
                        code_dir=code, timeout_s=10)


def invoke_each(tmp_path, specs: list, isolation: str = "none") -> dict:
    """{logical id: (failed, decoded payload)}: each function invoked once on a real worker."""
    async def go():
        scheduler = Scheduler(specs, Config(state_dir=str(tmp_path / "state"), console_logs=False,
                                            isolation=isolation))
        await scheduler.start()
        try:
            results = {}
            for spec in specs:
                result = await scheduler.invoke(spec.logical_id, b"{}")
                results[spec.logical_id] = (result.failed, json.loads(result.payload))
            return results
        finally:
            await scheduler.close()
    return run_bounded(go(), 60)


ESM_APP = """
    import { origin, kind } from '@aws-sdk/client-dynamodb';
    export const handler = async () => ({ origin, kind, argv: process.argv.length, nodePath: process.env.NODE_PATH });
"""
CJS_APP = """
    const { origin, kind } = require('@aws-sdk/client-dynamodb');
    exports.handler = async () => ({ origin, kind, argv: process.argv.length });
"""
CJS_DYNAMIC_IMPORT_APP = """
    exports.handler = async () => {
      const { origin, kind } = await import('@aws-sdk/client-dynamodb');
      return { origin, kind };
    };
"""


# ---------------------------------------------------------------------------- Node.js lookup order

@needs_node
@pytest.mark.integration
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_node_function_own_copy_wins_and_the_cache_serves_the_rest(tmp_path, isolation):
    fake_node_package(sdks.node_modules_dir(), "cache")
    vendored = {"app.mjs": ESM_APP}
    specs = [node_spec(tmp_path, "Vendored", vendored, "app.handler"),
             node_spec(tmp_path, "CacheEsm", {"app.mjs": ESM_APP}, "app.handler"),
             node_spec(tmp_path, "CacheCjs", {"app.js": CJS_APP}, "app.handler", runtime="nodejs22.x"),
             node_spec(tmp_path, "CacheDynamic", {"app.js": CJS_DYNAMIC_IMPORT_APP}, "app.handler"),
             node_spec(tmp_path, "SubdirEsm", {"src/handlers/app.mjs": ESM_APP}, "src/handlers/app.handler")]
    fake_node_package(os.path.join(specs[0].code_dir, "node_modules"), "vendored")
    results = invoke_each(tmp_path, specs, isolation)

    assert results["Vendored"] == (False, {"origin": "vendored", "kind": "esm", "argv": 2,
                                           "nodePath": f"{sdks.node_modules_dir()}:{specs[0].code_dir}"})
    assert results["CacheEsm"][1]["origin"] == "cache" and results["CacheEsm"][1]["kind"] == "esm"
    assert results["CacheCjs"] == (False, {"origin": "cache", "kind": "cjs", "argv": 2})
    assert results["CacheDynamic"] == (False, {"origin": "cache", "kind": "esm"})
    assert results["SubdirEsm"][1]["origin"] == "cache"


@needs_node
@pytest.mark.integration
def test_node_function_without_any_copy_fails_as_on_a_runtime_without_the_sdk(tmp_path):
    plain = {"app.mjs": "export const handler = async () => ({ fine: true });\n"}
    specs = [node_spec(tmp_path, "Imports", {"app.mjs": ESM_APP}, "app.handler"),
             node_spec(tmp_path, "Plain", plain, "app.handler")]
    results = invoke_each(tmp_path, specs)
    failed, body = results["Imports"]
    assert failed and "Cannot find package '@aws-sdk/client-dynamodb'" in body["errorMessage"], body
    assert results["Plain"] == (False, {"fine": True})     # functions run without the SDK


@needs_node
@pytest.mark.integration
def test_node_function_that_sets_node_path_or_predates_v3_gets_no_sdk(tmp_path):
    fake_node_package(sdks.node_modules_dir(), "cache")
    own_path = str(tmp_path / "functions" / "OwnNodePath" / "lib" / "node_modules")
    own = node_spec(tmp_path, "OwnNodePath", {"app.js": CJS_APP, "lib/node_modules/.keep": ""}, "app.handler",
                    environment={"NODE_PATH": own_path})
    old = node_spec(tmp_path, "Node16", {"app.js": CJS_APP}, "app.handler", runtime="nodejs16.x")
    results = invoke_each(tmp_path, [own, old])
    # as AWS's bootstrap: a NODE_PATH of the function's own replaces the runtime's; nodejs16.x had v2 only
    for name in ("OwnNodePath", "Node16"):
        failed, body = results[name]
        assert failed and body["errorType"] == "Runtime.ImportModuleError", (name, body)
        assert "Cannot find module '@aws-sdk/client-dynamodb'" in body["errorMessage"], body
    assert runtime_command("nodejs16.x", own.code_dir, "app.handler")[-1] == commands.NODE_BOOTSTRAP
    assert runtime_command("nodejs18.x", own.code_dir, "app.handler")[-1] == sdks.node_modules_dir()


SYNC_RESOLVE = """
    import * as hooks from %(hooks)s;
    import { pathToFileURL } from 'node:url';
    const [folder, parent] = process.argv.slice(2);
    hooks.setFolders([folder]);
    // Node's own resolver as the next hook: what module.registerHooks (Node 22.15 and later) chains to
    const next = (specifier, context) => ({ url: import.meta.resolve(specifier, context.parentURL) });
    const out = {};
    for (const specifier of ['@aws-sdk/client-dynamodb', '@aws-sdk/client-nothing', './missing.mjs', 'node:fs']) {
      try {
        out[specifier] = hooks.resolveSync(specifier, { parentURL: pathToFileURL(parent).href }, next).url;
      } catch (error) {
        out[specifier] = error.code;
      }
    }
    console.log(JSON.stringify(out));
"""


@needs_node
def test_node_in_thread_resolve_hook_searches_the_folders_after_the_functions_own(tmp_path):
    """The synchronous hook that Node 22.15 and later run in-thread (this machine's Node may be
    older and use the loader-thread one, exercised by the tests above)."""
    hooks = os.path.join(os.path.dirname(commands.NODE_BOOTSTRAP), "nodepath_resolve.mjs")
    script = write_tree(tmp_path, {"resolve.mjs": SYNC_RESOLVE % {"hooks": json.dumps(hooks)}})
    fake_node_package(sdks.node_modules_dir(), "cache")
    own = write_tree(tmp_path / "own", {"app.mjs": ""})
    fake_node_package(os.path.join(own, "node_modules"), "vendored")
    bare = write_tree(tmp_path / "bare", {"app.mjs": ""})

    def resolve(parent: str) -> dict:
        proc = subprocess.run(["node", "--experimental-import-meta-resolve", os.path.join(script, "resolve.mjs"),
                               os.path.realpath(sdks.node_modules_dir()), parent],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    cached, vendored = resolve(os.path.join(bare, "app.mjs")), resolve(os.path.join(own, "app.mjs"))
    package = "/@aws-sdk/client-dynamodb/index.mjs"
    assert cached["@aws-sdk/client-dynamodb"].endswith(os.path.realpath(sdks.node_modules_dir()) + package)
    assert vendored["@aws-sdk/client-dynamodb"].endswith(os.path.join(own, "node_modules") + package)
    for found, parent in ((cached, bare), (vendored, own)):
        assert found["@aws-sdk/client-nothing"] == "ERR_MODULE_NOT_FOUND"   # Node's own error, as without the SDK
        assert found["./missing.mjs"] == f"file://{parent}/missing.mjs"    # not bare: never searched for
        assert found["node:fs"] == "node:fs"


@needs_node
def test_node_command_line_ends_with_the_sdk_once_installed(tmp_path):
    before = runtime_command("nodejs20.x", str(tmp_path), "app.handler")
    assert sdks.node_modules_dir() not in before
    fake_node_package(sdks.node_modules_dir(), "cache")
    assert runtime_command("nodejs20.x", str(tmp_path), "app.handler") == [*before, sdks.node_modules_dir()]


# ---------------------------------------------------------------------------- Python lookup order

def fake_boto3(directory: str, origin: str) -> None:
    write_tree(directory, {"boto3/__init__.py": f"ORIGIN = {origin!r}\n"})


PY_APP = """
    import boto3
    def handler(event, context):
        return {"origin": getattr(boto3, "ORIGIN", "lambdagate's own environment"), "file": boto3.__file__}
"""


@pytest.mark.integration
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_python_function_own_copy_wins_and_the_cache_comes_before_lambdagates_own(tmp_path, isolation):
    fake_boto3(sdks.python_sdk_dir(PY), "cache")
    specs = [python_spec(tmp_path, "Vendored", {"app.py": PY_APP}), python_spec(tmp_path, "Cached", {"app.py": PY_APP})]
    fake_boto3(specs[0].code_dir, "vendored")
    results = invoke_each(tmp_path, specs, isolation)
    assert results["Vendored"] == (False, {"origin": "vendored",
                                           "file": os.path.join(specs[0].code_dir, "boto3", "__init__.py")})
    assert results["Cached"] == (False, {"origin": "cache",
                                         "file": os.path.join(sdks.python_sdk_dir(PY), "boto3", "__init__.py")})


def other_python_version():
    from gateway.scheduler import interpreters
    for minor in range(10, 15):
        version = f"3.{minor}"
        if version != PY and interpreters.find(version) is not None:
            return version
    return None


@pytest.mark.integration
def test_python_function_of_another_version_gets_the_sdk_of_its_version(tmp_path):
    version = other_python_version()
    if version is None:
        pytest.skip(f"no Python 3.x other than {PY} is installed (PATH, pyenv, uv)")
    fake_boto3(sdks.python_sdk_dir(version), f"cache {version}")
    fake_boto3(sdks.python_sdk_dir(PY), f"cache {PY}")
    spec = python_spec(tmp_path, "Other", {"app.py": PY_APP}, version)
    failed, body = invoke_each(tmp_path, [spec])["Other"]
    assert (failed, body["origin"]) == (False, f"cache {version}"), body


@pytest.mark.integration
def test_python_function_without_the_cache_uses_what_the_interpreter_has(tmp_path):
    results = invoke_each(tmp_path, [python_spec(tmp_path, "Plain", {"app.py": PY_APP})])
    failed, body = results["Plain"]
    assert not sdks.python_sdk_path(PY)
    if sdks.python_has_sdk(PY):   # lambdagate's own environment has boto3 (a test dependency)
        assert not failed and not body["file"].startswith(str(sdks.sdk_root())), body
    else:
        assert failed and body["errorType"] == "Runtime.ImportModuleError", body


# ---------------------------------------------------------------------------- what is said at startup

class Interpreter:
    """What gateway.scheduler.interpreters says runs a Python function: its version, import path and binary."""
    def __init__(self, version: str, sys_path, executable: str = "/opt/python/bin/python", own: bool = False):
        self.version, self.sys_path, self.executable, self.own = version, sys_path, executable, own


def test_startup_notes_name_the_missing_sdks_and_the_command(tmp_path):
    with_boto3 = write_tree(tmp_path / "site-packages", {"boto3/__init__.py": ""})
    specs = [python_spec(tmp_path, "Py", {"app.py": ""}), python_spec(tmp_path, "PyOther", {"app.py": ""}),
             python_spec(tmp_path, "PyWithBoto3", {"app.py": ""}),
             node_spec(tmp_path, "NodeA", {"app.mjs": ""}, "app.handler"),
             node_spec(tmp_path, "NodeOld", {"app.mjs": ""}, "app.handler", runtime="nodejs16.x")]
    interpreters = {"Py": Interpreter("9.98", [str(tmp_path / "empty")]), "PyOther": Interpreter("9.99", []),
                    "PyWithBoto3": Interpreter("9.97", [with_boto3])}

    def notes():
        return sdks.survey_sdks(specs, lambda spec: interpreters[spec.logical_id]).notes()

    python_notes = [n for n in notes() if "boto3" in n]
    assert [re.search(r"for Python (\S+): functions (\w+) find", n).groups() for n in python_notes] == [
        ("9.98", "Py"), ("9.99", "PyOther")]       # 9.97's interpreter has boto3 of its own
    assert "lambdagate setup sdk --python 9.98" in python_notes[0] and sdks.python_sdk_dir("9.98") in python_notes[0]
    node_note = next(n for n in notes() if "JavaScript" in n)
    assert "lambdagate setup sdk --node" in node_note and "NodeA" in node_note and "NodeOld" not in node_note

    fake_boto3(sdks.python_sdk_dir("9.98"), "cache")
    fake_node_package(sdks.node_modules_dir(), "cache")
    assert [n for n in notes() if "setup sdk" in n] == [python_notes[1]]


def test_startup_notes_default_to_lambdagates_own_interpreter(tmp_path):
    notes = sdks.survey_sdks([python_spec(tmp_path, "Py", {"app.py": ""})]).notes()
    assert bool(notes) != sdks.python_has_sdk(PY)
    assert all(f"--python {PY}" in note for note in notes)


@needs_node
def test_startup_notes_warn_when_node_is_not_the_declared_major(tmp_path):
    node = shutil.which("node")
    version = sdks.node_version(node)
    major = int(re.match(r"v(\d+)", version).group(1))
    specs = [node_spec(tmp_path, f"Fn{i}", {"app.mjs": ""}, "app.handler", runtime=f"nodejs{major + 2}.x")
             for i in range(7)] + [node_spec(tmp_path, "Same", {"app.mjs": ""}, "app.handler",
                                             runtime=f"nodejs{major}.x")]
    mismatch = [n for n in sdks.survey_sdks(specs).notes() if f"run on node {version}" in n]
    assert len(mismatch) == 1, mismatch
    assert mismatch[0].startswith(f"nodejs{major + 2}.x functions Fn0, Fn1, Fn2, Fn3, Fn4 and 2 more run on node")
    assert node in mismatch[0] and "Same" not in mismatch[0]


# ---------------------------------------------------------------------------- `lambdagate setup sdk`

def test_setup_sdk_arguments():
    parser = build_parser()
    args = parser.parse_args(["setup", "sdk"])
    assert (args.command, args.setup_what, args.python, args.node, args.node_package) == ("setup", "sdk", [], False, [])
    args = parser.parse_args(["setup", "sdk", "--python", "3.12", "--python", "3.13=/opt/py/bin/python3.13",
                              "--node-package", "@aws-sdk/client-kinesis",
                              "--node-package", "@aws-sdk/client-sfn@3.600.0"])
    assert args.python == [("3.12", None), ("3.13", "/opt/py/bin/python3.13")]
    assert args.node_package == ["@aws-sdk/client-kinesis", "@aws-sdk/client-sfn@3.600.0"]


@pytest.mark.parametrize("argv, message", [
    (["setup"], "required: WHAT"),
    (["setup", "runtimes"], "invalid choice: 'runtimes'"),
    (["setup", "sdk", "--python", "3"], "expected a Python version such as 3.12"),
    (["setup", "sdk", "--python", "three.twelve"], "expected a Python version"),
    (["setup", "sdk", "--python", "3.12="], "expected VERSION=PATH"),
    (["setup", "sdk", "--node-package", "--registry=http://x"], "expected one argument"),
    (["setup", "sdk", "--node-package=--registry=http://x"], "expected an npm package name"),
    (["setup", "sdk", "--node-package", "../evil"], "expected an npm package name"),
    (["setup", "sdk", "--node", "extra"], "unrecognized arguments: extra"),
])
def test_setup_sdk_rejects_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_python_installer_uses_an_interpreter_of_the_version_else_fetches_wheels_for_it():
    own = sdk_install.python_installer(PY, None, sys.executable)
    assert own[:4] == [sys.executable, "-m", "pip", "install"] and "--python-version" not in own
    assert own[-1] == "boto3"
    other = sdk_install.python_installer("9.99", sys.executable, sys.executable)   # no Python 9.99 anywhere
    assert other[:4] == [sys.executable, "-m", "pip", "install"]
    assert other[other.index("--python-version") + 1] == "9.99" and "--only-binary=:all:" in other


def test_setup_sdk_with_an_interpreter_of_another_version_refuses(tmp_path, xdg_cache):
    other = "3.99" if PY != "3.99" else "3.98"
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "setup", "sdk", "--python", f"{other}={sys.executable}"],
                          env=checkout_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"could not install boto3 for Python {other} into {sdks.python_sdk_dir(other)}: {sys.executable} is not " \
           f"a Python {other} that runs" in proc.stderr
    assert not os.path.exists(sdks.sdk_root()) or cache_entries() == []


def test_node_packages_keep_earlier_additions_and_asked_versions(xdg_cache):
    write_tree(sdks.node_sdk_dir(), {"package.json": json.dumps(
        {"dependencies": {"@aws-sdk/client-kinesis": "^3.1.0", "@aws-sdk/client-s3": "^3.1.0"}})})
    packages = sdk_install.node_packages(["@aws-sdk/client-s3@3.600.0", "@aws-sdk/client-sfn"])
    assert packages[:len(sdks.NODE_PACKAGES)] == [
        "@aws-sdk/client-s3@3.600.0" if p == "@aws-sdk/client-s3" else p for p in sdks.NODE_PACKAGES]
    assert packages[len(sdks.NODE_PACKAGES):] == ["@aws-sdk/client-kinesis", "@aws-sdk/client-sfn"]


def offline_env(tmp_path) -> dict:
    """pip and npm pointed at a port nobody listens on, with no local wheels or npm cache."""
    dead = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in checkout_env().items() if not k.upper().startswith(("PIP_", "NPM_CONFIG_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=f"{dead}/simple", PIP_RETRIES="1", PIP_DEFAULT_TIMEOUT="5",
               npm_config_registry=f"{dead}/", npm_config_cache=str(tmp_path / "npm-cache"),
               npm_config_fetch_retries="0", npm_config_userconfig=os.devnull)
    return env


def test_setup_sdk_offline_says_what_failed_and_what_to_run(tmp_path, xdg_cache):
    env = offline_env(tmp_path)
    args = ["--python", PY] + (["--node", "--node-package", "@aws-sdk/client-kinesis"] if HAVE_NODE else [])
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "setup", "sdk", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=100)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("lambdagate: ")]
    assert lines[0].startswith(f"lambdagate: installing boto3 for Python {PY} into {sdks.python_sdk_dir(PY)}: ")
    python_failed = next(line for line in lines if line.startswith("lambdagate: could not install boto3"))
    assert "the Python package index cannot be reached (offline?)" in python_failed
    assert "Functions still run without it" in python_failed
    assert python_failed.endswith(f"To install it later: lambdagate setup sdk --python {PY}")
    if HAVE_NODE:
        node_failed = next(line for line in lines if "could not install the AWS SDK for JavaScript" in line)
        assert "the npm registry cannot be reached (offline?)" in node_failed
        assert node_failed.endswith("lambdagate setup sdk --node --node-package @aws-sdk/client-kinesis")
    # nothing half-installed is left in the cache
    assert cache_entries() == []


def test_setup_sdk_without_npm_says_so(tmp_path, xdg_cache):
    env = dict(checkout_env(), PATH=str(tmp_path / "empty-bin"))
    proc = subprocess.run([sys.executable, "-m", "gateway.cli", "setup", "sdk", "--node"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "npm is not on PATH: install Node.js's npm (npm package)" in proc.stderr
    assert "boto3" not in proc.stderr       # only what was asked for


# ---------------------------------------------------------------------------- the real thing

def registry_reachable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), 5):
            return True
    except OSError:
        return False


def npm_registry() -> str:
    try:
        out = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


@needs_node
@pytest.mark.slow
@pytest.mark.integration
def test_real_install_then_functions_use_the_sdks(tmp_path):
    registry = npm_registry()
    if not registry or not registry_reachable(registry):
        pytest.skip(f"the npm registry ({registry or 'npm config get registry failed'}) is not reachable")
    try:
        proc = subprocess.run([sys.executable, "-m", "gateway.cli", "setup", "sdk", "--python", PY, "--node"],
                              env=checkout_env(), cwd=tmp_path, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=110)
    except subprocess.TimeoutExpired:
        # a registry that answers but crawls is the network's state, not lambdagate's
        pytest.skip("the package registries did not serve the SDKs within 110 s")
    if proc.returncode != 0 and any(why in proc.stderr for why in REGISTRY_TROUBLE):
        pytest.skip(f"a package registry is not reachable: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    assert f"installed boto3 for Python {PY}" in proc.stderr
    assert "installed the AWS SDK for JavaScript v3" in proc.stderr

    node_app = """
        import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
        import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
        const client = new DynamoDBClient({ region: 'eu-west-1' });
        export const handler = async () => ({
          send: typeof DynamoDBDocumentClient.from(client).send,
          region: await client.config.region(),
          command: new ListTablesCommand({}).constructor.name,
        });
    """
    py_app = """
        import boto3
        def handler(event, context):
            client = boto3.client("dynamodb", region_name="eu-west-1")
            return {"file": boto3.__file__, "service": client.meta.service_model.service_name}
    """
    specs = [node_spec(tmp_path, "Node", {"app.mjs": node_app}, "app.handler"),
             python_spec(tmp_path, "Py", {"app.py": py_app})]
    results = invoke_each(tmp_path, specs)
    assert results["Node"] == (False, {"send": "function", "region": "eu-west-1", "command": "ListTablesCommand"})
    assert results["Py"] == (False, {"file": os.path.join(sdks.python_sdk_dir(PY), "boto3", "__init__.py"),
                                     "service": "dynamodb"})
