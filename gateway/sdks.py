"""The AWS SDKs that Lambda's managed runtimes include, for functions that do not ship their own.

On AWS, `import boto3` (python3.x) and `import '@aws-sdk/client-dynamodb'` (nodejs18.x and later)
work without the function packaging them: the runtime carries a copy, found after the function's
own. lambdagate keeps one copy per runtime family in its cache (gateway.config.cache_dir()):

    <cache>/sdk/python-3.X/            boto3 and its dependencies (pip --target), per Python minor version
    <cache>/sdk/nodejs/node_modules/   the AWS SDK for JavaScript v3: NODE_PACKAGES, and any added

Where a function finds it (the function's own copy always wins, as on AWS):

- Python: the code directory, then the SDK directory, then the import path of the interpreter
  that runs the worker. lambdagate's own environment may hold a boto3 too (it is a test dependency
  of lambdagate): that one serves only when the SDK directory has none. The worker's sys.path is
  built by gateway.scheduler.environment.python_worker_spec from `python_sdk_path()`.
- Node.js: Node's own resolution from the importing file first (the function's node_modules, up
  the tree), then NODE_PATH, which lambdagate's Node.js runtime sets, as AWS's bootstrap does when
  the function sets none, to the SDK's node_modules and the code directory. CommonJS `require`
  reads NODE_PATH itself; ES modules do not, so the runtime adds a resolve hook that searches
  NODE_PATH's node_modules folders when the default resolution finds nothing (Lambda does the same
  from nodejs18.x on). The runtime is given the folder as its last argument (`node_sdk_argv()`).

When it is installed: the first time a template's functions need it (gateway.sdk_autoinstall:
the servers install it beside serving, `invoke` before its invocation), or ahead with `lambdagate
setup sdk` (gateway.sdk_install), which also adds a client that NODE_PACKAGES does not list
(`--node-package @aws-sdk/client-xyz`; Lambda includes every one). At startup `survey_sdks()`
finds what is missing for which functions; with installing turned off (Config.sdk_install,
--no-sdk-install, LAMBDAGATE_NO_SDK_INSTALL=1) one startup line per missing SDK names the functions
and the command that installs it (`SdkSurvey.notes`). Until it is there the functions still run,
and one that imports the SDK fails as it would on a runtime without it.
"""
from __future__ import annotations

import functools
import importlib.machinery
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Optional, Sequence

from gateway.config import cache_dir

PYTHON_PACKAGE = "boto3"
NODE_SDK = "the AWS SDK for JavaScript v3"
# The clients the `sam init` templates and most functions use; Lambda's runtime has them all.
NODE_PACKAGES = (
    "@aws-sdk/client-dynamodb", "@aws-sdk/lib-dynamodb", "@aws-sdk/util-dynamodb",
    "@aws-sdk/client-s3", "@aws-sdk/client-sqs", "@aws-sdk/client-sns", "@aws-sdk/client-lambda",
    "@aws-sdk/client-ssm", "@aws-sdk/client-secrets-manager", "@aws-sdk/client-eventbridge",
    "@aws-sdk/client-sts",
)
# nodejs18.x is the first Node.js runtime with the v3 SDK (nodejs16.x and older had v2's aws-sdk)
_NODE_SDK_FROM_MAJOR = 18
_NODEJS_RE = re.compile(r"nodejs(\d+)\.x")
_NAMES_SHOWN = 5


def sdk_root() -> str:
    return os.path.join(cache_dir(), "sdk")


def python_sdk_dir(version: str) -> str:
    """Where boto3 goes for Python `version` ("3.12")."""
    return os.path.join(sdk_root(), f"python-{version}")


def node_sdk_dir() -> str:
    """The npm prefix of the Node.js SDK (its package.json lists what is installed)."""
    return os.path.join(sdk_root(), "nodejs")


def node_modules_dir() -> str:
    return os.path.join(node_sdk_dir(), "node_modules")


def running_python_version() -> str:
    return "%d.%d" % sys.version_info[:2]


def python_sdk_path(version: Optional[str] = None) -> List[str]:
    """The entries a Python worker's sys.path gets right after the code directory: the SDK
    directory of `version` (default: the running interpreter's) when it is installed."""
    directory = python_sdk_dir(version or running_python_version())
    return [directory] if os.path.isdir(os.path.join(directory, PYTHON_PACKAGE)) else []


def node_sdk_argv(runtime: str) -> List[str]:
    """What the command line of a `runtime` worker ends with: the SDK's node_modules, when it is
    installed and Lambda's runtime includes it. (An absolute path among the arguments also stays
    visible inside the namespaces isolation.)"""
    directory = node_modules_dir()
    return [directory] if node_runtime_has_sdk(runtime) and os.path.isdir(directory) else []


def node_runtime_has_sdk(runtime: str) -> bool:
    """Whether Lambda's `runtime` (nodejsN.x) includes the v3 SDK."""
    match = _NODEJS_RE.fullmatch(runtime)
    return bool(match) and int(match.group(1)) >= _NODE_SDK_FROM_MAJOR


def python_has_sdk(version: Optional[str] = None, import_path: Optional[Sequence[str]] = None) -> bool:
    """Whether a Python worker of `version` finds boto3 without shipping it: in the SDK directory,
    or in its interpreter's own import path (`import_path`; None: lambdagate's own, which workers of
    the running interpreter inherit)."""
    if python_sdk_path(version):
        return True
    if import_path is None:
        import_path = [p for p in sys.path if p and p != os.getcwd()]
    return importlib.machinery.PathFinder.find_spec(PYTHON_PACKAGE, list(import_path)) is not None


@functools.lru_cache(maxsize=None)
def node_version(node: str) -> str:
    """`node --version` ("v20.20.2"), or "" when it does not answer."""
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _names(functions: List[str]) -> str:
    shown = ", ".join(functions[:_NAMES_SHOWN])
    more = len(functions) - _NAMES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def python_sdk_name(version: str) -> str:
    return f"{PYTHON_PACKAGE} for Python {version}"


@dataclass(frozen=True)
class MissingSdk:
    """An SDK that Lambda's runtime includes and that functions of the template would not find here."""
    language: str                       # "python" or "nodejs"
    functions: tuple                    # their logical ids
    version: str = ""                   # python: "3.12"
    interpreter: Optional[str] = None   # python: what runs those functions, when not lambdagate's own

    @property
    def what(self) -> str:
        return python_sdk_name(self.version) if self.language == "python" else NODE_SDK

    @property
    def where(self) -> str:
        return python_sdk_dir(self.version) if self.language == "python" else node_sdk_dir()

    @property
    def setup_command(self) -> str:
        return f"lambdagate setup sdk {f'--python {self.version}' if self.language == 'python' else '--node'}"

    def installed(self) -> bool:
        """Whether lambdagate's cache has it now (a worker started from then on finds it)."""
        return bool(python_sdk_path(self.version)) if self.language == "python" else os.path.isdir(node_modules_dir())

    def hint(self) -> str:
        """The startup line when lambdagate does not install it on its own."""
        if self.language == "python":
            return (f"{PYTHON_PACKAGE}, which Lambda's Python runtimes include, is not installed for Python "
                    f"{self.version}: functions {_names(self.functions)} find it only if they ship it. Run "
                    f"`{self.setup_command}` once to install it into {self.where}")
        return (f"{NODE_SDK}, which Lambda's nodejs18.x and later runtimes include, is not installed: functions "
                f"{_names(self.functions)} find @aws-sdk packages only if they ship them. Run `{self.setup_command}` "
                f"once to install it into {self.where}")


@dataclass
class SdkSurvey:
    missing: List[MissingSdk] = field(default_factory=list)
    node_notes: List[str] = field(default_factory=list)   # nodejsN.x functions on another major version

    def notes(self, installing: bool = False) -> List[str]:
        """What to say once at startup: each missing SDK with the command that installs it (unless
        lambdagate is `installing` them: that install says what it does), then the Node.js notes."""
        return ([] if installing else [sdk.hint() for sdk in self.missing]) + self.node_notes


def survey_sdks(functions: Iterable, interpreter_of: Optional[Callable] = None) -> SdkSurvey:
    """The runtimes of `functions` (FunctionSpecs): an SDK that Lambda's runtime includes but this
    machine lacks, and nodejsN.x functions that run on another major version of Node.js.
    `interpreter_of(spec)` tells what runs a python3.x function: an object with `version` ("3.12"),
    `sys_path` (its import path; None: lambdagate's own), `executable` and `own`, as
    gateway.scheduler.interpreters.Interpreter; by default lambdagate's own interpreter runs them all."""
    python_functions: dict = {}     # (version, import path, executable) -> logical ids
    sdk_node_functions, node_declared = [], {}
    for spec in functions:
        if spec.runtime.startswith("python"):
            interpreter = interpreter_of(spec) if interpreter_of else None
            version = interpreter.version if interpreter else running_python_version()
            import_path = interpreter.sys_path if interpreter else None
            executable = interpreter.executable if interpreter and not interpreter.own else None
            key = (version, None if import_path is None else tuple(import_path), executable)
            python_functions.setdefault(key, []).append(spec.logical_id)
        elif _NODEJS_RE.fullmatch(spec.runtime):
            node_declared.setdefault(spec.runtime, []).append(spec.logical_id)
            if node_runtime_has_sdk(spec.runtime):
                sdk_node_functions.append(spec.logical_id)
    survey = SdkSurvey()
    for (version, import_path, executable), names in sorted(python_functions.items(), key=lambda item: item[0][0]):
        if not python_has_sdk(version, import_path):
            survey.missing.append(MissingSdk("python", tuple(names), version, executable))
    if sdk_node_functions and not os.path.isdir(node_modules_dir()):
        survey.missing.append(MissingSdk("nodejs", tuple(sdk_node_functions)))
    node = shutil.which("node") if node_declared else None
    if node:   # (without one, each cold start says what to install)
        version = node_version(node)
        major = re.match(r"v(\d+)\.", version)
        for runtime, names in sorted(node_declared.items()):
            if major and _NODEJS_RE.fullmatch(runtime).group(1) != major.group(1):
                survey.node_notes.append(f"{runtime} functions {_names(names)} run on node {version} ({node}), the "
                                         f"Node.js on PATH: lambdagate runs every nodejsN.x function on it")
    return survey

