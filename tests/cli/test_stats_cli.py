"""`promo stats` (ledger.md §6) on ledgers the tests write (tests/stats_support.py): a promotion's
and a presale's figures as JSON and as a table, the days' timezone from --rules or from what the
ledger recorded, --from/--to read in it, the budgets of --rules, the HTML page written by --out
(self-contained, every name escaped), and every mistake one `error:` line and exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ledger_support import Clock, clock, ledger, ledger_url, sqlite_url  # noqa: F401
from stats_support import orders, presale

from server.cli.main import main
from server.ledger.ledger import Ledger
from server.ledger.types import Hold, Line, Order, ReserveRequest

RULES = """\
ruleset "stats" {{ currency CNY  timezone "{timezone}" }}

promotion "p" {{ level shop  discount 10  budget 500  budget 300 per day }}
"""


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["stats", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def stats(capsys, *args: str) -> dict:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def written(tmp_path: Path):
    """A ledger on SQLite with the promotion `p`'s orders and the presale `dj`'s."""
    url = sqlite_url(tmp_path)
    moved = Clock()
    with Ledger(url, clock=moved) as opened:
        orders(opened)
        presale(opened, moved)
    return url


def rules(tmp_path: Path, timezone: str) -> str:
    folder = tmp_path / f"rules-{timezone.replace('/', '-')}"
    folder.mkdir()
    (folder / "rules.promo").write_text(RULES.format(timezone=timezone), encoding="utf-8")
    return str(folder)


def test_a_promotions_figures_as_json_on_both_backends(capsys, ledger):
    orders(ledger)
    data = stats(capsys, "--ledger", ledger.url, "--promotion", "p")
    # tests/server/test_ledger_stats.py computes these by hand; the days in the zone the orders
    # recorded (Asia/Shanghai)
    assert {k: data[k] for k in ("uses", "orders", "spend", "gmv", "average_order_value", "returned", "cancelled",
                                 "timezone")} == {
        "uses": 4, "orders": 4, "spend": "53.33", "gmv": "433.34", "average_order_value": "108.34", "returned": 1,
        "cancelled": 1, "timezone": "Asia/Shanghai"}
    assert [(d["day"], d["orders"], d["gmv"], d["average_order_value"]) for d in data["days"]] == [
        ("2024-11-10", 2, "200.01", "100.01"), ("2024-11-11", 1, "200.00", "200.00"), ("2024-11-12", 0, "0.00", None),
        ("2024-11-13", 1, "33.33", "33.33")]
    # now (the real clock, years after the orders) o6's hold has expired: the budget holds what was
    # committed; no counter for today's day, so without --rules only the total budget is known
    assert data["budgets"] == [{"period": "total", "key": "", "budget": "500.00", "used": "53.33", "held": "0.00",
                                "left": "446.67"}]


def test_rules_give_the_days_timezone_the_budgets_and_the_bounds_zone(capsys, written, tmp_path):
    in_utc = stats(capsys, "--ledger", written, "--promotion", "p", "--rules", rules(tmp_path, "UTC"))
    assert in_utc["timezone"] == "UTC"
    assert [(d["day"], d["orders"]) for d in in_utc["days"]] == [("2024-11-10", 3), ("2024-11-11", 0),
                                                                   ("2024-11-12", 1)]
    assert [(b["period"], b["budget"], b["used"], b["left"]) for b in in_utc["budgets"]] == [
        ("total", "500.00", "53.33", "446.67"), ("day", "300.00", "0.00", "300.00")]  # today: nothing spent
    # --from/--to without an offset are in the days' timezone: local 11-11 00:00 to 11-13 00:00 holds o3 only
    bounded = stats(capsys, "--ledger", written, "--promotion", "p", "--from", "2024-11-11", "--to", "2024-11-13")
    assert (bounded["orders"], bounded["gmv"], [d["day"] for d in bounded["days"]]) == (
        1, "200.00", ["2024-11-11", "2024-11-12"])
    in_utc = stats(capsys, "--ledger", written, "--promotion", "p", "--from", "2024-11-11T00:00:00Z")
    assert (in_utc["orders"], in_utc["gmv"]) == (1, "33.33")  # o8 only (o3 was 2024-11-10T16:00Z)


def test_a_presales_figures_as_json(capsys, written):
    data = stats(capsys, "--ledger", written, "--presale", "dj")
    # by hand in tests/server/test_ledger_stats.py: conversion 2/3, 100.00 forfeited, GMV 400.00 +
    # 2800.00 = 3200.00 over 3 paid deposits: 1066.67
    assert (data["conversion"], data["forfeited"], data["gmv"], data["average_order_value"]) == (
        "0.6667", {"orders": 1, "deposits": "100.00"}, "3200.00", "1066.67")
    assert [(d["day"], d["deposits"]["orders"], d["balances_paid"]["orders"]) for d in data["days"]] == [
        ("2024-11-10", 2, 0), ("2024-11-11", 1, 2)]
    assert data["timezone"] == "Asia/Shanghai"


def test_the_tables(capsys, written):
    code, out, _ = run(capsys, "--ledger", written, "--promotion", "p")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].strip() == "promotion p"
    assert re.search(r"average order value\s+108\.34", out) and re.search(r"GMV\s+433\.34", out)
    assert re.search(r"returned in full \(not counted\)\s+1", out)
    assert re.search(r"budget: left\s+446\.67", out)
    assert "per day (Asia/Shanghai)" in out
    assert re.search(r"2024-11-10\s+2\s+30\.00\s+200\.01\s+100\.01", out)
    assert re.search(r"2024-11-12\s+0\s+0\.00\s+0\.00\s+-", out)
    code, out, _ = run(capsys, "--ledger", written, "--presale", "dj")
    assert code == 0
    assert re.search(r"conversion\s+0\.6667", out) and re.search(r"forfeited deposits\s+100\.00", out)
    assert re.search(r"GMV\s+3200\.00", out) and re.search(r"average order value\s+1066\.67", out)
    assert re.search(r"2024-11-11\s+1\s+2\s+200\.00\s+2\s+2800\.00", out)


def test_out_writes_one_self_contained_page_with_every_name_escaped(capsys, tmp_path, ledger_url):
    hostile = '<script>alert("x")</script>&\'p'
    with Ledger(ledger_url, clock=Clock()) as opened:
        orders(opened)
        held = opened.reserve(ReserveRequest("h1", "r-h1", "u1", order=Order(
            (Hold(hostile, spend=100, allocation={"l1": 100}),), (Line("l1", 1, 900),), 900)))
        opened.commit(held.reservation_id, "c-h1")
    page = tmp_path / "stats.html"
    code, out, err = run(capsys, "--ledger", ledger_url, "--promotion", hostile, "--out", str(page))
    assert code == 0 and f"wrote {page}" in err
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#x27;p" in text
    assert '<meta name="viewport" content="width=device-width' in text
    # offline: nothing to fetch (the SVG namespace is a name, not a request)
    assert not re.search(r"<link|<img|<iframe|src=|@import|url\(", text)
    assert set(re.findall(r"https?://[^\"' ]+", text)) == {"http://www.w3.org/2000/svg"}
    assert text.count('<circle class="point orders"') == 1
    code, out, _ = run(capsys, "--ledger", ledger_url, "--promotion", "p", "--out", str(page), "--json")
    assert code == 0 and json.loads(out)["orders"] == 4
    assert page.read_text(encoding="utf-8").count('<circle class="point orders"') == 4  # four days


@pytest.mark.parametrize(("args", "message"), [
    ((), "give --promotion NAME or --presale NAME"),
    (("--promotion", "p", "--presale", "dj"), "give --promotion NAME or --presale NAME"),
    (("--promotion", "p", "--out", "stats.txt"), "the page is an .html file"),
    (("--promotion", "p", "--out", "/nowhere/stats.html"), "does not exist"),
    (("--promotion", "p", "--from", "yesterday"), "--from: `yesterday` is not an ISO-8601 date or time"),
    (("--promotion", "p", "--rules", "/nowhere"), "`/nowhere` does not exist"),
])
def test_mistakes_are_one_error_line_and_exit_2(capsys, written, args, message):
    code, out, err = run(capsys, "--ledger", written, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_a_promotion_without_orders_has_zero_figures(capsys, written):
    data = stats(capsys, "--ledger", written, "--promotion", "nobody")
    assert (data["orders"], data["gmv"], data["average_order_value"], data["days"], data["timezone"]) == (
        0, "0.00", None, [], "UTC")  # no order recorded a timezone: UTC
