"""The command that starts a worker of a Runtime API runtime (`provided.*`, Node.js, Java).

The scheduler runs it with cwd = the code directory and the Lambda environment
(`AWS_LAMBDA_RUNTIME_API`, `_HANDLER`, ...); the process loops on
`/2018-06-01/runtime/invocation/next` like AWS's runtime clients do.
Java sources (lambdagate's bootstrap, and the function's own `.java` files when it
ships no `.class` files) are compiled once into `$XDG_CACHE_HOME/lambdagate/java/`.
"""
from __future__ import annotations

import functools
import glob
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from typing import Iterator, List, Optional, Tuple

from gateway.config import cache_dir
from gateway.errors import RuntimeUnavailable
from gateway.sdks import node_sdk_argv

# the runtime folder (LAMBDA_RUNTIME_DIR, /var/runtime on AWS): the Python worker runtime and,
# beside it, the runtime clients lambdagate ships
RUNTIME_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "runtime")
NODE_BOOTSTRAP = os.path.join(RUNTIME_DIR, "nodejs", "bootstrap.mjs")
JAVA_SOURCES = os.path.join(RUNTIME_DIR, "java")
JAVA_MAIN = "lambdagate.runtime.Bootstrap"

PROVIDED = ("provided", "provided.al2", "provided.al2023")
NODEJS = ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x")  # and older nodejsN.x names
JAVA = ("java8.al2", "java11", "java17", "java21", "java25")  # all run on the JDK installed here
_NODEJS_RE = re.compile(r"nodejs\d+\.x")
_JAVA_RE = re.compile(r"java(\d+)(\.al2)?")
# As AWS's runtimes start them: Node with --expose-gc and 80 KiB headers; the JVM with the serial GC,
# CDS, and C1 only from java17 on (AWS docs, java-customization); heap and V8 sizes from MemorySize.
NODE_FLAGS = ("--expose-gc", "--max-http-header-size=81920")
JVM_FLAGS = ("-XX:+UseSerialGC", "-Xshare:auto", "-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true",
             "-Dfile.encoding=UTF-8")
_SKIP_DIRS = {"node_modules", "__pycache__", "target", "build", ".gradle"}
_locks: dict = {}
_locks_guard = threading.Lock()


def runtime_command(runtime: str, code_dir: str, handler: str, memory_mb: Optional[int] = None) -> List[str]:
    """argv of a worker for `runtime`; raises RuntimeUnavailable when it cannot start here.

    With `memory_mb`, Node's and the JVM's heaps are sized as AWS sizes them for that MemorySize.
    """
    code_dir = os.path.abspath(code_dir)
    if runtime in PROVIDED:
        bootstrap = os.path.join(code_dir, "bootstrap")
        if not os.path.isfile(bootstrap):
            raise RuntimeUnavailable(f"{runtime} needs an executable file named 'bootstrap' in {code_dir} "
                                     "(the runtime client that polls the Runtime API); it is missing")
        if not os.access(bootstrap, os.X_OK):
            raise RuntimeUnavailable(f"{bootstrap} is not executable: chmod +x it")
        return [bootstrap]
    if _NODEJS_RE.fullmatch(runtime):
        new_space = (memory_mb or 0) // 10  # AWS's nodejs bootstrap: new space = a tenth of MemorySize
        memory = [f"--max-semi-space-size={new_space // 2}", f"--max-old-space-size={memory_mb - new_space}"] \
            if memory_mb else []
        return [_tool("node", runtime, "Node.js (nodejs package)"), *NODE_FLAGS, *memory, NODE_BOOTSTRAP,
                *node_sdk_argv(runtime)]   # the AWS SDK's node_modules, when installed (gateway/sdks.py)
    if _JAVA_RE.fullmatch(runtime):
        java, javac = _jdk(runtime)
        bootstrap = _bootstrap_classes(javac)
        classpath = [bootstrap, code_dir, os.path.join(code_dir, "lib", "*")]
        user_classes = _user_classes(javac, code_dir, bootstrap)
        if user_classes:
            classpath.append(user_classes)
        flags = list(JVM_FLAGS)
        if int(_JAVA_RE.fullmatch(runtime).group(1)) >= 17:
            flags.insert(1, "-XX:TieredStopAtLevel=1")
        if memory_mb:
            flags.insert(0, f"-XX:MaxHeapSize={-(-memory_mb * 1024 * 85 // 100)}k")
        return [java, *flags, "-cp", os.pathsep.join(classpath), JAVA_MAIN]
    raise RuntimeUnavailable(f"lambdagate cannot run {runtime} functions: supported runtimes are python3.x, "
                             f"{', '.join(PROVIDED + NODEJS + JAVA)}")


def runtime_available(runtime: str) -> Tuple[bool, str]:
    """(usable here?, what runs it or why not), for log lines and test skips."""
    if runtime in PROVIDED:
        return True, f"{runtime}: runs the function's own 'bootstrap' executable"
    if not _NODEJS_RE.fullmatch(runtime) and not _JAVA_RE.fullmatch(runtime):
        return False, f"{runtime}: not a runtime lambdagate runs through the Runtime API"
    try:
        paths = _jdk(runtime) if _JAVA_RE.fullmatch(runtime) else [_tool("node", runtime, "Node.js (nodejs package)")]
    except RuntimeUnavailable as exc:
        return False, str(exc)
    return True, f"{runtime}: {_version(paths[-1])} ({paths[0]})"


def _jdk(runtime: str) -> Tuple[str, str]:
    """java and javac of a JDK of the runtime's version ($JAVA_HOME, /usr/lib/jvm/*), else those on PATH."""
    # the bootstrap is Java 11 source: java8.al2 runs on a JDK 11 if there is one, else the one on PATH
    major = _JAVA_RE.fullmatch(runtime).group(1)
    if int(major) < 11:
        major = "11"
    on_path = os.path.dirname(os.path.dirname(os.path.realpath(shutil.which("javac") or "/")))
    for home in [os.environ.get("JAVA_HOME", ""), on_path, *sorted(glob.glob("/usr/lib/jvm/*"))]:
        java, javac = os.path.join(home, "bin", "java"), os.path.join(home, "bin", "javac")
        if home and _release_major(home) == major and os.access(java, os.X_OK) and os.access(javac, os.X_OK):
            return java, javac
    install = "a JDK 11 or newer (default-jdk-headless package)"
    return _tool("java", runtime, install), _tool("javac", runtime, install)


@functools.lru_cache(maxsize=None)
def _release_major(home: str) -> str:
    try:
        with open(os.path.join(home, "release")) as f:
            version = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', f.read(), re.M)
    except OSError:
        return ""
    return version.group(1) if version else ""


def _tool(name: str, runtime: str, install: str) -> str:
    path = shutil.which(name)
    if not path:
        raise RuntimeUnavailable(f"'{name}' is not on PATH: install {install} to run {runtime} functions")
    return path


@functools.lru_cache(maxsize=None)
def _version(tool: str) -> str:
    try:
        out = subprocess.run([tool, "-version" if "java" in os.path.basename(tool) else "--version"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeUnavailable(f"{tool} does not run: {exc}") from None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else os.path.basename(tool)


def _cache_root() -> str:
    return os.path.join(cache_dir(), "java")


def _java_files(root: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".java"):
                yield os.path.join(dirpath, name)


def _digest(javac: str, files: List[str], root: str, extra: str = "") -> str:
    h = hashlib.sha256(f"{_version(javac)}\0{extra}\0".encode())
    for path in files:
        h.update(os.path.relpath(path, root).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:24]


def _compile(javac: str, key: str, sources: List[str], args: List[str], what: str) -> str:
    """Compile sources into the cache directory `key` once (temp dir + rename: safe when racing)."""
    final = os.path.join(_cache_root(), key)
    if os.path.isdir(final):
        return final
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if os.path.isdir(final):
            return final
        try:
            os.makedirs(_cache_root(), exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=f".{key}-", dir=_cache_root())
        except OSError as exc:
            raise RuntimeUnavailable(f"cannot write the Java class cache {_cache_root()}: {exc}") from None
        try:
            try:
                proc = subprocess.run([javac, "-encoding", "UTF-8", "-nowarn", "-d", tmp, *args, *sources],
                                      capture_output=True, text=True, timeout=600)
            except (OSError, subprocess.SubprocessError) as exc:
                raise RuntimeUnavailable(f"javac could not compile {what}: {exc}") from None
            if proc.returncode != 0:
                raise RuntimeUnavailable(f"javac could not compile {what}:\n"
                                         f"{(proc.stderr or proc.stdout).strip()[-4000:]}")
            try:
                os.rename(tmp, final)
            except OSError:  # another process finished first
                if not os.path.isdir(final):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _bootstrap_classes(javac: str) -> str:
    sources = list(_java_files(JAVA_SOURCES))
    key = "bootstrap-" + _digest(javac, sources, JAVA_SOURCES)
    return _compile(javac, key, sources, ["--release", "11"], "lambdagate's Java bootstrap")


def _user_classes(javac: str, code_dir: str, bootstrap: str) -> Optional[str]:
    """The function's .java files compiled, unless it already ships .class files (or has no sources)."""
    for dirpath, dirnames, filenames in os.walk(code_dir):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")]
        if any(name.endswith(".class") for name in filenames):
            return None
    sources = list(_java_files(code_dir))
    if not sources:
        return None
    lib = os.path.join(code_dir, "lib")
    jars = sorted(n for n in os.listdir(lib) if n.endswith(".jar")) if os.path.isdir(lib) else []
    jar_ids = ",".join(f"{n}:{os.path.getsize(os.path.join(lib, n))}" for n in jars)
    key = "user-" + _digest(javac, sources, code_dir, extra=bootstrap + "\0" + jar_ids)
    classpath = os.pathsep.join([bootstrap, os.path.join(lib, "*")])
    return _compile(javac, key, sources, ["-cp", classpath], f"the Java sources in {code_dir}")
