"""Refuse to test stale compiled modules: a mypyc extension beside its source is what Python
imports, so after an edit to that source the tests would run the old code."""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = [so.name.split(".")[0] for so in ENGINE.glob("*.so")
             if (src := ENGINE / f"{so.name.split('.')[0]}.py").exists() and src.stat().st_mtime > so.stat().st_mtime]
    if stale:
        pytest.exit(f"engine/{', '.join(stale)}.py changed after it was compiled: run `make test` "
                    "(it recompiles), or delete engine/*.so to test the pure-Python modules", returncode=2)
