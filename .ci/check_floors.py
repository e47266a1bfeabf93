"""Checks that .ci/floors.txt pins every dependency in pyproject.toml to its floor.

Every requirement of [build-system] requires, [project] dependencies and each extra in
[project.optional-dependencies] must have a `>=` floor, and .ci/floors.txt must pin it to exactly
that version (`name==floor`), a version its other bounds allow; the file pins nothing else.
Run by .ci/run before the floors pass (needs `packaging`, which pytest brings).
"""
from __future__ import annotations

import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip carries tomli
    from pip._vendor import tomli as tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def declared() -> dict[str, tuple[str, Requirement]]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = {"[build-system] requires": meta["build-system"]["requires"],
              "[project] dependencies": meta["project"].get("dependencies", [])}
    for extra, reqs in meta["project"].get("optional-dependencies", {}).items():
        groups[f"extra {extra!r}"] = reqs
    out: dict[str, tuple[str, Requirement]] = {}
    for where, reqs in groups.items():
        for text in reqs:
            req = Requirement(text)
            out.setdefault(canonicalize_name(req.name), (where, req))
    return out


def pinned() -> dict[str, Version]:
    out: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise SystemExit(f".ci/floors.txt: {line!r} is not name==version")
        out[canonicalize_name(name.strip())] = Version(version.strip())
    return out


def main() -> int:
    reqs, pins = declared(), pinned()
    problems = []
    for name, (where, req) in sorted(reqs.items()):
        floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
        if len(floors) != 1:
            problems.append(f"{where}: {req} needs exactly one '>=' floor")
            continue
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{where}: {req} has no pin in .ci/floors.txt")
        elif pin != floors[0]:
            problems.append(f"{where}: {req} has floor {floors[0]}, .ci/floors.txt pins {pin}")
        elif not req.specifier.contains(pin, prereleases=True):
            problems.append(f"{where}: .ci/floors.txt pins {name}=={pin}, outside {req.specifier}")
    for name in sorted(set(pins) - set(reqs)):
        problems.append(f".ci/floors.txt pins {name}, which pyproject.toml does not require")
    for problem in problems:
        print(f"floors: {problem}", file=sys.stderr)
    if not problems:
        print(f"floors: .ci/floors.txt pins all {len(reqs)} requirements to their floors")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
