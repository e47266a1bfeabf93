"""Installing the AWS SDKs of gateway/sdks.py into lambdagate's cache: for `lambdagate setup sdk`,
and for gateway.sdk_autoinstall on first need.

Python: `<interpreter> -m pip install --target <dir> boto3`, with the interpreter of that version
(the one given, else lambdagate's own when it is of that version); without one, or without pip in
it, lambdagate's own pip fetches the wheels for that version (boto3 and its dependencies are pure
Python).
Node.js: `npm install --prefix <dir>` of NODE_PACKAGES, the packages installed before and those
asked for. Each goes into a fresh directory beside the final one and replaces it only when
complete, so a worker never sees half an SDK and an interrupted install leaves the old one. One
install of an SDK at a time, across lambdagate processes: a lock file beside it (`.python-3.12.lock`)
is held from before the fresh directory is made until the swap, and a second process waits for it
(with `only_if_missing`, as gateway.sdk_autoinstall's installs, it then finds the SDK there and
leaves it). Progress (what, where, the tool's own output, done or failed) goes to a `Progress`.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, TextIO, Tuple

from gateway import sdks

# what pip and npm print when the registry cannot be reached (rather than the package not existing)
_OFFLINE_MARKERS = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Connection refused|Name or service not known|"
    r"Temporary failure in name resolution|Network is unreachable|No route to host|timed out|"
    r"ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|ENETUNREACH|EHOSTUNREACH|network request to", re.I)
_TAIL_LINES = 40
_LOCK_POLL_S = 0.2


@dataclass
class Outcome:
    what: str           # "boto3 for Python 3.11"
    where: str
    ok: bool
    message: str        # said on the console: what was installed, or why not and what to run


class Progress:
    """How an install reports, and how it is stopped. This one, `lambdagate setup sdk`'s, writes its
    lines ("lambdagate: ...") and the installer's own output, indented, to `stream`."""

    def __init__(self, stream: Optional[TextIO]):
        self.stream = stream
        self.stopped = False
        self._lock = threading.Lock()
        self._running: Optional[subprocess.Popen] = None

    def say(self, text: str) -> None:
        if self.stream is not None:
            self.stream.write(f"lambdagate: {text}\n")
            self.stream.flush()

    def started(self, what: str, where: str, argv: List[str]) -> None:
        self.say(f"installing {what} into {where}: {' '.join(argv)}")

    def waiting(self, what: str, where: str) -> None:
        self.say(f"another lambdagate process is installing {what} into {where}: waiting for it to finish")

    def output(self, line: str) -> None:
        if self.stream is not None:
            self.stream.write(f"    {line}\n")
            self.stream.flush()

    def finished(self, outcome: "Outcome") -> None:
        self.say(outcome.message)

    def stop(self) -> None:
        """Kill the installer running (its whole process group) and start no other: what was being
        installed is dropped, the cache stays as it was. Safe from any thread."""
        with self._lock:
            self.stopped = True
            if self._running is not None:
                _kill_group(self._running)

    def _track(self, proc: Optional[subprocess.Popen]) -> None:
        with self._lock:
            self._running = proc
            if proc is not None and self.stopped:
                _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    # (called before the process is waited for: its pid cannot have been reused)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _run_tool(argv: List[str], progress: Progress) -> Tuple[int, List[str]]:
    """Run an installer, its output (both streams) to `progress`; (status, last lines). In a session
    of its own, so that a Ctrl-C meant for lambdagate's servers does not cut it short unasked: it
    ends with an exception here or with `progress.stop()`."""
    tail: List[str] = []
    try:
        # cwd "/": `python -m pip` puts its working directory first on sys.path, and a template's
        # directory is not to be trusted with a pip.py of its own
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                text=True, errors="replace", start_new_session=True, cwd="/")
    except OSError as exc:
        return 127, [f"{argv[0]}: {exc.strerror}"]
    progress._track(proc)
    read_all = False
    try:
        for line in proc.stdout:
            line = line.rstrip()
            progress.output(line)
            tail = (tail + [line])[-_TAIL_LINES:]
        read_all = True
    finally:
        progress._track(None)
        if not read_all:   # Ctrl-C or a closed console: the installer ends with us
            _kill_group(proc)
        proc.stdout.close()
        status = proc.wait()
    return status, tail


def _why(tail: List[str], registry: str) -> str:
    """The reason an installer failed, in one line."""
    if any(_OFFLINE_MARKERS.search(line) for line in tail):
        return f"the {registry} cannot be reached (offline?)"
    if any("(from versions: none)" in line for line in tail):   # pip without retries says no more
        return f"no {registry} that pip uses offers it (offline, or an index without it?)"
    errors = [line.strip() for line in tail if re.search(r"\berror\b|ERR!", line, re.I) and line.strip()]
    return (errors or [line.strip() for line in tail if line.strip()] or ["no output"])[-1]


def _replace_dir(new: str, final: str) -> None:
    """Put the complete directory `new` where `final` is (the old one goes once the new is there)."""
    old = None
    if os.path.exists(final):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}-old-", dir=os.path.dirname(final))
        os.rename(final, os.path.join(old, "sdk"))
    os.rename(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _fresh_dir(final: str) -> str:
    os.makedirs(os.path.dirname(final), exist_ok=True)
    new = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}-new-", dir=os.path.dirname(final))
    os.chmod(new, 0o755)    # (mkdtemp's 0700 would hide the SDK from workers of another uid)
    return new


# ---------------------------------------------------------------- Python

def _interpreter_version(python: str) -> Optional[str]:
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return sdks.running_python_version()
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60, cwd="/")
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _has_pip(python: str) -> bool:
    try:
        return subprocess.run([python, "-m", "pip", "--version"], capture_output=True, timeout=60,
                              cwd="/").returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def python_installer(version: str, interpreter: Optional[str], own_python: str) -> List[str]:
    """The pip command line (without its --target) that installs boto3 for Python `version`, with
    `interpreter` (or lambdagate's own) when it is of that version and has pip."""
    for python in filter(None, [interpreter, own_python]):
        if _interpreter_version(python) == version and _has_pip(python):
            return [python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check", sdks.PYTHON_PACKAGE]
    # no interpreter of that version with pip here: wheels for that version, fetched by ours
    return [own_python, "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
            "--python-version", version, "--only-binary=:all:", sdks.PYTHON_PACKAGE]


def _installed_version(directory: str, dist: str) -> str:
    for name in os.listdir(directory):
        match = re.fullmatch(rf"{dist}-(.+)\.dist-info", name)
        if match:
            return match.group(1)
    return "?"


def install_python(version: str, progress: Progress, interpreter: Optional[str] = None,
                   own_python: str = sys.executable, only_if_missing: bool = False) -> Outcome:
    """Install boto3 for Python `version`; with `only_if_missing`, not when it is there (once the
    lock is held: another process may have just installed it)."""
    final = sdks.python_sdk_dir(version)
    job = _Job(what=sdks.python_sdk_name(version), final=final, retry_flag=f"--python {version}",
               import_text=f"`import {sdks.PYTHON_PACKAGE}`", registry="Python package index")
    if interpreter and _interpreter_version(interpreter) != version:
        return _failed(progress, job, f"{interpreter} is not a Python {version} that runs")
    argv = python_installer(version, interpreter, own_python)
    return _install(progress, job, only_if_missing,
                    argv_for=lambda target: [*argv, "--target", target],
                    incomplete=lambda target: "" if os.path.isdir(os.path.join(target, sdks.PYTHON_PACKAGE))
                    else f"pip did not install {sdks.PYTHON_PACKAGE}",
                    summary=lambda: f"{sdks.PYTHON_PACKAGE} {_installed_version(final, sdks.PYTHON_PACKAGE)}",
                    present=lambda: bool(sdks.python_sdk_path(version)))


# ---------------------------------------------------------------- Node.js

_NPM_NAME = re.compile(r"(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*(@[\w.^~<>=*|-]+)?")


def valid_node_package(name: str) -> bool:
    """An npm package name, optionally with @version: nothing npm would read as an option or path."""
    return bool(_NPM_NAME.fullmatch(name))


def _installed_node_packages(prefix: str) -> List[str]:
    """What an earlier install asked for (npm keeps it in the prefix's package.json)."""
    try:
        with open(os.path.join(prefix, "package.json")) as f:
            names = list(json.load(f).get("dependencies", {}))
    except (OSError, ValueError, AttributeError):
        return []
    # the names go to npm's command line: nothing it would read as an option, a URL or a path
    return [name for name in names if isinstance(name, str) and valid_node_package(name)]


def _package_name(spec: str) -> str:
    """'@aws-sdk/client-s3@3.600.0' -> '@aws-sdk/client-s3'."""
    at = spec.find("@", 1)
    return spec if at < 0 else spec[:at]


def node_packages(extra: Iterable[str] = ()) -> List[str]:
    """NODE_PACKAGES, those installed before and `extra`, each once (a version asked for wins)."""
    chosen: dict = {}
    for spec in [*sdks.NODE_PACKAGES, *_installed_node_packages(sdks.node_sdk_dir()), *extra]:
        name = _package_name(spec)
        if spec != name or name not in chosen:
            chosen[name] = spec
    return list(chosen.values())


def install_node(progress: Progress, extra: Iterable[str] = (), only_if_missing: bool = False) -> Outcome:
    """Install the AWS SDK for JavaScript v3 (NODE_PACKAGES, those installed before, `extra`); with
    `only_if_missing`, not when it is there."""
    extra = list(extra)
    job = _Job(what=sdks.NODE_SDK, final=sdks.node_sdk_dir(),
               retry_flag=" ".join(["--node", *(f"--node-package {p}" for p in extra)]),
               import_text="an import of @aws-sdk/*", registry="npm registry")
    npm = shutil.which("npm")
    if npm is None:
        return _failed(progress, job, "npm is not on PATH: install Node.js's npm (npm package)")
    packages: List[str] = []

    def argv_for(prefix: str) -> List[str]:
        packages[:] = node_packages(extra)    # read under the lock: what the last install added
        # --ignore-scripts: the @aws-sdk tree needs none, and nothing of a registry runs on the host
        return [npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-update-notifier",
                "--ignore-scripts", *packages]

    def incomplete(prefix: str) -> str:
        missing = [p for p in packages if not os.path.isfile(
            os.path.join(prefix, "node_modules", _package_name(p), "package.json"))]
        return f"npm did not install {', '.join(missing)}" if missing else ""

    return _install(progress, job, only_if_missing, argv_for, incomplete, summary=lambda: f"{len(packages)} packages",
                    present=lambda: os.path.isdir(sdks.node_modules_dir()))


# ---------------------------------------------------------------- one install, under its lock

@dataclass
class _Job:
    what: str           # "boto3 for Python 3.11"
    final: str          # its directory in the cache
    retry_flag: str     # what `lambdagate setup sdk` takes to install it ("--python 3.11")
    import_text: str    # what fails without it
    registry: str       # where it comes from, for "cannot be reached"


def _lock_path(final: str) -> str:
    return os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.lock")


def _take_lock(fd: int, job: _Job, progress: Progress) -> bool:
    """Wait for the lock (polled, so that `progress.stop()` ends the wait); False when stopped."""
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if progress.stopped:
                return False
            if not told:
                progress.waiting(job.what, job.final)
                told = True
            time.sleep(_LOCK_POLL_S)


def _remove_leftovers(final: str) -> None:
    """Unfinished directories of `final` that a killed lambdagate left (the lock is held: no live
    install owns one)."""
    prefixes = (f".{os.path.basename(final)}-new-", f".{os.path.basename(final)}-old-")
    for name in os.listdir(os.path.dirname(final)):
        if name.startswith(prefixes):
            shutil.rmtree(os.path.join(os.path.dirname(final), name), ignore_errors=True)


def _install(progress: Progress, job: _Job, only_if_missing: bool, argv_for: Callable[[str], List[str]],
             incomplete: Callable[[str], str], summary: Callable[[], str], present: Callable[[], bool]) -> Outcome:
    """The install itself, under the SDK's lock: into a fresh directory (`argv_for(it)`), checked
    (`incomplete(it)`: what it lacks, "" when complete), then swapped in whole."""
    try:
        os.makedirs(os.path.dirname(job.final), exist_ok=True)
        lock_fd = os.open(_lock_path(job.final), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        return _failed(progress, job, f"cannot write {os.path.dirname(job.final)}: {exc.strerror}")
    try:
        if not _take_lock(lock_fd, job, progress):
            return _stopped(progress, job)
        _remove_leftovers(job.final)
        if only_if_missing and present():
            return _finished(progress, Outcome(job.what, job.final, True, f"{job.what} is in {job.final}, installed "
                                               f"meanwhile by another lambdagate process"))
        try:
            target = _fresh_dir(job.final)
        except OSError as exc:
            return _failed(progress, job, f"cannot write {os.path.dirname(job.final)}: {exc.strerror}")
        try:
            argv = argv_for(target)
            progress.started(job.what, job.final, argv)
            started_s = time.monotonic()
            status, tail = _run_tool(argv, progress)
            if progress.stopped:
                return _stopped(progress, job)
            lacking = incomplete(target)
            if status != 0 or lacking:
                return _failed(progress, job, _why(tail, job.registry) if status != 0 else lacking)
            _replace_dir(target, job.final)
        finally:
            shutil.rmtree(target, ignore_errors=True)
        return _finished(progress, Outcome(job.what, job.final, True, f"installed {job.what} ({summary()}) into "
                                           f"{job.final} in {time.monotonic() - started_s:.1f} s"))
    finally:
        os.close(lock_fd)


def _finished(progress: Progress, outcome: Outcome) -> Outcome:
    progress.finished(outcome)
    return outcome


def _failed(progress: Progress, job: _Job, why: str) -> Outcome:
    return _finished(progress, Outcome(
        job.what, job.final, False,
        f"could not install {job.what} into {job.final}: {why}. Functions still run without it: {job.import_text} "
        f"fails in those that do not ship their own copy, as on a runtime without the SDK. To install it later: "
        f"lambdagate setup sdk {job.retry_flag}"))


def _stopped(progress: Progress, job: _Job) -> Outcome:
    return _finished(progress, Outcome(job.what, job.final, False,
                                       f"stopped installing {job.what}: lambdagate is stopping; the cache is as it was"))
