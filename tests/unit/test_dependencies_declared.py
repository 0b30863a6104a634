"""Every third-party module that src/podium imports belongs to a dependency pyproject.toml declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_levels() -> dict[str, str]:
    """Top-level module -> one file importing it, for every import anywhere in src/podium."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "src" / "podium").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def test_every_third_party_import_is_a_declared_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_normalise(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]) for req in project["dependencies"]}
    providers = packages_distributions()
    undeclared = {}
    for module, where in _imported_top_levels().items():
        if module in sys.stdlib_module_names or module in {"podium", "__future__"}:
            continue
        dists = {_normalise(d) for d in providers.get(module, [])}
        assert dists, f"{module} (imported in {where}) is not installed, so no distribution provides it"
        if not dists & declared:
            undeclared[module] = (where, sorted(dists))
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"
