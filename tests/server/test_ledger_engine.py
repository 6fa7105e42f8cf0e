"""The language's ledger clauses held by `promo serve --ledger URL` over gRPC, on SQLite and
PostgreSQL: `limit N total`, `budget M` (the last order cut and `capped`, then BUDGET_EXHAUSTED),
single-use `codes`, `limit 1 per user per day`; Evaluate and Qualify read the same ledger (a
read-only snapshot) as Reserve, and a bad wallet code is INVALID_ARGUMENT naming its field."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from ledger_support import BACKENDS, postgres
from server_process import ServerProcess
from test_server_api import violation

from server.gen.promo.v1 import ledger_pb2 as lpb
from server.gen.promo.v1 import ledger_pb2_grpc as lpb_grpc
from server.gen.promo.v1 import promo_pb2 as pb
from server.ledger.audit import verify

RULES = """\
ruleset "ledger-engine" { currency CNY  timezone "Asia/Shanghai"  stacking parallel }

coupon "two-total" { level shop  scope shop == "T"  discount 4  limit 2 total }

coupon "budget-25" { level platform  scope shop == "B"  discount 10  budget 25 }

coupon "coded-8" { level shop  scope shop == "C"  discount 8  codes }

coupon "daily" { level shop  scope shop == "D"  discount 6  limit 1 per user per day }
"""


def cart(buyer: str, shop: str, wallet: list[dict], at: str = "2026-11-11T10:00:00+08:00") -> pb.EvaluateRequest:
    return json_format.ParseDict({"at": at, "user": {"id": buyer},
                                  "lines": [{"id": "l1", "sku": "X", "shop": shop, "price": "100.00", "quantity": 1}],
                                  "wallet": wallet}, pb.EvaluateRequest())


def reasons(quote: pb.EvaluateResponse) -> dict[str, str]:
    return {n.promotion: n.reason for n in quote.not_applied}


def applied(quote: pb.EvaluateResponse) -> dict[str, str]:
    return {a.promotion: a.amount for a in quote.applied}


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"engine-{request.param}")
    (folder / "rules").mkdir()
    (folder / "rules" / "rules.promo").write_text(RULES, encoding="utf-8")
    url = f"sqlite:///{folder}/ledger.db" if request.param == "sqlite" else postgres(request.config).create()
    process = ServerProcess(folder / "rules", folder / f"log-{time.monotonic_ns()}.jsonl", "--ledger", url)
    process.wait_serving()
    try:
        yield process, lpb_grpc.LedgerServiceStub(process.channel), url
    finally:
        assert process.stop() == 0


def checkout(ledger, order: str, request: pb.EvaluateRequest) -> lpb.ReserveResponse:
    held = ledger.Reserve(lpb.ReserveRequest(order_id=order, idempotency_key=f"r-{order}", cart=request), timeout=30)
    ledger.Commit(lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key=f"c-{order}"), timeout=30)
    return held


def test_a_total_limit_of_two_gives_the_third_order_limit_reached(served):
    process, ledger, url = served
    wallet = [{"coupon": "two-total", "id": "w"}]
    answers = [checkout(ledger, f"t-{n}", cart(f"buyer-t{n}", "T", wallet)).quote for n in range(3)]
    assert [applied(q).get("two-total") for q in answers] == ["4.00", "4.00", None]
    assert reasons(answers[2])["two-total"] == "LIMIT_REACHED"
    detail = json_format.MessageToDict(next(n for n in answers[2].not_applied if n.promotion == "two-total").detail)
    assert (detail["limit"], detail["used"], detail["clause"]) == (2, 2, "limit 2 total")
    # Evaluate and Qualify read the same ledger: a fourth buyer is told so before any reserve
    evaluated = process.stub.Evaluate(cart("buyer-t9", "T", wallet), timeout=30)
    assert reasons(evaluated)["two-total"] == "LIMIT_REACHED"
    qualified = process.stub.Qualify(pb.QualifyRequest(cart=cart("buyer-t9", "T", wallet)), timeout=30)
    assert [(c.coupon, c.usable, c.reason) for c in qualified.coupons] == [("two-total", False, "LIMIT_REACHED")]
    assert verify(url).ok


def test_a_budget_of_25_with_10_off_cuts_the_third_order_then_is_exhausted(served):
    process, ledger, url = served
    wallet = [{"coupon": "budget-25", "id": "w"}]
    held = [checkout(ledger, f"b-{n}", cart(f"buyer-b{n}", "B", wallet)) for n in range(4)]
    assert [applied(h.quote).get("budget-25") for h in held] == ["10.00", "10.00", "5.00", None]
    third = next(a for a in held[2].quote.applied if a.promotion == "budget-25")
    assert third.capped and json_format.MessageToDict(third.detail) == {"desired": "10.00", "granted": "5.00"}
    assert held[2].quote.totals.payable == "95.00"
    # the ledger's answer says the same: it held 5.00 of the 10.00 the coupon gives (cut)
    assert [(p.promotion, p.granted, p.reason, p.desired, p.spend) for p in held[2].promotions] == [
        ("budget-25", True, "BUDGET_EXHAUSTED", "10.00", "5.00")]
    assert [(p.desired, p.spend, p.reason) for p in held[1].promotions] == [("10.00", "10.00", "")]
    assert reasons(held[3].quote)["budget-25"] == "BUDGET_EXHAUSTED"
    assert held[3].quote.totals.payable == "100.00"
    usage = ledger.GetUsage(lpb.GetUsageRequest(promotion="budget-25"), timeout=30)
    assert (usage.spend, usage.budget) == ("25.00", "25.00")
    assert verify(url).ok


def test_a_code_redeemed_once_is_code_used_in_evaluate(served):
    process, ledger, url = served
    (code,) = [c.code for c in ledger.IssueCodes(lpb.IssueCodesRequest(coupon="coded-8", count=1,
                                                                         idempotency_key="issue-c8"), timeout=30)]
    wallet = [{"coupon": "coded-8", "id": "w", "code": code}]
    first = process.stub.Evaluate(cart("buyer-c1", "C", wallet), timeout=30)
    assert applied(first) == {"coded-8": "8.00"}
    held = checkout(ledger, "c-1", cart("buyer-c1", "C", wallet))
    assert {p.promotion: p.code for p in held.promotions} == {"coded-8": code}
    again = process.stub.Evaluate(cart("buyer-c2", "C", [{"coupon": "coded-8", "id": "w", "code": code.lower()}]),
                                  timeout=30)
    assert reasons(again) == {"coded-8": "CODE_USED"} and again.totals.payable == "100.00"
    used = next(n for n in again.not_applied if n.promotion == "coded-8")
    unknown = next(n for n in process.stub.Evaluate(
        cart("buyer-c3", "C", [{"coupon": "coded-8", "id": "w", "code": "NOSUCHCODE"}]), timeout=30).not_applied)
    assert unknown.reason == "CODE_UNKNOWN"
    missing = process.stub.Evaluate(cart("buyer-c4", "C", [{"coupon": "coded-8", "id": "w"}]), timeout=30)
    assert reasons(missing) == {"coded-8": "CODE_UNKNOWN"}
    # the buyer reads the same words for both; the operator detail tells them apart
    assert (used.message, used.message_zh) == (unknown.message, unknown.message_zh) == \
        ("this code cannot be used", "该券码无法使用")
    assert json_format.MessageToDict(used.detail)["state"] == "redeemed"
    assert json_format.MessageToDict(unknown.detail)["state"] == "unknown"
    assert verify(url).ok


def test_one_per_buyer_per_day_comes_back_the_next_day_in_the_ruleset_timezone(served):
    process, ledger, _ = served
    wallet = [{"coupon": "daily", "id": "w"}]
    first = checkout(ledger, "d-1", cart("buyer-d", "D", wallet, at="2026-11-11T23:30:00+08:00"))
    assert applied(first.quote) == {"daily": "6.00"}
    same_day = process.stub.Evaluate(cart("buyer-d", "D", wallet, at="2026-11-11T23:59:00+08:00"), timeout=30)
    assert reasons(same_day) == {"daily": "LIMIT_REACHED"}
    # 16:30 UTC on the 11th is 00:30 on the 12th in Shanghai: a new day
    next_day = process.stub.Evaluate(cart("buyer-d", "D", wallet, at="2026-11-11T16:30:00Z"), timeout=30)
    assert applied(next_day) == {"daily": "6.00"}
    other = process.stub.Evaluate(cart("buyer-other", "D", wallet, at="2026-11-11T23:59:00+08:00"), timeout=30)
    assert applied(other) == {"daily": "6.00"}


def test_a_bad_wallet_code_is_invalid_argument_naming_the_field(served):
    process, _, _ = served
    bad = cart("buyer-x", "C", [{"coupon": "coded-8", "id": "w", "code": "X" * 65}])
    with pytest.raises(grpc.RpcError) as err:
        process.stub.Evaluate(bad, timeout=30)
    assert (err.value.code(), violation(err.value)) == (grpc.StatusCode.INVALID_ARGUMENT, "wallet[0].code")


def test_without_a_ledger_evaluate_takes_the_clauses_as_not_reached(tmp_path: Path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.promo").write_text(RULES, encoding="utf-8")
    process = ServerProcess(tmp_path / "rules", tmp_path / "log.jsonl", "--no-ledger")
    process.wait_serving()
    try:
        quote = process.stub.Evaluate(cart("u", "C", [{"coupon": "coded-8", "id": "w"}]), timeout=30)
        assert applied(quote) == {"coded-8": "8.00"}
    finally:
        assert process.stop() == 0
