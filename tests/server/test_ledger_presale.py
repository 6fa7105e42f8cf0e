"""Presale orders over gRPC (ledger.md §5), `promo serve --ledger URL` as a subprocess on SQLite
and PostgreSQL: `stock 3` raced by four buyers (exactly three deposit orders, the fourth refused
FAILED_PRECONDITION / OUT_OF_STOCK), the balance of each priced at the tier that the units sold
at the deposit window's close reach, its commit completing the parent, a buyer who never pays
`balance_expired` by the sweep (deposit kept, unit back to the stock), a Return before the ship
date refused. The windows are relative to now (the server's clock is the real one): the test
polls, with timeouts, for the deposit window to close and for the sweep."""

from __future__ import annotations

import json
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

DEPOSIT_SECONDS = 20  # the deposit window closes this long after the rules are written
BALANCE_SECONDS = 40  # and the balance window this long after

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
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


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
    now = datetime.now(UTC)
    closes, balance_closes = now + timedelta(seconds=DEPOSIT_SECONDS), now + timedelta(seconds=BALANCE_SECONDS)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.promo").write_text(RULES.format(
        opens=stamp(now - timedelta(days=1)), closes=stamp(closes), balance_closes=stamp(balance_closes),
        ships=stamp(now + timedelta(days=10))), encoding="utf-8")
    served = start(rules, tmp_path, url)
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
        wait_until(lambda: datetime.now(UTC) > closes + timedelta(seconds=0.5), DEPOSIT_SECONDS + 30,
                   "the deposit window to close")
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
        parent = wait_until(lambda: (p := stub.GetOrder(lpb.GetOrderRequest(order_id=last), timeout=30)).state
                            == "balance_expired" and p, BALANCE_SECONDS + 60, "the balance to expire")
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
        with pytest.raises(grpc.RpcError) as err:
            stub.GetStats(lpb.GetStatsRequest(promotion="shop-30"), timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and violation(err.value) == "promotion"
        printed = subprocess.run([sys.executable, "-m", "server.cli", "stats", "--ledger", url, "--presale", "dj",
                                  "--json"], capture_output=True, text=True, timeout=120, check=True,
                                 cwd=Path(__file__).resolve().parents[2])
        assert json.loads(printed.stdout) == {
            "presale": "dj", "deposits": {"orders": 3, "units": 3, "amount": "300.00", "held": 0},
            "balances_paid": {"orders": 2, "amount": "2640.00"}, "conversion": "0.6667",
            "forfeited": {"orders": 1, "deposits": "100.00"}, "cancelled": 0, "stock": 3, "sold": 2, "stock_left": 1}
    finally:
        assert served.process.stop() == 0
