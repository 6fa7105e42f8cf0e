"""Refuse to test stale compiled modules: a mypyc extension beside its source is what Python
imports, so after an edit to that source the tests would run the old code."""

from __future__ import annotations

from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def pytest_sessionstart(session: pytest.Session) -> None:
    # the compiled code of every module is in one shared library; each module has a small shim
    library = next(ENGINE.glob("_compiled__mypyc.*.so"), None)
    if library is None:
        return  # pure Python (PROMO_PURE_PYTHON=1)
    built = library.stat().st_mtime
    stale = [str(src.relative_to(ENGINE.parent)) for so in ENGINE.rglob("*.so")
             if (src := so.with_name(f"{so.name.split('.')[0]}.py")).exists() and src.stat().st_mtime > built]
    if stale:
        pytest.exit(f"{', '.join(stale)} changed after it was compiled: run `make test` (it recompiles), "
                    "or delete engine/**/*.so to test the pure-Python modules", returncode=2)
