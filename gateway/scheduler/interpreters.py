"""Which interpreter runs a Python function: one of the version its runtime declares.

For `python3.X`, in this order: the path given with `--python 3.X=PATH` (Config.python_interpreters);
lambdagate's own interpreter when it is 3.X; `python3.X` in each directory of PATH; pyenv's
($PYENV_ROOT, else ~/.pyenv: versions/3.X.*/bin/python3.X); uv's managed interpreters
($UV_PYTHON_INSTALL_DIR, else $XDG_DATA_HOME/uv/python or ~/.local/share/uv/python:
cpython-3.X.*/bin/python3.X); in pyenv's and uv's, plain releases before release candidates and
free-threaded builds, and the newest patch first. Each candidate is run once to learn what it
really is: a pyenv shim exists for every version pyenv knows but fails for one that is not
selected, and a link may point elsewhere than its name says. What was found is kept for the life
of the process (`forget` looks again).

Where no interpreter of the version is installed, the function runs on lambdagate's own, and one
warning at startup says so.
"""
from __future__ import annotations

import glob
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Optional

from gateway.config import Config
from gateway.errors import LambdagateError
from gateway.scheduler.zygote import other_interpreter_environment
from gateway.types import FunctionSpec

log = logging.getLogger("lambdagate")

_RUNTIME_RE = re.compile(r"python(\d+\.\d+)")
_PROBE_TIMEOUT_S = 10.0
# What a candidate says of itself: its version, the binary behind any shim, the prefixes an isolated
# environment must still show, its import path without the working directory ("" under -c), and
# whether it has ctypes, which the worker runtime's isolation needs (a Python built without libffi's
# headers, as pyenv builds where they are missing, has none)
_PROBE = ("import json, sys\n"
          "try:\n    import ctypes\n    missing = ''\nexcept ImportError as exc:\n    missing = str(exc)\n"
          "print(json.dumps([list(sys.version_info[:2]), sys.executable, [sys.prefix, sys.exec_prefix, "
          "sys.base_prefix, sys.base_exec_prefix], [p for p in sys.path if p], missing]))")


@dataclass(frozen=True)
class Interpreter:
    version: str                # "3.12"
    executable: str             # the binary itself (never a shim): what its zygote runs
    roots: tuple = ()           # its prefixes (a venv's and the installation's)
    sys_path: Optional[tuple] = None   # a worker's import path after its code; None: lambdagate's own
    own: bool = False           # lambdagate's own interpreter: the zygote that also starts other runtimes
    unusable: str = ""          # why lambdagate's worker runtime cannot run on it ("" when it can)


class InterpreterError(LambdagateError):
    """An interpreter given with --python that does not run, is of another version than it was given
    for, or cannot run lambdagate's worker runtime."""


def runtime_version(runtime: str) -> Optional[str]:
    """"3.12" for "python3.12"; None for any other runtime."""
    match = _RUNTIME_RE.fullmatch(runtime)
    return match.group(1) if match else None


# ------------------------------------------------------------------------------- probing one candidate

_probed: dict = {}        # (path, PYTHONPATH) -> Interpreter or None
_found: dict = {}         # (version, the environment's search places) -> Interpreter or None
_lock = threading.Lock()


def probe(path: str, host_env: Mapping[str, str] = os.environ) -> Optional[Interpreter]:
    """What the interpreter at `path` is, from running it once; None when it does not run (a pyenv
    shim of a version not selected, a broken link, not Python at all)."""
    env = other_interpreter_environment(host_env)   # as its zygote will have it: the same import path
    path = os.path.abspath(path)
    key = (path, env.get("PYTHONPATH"))
    with _lock:
        if key in _probed:
            return _probed[key]
    interpreter = None
    try:
        out = subprocess.run([path, "-c", _PROBE], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                             timeout=_PROBE_TIMEOUT_S, cwd="/")
        if out.returncode == 0:
            (major, minor), executable, roots, sys_path, missing = json.loads(
                out.stdout.decode().strip().splitlines()[-1])
            interpreter = Interpreter(f"{int(major)}.{int(minor)}", os.path.abspath(executable or path),
                                      tuple(dict.fromkeys(roots)), tuple(sys_path),
                                      unusable=f"it has no ctypes ({missing})" if missing else "")
    except (OSError, subprocess.SubprocessError, ValueError, TypeError, IndexError):
        interpreter = None
    with _lock:
        _probed[key] = interpreter
    return interpreter


def forget() -> None:
    """Drop what was found and probed: the next lookups look again (interpreters were installed)."""
    with _lock:
        _probed.clear()
        _found.clear()


# ------------------------------------------------------------------------------- where to look

def _version_key(name: str, version: str):
    """How a directory named for 3.X.<patch><suffix> ranks: plain releases (no "rc1", "t",
    "+freethreaded") before the others, then the newest patch; None if it is not 3.X."""
    match = re.match(re.escape(version) + r"\.(\d+)([^-]*)", name)
    if match is None:
        return None
    return match.group(2) == "", int(match.group(1)), match.group(2)


def _newest_first(pattern: str, prefix: str, version: str) -> list:
    found = []
    for path in glob.glob(pattern):
        name = os.path.basename(os.path.dirname(os.path.dirname(path)))[len(prefix):]
        key = _version_key(name, version)
        if key is not None:
            found.append((key, path))
    return [path for _, path in sorted(found, reverse=True)]


def candidates(version: str, host_env: Mapping[str, str] = os.environ) -> Iterator[str]:
    """Where an interpreter of `version` may be, in the order they are tried."""
    binary = f"python{version}"
    for directory in host_env.get("PATH", "").split(os.pathsep):
        if not os.path.isabs(directory):    # an empty or relative entry: the project's own directory
            continue
        path = os.path.join(directory, binary)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            yield path
    home = host_env.get("HOME") or os.path.expanduser("~")
    pyenv = host_env.get("PYENV_ROOT") or os.path.join(home, ".pyenv")
    yield from _newest_first(os.path.join(glob.escape(pyenv), "versions", f"{version}.*", "bin", binary), "",
                             version)
    uv = host_env.get("UV_PYTHON_INSTALL_DIR") or os.path.join(
        host_env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share"), "uv", "python")
    yield from _newest_first(os.path.join(glob.escape(uv), f"cpython-{version}.*", "bin", binary), "cpython-",
                             version)


def find(version: str, host_env: Mapping[str, str] = os.environ) -> Optional[Interpreter]:
    """The first candidate that really is Python `version`; None if none is installed."""
    key = (version, *(host_env.get(name) for name in ("PATH", "HOME", "PYENV_ROOT", "UV_PYTHON_INSTALL_DIR",
                                                       "XDG_DATA_HOME", "PYTHONPATH")))
    with _lock:
        if key in _found:
            return _found[key]
    found = None
    for path in candidates(version, host_env):
        interpreter = probe(path, host_env)
        if interpreter is not None and interpreter.version == version and not interpreter.unusable:
            found = interpreter
            break
    with _lock:
        _found[key] = found
    return found


def given(version: str, path: str, host_env: Mapping[str, str] = os.environ) -> Interpreter:
    """The interpreter given with --python VERSION=PATH (a bare name is looked up on PATH);
    InterpreterError if it is not that version."""
    if os.sep not in path:
        path = shutil.which(path, path=host_env.get("PATH")) or path
    interpreter = probe(path, host_env)
    if interpreter is None:
        raise InterpreterError(f"--python {version}={path}: it does not run as a Python interpreter")
    if interpreter.version != version:
        raise InterpreterError(f"--python {version}={path}: it is Python {interpreter.version}, not {version}")
    if interpreter.unusable:
        raise InterpreterError(f"--python {version}={path}: {interpreter.unusable}")
    return interpreter


def own_interpreter(config: Config) -> Interpreter:
    """lambdagate's own interpreter (Config.python): its workers keep lambdagate's import path."""
    python = config.python
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        version = "%d.%d" % sys.version_info[:2]
    else:
        probed = probe(python)
        version = probed.version if probed is not None else "%d.%d" % sys.version_info[:2]
    return Interpreter(version, python, tuple(dict.fromkeys((sys.prefix, sys.exec_prefix))), None, own=True)


# ------------------------------------------------------------------------------- a template's functions

def choose(functions: Iterable[FunctionSpec], config: Config,
           host_env: Mapping[str, str] = os.environ) -> dict:
    """{runtime: Interpreter} for the Python runtimes of `functions`; logs one warning naming the
    versions that are not installed (their functions run on lambdagate's own interpreter)."""
    own = own_interpreter(config)
    by_version: dict = {}           # "3.12" -> [logical ids]
    for spec in functions:
        version = runtime_version(spec.runtime)
        if version is not None:
            by_version.setdefault(version, []).append(spec.logical_id)
    explicit = config.python_interpreters or {}

    def lookup(version: str) -> Optional[Interpreter]:
        if version in explicit:
            interpreter = given(version, explicit[version], host_env)
            return own if os.path.abspath(interpreter.executable) == os.path.abspath(own.executable) else interpreter
        if version == own.version:
            return own
        return find(version, host_env)

    versions = list(by_version)
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(versions)))) as pool:   # each probe is a process
        found = dict(zip(versions, pool.map(lookup, versions)))
    missing = {version: by_version[version] for version in versions if found[version] is None}
    if missing:
        log.warning("%s", fallback_warning(missing, own.version))
    return {f"python{version}": interpreter or own for version, interpreter in found.items()}


def fallback_warning(missing: dict, own_version: str) -> str:
    """The one warning, {"3.12": [function ids], ...} -> "python3.12 is not installed: ...", oldest
    version first."""
    versions = sorted(missing, key=lambda version: tuple(map(int, version.split("."))))
    parts = []
    for version in versions:
        names = missing[version]
        subject, verb = ("function", "runs") if len(names) == 1 else ("functions", "run")
        parts.append(f"python{version} is not installed: {subject} {', '.join(names)} {verb} on Python {own_version}")
    how = " ".join(f"--python {version}=PATH" for version in versions)
    return f"{'; '.join(parts)} (give one with {how})"
