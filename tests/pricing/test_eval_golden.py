"""`promo eval` output pinned byte for byte: the JSON (with a trace) and the readable table.

Set UPDATE_GOLDEN=1 to rewrite the files, then read the diff before committing it.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from server.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "eval"
CASES = {
    "seed-parallel.json": ["examples/seed/parallel", "examples/seed/parallel/cart.json", "--json"],
    "seed-progressive.json": ["examples/seed/progressive", "examples/seed/progressive/cart.json", "--json"],
    "seed-progressive-coupon.trace.json": ["examples/seed/progressive-coupon", "examples/seed/progressive-coupon/cart.json",
                                           "--json", "--explain", "trace"],
    "double11.json": ["examples/double11", "examples/double11/cart.json", "--json"],
    "double11.txt": ["examples/double11", "examples/double11/cart.json"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_eval_output_is_pinned(name, monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in the output are relative to the project
    monkeypatch.setenv("COLUMNS", "120")
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["eval", *CASES[name]]) == 0
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(out.getvalue(), encoding="utf-8")
    assert out.getvalue() == path.read_text(encoding="utf-8")
