"""LedgerService over gRPC, `promo serve --ledger URL` as a subprocess, on SQLite and PostgreSQL:
reserve -> commit -> return, idempotent replays, every error with its status and the field it
names (never UNKNOWN or INTERNAL), codes streamed, a buyer's one use raced by parallel carts, and
a server killed between Reserve and Commit holding nothing past the ttl."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import json_format
from ledger_support import BACKENDS, RACE_REPEAT, postgres, tables
from server_process import ServerProcess
from test_server_api import violation

from server.gen.promo.v1 import ledger_pb2 as lpb
from server.gen.promo.v1 import ledger_pb2_grpc as lpb_grpc
from server.gen.promo.v1 import promo_pb2 as pb
from server.ledger import codes as code_check
from server.ledger.audit import verify

RULES = """\
ruleset "ledger-service" { currency CNY  timezone "Asia/Shanghai"  stacking parallel }

promotion "a-direct" { level item  scope sku == "A"  discount 10 each }

coupon "once-20" {
    level platform
    when amount >= 100
    discount 20
    limit 1 per user
}

coupon "plain-3" { level shop  discount 3 }

coupon "coded-5" { level shop  discount 5  codes }
"""


def cart_json(buyer: str = "u1", **changes) -> dict:
    data = {
        "at": "2026-11-11T10:00:00+08:00",
        "user": {"id": buyer},
        "lines": [{"id": "l1", "sku": "A", "shop": "S1", "price": "110.00", "quantity": 2},
                  {"id": "l2", "sku": "B", "shop": "S1", "price": "50.00", "quantity": 3}],
        "wallet": [{"coupon": "once-20", "id": "w-1"}, {"coupon": "plain-3", "id": "w-2"}],
    }
    data.update(changes)
    return data


def cart(buyer: str = "u1", **changes) -> pb.EvaluateRequest:
    return json_format.ParseDict(cart_json(buyer, **changes), pb.EvaluateRequest())


def reserve(order_id: str, buyer: str = "u1", key: str | None = None, ttl: int = 600, **changes) -> lpb.ReserveRequest:
    return lpb.ReserveRequest(order_id=order_id, idempotency_key=key or f"reserve-{order_id}", ttl_seconds=ttl,
                              cart=cart(buyer, **changes))


def applied(quote: pb.EvaluateResponse) -> list[str]:
    return [a.promotion for a in quote.applied]


def refused(call, request) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        result = call(request, timeout=30)
        if not isinstance(result, lpb.ReserveResponse | lpb.CommitResponse | lpb.CancelResponse |
                          lpb.ReturnResponse | lpb.GetUsageResponse):
            list(result)  # a stream fails as it is read
    return err.value.code(), violation(err.value)


def new_url(backend: str, config: pytest.Config, folder: Path) -> str:
    """A database no ledger has touched yet: `promo serve` migrates it."""
    if backend == "sqlite":
        return f"sqlite:///{folder}/ledger.db"
    return postgres(config).create()


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rules.promo").write_text(RULES, encoding="utf-8")
    return folder


@dataclass
class Served:
    process: ServerProcess
    url: str
    stub: lpb_grpc.LedgerServiceStub

    @property
    def pricing(self):
        return self.process.stub


def start(rules: Path, folder: Path, url: str, *args: str) -> Served:
    process = ServerProcess(rules, folder / f"log-{time.monotonic_ns()}.jsonl", "--ledger", url, *args)
    process.wait_serving()
    return Served(process, url, lpb_grpc.LedgerServiceStub(process.channel))


@pytest.fixture(scope="module", params=BACKENDS)
def served(request, rules, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"serve-{request.param}")
    server = start(rules, folder, new_url(request.param, request.config, folder))
    try:
        yield server
    finally:
        assert server.process.stop() == 0


# ---- the flow ----------------------------------------------------------------------------------


def test_the_service_is_listed_by_reflection_and_says_serving(served):
    from grpc_health.v1 import health_pb2

    assert served.process.status("promo.v1.LedgerService") == health_pb2.HealthCheckResponse.SERVING
    assert served.process.events("ledger_open")[0]["backend"] in ("sqlite", "postgresql")


def test_reserve_prices_the_cart_exactly_as_evaluate(served):
    evaluated = served.pricing.Evaluate(cart("flow-0"), timeout=30)
    held = served.stub.Reserve(reserve("flow-0", buyer="flow-0"), timeout=30)
    assert held.quote == evaluated
    assert applied(held.quote) == ["a-direct", "plain-3", "once-20"]
    # Evaluate reads the same ledger: the held use counts, the buyer's next Evaluate is without it
    after = served.pricing.Evaluate(cart("flow-0"), timeout=30)
    assert "once-20" not in applied(after)
    assert {n.promotion: n.reason for n in after.not_applied}["once-20"] == "LIMIT_REACHED"


def test_reserve_commit_return_gives_everything_back_once_every_unit_is_returned(served):
    stub, buyer = served.stub, "flow-1"
    started = datetime.now().astimezone()
    held = stub.Reserve(reserve("flow-1", buyer=buyer, ttl=120), timeout=30)
    assert (held.state, held.order_id) == ("held", "flow-1") and held.reservation_id.startswith("r_")
    expires = datetime.fromisoformat(held.expires_at)
    assert started + timedelta(seconds=110) < expires < started + timedelta(seconds=130)
    # 2 x 110 - 20 = 200 and 150: 350 at the order level, 20 + 3 off; final per line in proportion
    assert held.quote.totals.payable == "327.00"
    assert {p.promotion: (p.granted, p.spend) for p in held.promotions} == {
        "a-direct": (True, "20.00"), "once-20": (True, "20.00"), "plain-3": (True, "3.00")}
    usage = stub.GetUsage(lpb.GetUsageRequest(promotion="once-20", buyer=buyer), timeout=30)
    assert [(c.metric, c.buyer, c.used, c.held, c.cap) for c in usage.counters] == [("uses", buyer, "1", "1", "1")]

    done = stub.Commit(lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key="commit-flow-1"),
                       timeout=30)
    assert (done.state, done.order_id, done.reservation_id) == ("committed", "flow-1", held.reservation_id)
    usage = stub.GetUsage(lpb.GetUsageRequest(promotion="once-20", buyer=buyer), timeout=30)
    assert [(c.used, c.held) for c in usage.counters] == [("1", "0")]

    finals = {line.id: line.final for line in held.quote.lines}
    first = stub.Return(lpb.ReturnRequest(order_id="flow-1", idempotency_key="return-flow-1-a",
                                          lines=[lpb.ReturnLine(id="l2", quantity=1)]), timeout=30)
    assert first.state == "committed" and [(x.id, x.quantity) for x in first.lines] == [("l2", 1)]
    both = [lpb.ReturnLine(id="l1", quantity=2), lpb.ReturnLine(id="l2", quantity=2)]
    rest = stub.Return(lpb.ReturnRequest(order_id="flow-1", idempotency_key="return-flow-1-b", lines=both), timeout=30)
    assert rest.state == "returned"
    # units returned one call at a time refund exactly each line's final in total
    assert pb_money(first.lines[0].refund) + pb_money(rest.lines[1].refund) == pb_money(finals["l2"])
    assert pb_money(rest.lines[0].refund) == pb_money(finals["l1"])
    assert pb_money(first.refund) + pb_money(rest.refund) == pb_money(held.quote.totals.payable)
    usage = stub.GetUsage(lpb.GetUsageRequest(promotion="once-20", buyer=buyer), timeout=30)
    assert [(c.used, c.held) for c in usage.counters] == [("0", "0")]
    again = stub.Reserve(reserve("flow-1-again", buyer=buyer), timeout=30)  # the use came back
    assert "once-20" in applied(again.quote)


def pb_money(text: str) -> int:
    whole, _, cents = text.partition(".")
    return int(whole) * 100 + int(cents or 0)


def test_a_buyers_second_order_is_priced_without_the_coupon_they_used(served):
    stub = served.stub
    first = stub.Reserve(reserve("second-1", buyer="second"), timeout=30)
    stub.Commit(lpb.CommitRequest(reservation_id=first.reservation_id, idempotency_key="commit-second-1"), timeout=30)
    second = stub.Reserve(reserve("second-2", buyer="second"), timeout=30)
    assert "once-20" not in applied(second.quote)
    reason = next(n for n in second.quote.not_applied if n.promotion == "once-20")
    assert reason.reason == "LIMIT_REACHED" and json_format.MessageToDict(reason.detail)["used"] == 1
    assert pb_money(second.quote.totals.payable) == pb_money(first.quote.totals.payable) + 2000
    other = stub.Reserve(reserve("second-3", buyer="someone-else"), timeout=30)
    assert "once-20" in applied(other.quote)


def test_cancel_releases_a_held_reservation_and_cancels_a_committed_order(served):
    stub = served.stub
    held = stub.Reserve(reserve("cancel-1", buyer="cancel"), timeout=30)
    gone = stub.Cancel(lpb.CancelRequest(reservation_id=held.reservation_id, idempotency_key="cancel-1"), timeout=30)
    assert (gone.state, gone.order_id) == ("released", "cancel-1")
    paid = stub.Reserve(reserve("cancel-2", buyer="cancel"), timeout=30)
    assert "once-20" in applied(paid.quote)  # the released use is free again
    stub.Commit(lpb.CommitRequest(reservation_id=paid.reservation_id, idempotency_key="commit-cancel-2"), timeout=30)
    undone = stub.Cancel(lpb.CancelRequest(reservation_id=paid.reservation_id, idempotency_key="cancel-2"), timeout=30)
    assert undone.state == "cancelled"
    assert "once-20" in applied(stub.Reserve(reserve("cancel-3", buyer="cancel"), timeout=30).quote)


# ---- idempotency -------------------------------------------------------------------------------


def test_replays_answer_the_first_answer_and_write_nothing(served):
    stub = served.stub
    first = stub.Reserve(reserve("replay-1", buyer="replay"), timeout=30)
    commit = lpb.CommitRequest(reservation_id=first.reservation_id, idempotency_key="commit-replay-1")
    committed = stub.Commit(commit, timeout=30)
    back = lpb.ReturnRequest(order_id="replay-1", idempotency_key="return-replay-1",
                             lines=[lpb.ReturnLine(id="l1", quantity=1)])
    returned = stub.Return(back, timeout=30)
    other = stub.Reserve(reserve("replay-2", buyer="replay-other"), timeout=30)
    cancel = lpb.CancelRequest(reservation_id=other.reservation_id, idempotency_key="cancel-replay-2")
    cancelled = stub.Cancel(cancel, timeout=30)
    before = tables(served.url)
    assert stub.Reserve(reserve("replay-1", buyer="replay"), timeout=30) == first  # "held", as first answered
    assert stub.Commit(commit, timeout=30) == committed
    assert stub.Return(back, timeout=30) == returned
    assert stub.Cancel(cancel, timeout=30) == cancelled
    after = tables(served.url)
    assert after == before


def test_a_key_used_with_another_request_is_already_exists_naming_the_key(served):
    stub = served.stub
    stub.Reserve(reserve("conflict-1", buyer="conflict"), timeout=30)
    other_cart = reserve("conflict-1", buyer="conflict", lines=[
        {"id": "l1", "sku": "A", "shop": "S1", "price": "110.00", "quantity": 3}])
    assert refused(stub.Reserve, other_cart) == (grpc.StatusCode.ALREADY_EXISTS, "idempotency_key")
    assert refused(stub.Reserve, reserve("conflict-1", buyer="conflict", ttl=60)) == (
        grpc.StatusCode.ALREADY_EXISTS, "idempotency_key")


def test_a_second_reservation_of_an_order_is_already_exists_naming_the_order(served):
    stub = served.stub
    stub.Reserve(reserve("twice", buyer="twice"), timeout=30)
    assert refused(stub.Reserve, reserve("twice", buyer="twice", key="another-key")) == (
        grpc.StatusCode.ALREADY_EXISTS, "order_id")


# ---- errors ------------------------------------------------------------------------------------


def test_unknown_reservations_orders_and_promotions_are_not_found(served):
    stub = served.stub
    assert refused(stub.Commit, lpb.CommitRequest(reservation_id="r_nope", idempotency_key="k-nf-1")) == (
        grpc.StatusCode.NOT_FOUND, "reservation_id")
    assert refused(stub.Cancel, lpb.CancelRequest(reservation_id="r_nope", idempotency_key="k-nf-2")) == (
        grpc.StatusCode.NOT_FOUND, "reservation_id")
    assert refused(stub.Return, lpb.ReturnRequest(order_id="nope", idempotency_key="k-nf-3",
                                                  lines=[lpb.ReturnLine(id="l1", quantity=1)])) == (
        grpc.StatusCode.NOT_FOUND, "order_id")
    assert refused(stub.GetUsage, lpb.GetUsageRequest(promotion="no-such")) == (grpc.StatusCode.NOT_FOUND, "promotion")


def test_an_expired_reservation_cannot_be_committed_and_holds_nothing(served):
    stub = served.stub
    held = stub.Reserve(reserve("expire-1", buyer="expire", ttl=1), timeout=30)
    time.sleep(1.2)
    usage = stub.GetUsage(lpb.GetUsageRequest(promotion="once-20", buyer="expire"), timeout=30)
    assert [(c.used, c.held) for c in usage.counters] == [("0", "0")]  # released at once, swept or not
    commit = lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key="commit-expire-1")
    assert refused(stub.Commit, commit) == (grpc.StatusCode.FAILED_PRECONDITION, "reservation_id")
    assert "once-20" in applied(stub.Reserve(reserve("expire-2", buyer="expire"), timeout=30).quote)


def test_states_that_do_not_allow_the_call_are_failed_precondition(served):
    stub = served.stub
    held = stub.Reserve(reserve("state-1", buyer="state"), timeout=30)
    lines = [lpb.ReturnLine(id="l1", quantity=1)]
    assert refused(stub.Return, lpb.ReturnRequest(order_id="state-1", idempotency_key="k-st-1", lines=lines)) == (
        grpc.StatusCode.FAILED_PRECONDITION, "order_id")  # not committed yet
    stub.Cancel(lpb.CancelRequest(reservation_id=held.reservation_id, idempotency_key="k-st-2"), timeout=30)
    assert refused(stub.Commit, lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key="k-st-3")) == (
        grpc.StatusCode.FAILED_PRECONDITION, "reservation_id")
    assert refused(stub.Return, lpb.ReturnRequest(order_id="state-1", idempotency_key="k-st-4", lines=lines)) == (
        grpc.StatusCode.FAILED_PRECONDITION, "order_id")


def _reserve_without(field: str) -> lpb.ReserveRequest:
    request = reserve("bad-1", buyer="bad")
    request.ClearField(field)
    return request


BAD_RESERVES = [
    (_reserve_without("order_id"), "order_id"),
    (_reserve_without("idempotency_key"), "idempotency_key"),
    (_reserve_without("cart"), "cart"),
    (reserve("bad-2", ttl=86_401), "ttl_seconds"),
    (reserve("bad-3", ttl=-5), "ttl_seconds"),
    (reserve("bad-4", buyer=""), "cart.user.id"),
    (reserve("bad-5", lines=[{"id": "l1", "sku": "A", "price": "1.001", "quantity": 1}]), "cart.lines[0].price"),
    (reserve("bad-6", lines=[{"id": "x" * 201, "sku": "A", "price": "1.00", "quantity": 1}]), "cart.lines[0].id"),
    (reserve("bad-7", at="yesterday"), "cart.at"),
]


@pytest.mark.parametrize(("request_", "field"), BAD_RESERVES, ids=[f for _, f in BAD_RESERVES])
def test_a_bad_reserve_is_invalid_argument_naming_the_field(served, request_, field):
    assert refused(served.stub.Reserve, request_) == (grpc.StatusCode.INVALID_ARGUMENT, field)


def test_other_bad_requests_are_invalid_argument_naming_the_field(served):
    stub = served.stub
    held = stub.Reserve(reserve("bad-return", buyer="bad-return"), timeout=30)
    stub.Commit(lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key="commit-bad-return"), timeout=30)
    cases = [
        (stub.Commit, lpb.CommitRequest(idempotency_key="k"), "reservation_id"),
        (stub.Commit, lpb.CommitRequest(reservation_id=held.reservation_id), "idempotency_key"),
        (stub.Cancel, lpb.CancelRequest(reservation_id="r_x"), "idempotency_key"),
        (stub.Return, lpb.ReturnRequest(order_id="bad-return", idempotency_key="k-r1"), "lines"),
        (stub.Return, lpb.ReturnRequest(order_id="bad-return", idempotency_key="k-r2",
                                        lines=[lpb.ReturnLine(id="l1", quantity=3)]), "lines[0].quantity"),
        (stub.Return, lpb.ReturnRequest(order_id="bad-return", idempotency_key="k-r3",
                                        lines=[lpb.ReturnLine(id="l9", quantity=1)]), "lines[0].id"),
        (stub.Return, lpb.ReturnRequest(order_id="bad-return", idempotency_key="k-r4",
                                        lines=[lpb.ReturnLine(id="l1", quantity=0)]), "lines[0].quantity"),
        (stub.GetUsage, lpb.GetUsageRequest(), "promotion"),
        (stub.GetUsage, lpb.GetUsageRequest(promotion="once-20", at="soon"), "at"),
        (stub.IssueCodes, lpb.IssueCodesRequest(coupon="coded-5", count=0, idempotency_key="k-c1"), "count"),
        (stub.IssueCodes, lpb.IssueCodesRequest(coupon="a-direct", count=5, idempotency_key="k-c2"), "coupon"),
        # a coupon without `codes` is never redeemed by one
        (stub.IssueCodes, lpb.IssueCodesRequest(coupon="plain-3", count=5, idempotency_key="k-c2b"), "coupon"),
        (stub.IssueCodes, lpb.IssueCodesRequest(coupon="coded-5", count=5, length=3, idempotency_key="k-c3"), "length"),
        (stub.IssueCodes, lpb.IssueCodesRequest(coupon="coded-5", count=5, prefix="O0", idempotency_key="k-c4"),
         "prefix"),
        (stub.IssueCodes, lpb.IssueCodesRequest(coupon="coded-5", count=5), "idempotency_key"),
    ]
    for call, request, field in cases:
        assert refused(call, request) == (grpc.StatusCode.INVALID_ARGUMENT, field), (request, field)


# ---- codes -------------------------------------------------------------------------------------


def test_issue_codes_streams_10000_valid_unique_codes_and_a_replay_streams_the_same(served):
    request = lpb.IssueCodesRequest(coupon="coded-5", count=10_000, prefix="D88", idempotency_key="issue-10k")
    started = time.monotonic()
    issued = [c.code for c in served.stub.IssueCodes(request, timeout=120)]
    took = time.monotonic() - started
    assert len(issued) == len(set(issued)) == 10_000
    assert all(code.startswith("D88") and code_check.is_valid(code) for code in issued)
    assert took < 60
    assert [c.code for c in served.stub.IssueCodes(request, timeout=120)] == issued
    other = lpb.IssueCodesRequest(coupon="coded-5", count=10, idempotency_key="issue-10k")
    assert refused(served.stub.IssueCodes, other) == (grpc.StatusCode.ALREADY_EXISTS, "idempotency_key")


# ---- races -------------------------------------------------------------------------------------


def race(count: int, work) -> list:
    """`work(0..count-1)` on `count` threads released together; an error is raised here."""
    barrier = threading.Barrier(count)
    answers: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = work(i)
        except BaseException as error:  # noqa: BLE001 - raised below, in the test's thread
            answers[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
    return answers


def test_one_use_per_buyer_holds_against_20_parallel_carts(served):
    for round_ in range(RACE_REPEAT):
        buyer = f"racer-{round_}"
        answers = race(20, lambda i, r=round_, b=buyer: served.stub.Reserve(reserve(f"race-{r}-{i}", buyer=b),
                                                                            timeout=60))
        winners = [a for a in answers if "once-20" in applied(a.quote)]
        assert len(winners) == 1
        for loser in answers:
            if loser is not winners[0]:
                assert any(n.promotion == "once-20" and n.reason == "LIMIT_REACHED" for n in loser.quote.not_applied)
                assert "once-20" not in {p.promotion for p in loser.promotions}  # the quote is what it holds
        usage = served.stub.GetUsage(lpb.GetUsageRequest(promotion="once-20", buyer=buyer), timeout=30)
        assert [(c.used, c.held) for c in usage.counters] == [("1", "1")]
    assert verify(served.url).ok


def test_no_call_made_the_server_fail(served):
    # runs last in the module: every call so far ended with a status the client can act on
    codes = {e["code"] for e in served.process.events("call")}
    assert codes and not codes & {"UNKNOWN", "INTERNAL"}
    assert verify(served.url).ok


# ---- crashes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_killed_between_reserve_and_commit_holds_nothing_after_the_ttl(backend, rules, tmp_path,
                                                                                pytestconfig):
    url = new_url(backend, pytestconfig, tmp_path)
    server = start(rules, tmp_path, url)
    try:
        paid = server.stub.Reserve(reserve("crash-0", buyer="crash-paid"), timeout=30)
        commit = lpb.CommitRequest(reservation_id=paid.reservation_id, idempotency_key="commit-crash-0")
        committed = server.stub.Commit(commit, timeout=30)
        request = reserve("crash-1", buyer="crash", ttl=3)
        held = server.stub.Reserve(request, timeout=30)
        usage = server.stub.GetUsage(lpb.GetUsageRequest(promotion="once-20", buyer="crash"), timeout=30)
        assert [(c.used, c.held) for c in usage.counters] == [("1", "1")]
    finally:
        server.process.kill()  # SIGKILL: no drain, no sweep
    server = start(rules, tmp_path, url)
    try:
        before = tables(url)
        assert server.stub.Reserve(request, timeout=30) == held  # the first answer, nothing written
        assert server.stub.Commit(commit, timeout=30) == committed
        assert tables(url) == before
        expires = datetime.fromisoformat(held.expires_at)
        time.sleep(max(0.0, (expires - datetime.now().astimezone()).total_seconds()) + 0.2)
        usage = server.stub.GetUsage(lpb.GetUsageRequest(promotion="once-20", buyer="crash"), timeout=30)
        assert [(c.used, c.held) for c in usage.counters] == [("0", "0")]
        late = lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key="commit-crash-1")
        assert refused(server.stub.Commit, late) == (grpc.StatusCode.FAILED_PRECONDITION, "reservation_id")
        assert "once-20" in applied(server.stub.Reserve(reserve("crash-2", buyer="crash"), timeout=30).quote)
        assert verify(url).ok
    finally:
        assert server.process.stop() == 0


def test_without_a_ledger_the_service_is_not_served(rules, tmp_path):
    process = ServerProcess(rules, tmp_path / "log.jsonl", "--no-ledger")
    try:
        process.wait_serving()
        stub = lpb_grpc.LedgerServiceStub(process.channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetUsage(lpb.GetUsageRequest(promotion="once-20"), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert not process.events("ledger_open")
        assert process.stub.Evaluate(cart(), timeout=30).totals.payable == "327.00"
    finally:
        assert process.stop() == 0
