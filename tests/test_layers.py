"""Nothing imports another module's `_private` names (the layers' other contracts are import-linter's,
pyproject.toml [tool.importlinter], run by `make test`).

ruff's PLC2701 catches `from other_package import _name` only across top-level packages; this walks
every module of the project: `from x import _name`, and `x._name` where `x` was bound to another module
by an import. A module's own names, dunders, and a package reaching into its own `__init__` are fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TREES = ("engine", "server", "bench", "tests", "grammar", "proto", "examples")
SKIP = ("server/gen/",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[Path]:
    return sorted(p for tree in TREES for p in (ROOT / tree).rglob("*.py")
                  if not any(str(p.relative_to(ROOT)).startswith(s) for s in SKIP))


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _absolute(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def private_imports(path: Path) -> list[str]:
    """`file:line: what` for every private name of another module this file imports or reads."""
    here = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    bound: dict[str, str] = {}  # local name -> the project module it stands for
    where = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_module(alias.name):
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, here, path.name == "__init__.py")
            if not _is_module(source.split(".")[0]):
                continue
            for alias in node.names:
                full = f"{source}.{alias.name}"
                if _is_module(full):
                    bound[alias.asname or alias.name] = full
                elif _private(alias.name) and source != here and not here.startswith(f"{source}."):
                    found.append(f"{where}:{node.lineno}: from {source} import {alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            chain, value = [], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in bound:
                module = ".".join([bound[value.id], *reversed(chain)])
                if _is_module(module) and module != here:
                    found.append(f"{where}:{node.lineno}: {module}.{node.attr}")
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    found = [f for path in _sources() for f in private_imports(path)]
    assert not found, "private names read from another module:\n" + "\n".join(found)


@pytest.mark.parametrize(("source", "expected"), [
    ("from engine.pricing.price import _level\n", ["from engine.pricing.price import _level"]),
    ("from ..pricing.price import _level\n", ["from engine.pricing.price import _level"]),
    ("from engine.pricing import price\nprice._level(1)\n", ["engine.pricing.price._level"]),
    ("import engine.pricing.price as p\np._level\n", ["engine.pricing.price._level"]),
    ("import engine.pricing.price\nengine.pricing.price._level\n", ["engine.pricing.price._level"]),
    ("from engine.pricing.price import price_choice\nx = object()\nx._y\n", []),
    ("from engine.base.money import __name__ as n\n", []),
    ("import json\njson._default_encoder\n", []),
    ("from engine.wire import _x\n", []),  # its own package's __init__
    ("def _own():\n    pass\n_own()\n", []),
])
def test_the_walk_finds_each_form(monkeypatch: pytest.MonkeyPatch, source: str,
                                  expected: list[str]) -> None:
    path = ROOT / "engine" / "wire" / "_layers_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    assert [f.split(": ", 1)[1] for f in private_imports(path)] == expected
