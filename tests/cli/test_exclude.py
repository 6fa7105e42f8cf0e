"""`promo exclude` (一键剔除): the promotion's scope rewritten through the syntax tree and the
printer. On a copy of examples/double11: the diff (golden), `promo check` clean after, the file in
canonical layout with every comment kept, and the SKU's new lowest price equal to the report's
removal what-if to the cent."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.cli.exclude import command
from server.cli.main import main

ROOT = Path(__file__).absolute().parent.parent.parent
GOLDEN = ROOT / "tests" / "golden" / "exclude"
AT = "2026-11-11T10:00:00+08:00"
UPDATE = bool(os.environ.get("PROMO_UPDATE_GOLDEN"))


def promo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "server.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def comments(text: str) -> list[str]:
    return [m.group(0).rstrip() for m in re.finditer(r"#[^\n]*", text)]


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "double11", tmp_path / "double11")
    return tmp_path


def what_ifs(pack: Path) -> dict:
    out = pack / "report.json"
    assert promo("analyze", "double11", "double11/catalog.csv", "--at", AT, "--out", str(out), "--processes", "1",
                 "--quiet", cwd=pack).returncode == 0
    return {(f["sku"], w["subject"]): w["lowest_price"] for f in json.loads(out.read_text())["findings"]
            for w in f["what_ifs"] if w["kind"] == "remove"}


def test_exclude_on_double11_matches_the_report(pack: Path):
    removal = what_ifs(pack)
    assert removal[("hoodie-grey", "tee-shop-second-half")] == "179.10"
    before = (pack / "double11" / "shops.promo").read_text()
    args = ["exclude", "double11", "--promotion", "tee-shop-second-half", "--sku", "hoodie-grey",
            "--catalog", "double11/catalog.csv", "--at", AT]
    # the report's command is this command
    assert command("double11", "tee-shop-second-half", ["hoodie-grey"], "double11/catalog.csv", AT) == \
        "promo " + " ".join(args)
    dry = promo(*args, "--dry-run", cwd=pack)
    assert dry.returncode == 0, dry.stderr
    assert (pack / "double11" / "shops.promo").read_text() == before  # a dry run writes nothing
    done = promo(*args, cwd=pack)
    assert done.returncode == 0, done.stderr
    golden("double11.stdout", done.stdout)
    assert "hoodie-grey: lowest price after: 179.10" in done.stdout  # the report's what-if, to the cent
    after = (pack / "double11" / "shops.promo").read_text()
    assert 'scope shop == "S-TEE" and not sku in ["tee-white", "tee-black", "hoodie-grey"]' in after
    assert comments(after) == comments(before)
    check = promo("check", "double11", cwd=pack)
    assert check.returncode == 0 and "0 errors, 0 warnings" in check.stdout
    assert promo("fmt", "--check", "double11", cwd=pack).returncode == 0  # canonical layout
    # and the report, run again, has the SKU out of the promotion at that price
    again = pack / "again.json"
    assert promo("analyze", "double11", "double11/catalog.csv", "--at", AT, "--out", str(again), "--processes", "1",
                 "--quiet", cwd=pack).returncode == 0
    hoodie = next(f for f in json.loads(again.read_text())["findings"] if f["sku"] == "hoodie-grey")
    assert hoodie["lowest_price"] == "179.10"
    assert "tee-shop-second-half" not in hoodie["best"]["promotions"]


@pytest.mark.parametrize(("sku", "promotion"), [
    ("runner-2026", "shoe-300-40"), ("down-jacket-01", "tee-shop-second-half"), ("walnut-2jin", "nuts-ladder"),
    ("socks-cotton", "socks-third-for-1")])
def test_every_removal_what_if_is_the_price_after_the_edit(pack: Path, sku: str, promotion: str):
    expected = what_ifs(pack)[(sku, promotion)]
    done = promo("exclude", "double11", "--promotion", promotion, "--sku", sku, "--catalog", "double11/catalog.csv",
                 "--at", AT, cwd=pack)
    assert done.returncode == 0, done.stderr
    assert f"{sku}: lowest price after: {expected}" in done.stdout
    assert promo("check", "double11", cwd=pack).returncode == 0


def test_a_promotion_without_scope_gets_one_and_several_skus(pack: Path):
    before = (pack / "double11" / "platform.promo").read_text()
    done = promo("exclude", "double11", "--promotion", "plat-300-30", "--sku", "phone-x", "--sku", "book-sql",
                 "--sku", "phone-x", cwd=pack)
    assert done.returncode == 0, done.stderr
    golden("platform.stdout", done.stdout)
    after = (pack / "double11" / "platform.promo").read_text()
    assert 'scope not sku in ["phone-x", "book-sql"]' in after
    assert comments(after) == comments(before)
    assert promo("check", "double11", cwd=pack).returncode == 0
    # again with one more: the list grows, a SKU already out is said to be
    done = promo("exclude", "double11", "--promotion", "plat-300-30", "--sku", "book-sql", "--sku", "tee-white",
                 cwd=pack)
    assert done.returncode == 0 and "`book-sql` is already out of `plat-300-30`" in done.stdout
    assert 'scope not sku in ["phone-x", "book-sql", "tee-white"]' in (pack / "double11" / "platform.promo").read_text()


def test_comments_and_layout_are_kept(tmp_path: Path, capsys):
    rules = tmp_path / "rules.promo"
    rules.write_text((GOLDEN / "comments.in").read_text())
    assert main(["exclude", str(rules), "--promotion", "s1-100-10", "--sku", "A"]) == 0
    assert main(["exclude", str(rules), "--promotion", "everything", "--sku", "A", "--sku", "B"]) == 0
    capsys.readouterr()
    golden("comments.out", rules.read_text())
    assert comments(rules.read_text()) == comments((GOLDEN / "comments.in").read_text())


def test_refusals(pack: Path):
    done = promo("exclude", "double11", "--promotion", "tee-shop-second-hlf", "--sku", "x", cwd=pack)
    assert done.returncode == 2 and "did you mean `tee-shop-second-half`?" in done.stderr
    broken = pack / "double11" / "zz.promo"
    broken.write_text('promotion "p" { level itm discount 1 }\n')
    done = promo("exclude", "double11", "--promotion", "tee-shop-second-half", "--sku", "x", cwd=pack)
    assert done.returncode == 2 and "has errors" in done.stderr
