"""No overspend, ever, through the whole stack: `promo serve --ledger URL` as a subprocess on
SQLite and PostgreSQL, the ledger clauses written in the language, 50 gRPC clients released
together by a barrier racing to Reserve. Each race runs PROMO_GRPC_RACE_REPEAT rounds (default
1, to keep `make test` short; 50 and 1,000 for the long runs), each round on coupons of its own, so the rounds are
independent races on fresh counters."""

from __future__ import annotations

import os

import pytest
from google.protobuf import json_format
from ledger_support import BACKENDS
from test_ledger_service import applied, new_url, pb_money, race, start

from server.gen.promo.v1 import ledger_pb2 as lpb
from server.gen.promo.v1 import promo_pb2 as pb
from server.ledger.audit import verify

ROUNDS = int(os.environ.get("PROMO_GRPC_RACE_REPEAT", "1"))
CLIENTS = 50


def rules() -> str:
    text = 'ruleset "races" { currency CNY  timezone "Asia/Shanghai"  stacking parallel }\n'
    for r in range(ROUNDS):
        text += (f'coupon "ten-{r}" {{ level platform  discount 5  limit 10 total }}\n'
                 f'coupon "budget-{r}" {{ level platform  discount 3  budget 10 }}\n'
                 f'coupon "code-{r}" {{ level platform  discount 7  codes }}\n'
                 f'coupon "daily-{r}" {{ level platform  discount 4  limit 1 per user per day }}\n')
    return text


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"races-{request.param}")
    (folder / "rules").mkdir()
    (folder / "rules" / "races.promo").write_text(rules(), encoding="utf-8")
    server = start(folder / "rules", folder, new_url(request.param, request.config, folder))
    try:
        yield server
    finally:
        assert server.process.stop() == 0
        assert verify(server.url).ok  # the counters equal their entries after every race


def reserve_all(served, name: str, entry: dict, buyer=lambda i: f"b{i}", clients: int = CLIENTS):
    """`clients` Reserves of a one-line cart with `entry` in the wallet, all released at once."""
    def one(i: int) -> lpb.ReserveResponse:
        cart = {"at": "2026-11-11T10:00:00+08:00", "user": {"id": buyer(i)},
                "lines": [{"id": "l1", "sku": "A", "shop": "S1", "price": "100.00", "quantity": 1}],
                "wallet": [entry]}
        request = lpb.ReserveRequest(order_id=f"{name}-{i}", idempotency_key=f"reserve-{name}-{i}", ttl_seconds=600,
                                     cart=json_format.ParseDict(cart, pb.EvaluateRequest()))
        return served.stub.Reserve(request, timeout=120)
    return race(clients, one)


def reason(answer: lpb.ReserveResponse, promotion: str) -> str:
    return next(n.reason for n in answer.quote.not_applied if n.promotion == promotion)


def held(answer: lpb.ReserveResponse) -> set[str]:
    return {p.promotion for p in answer.promotions if p.granted}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_fifty_clients_on_a_limit_of_ten_total_get_exactly_ten(served, round_):
    name = f"ten-{round_}"
    answers = reserve_all(served, name, {"coupon": name, "id": "w"})
    winners = [a for a in answers if name in applied(a.quote)]
    assert len(winners) == 10
    assert all(held(a) == {name} and a.quote.totals.payable == "95.00" for a in winners)  # the quote is what it holds
    losers = [a for a in answers if a not in winners]
    assert all(reason(a, name) == "LIMIT_REACHED" and a.quote.totals.payable == "100.00" and not held(a)
               for a in losers)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_fifty_clients_on_a_budget_spend_it_to_the_cent_and_the_last_is_capped(served, round_):
    name = f"budget-{round_}"  # 10.00 of budget, 3.00 off each: three whole, one cut to 1.00
    answers = reserve_all(served, name, {"coupon": name, "id": "w"})
    given = sorted(pb_money(x.amount) for a in answers for x in a.quote.applied if x.promotion == name)
    assert given == [100, 300, 300, 300]
    (cut,) = [x for a in answers for x in a.quote.applied if x.promotion == name and x.capped]
    assert json_format.MessageToDict(cut.detail) == {"desired": "3.00", "granted": "1.00"}
    spent = sum(pb_money(p.spend) for a in answers for p in a.promotions if p.promotion == name and p.granted)
    assert spent == 1_000
    assert sum(1 for a in answers if name not in applied(a.quote) and reason(a, name) == "BUDGET_EXHAUSTED") == 46


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_fifty_clients_on_one_code_and_exactly_one_wins(served, round_):
    name = f"code-{round_}"
    issued = served.stub.IssueCodes(lpb.IssueCodesRequest(coupon=name, count=1, idempotency_key=f"issue-{name}"),
                                    timeout=60)
    (code,) = [c.code for c in issued]
    answers = reserve_all(served, name, {"coupon": name, "id": "w", "code": code})
    winners = [a for a in answers if name in applied(a.quote)]
    assert len(winners) == 1 and held(winners[0]) == {name}
    assert {reason(a, name) for a in answers if a is not winners[0]} == {"CODE_USED"}


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_one_buyer_on_twenty_parallel_carts_gets_one_use_per_day(served, round_):
    name = f"daily-{round_}"
    answers = reserve_all(served, name, {"coupon": name, "id": "w"}, buyer=lambda i: f"daily-buyer-{round_}",
                          clients=20)
    winners = [a for a in answers if name in applied(a.quote)]
    assert len(winners) == 1
    assert {reason(a, name) for a in answers if a is not winners[0]} == {"LIMIT_REACHED"}
