"""The example packs are tested in CI: every `test` block under examples/ passes (`promo test
examples/`, in-process), every rule file checks clean and is in canonical form."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli.main import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")


def test_promo_test_examples_passes(capsys):
    code = main(["test", str(EXAMPLES)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    assert out.rstrip().endswith(" 0 failed")


@pytest.mark.parametrize("pack", ["presale", "migration/progressive", "migration/parallel"])
def test_new_packs_have_tests(pack, capsys):
    code = main(["test", str(EXAMPLES / pack)])
    out = capsys.readouterr().out
    assert code == 0, out
    passed = int(out.rstrip().rsplit("\n", 1)[-1].split(" passed")[0])
    assert passed >= 2


def test_promo_check_examples_is_clean(capsys):
    code = main(["check", str(EXAMPLES)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.rstrip().endswith(": 0 errors, 0 warnings")


def test_promo_fmt_check_examples(capsys):
    assert main(["fmt", str(EXAMPLES), "--check"]) == 0, capsys.readouterr().out


def test_migration_packs_differ_only_in_stacking():
    prog = (EXAMPLES / "migration" / "progressive" / "rules.promo").read_text(encoding="utf-8").splitlines()
    par = (EXAMPLES / "migration" / "parallel" / "rules.promo").read_text(encoding="utf-8").splitlines()
    assert len(prog) == len(par)
    differ = [(a, b) for a, b in zip(prog, par) if a != b]
    assert [a.split()[0] for a, _ in differ] == ["#", "ruleset", "stacking"], differ
