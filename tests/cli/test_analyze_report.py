"""`promo analyze`: catalog rows (bad ones reported by row), the reports, the HTML page parsed."""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from engine.apps.catalog import CatalogError, CatalogItem, read_catalog
from server.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
RULES = """ruleset "t" { currency CNY timezone "Asia/Shanghai" }
promotion "item-85" { level item scope sku == "A" discount 8.5折 }
promotion "shop-150-20" { level shop scope shop == "S1" when amount >= 150 discount 20 }
promotion "cross-150-25" { level platform discount 25 every 150 }
warning "default" { below 70% }
"""
CATALOG = """sku,shop,category,brand,tags,price,warning_price,cost,ad_cost
A,S1,shoes,b,hot;new,199.00,130.00,90.00,5.00
B,S1,shoes,,,50.00,,,
C,S2,tea,,,10.00,,,
bad-price,S1,,,,abc,,,
,S1,,,,10.00,,,
D,S1,shoes,,,80.00,20.00,,,extra
"""


def _files(tmp_path):
    (tmp_path / "rules.promo").write_text(RULES, encoding="utf-8")
    (tmp_path / "catalog.csv").write_text(CATALOG, encoding="utf-8")
    return str(tmp_path / "rules.promo"), str(tmp_path / "catalog.csv")


def test_catalog_rows_and_bad_rows_by_row_number(tmp_path):
    _, path = _files(tmp_path)
    rows = list(read_catalog(path, 2))
    assert [r.sku for r in rows if isinstance(r, CatalogItem)] == ["A", "B", "C"]
    a = rows[0]
    assert (a.row, a.price, a.warning_price, a.cost, a.ad_cost, a.tags) == (2, 19900, 13000, 9000, 500, frozenset({"hot", "new"}))
    errors = [(r.row, r.message) for r in rows if isinstance(r, CatalogError)]
    assert [row for row, _ in errors] == [5, 6, 7]
    assert "price" in errors[0][1] and "sku" in errors[1][1] and "more fields" in errors[2][1]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text('{"sku": "A", "shop": "S1", "price": "199.00", "tags": ["x"]}\n\n[1]\n{"sku": "B", "shop": "S1"}\n')
    out = list(read_catalog(jsonl, 2))
    assert isinstance(out[0], CatalogItem) and out[0].tags == frozenset({"x"})
    assert [(e.row, type(e).__name__) for e in out[1:]] == [(3, "CatalogError"), (4, "CatalogError")]


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.circles, self.stack, self.chart_json, self.in_chart, self.errors = [], [], [], "", False, []
        self.in_body_row = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tbody":
            self.stack.append("tbody")
        if tag == "tr" and self.stack and "data-sku" in a:
            self.in_body_row = {"sku": a["data-sku"], "cells": []}
        if tag == "td" and self.in_body_row is not None:
            self.in_body_row["cells"].append("")
        if tag == "circle":
            self.circles.append(a)
        if tag == "script" and a.get("id") == "chart-data":
            self.in_chart = True

    def handle_endtag(self, tag):
        if tag == "tr" and self.in_body_row is not None:
            self.rows.append(self.in_body_row)
            self.in_body_row = None
        if tag == "tbody":
            self.stack.pop()
        if tag == "script":
            self.in_chart = False

    def handle_data(self, data):
        if self.in_chart:
            self.chart_json += data
        elif self.in_body_row is not None and self.in_body_row["cells"]:
            self.in_body_row["cells"][-1] += data


def test_html_report_has_the_rows_below_and_the_chart_data(tmp_path, capsys):
    rules, catalog = _files(tmp_path)
    out = tmp_path / "report.html"
    assert main(["analyze", rules, catalog, "--at", "2026-11-11T10:00", "--out", str(out), "--processes", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "catalog.csv:5: bad row skipped" in err and "catalog.csv:6:" in err and "catalog.csv:7:" in err
    text = out.read_text(encoding="utf-8")
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in text  # offline
    page = _Page()
    page.feed(text)
    # A: 120.96 < 130.00 (catalog line); B: 50.00 x 70% = 35.00 line, 50 + filler... below only if reached
    skus = [r["sku"] for r in page.rows]
    assert "A" in skus
    a = next(r for r in page.rows if r["sku"] == "A")
    assert a["cells"][:5] == ["A", "S1", "199.00", "120.96", "130.00"] and a["cells"][5] == "-9.04"
    assert "shop-150-20" in a["cells"][10]  # the removal what-if
    points = json.loads(page.chart_json)
    assert {p["sku"] for p in points} == {"A", "B", "C"}
    assert next(p for p in points if p["sku"] == "A") == {"sku": "A", "lowest": "120.96", "warning": "130.00", "below": True}
    assert {c["data-sku"] for c in page.circles} == {"A", "B", "C"}
    assert next(c for c in page.circles if c["data-sku"] == "A")["class"] == "below"


def test_json_and_csv_reports(tmp_path):
    rules, catalog = _files(tmp_path)
    assert main(["analyze", rules, catalog, "--at", "2026-11-11T10:00", "--out", str(tmp_path / "r.json"),
                 "--processes", "1", "--quiet"]) == 0
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [f["sku"] for f in data["findings"]] == ["A", "B", "C"]
    assert [e["row"] for e in data["errors"]] == [5, 6, 7]
    assert data["summary"]["skus"] == 3 and data["findings"][0]["lowest_price"] == "120.96"
    assert main(["analyze", rules, catalog, "--at", "2026-11-11T10:00", "--out", str(tmp_path / "r.csv"),
                 "--processes", "1", "--quiet", "--no-what-ifs"]) == 0
    rows = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert rows[0]["sku"] == "A" and rows[0]["lowest_price"] == "120.96" and rows[0]["below_warning"] == "yes"
    assert rows[0]["filler_amount"] == "130.85" and rows[0]["filler_shop"] == "other" and rows[0]["what_ifs"] == ""


def test_several_processes_give_the_same_findings(tmp_path):
    rules, catalog = _files(tmp_path)
    for n in ("1", "2"):
        assert main(["analyze", rules, catalog, "--at", "2026-11-11T10:00", "--out", str(tmp_path / f"r{n}.json"),
                     "--processes", n, "--quiet"]) == 0
    assert (tmp_path / "r1.json").read_text() == (tmp_path / "r2.json").read_text()


def test_sample_catalog_of_the_double11_pack(tmp_path):
    out = tmp_path / "d.json"
    assert main(["analyze", str(ROOT / "examples/double11"), str(ROOT / "examples/double11/catalog.csv"),
                 "--at", "2026-11-11T10:00", "--out", str(out), "--processes", "1", "--quiet"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    by_sku = {f["sku"]: f for f in data["findings"]}
    # 第三件1元: with two more pairs of socks of the same price, this pair is the third -> 1.00
    assert by_sku["socks-cotton"]["lowest_price"] == "1.00"
    assert [e["row"] for e in data["errors"]] == [11, 12]


HOSTILE_RULES = RULES + 'promotion "=2+5" { level item scope sku == "@SUM(A1)" discount 1 }\n'
HOSTILE_CATALOG = """sku,shop,category,brand,tags,price,warning_price,cost,ad_cost
<!--<script>,S1,shoes,,,199.00,190.00,,
"=cmd|' /C calc'!A0",S1,shoes,,,199.00,190.00,150.00,
@SUM(A1),S1,shoes,,,20.00,19.50,,
A,S1,shoes,,,199.00,130.00,,
"""


def _analyze(tmp_path, out: str, *args: str) -> Path:
    """`promo analyze` run as the installed command on the hostile catalog."""
    import subprocess
    import sys

    (tmp_path / "rules.promo").write_text(HOSTILE_RULES, encoding="utf-8")
    (tmp_path / "catalog.csv").write_text(HOSTILE_CATALOG, encoding="utf-8")
    done = subprocess.run([str(Path(sys.executable).parent / "promo"), "analyze", "rules.promo", "catalog.csv",
                           "--at", "2026-11-11T10:00", "--out", out, "--processes", "1", "--quiet", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return tmp_path / out


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[list] = []  # [attributes, text]

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append([dict(attrs), ""])

    def handle_data(self, data):
        if self.scripts and self.lasttag == "script":
            self.scripts[-1][1] += data


def test_a_sku_with_html_in_it_cannot_break_the_page(tmp_path):
    text = _analyze(tmp_path, "report.html", "--no-what-ifs").read_text(encoding="utf-8")
    page = _Page()
    page.feed(text)
    assert sorted(r["sku"] for r in page.rows) == sorted(["<!--<script>", "=cmd|' /C calc'!A0", "@SUM(A1)", "A"])
    assert next(r for r in page.rows if r["sku"] == "<!--<script>")["cells"][0] == "<!--<script>"
    scripts = _Scripts()
    scripts.feed(text)
    # the chart data, then the sort script: a browser leaves a script's text at `<!--` (a comment
    # that can swallow `</script>`), so no `<` may be inside one
    assert [a.get("id") for a, _ in scripts.scripts] == ["chart-data", None]
    assert all("<" not in body for _, body in scripts.scripts[:1]) and "<!--" not in scripts.scripts[1][1]
    assert "querySelectorAll('table.sortable th')" in scripts.scripts[1][1]
    points = json.loads(scripts.scripts[0][1])
    assert [p["sku"] for p in points][:2] == ["<!--<script>", "=cmd|' /C calc'!A0"]
    assert text.rstrip().endswith("</script>\n</body>\n</html>")


def test_csv_cells_cannot_be_formulas(tmp_path):
    path = _analyze(tmp_path, "report.csv", "--no-what-ifs")
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert [r["sku"] for r in rows] == ["<!--<script>", "'=cmd|' /C calc'!A0", "'@SUM(A1)", "A"]
    assert rows[2]["promotions"].startswith("'=2+5") and rows[2]["shares"].startswith("'=2+5:")
    # a negative money amount is a number, left as it is
    assert rows[1]["margin_per_unit"].startswith("-") and float(rows[1]["margin_per_unit"]) < 0
    cells = [cell for r in rows for cell in r.values()]
    assert not any(c[:1] in ("=", "+", "@", "\t", "\r") for c in cells)
    assert all(c[:1] != "-" or re.fullmatch(r"-[0-9]+(\.[0-9]+)?", c) for c in cells)


def test_fail_below_is_a_ci_gate(tmp_path, capsys):
    rules, catalog = _files(tmp_path)
    args = ["analyze", rules, catalog, "--at", "2026-11-11T10:00", "--processes", "1", "--quiet", "--no-what-ifs"]
    assert main(args) == 0  # a report, not a gate, by default
    assert main([*args, "--fail-below"]) == 1  # A is below its line
    assert main([*args, "--fail-below", "--out", str(tmp_path / "r.html")]) == 1
    capsys.readouterr()
    fine = tmp_path / "fine.csv"
    fine.write_text("sku,shop,category,brand,tags,price,warning_price,cost,ad_cost\nZ,S9,toys,,,10.00,1.00,,\n")
    assert main(["analyze", rules, str(fine), "--at", "2026-11-11T10:00", "--processes", "1", "--quiet",
                 "--fail-below"]) == 0


def test_scenarios_in_plain_words():
    from server.cli.report import scenario_text

    assert scenario_text({"quantity": 1, "filler": {"amount": "69.10", "quantity": 1, "shop": "own"}}) == \
        "1 unit with 69.10 of other goods from the same shop"
    assert scenario_text({"quantity": 2, "filler": {"amount": "0.05", "quantity": 5, "shop": "other"}}) == \
        "2 units with 5 other items (0.05 in all) from another shop"
    assert scenario_text({"quantity": 3}) == "3 units bought alone"
