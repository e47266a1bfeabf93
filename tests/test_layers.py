"""The dependency direction of DESIGN.md, checked by walking every module's imports.

CLI -> server -> app -> HTTP surfaces (apigw, lambda_api; Starlette and uvicorn live here and above)
and uvicorn's protocol (http_protocol) -> ASGI plumbing (http_io) -> scheduler and async_invoke -> sam -> config, logs,
billing -> _core, types, errors, wire. Each package sits on one layer; a module imports its own
package or lower layers, never a sibling on its layer or anything above. The worker runtime imports
only `gateway.wire` (and itself) from lambdagate, and `_core` imports nothing of gateway.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# layer of each module (lower number = lower layer); a module may import only its own layer or lower
LAYERS = {
    "_core": 0, "gateway.types": 0, "gateway.errors": 0, "gateway.wire": 0, "gateway": 0,
    "gateway.config": 1, "gateway.logs": 1, "gateway.billing": 1,
    "gateway.sdks": 2, "gateway.sdk_install": 3, "gateway.sdk_autoinstall": 4,
    "gateway.sam": 2,
    "gateway.scheduler": 3, "gateway.async_invoke": 3,
    "gateway.http_io": 4, "gateway.http_guard": 4, "gateway.sigv4": 4,
    "gateway.http_protocol": 5, "gateway.apigw": 5, "gateway.lambda_api": 5,
    "gateway.app": 6,
    "gateway.server": 7,
    "gateway.cli": 8,
}
# the worker side runs in forked processes: lambdagate's own code it may use
RUNTIME_ALLOWED = ("gateway.wire", "gateway.runtime", "gateway")
WEB_FRAMEWORKS = ("starlette", "uvicorn")
WEB_ALLOWED = ("gateway.http_protocol", "gateway.apigw.endpoint", "gateway.lambda_api.endpoint", "gateway.app",
               "gateway.server", "gateway.cli")


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    for top in ("gateway", "_core"):
        for path in sorted((ROOT / top).rglob("*.py")):
            yield _module_name(path), path


def _imports(path: pathlib.Path, module: str):
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                yield ".".join(base + ([node.module] if node.module else []))
            elif node.module:
                yield node.module


def _home(name: str):
    """(the LAYERS entry a module belongs to, its layer), or None when unclassified."""
    best = None
    for prefix, layer in LAYERS.items():
        if name == prefix or name.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return best


MODULES = list(_modules())


def test_the_walk_sees_the_package():
    names = {m for m, _ in MODULES}
    assert {"gateway.scheduler.scheduler", "gateway.runtime.worker", "_core.fallback", "gateway.cli",
            "gateway.sam.template", "gateway.apigw.endpoint", "gateway.lambda_api.endpoint"} <= names


def test_every_module_has_a_home():
    unclassified = [m for m, _ in MODULES if not m.startswith(("_core", "gateway.runtime")) and _home(m) is None]
    assert unclassified == []


@pytest.mark.parametrize("package", sorted({m for m, p in MODULES if p.name == "__init__.py"}))
def test_every_package_says_what_it_is(package):
    path = ROOT.joinpath(*package.split("."), "__init__.py")
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and len(docstring.split()) >= 5, f"{path}: the package docstring says what it is"


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_down(module, path):
    own = _home(module)
    for name in _imports(path, module):
        if module.startswith("gateway.runtime"):
            if name.startswith(("gateway", "_core")):
                assert name.startswith(RUNTIME_ALLOWED), f"{module} (worker side) imports {name}"
            continue
        if module.startswith("_core"):
            assert not name.startswith("gateway"), f"{module} imports {name}"
            continue
        if name.split(".")[0] in WEB_FRAMEWORKS:
            assert module.startswith(WEB_ALLOWED), f"{module} imports {name}: web frameworks stay in the HTTP layers"
            continue
        if not name.startswith(("gateway", "_core")) or name.startswith("gateway.runtime"):
            continue
        target = _home(name)
        assert own is not None and target is not None, f"unclassified: {module} -> {name}"
        if target[0] == own[0] or own[0] == "gateway":
            continue  # its own package
        assert target[1] < own[1], f"{module} ({own[0]}, layer {own[1]}) imports {name} ({target[0]}, layer {target[1]})"
