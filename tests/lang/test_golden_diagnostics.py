"""Golden corpus: each broken rule file in tests/golden/diagnostics/ with the exact `promo check`
text it produces pinned next to it (`name.expected`).

To rewrite the pinned output after a deliberate change: `UPDATE_GOLDEN=1 pytest tests/lang/test_golden_diagnostics.py`,
then read the diff (`git diff tests/golden`) line by line before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from engine.lang.diagnostics import CODES, ERROR, INTERNAL_ERROR, WARNING
from server.cli.main import main

CORPUS = Path(__file__).resolve().parents[1] / "golden" / "diagnostics"
CASES = sorted(CORPUS.glob("*.promo"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
HEADLINE = re.compile(r"^\S+:\d+:\d+: (error|warning)\[([a-z-]+)\]: ", re.M)


def run_check(case: Path, capsys, monkeypatch) -> str:
    monkeypatch.chdir(CORPUS)  # paths in the output stay relative: `name.promo:3:5`
    code = main(["check", case.name])
    out = capsys.readouterr().out
    return f"{out}exit {code}\n"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path, capsys, monkeypatch):
    got = run_check(case, capsys, monkeypatch)
    expected_path = case.with_suffix(".expected")
    if UPDATE:
        expected_path.write_text(got, encoding="utf-8")
    assert expected_path.exists(), f"no {expected_path.name}: run with UPDATE_GOLDEN=1 and review it"
    assert got == expected_path.read_text(encoding="utf-8")


def _pinned() -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {ERROR: set(), WARNING: set()}
    for path in CORPUS.glob("*.expected"):
        for severity, code in HEADLINE.findall(path.read_text(encoding="utf-8")):
            seen[severity].add(code)
    return seen


def test_corpus_is_large_enough():
    assert len(CASES) >= 40
    assert all(c.with_suffix(".expected").exists() for c in CASES)


def test_every_error_code_is_pinned_by_a_golden_file():
    # only a bug produces `internal-error`; tests/lang/test_frontend_robust.py forces one
    errors = {code for code, (severity, _) in CODES.items() if severity == ERROR} - {INTERNAL_ERROR}
    assert errors - _pinned()[ERROR] == set()


def test_every_warning_code_is_pinned_by_a_golden_file():
    warnings = {code for code, (severity, _) in CODES.items() if severity == WARNING}
    assert warnings - _pinned()[WARNING] == set()


def test_every_golden_file_shows_something():
    """A broken file that stops reporting is a regression, not a pass."""
    for case in CASES:
        text = case.with_suffix(".expected").read_text(encoding="utf-8")
        assert HEADLINE.search(text), case.name


def test_every_code_is_in_the_table_of_docs_language_md():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text(encoding="utf-8")
    assert {code for code in CODES if f"| `{code}` |" not in doc} == set()
