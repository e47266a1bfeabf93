"""The dependency direction of DESIGN.md, checked by walking every module's imports.

CLI -> config/server -> app -> HTTP surfaces (Starlette and uvicorn live here and above)
-> scheduler -> AWS data functions -> logs/billing -> _core, types, errors, wire.
The worker runtime imports only `gateway.wire` (and itself) from lambdagate, and
`_core` imports nothing of gateway.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# layer of each module (lower number = lower layer); a module may import only its own layer or lower
LAYERS = {
    "_core": 0, "gateway.types": 0, "gateway.errors": 0, "gateway.wire": 0, "gateway": 0,
    "gateway.logs": 1, "gateway.billing": 1, "gateway.metrics": 1,
    "gateway.aws": 2,
    "gateway.scheduler": 3, "gateway.async_invoke": 3,
    "gateway.routing": 4, "gateway.apigateway": 4, "gateway.aws.invoke_api": 4, "gateway.aws.lambda_control": 4,
    "gateway.http_io": 4,
    "gateway.app": 5,
    "gateway.config": 6, "gateway.server": 7, "gateway.cli": 8,
}
# the worker side runs in forked processes: lambdagate's own code it may use
RUNTIME_ALLOWED = ("gateway.wire", "gateway.runtime", "gateway")
WEB_FRAMEWORKS = ("starlette", "uvicorn")
WEB_ALLOWED = ("gateway.app", "gateway.server", "gateway.cli", "gateway.aws.invoke_api", "gateway.apigateway")


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


def _layer(name: str):
    best = None
    for prefix, layer in LAYERS.items():
        if name == prefix or name.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, layer)
    return None if best is None else best[1]


MODULES = list(_modules())


def test_the_walk_sees_the_package():
    names = {m for m, _ in MODULES}
    assert {"gateway.scheduler.scheduler", "gateway.runtime.worker", "_core.fallback", "gateway.cli"} <= names


@pytest.mark.parametrize("module,path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_down(module, path):
    own = _layer(module)
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
        target = _layer(name)
        assert own is not None and target is not None, f"unclassified: {module} -> {name}"
        assert target <= own, f"{module} (layer {own}) imports {name} (layer {target})"
