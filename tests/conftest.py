"""Refuse to test stale compiled modules: a mypyc extension beside its source is what Python
imports, so after an edit to that source the tests would run the old code. And the headless
Chromium the page tests share."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"

# A `promo serve` a test starts without --ledger/--no-ledger keeps its ledger (PROMO_LEDGER_URL,
# server/cli/ledger.py) in a temporary folder of the session, not in the checkout.
_LEDGER_DIR = tempfile.mkdtemp(prefix="promo-test-ledger-")
atexit.register(shutil.rmtree, _LEDGER_DIR, ignore_errors=True)
os.environ.setdefault("PROMO_LEDGER_URL", f"sqlite:///{_LEDGER_DIR}/promo-ledger.db")


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


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed when missing (tests/browser.py); in CI a missing browser fails."""
    from tests.browser import ensure_chromium

    found = ensure_chromium()
    if found is None:
        message = "no chromium, and `apt-get install -y chromium` did not bring one"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture
def browser(chromium: str):
    """A page driven over the DevTools protocol (tests/browser.py), closed after the test."""
    from tests.browser import Browser

    b = Browser(chromium)
    yield b
    b.close()
