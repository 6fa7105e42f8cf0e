"""GetStats(promotion) over gRPC (ledger.md §6, §7), `promo serve --ledger URL` as a subprocess on
SQLite and PostgreSQL: orders reserved, committed, returned, cancelled and held through the
service on days either side of midnight in the ruleset's timezone; the figures, per day and the
budgets of the served ruleset computed by hand; the request's mistakes named."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import pytest
from google.protobuf import json_format
from ledger_support import BACKENDS
from test_ledger_service import new_url, start
from test_server_api import violation

from server.gen.promo.v1 import ledger_pb2 as lpb
from server.gen.promo.v1 import promo_pb2 as pb

RULES = """\
ruleset "stats-service" { currency CNY  timezone "Asia/Shanghai" }

promotion "a-direct" { level item  scope sku == "A"  discount 10 each }

coupon "shop-7" { level shop  discount 7  budget 100  budget 50 per day }
"""


def cart(buyer: str, at: str, b_price: str = "50.00") -> pb.EvaluateRequest:
    return json_format.ParseDict({
        "at": at, "user": {"id": buyer},
        "lines": [{"id": "l1", "sku": "A", "shop": "S1", "price": "110.00", "quantity": 2},
                  {"id": "l2", "sku": "B", "shop": "S1", "price": b_price, "quantity": 1}],
        "wallet": [{"coupon": "shop-7", "id": f"w-{buyer}"}]}, pb.EvaluateRequest())


@pytest.mark.parametrize("backend", BACKENDS)
def test_get_stats_of_a_promotion(backend, request, tmp_path: Path):
    url = new_url(backend, request.config, tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.promo").write_text(RULES, encoding="utf-8")
    served = start(rules, tmp_path, url)
    stub = served.stub

    def order(name: str, at: str, b_price: str = "50.00", commit: bool = True) -> lpb.ReserveResponse:
        held = stub.Reserve(lpb.ReserveRequest(order_id=name, idempotency_key=f"r-{name}", ttl_seconds=600,
                                               cart=cart(f"u-{name}", at, b_price)), timeout=30)
        # 2 × 110.00 − 2 × 10.00 (a-direct) + B − 7.00 (shop-7)
        assert [a.promotion for a in held.quote.applied] == ["a-direct", "shop-7"]
        if commit:
            stub.Commit(lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key=f"c-{name}"),
                        timeout=30)
        return held

    try:
        assert order("g1", "2026-11-10T23:30:00+08:00").quote.totals.payable == "243.00"
        assert order("g2", "2026-11-11T00:10:00+08:00", "50.01").quote.totals.payable == "243.01"
        order("g3", "2026-11-11T09:00:00+08:00")
        stub.Return(lpb.ReturnRequest(order_id="g3", idempotency_key="ret-g3", lines=[
            lpb.ReturnLine(id="l1", quantity=2), lpb.ReturnLine(id="l2", quantity=1)]), timeout=30)
        four = order("g4", "2026-11-11T10:00:00+08:00")
        stub.Cancel(lpb.CancelRequest(reservation_id=four.reservation_id, idempotency_key="x-g4"), timeout=30)
        order("g5", "2026-11-11T11:00:00+08:00", commit=False)  # held: in the budget, not an order

        figures = stub.GetStats(lpb.GetStatsRequest(promotion="shop-7"), timeout=30).promotion
        # g1 and g2 (g3 returned in full, g4 cancelled, g5 held): 2 × 7.00 spent, GMV 243.00 + 243.01 =
        # 486.01, average 243.005: half-up 243.01; g1 on local 11-10, g2 on 11-11 (16:10 UTC the day before)
        assert (figures.promotion, figures.uses, figures.orders, figures.spend, figures.gmv,
                figures.average_order_value, figures.returned, figures.cancelled, figures.timezone) == (
            "shop-7", 2, 2, "14.00", "486.01", "243.01", 1, 1, "Asia/Shanghai")
        assert [(d.day, d.orders, d.spend, d.gmv, d.average_order_value) for d in figures.days] == [
            ("2026-11-10", 1, "7.00", "243.00", "243.00"), ("2026-11-11", 1, "7.00", "243.01", "243.01")]
        # the served budgets now: all time 14.00 + 7.00 held of 100.00; today's (by the real clock) day budget
        # has nothing: the orders' days are in November 2026
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
        assert [(b.period, b.key, b.budget, b.used, b.held, b.left) for b in figures.budgets] == [
            ("total", "", "100.00", "21.00", "7.00", "79.00"), ("day", today, "50.00", "0.00", "0.00", "50.00")]
        direct = stub.GetStats(lpb.GetStatsRequest(promotion="a-direct"), timeout=30).promotion
        assert (direct.orders, direct.spend, direct.gmv, len(direct.budgets)) == (2, "40.00", "486.01", 0)
        # from/to without an offset: in the ruleset's timezone
        bounded = stub.GetStats(lpb.GetStatsRequest(promotion="shop-7", **{"from": "2026-11-11T00:00:00"}),
                                timeout=30).promotion
        assert (bounded.orders, bounded.gmv, [d.day for d in bounded.days]) == (1, "243.01", ["2026-11-11"])
        empty = stub.GetStats(lpb.GetStatsRequest(promotion="shop-7", **{"from": "2026-12-01", "to": "2026-12-03"}),
                              timeout=30).promotion
        assert (empty.orders, empty.HasField("average_order_value"), [d.day for d in empty.days]) == (
            0, False, ["2026-12-01", "2026-12-02"])

        for asked, code, field in [
            (lpb.GetStatsRequest(promotion="nobody"), grpc.StatusCode.NOT_FOUND, "promotion"),
            (lpb.GetStatsRequest(promotion="shop-7", presale="dj"), grpc.StatusCode.INVALID_ARGUMENT, "promotion"),
            (lpb.GetStatsRequest(promotion="shop-7", **{"from": "soon"}), grpc.StatusCode.INVALID_ARGUMENT, "from"),
            (lpb.GetStatsRequest(), grpc.StatusCode.INVALID_ARGUMENT, "presale"),
        ]:
            with pytest.raises(grpc.RpcError) as err:
                stub.GetStats(asked, timeout=30)
            assert (err.value.code(), violation(err.value)) == (code, field), asked
    finally:
        assert served.process.stop() == 0
