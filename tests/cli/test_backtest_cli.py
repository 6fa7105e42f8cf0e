"""`promo backtest` through the command line: the seed figures, the same bytes from the local
pool, a Dask LocalCluster of 2 workers and the in-process path, bad rows on stderr, the CSV and
JSON reports, `promo analyze --scheduler`, and the HTML page in headless Chromium (at 1280 and
420 px: it renders, its charts are there, nothing sticks out of a phone screen)."""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from server.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed"
D11 = ROOT / "examples" / "double11"
ORDERS = D11 / "orders.jsonl"
SEED_ORDER = {"order_id": "o1", "at": "2026-11-11T10:00:00+08:00", "user": {"id": "u1"}, "channel": "app",
              "lines": [{"id": "l1", "sku": "SKU-110", "shop": "S1", "category": "shoes", "price": "110.00",
                         "quantity": 2}]}
SHOTS = Path(os.environ.get("PROMO_SCREENSHOTS", "")) if os.environ.get("PROMO_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def scheduler():
    """A Dask LocalCluster of 2 worker processes (one thread each), started for these tests."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def progressive(tmp_path_factory) -> Path:
    """examples/double11 with progressive stacking: the ruleset to compare against."""
    other = tmp_path_factory.mktemp("rules") / "double11-progressive"
    shutil.copytree(D11, other, ignore=shutil.ignore_patterns("*.jsonl", "*.csv", "*.json"))
    header = other / "00_ruleset.promo"
    header.write_text(header.read_text(encoding="utf-8").replace("stacking parallel", "stacking progressive")
                      .replace('ruleset "double11-2026"', 'ruleset "double11-progressive"'), encoding="utf-8")
    return other


def _seed_orders(path: Path, n: int = 3, extra: str = "") -> Path:
    path.write_text("".join(json.dumps({**SEED_ORDER, "order_id": f"o{i}"}) + "\n" for i in range(n)) + extra,
                    encoding="utf-8")
    return path


def test_seed_progressive_against_parallel_tables(tmp_path, capsys):
    orders = _seed_orders(tmp_path / "seed.jsonl", 3)
    assert main(["backtest", str(SEED / "parallel"), str(orders), "--against", str(SEED / "progressive"),
                 "--processes", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "510.00" in out and "570.00" in out and "-60.00" in out  # 3 x 170.00 against 3 x 190.00
    s1 = next(line for line in out.splitlines() if line.startswith("S1 "))
    # orders, item, shop level, platform share, gives up, final, final change, gives up change
    assert s1.split() == ["S1", "3", "60.00", "30.00", "60.00", "150.00", "510.00", "-60.00", "60.00"]
    assert "3 lower, 0 the same, 0 higher" in out
    assert "3 orders priced, 0 bad rows skipped" in out


def test_seed_json_report_per_order(tmp_path):
    orders = _seed_orders(tmp_path / "seed.jsonl", 1)
    out = tmp_path / "r.json"
    assert main(["backtest", str(SEED / "progressive"), str(orders), "--against", str(SEED / "parallel"),
                 "--out", str(out), "--quiet"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["totals"]["rules"]["payable"] == "190.00" and data["totals"]["against"]["payable"] == "170.00"
    s1 = data["shops"][0]
    assert s1["shop"] == "S1" and s1["rules"]["per_order"]["shop"] == s1["against"]["per_order"]["shop"] == "10.00"
    assert s1["change"]["final"] == "20.00"  # progressive: the cross-shop 20.00 no longer on S1's lines
    assert data["movers"][0]["change"] == "20.00"


def _report(args: list[str], out: Path) -> bytes:
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    return out.read_bytes()


def test_pool_dask_and_in_process_give_the_same_bytes(tmp_path, scheduler, progressive):
    base = ["backtest", str(D11), str(ORDERS), "--against", str(progressive), "--partition-rows", "400",
            "--budget", "plat-300-30=1500/day"]
    one = _report([*base, "--processes", "1"], tmp_path / "one.json")
    two = _report([*base, "--processes", "2"], tmp_path / "two.json")
    dask = _report([*base, "--scheduler", scheduler], tmp_path / "dask.json")
    assert one == two == dask
    data = json.loads(one)
    assert data["orders"]["priced"] == 3000 and data["changes"]["orders"]["lower"] > 0
    assert len(data["movers"]) == 20 and data["budgets"][0]["exhausted"] == "2026-11-11"


def test_dask_seed_figures(tmp_path, scheduler):
    orders = _seed_orders(tmp_path / "seed.jsonl", 5)
    data = json.loads(_report(["backtest", str(SEED / "parallel"), str(orders), "--against", str(SEED / "progressive"),
                               "--scheduler", scheduler, "--partition-rows", "2"], tmp_path / "r.json"))
    assert data["totals"]["rules"]["payable"] == "850.00" and data["totals"]["against"]["payable"] == "950.00"
    assert data["shops"][0]["rules"]["per_order"]["shop"] == "10.00"


def test_analyze_on_the_cluster_is_the_local_analysis(tmp_path, scheduler):
    args = ["analyze", str(D11), str(D11 / "catalog.csv"), "--at", "2026-11-11T10:00", "--what-ifs", "below"]
    local = _report([*args, "--processes", "1"], tmp_path / "local.json")
    remote = _report([*args, "--scheduler", scheduler], tmp_path / "dask.json")
    assert local == remote
    assert len(json.loads(local)["findings"]) == 9


def test_bad_rows_on_stderr_by_row_and_skipped(tmp_path, capsys):
    orders = _seed_orders(tmp_path / "o.jsonl", 2, extra='not json\n{"lines": []}\n[1]\n')
    out = tmp_path / "r.json"
    assert main(["backtest", str(SEED / "parallel"), str(orders), "--out", str(out), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert f"{orders}:3: bad row skipped: not JSON" in err
    assert f"{orders}:4: bad row skipped: at: the order time is required" in err
    assert f"{orders}:5: bad row skipped: expected a JSON object" in err
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["orders"] == {"file": str(orders), "rows": 5, "priced": 2, "bad": 3}
    assert [e["row"] for e in data["errors"]] == [3, 4, 5]


@pytest.mark.parametrize("args, message", [
    (["--at", "yesterday"], "--at"),
    (["--budget", "nope=10"], "no promotion or coupon `nope`"),
    (["--budget", "s1-100-10=1.234"], "more than 2 decimals"),
    (["--budget", "s1-100-10=10/year"], "day, week or month"),
    (["--out", "r.pdf"], "a .html, .csv or .json file"),
    (["--at", "2026-11-11", "--at-order-time"], "not allowed with argument"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, args, message):
    orders = _seed_orders(tmp_path / "o.jsonl", 1)
    try:
        code = main(["backtest", str(SEED / "parallel"), str(orders), *args, "--quiet"])
    except SystemExit as exit:  # argparse
        code = exit.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_missing_orders_and_rules_exit_2(tmp_path, capsys):
    assert main(["backtest", str(SEED / "parallel"), str(tmp_path / "none.jsonl")]) == 2
    assert main(["backtest", str(SEED / "parallel"), str(_seed_orders(tmp_path / "o.jsonl")), "--against",
                 str(tmp_path / "nothing")]) == 2
    (tmp_path / "orders.txt").write_text("{}\n", encoding="utf-8")
    assert main(["backtest", str(SEED / "parallel"), str(tmp_path / "orders.txt"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "a .jsonl (JSON Lines) or .parquet file" in err


def test_csv_report(tmp_path):
    orders = _seed_orders(tmp_path / "o.jsonl", 2)
    out = tmp_path / "r.csv"
    assert main(["backtest", str(SEED / "parallel"), str(orders), "--against", str(SEED / "progressive"),
                 "--out", str(out), "--quiet"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    get = {(r["section"], r["key"], r["metric"]): r for r in rows}
    assert get[("total", "", "payable")] == {"section": "total", "key": "", "metric": "payable", "rules": "340.00",
                                             "against": "380.00", "change": "-40.00"}
    assert get[("shop", "S1", "shop")]["rules"] == "20.00"
    assert get[("promotion", "cross-200-20", "spend")]["change"] == "40.00"
    assert get[("mover", "1", "payable")]["change"] == "-20.00"


# ---- the HTML page in headless Chromium ---------------------------------------------------------

def test_html_report_in_headless_chromium(tmp_path, chromium, progressive):
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    assert main(["backtest", str(D11), str(ORDERS), "--against", str(progressive), "--out", str(out),
                 "--budget", "plat-300-30=1500/day", "--budget", "cross-300-50=5000", "--quiet"]) == 0
    page_text = out.read_text(encoding="utf-8")
    assert "http://" not in page_text.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page_text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page_text
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for width in (1280, 420):
                page = browser.new_page(viewport={"width": width, "height": 900})
                requests: list[str] = []
                page.on("request", lambda r, seen=requests: seen.append(r.url))
                page.goto(out.as_uri())
                assert page.title().startswith("Backtest · double11-2026 vs double11-progressive")
                charts = page.eval_on_selector_all("svg.chart", "els => els.map(e => e.id)")
                assert charts == ["chart-distribution", "chart-promotions", "chart-shops", "chart-days",
                                  "chart-budget-0", "chart-budget-1"]
                bars = page.eval_on_selector_all("svg.chart rect", "els => els.filter(e => e.getBBox().width > 0).length")
                assert bars > 30
                assert page.eval_on_selector_all("svg polyline.spend", "els => els.length") == 2
                # every chart is drawn inside the screen, and the page never scrolls sideways
                boxes = page.eval_on_selector_all("svg.chart", "els => els.map(e => e.getBoundingClientRect().right)")
                assert all(right <= width for right in boxes)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                assert page.eval_on_selector_all("#movers tbody tr", "els => els.length") == 20
                links = page.eval_on_selector_all("#movers a.eval", "els => els.map(e => e.getAttribute('download'))")
                assert len(links) == 20 and links[0].startswith("order-")
                order = page.eval_on_selector("#movers a.eval", "a => decodeURIComponent(a.href.split(',')[1])")
                assert json.loads(order)["lines"]
                shot = (SHOTS or tmp_path) / f"backtest-{width}.png"
                page.screenshot(path=str(shot), full_page=False)
                assert shot.stat().st_size > 10_000
                # sorting a column reorders the table
                first = page.eval_on_selector("#promotions tbody tr td", "td => td.textContent")
                page.click("#promotions th:nth-child(1)")
                assert page.eval_on_selector("#promotions tbody tr td", "td => td.textContent") != first
                font = page.eval_on_selector("body", "b => parseFloat(getComputedStyle(b).fontSize)")
                assert font >= 14
                assert all(u.startswith(("file:", "data:")) for u in requests), requests
                page.close()
        finally:
            browser.close()
