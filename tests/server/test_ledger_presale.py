"""Presale orders over gRPC (ledger.md §5), `promo serve --ledger URL` as a subprocess on SQLite
and PostgreSQL: `stock 3` raced by four buyers (exactly three deposit orders, the fourth refused
FAILED_PRECONDITION / OUT_OF_STOCK), the balance of each priced at the tier that the units sold
at the deposit window's close reach, its commit completing the parent, a buyer who never pays
`balance_expired` by the sweep (deposit kept, unit back to the stock), a Return before the ship
date refused and one after it accepted, the figures (GetStats and `promo stats`, presale and shop
coupon) by hand. The server runs on a fake clock (`--clock-file`, ledger.md
"A fake clock for tests"): the test moves it past the deposit window, the balance window and the
ship date, and polls, with short timeouts, only for the sweep (which follows a moved clock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from ledger_support import BACKENDS
from sqlalchemy import select
from test_ledger_service import new_url, race, start
from test_server_api import violation

from server.gen.promo.v1 import ledger_pb2 as lpb
from server.gen.promo.v1 import promo_pb2 as pb
from server.ledger.database import connect
from server.ledger.schema import counters

START = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)  # the fake clock's first instant
DEPOSIT_SECONDS = 20  # the deposit window closes this long after START (by the fake clock)
BALANCE_SECONDS = 40  # and the balance window this long after
SHIP_DAYS = 10  # the ship date, this many days after START
SWEEP_TIMEOUT = 5.0  # seconds the sweep may take to follow a moved clock (it looks every 0.1 s)

RULES = """\
ruleset "presale-orders" {{ currency CNY  timezone "UTC" }}

presale "dj" {{
    scope sku == "dj"
    price 2000 tiers {{ sold >= 3: 1600; sold >= 2: 1800 }}
    deposit 100 worth 200
    balance discount 50
    stock 3
    deposit_window {opens} .. {closes}
    balance_window {closes} .. {balance_closes}
    ships {ships}
}}

coupon "shop-30" {{ level shop  discount 30 }}
"""


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cart(buyer: str, wallet: bool = False) -> pb.EvaluateRequest:
    data = {"user": {"id": buyer},
            "lines": [{"id": "d", "sku": "dj", "shop": "S1", "price": "2000.00", "quantity": 1}]}
    if wallet:
        data["wallet"] = [{"coupon": "shop-30", "id": f"w-{buyer}"}]
    return json_format.ParseDict(data, pb.EvaluateRequest())


def wait_until(test, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = test()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def set_clock(path: Path, at: datetime) -> None:
    """Move the server's fake clock: a new file renamed over the old (never read half-written)."""
    written = path.with_name(path.name + ".new")
    written.write_text(stamp(at) + "\n", encoding="utf-8")
    os.replace(written, path)


def units_sold(url: str) -> int:
    engine = connect(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return conn.execute(select(counters.c.used).where(counters.c.promotion == "dj",
                                                              counters.c.metric == "units")).scalar_one()
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_presale_end_to_end(backend, request, tmp_path: Path):
    url = new_url(backend, request.config, tmp_path)  # a throwaway database first: its start takes a while
    now = START
    closes, balance_closes = now + timedelta(seconds=DEPOSIT_SECONDS), now + timedelta(seconds=BALANCE_SECONDS)
    ships = now + timedelta(days=SHIP_DAYS)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.promo").write_text(RULES.format(
        opens=stamp(now - timedelta(days=1)), closes=stamp(closes), balance_closes=stamp(balance_closes),
        ships=stamp(ships)), encoding="utf-8")
    clock = tmp_path / "clock"
    set_clock(clock, now)
    served = start(rules, tmp_path, url, "--clock-file", str(clock))
    stub = served.stub
    try:
        # ---- four buyers race for three units ----
        def deposit(i: int):
            order = f"p{i}"
            try:
                reserved = stub.Reserve(lpb.ReserveRequest(order_id=order, idempotency_key=f"dep-{order}",
                                                           ttl_seconds=600, cart=cart(f"u{i}")), timeout=60)
            except grpc.RpcError as error:
                return [error]  # race() raises an exception it is answered
            stub.Commit(lpb.CommitRequest(reservation_id=reserved.reservation_id, idempotency_key=f"pay-{order}"),
                        timeout=60)
            return reserved

        answers = race(4, deposit)
        paid = [f"p{i}" for i, a in enumerate(answers) if isinstance(a, lpb.ReserveResponse)]
        out = [a[0] for a in answers if isinstance(a, list)]
        assert len(paid) == 3 and len(out) == 1
        assert out[0].code() == grpc.StatusCode.FAILED_PRECONDITION
        assert violation(out[0]) == "cart.lines[0]" and "OUT_OF_STOCK" in out[0].details()
        for a in answers:
            if isinstance(a, lpb.ReserveResponse):
                # the deposit stage: pay the deposit, 100.00
                assert a.quote.totals.payable == "100.00"
                assert a.quote.presale[0].stage == "deposit" and a.quote.presale[0].deposit == "100.00"
        assert units_sold(url) == 3
        # Evaluate reads sold from the ledger too (the request's presale_sold ignored): 3 units, the
        # 1600 tier; the line at the deposit stage: 100 + (1600 − 200 − 50) = 1450 (at 2000: 1850)
        evaluate = cart("u9")
        evaluate.presale_sold["dj"] = 0
        quote = served.pricing.Evaluate(evaluate, timeout=30)
        assert quote.lines[0].final == "1450.00" and quote.presale[0].balance_due == "1350.00"
        for order in paid:
            parent = stub.GetOrder(lpb.GetOrderRequest(order_id=order), timeout=30)
            assert parent.state == "deposit_paid" and parent.presale == "dj" and parent.units == 1
            assert [(c.kind, c.state, c.payable) for c in parent.children] == [("deposit", "committed", "100.00")]
            assert parent.HasField("ships")

        # ---- no return before the ship date ----
        with pytest.raises(grpc.RpcError) as err:
            stub.Return(lpb.ReturnRequest(order_id=paid[0], idempotency_key="ret-1",
                                          lines=[lpb.ReturnLine(id="d", quantity=1)]), timeout=30)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and violation(err.value) == "order_id"

        # ---- the balances, after the deposit window closed ----
        set_clock(clock, closes + timedelta(seconds=1))
        for order in paid[:2]:
            buyer = "u" + order[1:]
            balance = stub.Reserve(lpb.ReserveRequest(order_id=f"{order}-balance", idempotency_key=f"bal-{order}",
                                                      parent_order_id=order, ttl_seconds=600,
                                                      cart=cart(buyer, wallet=True)), timeout=60)
            line = balance.quote.presale[0]
            # 3 units sold at the close: the 1600 tier; due 1600 − 200 (the deposit's worth) − 50 (尾款立减)
            # − 30 (the shop coupon, at the balance stage) = 1320 (at the 1800 tier it would be 1520)
            assert line.stage == "balance" and line.balance_due == "1320.00"
            assert [a.promotion for a in balance.quote.applied] == ["shop-30"]
            assert balance.quote.totals.payable == "1320.00"
            assert stub.GetOrder(lpb.GetOrderRequest(order_id=order), timeout=30).state == "balance_held"
            stub.Commit(lpb.CommitRequest(reservation_id=balance.reservation_id, idempotency_key=f"bal-pay-{order}"),
                        timeout=60)
            parent = stub.GetOrder(lpb.GetOrderRequest(order_id=f"{order}-balance"), timeout=30)
            assert parent.order_id == order and parent.state == "completed"
            assert [(c.kind, c.state, c.payable) for c in parent.children] == [
                ("deposit", "committed", "100.00"), ("balance", "committed", "1320.00")]

        # ---- the third never pays: balance_expired by the sweep, deposit kept, unit back ----
        last = paid[2]
        assert stub.GetOrder(lpb.GetOrderRequest(order_id=last), timeout=30).state == "deposit_paid"
        set_clock(clock, balance_closes + timedelta(seconds=1))
        parent = wait_until(lambda: (p := stub.GetOrder(lpb.GetOrderRequest(order_id=last), timeout=30)).state
                            == "balance_expired" and p, SWEEP_TIMEOUT, "the sweep to expire the balance")
        assert [(c.kind, c.state) for c in parent.children] == [("deposit", "committed")]
        assert units_sold(url) == 2  # stock 3: one left
        # a balance for an expired parent is refused
        with pytest.raises(grpc.RpcError) as err:
            stub.Reserve(lpb.ReserveRequest(order_id=f"{last}-late", idempotency_key=f"late-{last}",
                                            parent_order_id=last, cart=cart("u" + last[1:])), timeout=60)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert violation(err.value) == "parent_order_id"
        with pytest.raises(grpc.RpcError) as err:
            stub.GetOrder(lpb.GetOrderRequest(order_id="nobody"), timeout=30)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

        # ---- the figures (ledger.md §6): by hand ----
        # 3 deposits of 100.00 paid; 2 balances of 1320.00 paid (2640.00); conversion 2/3; one
        # deposit forfeited (100.00); stock 3, 2 sold, 1 left
        figures = stub.GetStats(lpb.GetStatsRequest(presale="dj"), timeout=30).presale
        assert (figures.deposit_orders, figures.deposit_units, figures.deposit_amount) == (3, 3, "300.00")
        assert (figures.balances_paid, figures.balance_amount, figures.conversion) == (2, "2640.00", "0.6667")
        assert (figures.forfeited_orders, figures.forfeited_deposits) == (1, "100.00")
        assert (figures.stock, figures.sold, figures.stock_left) == (3, 2, 1)
        assert (figures.gmv, figures.average_order_value, figures.timezone) == ("2940.00", "980.00", "UTC")
        assert [(d.day, d.deposit_orders, d.balances_paid) for d in figures.days] == [("2026-11-01", 3, 2)]
        # the shop coupon, on the two balance orders (1320.00 each, 30.00 off each)
        coupon = stub.GetStats(lpb.GetStatsRequest(promotion="shop-30"), timeout=30).promotion
        assert (coupon.uses, coupon.orders, coupon.spend, coupon.gmv, coupon.average_order_value) == (
            2, 2, "60.00", "2640.00", "1320.00")
        assert [(d.day, d.orders) for d in coupon.days] == [("2026-11-01", 2)] and not coupon.budgets

        # ---- `promo stats` on this ledger (issue 16, Must show 2): by hand ----
        # the presale: conversion 2 balances paid ÷ 3 deposits paid = 0.6667; forfeited: one deposit of
        # 100.00; GMV: the 3 deposits kept (300.00) and the 2 balances paid (2 × 1320.00 = 2640.00) =
        # 2940.00, over 3 orders with a paid deposit: 980.00. Every order on the fake clock's day (UTC,
        # the ruleset's timezone, recorded on the orders).
        def promo_stats(*args: str) -> dict:
            printed = subprocess.run([sys.executable, "-m", "server.cli", "stats", "--ledger", url, *args, "--json"],
                                     capture_output=True, text=True, timeout=120, check=True,
                                     cwd=Path(__file__).resolve().parents[2])
            return json.loads(printed.stdout)

        page = tmp_path / "dj.html"
        assert promo_stats("--presale", "dj", "--out", str(page)) == {
            "presale": "dj", "deposits": {"orders": 3, "units": 3, "amount": "300.00", "held": 0},
            "balances_paid": {"orders": 2, "amount": "2640.00"}, "conversion": "0.6667",
            "forfeited": {"orders": 1, "deposits": "100.00"}, "cancelled": 0, "returned": 0, "stock": 3, "sold": 2,
            "stock_left": 1, "gmv": "2940.00", "average_order_value": "980.00", "timezone": "UTC",
            "days": [{"day": "2026-11-01", "deposits": {"orders": 3, "units": 3, "amount": "300.00"},
                      "balances_paid": {"orders": 2, "amount": "2640.00"}}]}
        # its page (tests/cli/test_stats_browser.py renders one in Chromium): one day, one point a series
        html = page.read_text(encoding="utf-8")
        assert html.count('<circle class="point deposits"') == html.count('<circle class="point balances"') == 1
        assert '<meta name="viewport"' in html and "0.6667" in html and "2940.00" in html and "980.00" in html
        # the shop coupon: the 2 balance orders it applied to, 30.00 off each (60.00); GMV their payable,
        # 2 × 1320.00 = 2640.00; average order value 2640.00 ÷ 2 = 1320.00; no budget
        assert promo_stats("--promotion", "shop-30") == {
            "promotion": "shop-30", "uses": 2, "orders": 2, "spend": "60.00", "gmv": "2640.00",
            "average_order_value": "1320.00", "returned": 0, "cancelled": 0, "budgets": [], "timezone": "UTC",
            "days": [{"day": "2026-11-01", "uses": 2, "orders": 2, "spend": "60.00", "gmv": "2640.00",
                      "average_order_value": "1320.00"}]}

        # ---- a return after the ship date is accepted (the figures above are from before it) ----
        set_clock(clock, ships + timedelta(seconds=1))
        # A Return of the parent's id takes the unit back from both children, each refunding what it
        # was paid for it: the deposit order 100.00 (the deposit, worth 200.00 against the price) and
        # the balance order 1320.00 (1600 − 200 − 50 − 30): 100.00 + 1320.00 = 1420.00, not the
        # line's final at either stage (1850.00 at the deposit, 1420.00 at the balance, over both orders)
        returned = stub.Return(lpb.ReturnRequest(order_id=paid[0], idempotency_key="ret-2",
                                                 lines=[lpb.ReturnLine(id="d", quantity=1)]), timeout=30)
        assert returned.order_id == paid[0] and returned.state == "returned" and returned.refund == "1420.00"
        assert [(x.id, x.quantity, x.refund) for x in returned.lines] == [("d", 1, "1420.00")]
        parent = stub.GetOrder(lpb.GetOrderRequest(order_id=paid[0]), timeout=30)
        assert [(c.kind, c.state) for c in parent.children] == [("deposit", "returned"), ("balance", "returned")]
        assert units_sold(url) == 1  # the deposit order returned in full gives its unit back, as before
        # the balance order's id names the same presale order: the second buyer's, the same 1420.00
        other = stub.Return(lpb.ReturnRequest(order_id=f"{paid[1]}-balance", idempotency_key="ret-3",
                                              lines=[lpb.ReturnLine(id="d", quantity=1)]), timeout=30)
        assert (other.order_id, other.state, other.refund) == (f"{paid[1]}-balance", "returned", "1420.00")
        # nothing left to return; and the forfeited order's deposit is kept: no Return refunds it
        for order, key in ((paid[0], "ret-4"), (last, "ret-5")):
            with pytest.raises(grpc.RpcError) as err:
                stub.Return(lpb.ReturnRequest(order_id=order, idempotency_key=key,
                                              lines=[lpb.ReturnLine(id="d", quantity=1)]), timeout=30)
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and violation(err.value) == "order_id"

        # ---- the figures after the returns: an order returned in full leaves them (docs/ledger.md) ----
        # the presale: only the forfeited order is left (its 100.00 deposit kept, no balance: conversion
        # 0 ÷ 1), 2 returned; GMV 100.00 over 1 order. shop-30: both its balance orders returned: no order
        after = stub.GetStats(lpb.GetStatsRequest(presale="dj"), timeout=30).presale
        assert (after.deposit_orders, after.balances_paid, after.conversion, after.returned) == (1, 0, "0.0000", 2)
        assert (after.forfeited_deposits, after.gmv, after.average_order_value) == ("100.00", "100.00", "100.00")
        coupon = stub.GetStats(lpb.GetStatsRequest(promotion="shop-30"), timeout=30).promotion
        assert (coupon.orders, coupon.returned, coupon.gmv, coupon.HasField("average_order_value"),
                len(coupon.days)) == (0, 2, "0.00", False, 0)
    finally:
        assert served.process.stop() == 0


def test_the_fake_clock_stands_still_until_its_file_changes(tmp_path: Path):
    from server.ledger.clock import FileClock

    path = tmp_path / "clock"
    set_clock(path, START)
    clock = FileClock(str(path))
    assert clock() == START and clock() == START
    set_clock(path, START + timedelta(days=1))
    assert clock() == START + timedelta(days=1)
    path.write_text("2026-11-0", encoding="utf-8")  # half-written: the last instant stays
    assert clock() == START + timedelta(days=1) and clock.error
    path.write_text("2026-11-11T08:00:00+08:00\n", encoding="utf-8")
    assert clock() == datetime(2026, 11, 11, tzinfo=UTC) and clock.error is None
    for text in ("2026-11-11T00:00:00", "soon"):  # no offset; no instant
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match="--clock-file"):
            FileClock(str(path))
    with pytest.raises(ValueError, match="--clock-file"):
        FileClock(str(tmp_path / "missing"))


def test_clock_file_is_hidden_from_help_and_checked_at_start(tmp_path: Path):
    root = Path(__file__).resolve().parents[2]
    shown = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--help"], capture_output=True, text=True,
                           timeout=60, check=True, cwd=root)
    assert "--clock-file" not in shown.stdout
    (tmp_path / "clock").write_text("tomorrow", encoding="utf-8")
    refused = subprocess.run([sys.executable, "-m", "server.cli", "serve", str(tmp_path), "--no-ledger",
                              "--clock-file", str(tmp_path / "clock")], capture_output=True, text=True, timeout=60,
                             cwd=root)
    assert refused.returncode == 2 and "error: --clock-file" in refused.stderr
