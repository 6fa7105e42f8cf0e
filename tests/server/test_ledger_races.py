"""Races at the storage layer, on both backends: threads released together by a barrier, each
race repeated PROMO_RACE_REPEAT times (default 5). Whatever the interleaving, a limit, a budget
or a code is never exceeded, and the counters still equal their entries."""

from __future__ import annotations

import pytest
from ledger_support import RACE_REPEAT, Clock, ledger_url, race, request  # noqa: F401

from server.ledger.audit import verify
from server.ledger.ledger import Ledger
from server.ledger.types import Budget, Hold, Limit, Period, Reason, ReturnLine, UsageQuery

CLIENTS = 50


@pytest.fixture
def racing(ledger_url):
    with Ledger(ledger_url, clock=Clock(), pool_size=CLIENTS) as opened:
        yield opened


def rounds(racing, hold_of, clients=CLIENTS, buyer_of=lambda i: f"u{i}"):
    """Each round: `clients` reserves of `hold_of(round)` at once; yields the outcomes."""
    for round_ in range(RACE_REPEAT):
        hold = hold_of(round_)
        results = race(clients, lambda i: racing.reserve(request(f"{round_}-{i}", hold, buyer=buyer_of(i))))
        yield round_, [r.outcomes[0] for r in results]


def test_fifty_clients_on_a_limit_of_ten_get_exactly_ten(racing):
    for round_, outcomes in rounds(racing, lambda n: Hold(f"p{n}", limits=(Limit(10),))):
        assert sum(o.granted for o in outcomes) == 10, f"round {round_}"
        assert {o.reason for o in outcomes if not o.granted} == {Reason.LIMIT_REACHED}
        assert racing.get_usage(UsageQuery((f"p{round_}",))).uses(f"p{round_}", Limit(10)) == 10
    assert verify(racing.url).ok


def test_fifty_clients_on_a_budget_spend_it_to_the_cent_and_the_last_is_cut(racing):
    budget = Budget(1_000)  # 10.00: 33 of 30 cents, one of 10, then nothing
    for round_, outcomes in rounds(racing, lambda n: Hold(f"p{n}", budgets=(budget,), spend=30)):
        assert sum(o.spend for o in outcomes if o.granted) == 1_000, f"round {round_}"
        assert sorted(o.spend for o in outcomes if o.granted) == [10] + [30] * 33
        (cut,) = [o for o in outcomes if o.capped]
        assert (cut.desired, cut.spend, cut.reason) == (30, 10, Reason.BUDGET_EXHAUSTED)
        assert {o.reason for o in outcomes if not o.granted} == {Reason.BUDGET_EXHAUSTED}
    assert verify(racing.url).ok


def test_fifty_clients_on_one_code_and_exactly_one_wins(racing):
    for round_ in range(RACE_REPEAT):
        (code,) = racing.issue_codes(f"c{round_}", 1, f"issue-{round_}")
        results = race(CLIENTS, lambda i: racing.reserve(request(f"{round_}-{i}", Hold(f"c{round_}", code=code))))
        outcomes = [r.outcomes[0] for r in results]
        assert sum(o.granted for o in outcomes) == 1, f"round {round_}"
        assert {o.reason for o in outcomes if not o.granted} == {Reason.CODE_USED}
    assert verify(racing.url).ok


def test_one_buyer_on_twenty_carts_gets_one_use_per_day(racing):
    daily = Limit(1, per_user=True, period=Period.DAY)
    for round_, outcomes in rounds(racing, lambda n: Hold(f"p{n}", limits=(daily,)), clients=20,
                                   buyer_of=lambda i: "u1"):
        assert sum(o.granted for o in outcomes) == 1, f"round {round_}"
        assert {o.reason for o in outcomes if not o.granted} == {Reason.LIMIT_REACHED}
    assert verify(racing.url).ok


def test_returns_racing_reserves_lose_no_unit(racing):
    budget = Budget(1_000)
    for round_ in range(RACE_REPEAT):
        promotion = f"p{round_}"
        hold = Hold(promotion, limits=(Limit(CLIENTS),), budgets=(budget,), spend=40, allocation={"a": 40})
        committed = []
        for i in range(10):  # ten paid orders of two units hold 400
            from server.ledger.types import Line, Order, ReserveRequest
            r = racing.reserve(ReserveRequest(f"{round_}-paid-{i}", f"k-{round_}-{i}", "u1",
                                              order=Order((hold,), lines=(Line("a", 2, 500),))))
            racing.commit(r.reservation_id, f"commit-{round_}-{i}")
            committed.append(f"{round_}-paid-{i}")

        def work(i):
            if i < 20:  # each paid order returns its two units one at a time, against 30 new reserves
                return racing.return_(committed[i // 2], f"return-{round_}-{i}", [ReturnLine("a", 1)])
            return racing.reserve(request(f"{round_}-new-{i}", Hold(promotion, budgets=(budget,), spend=40)))

        results = race(CLIENTS, work)
        returned = sum(r.refund for r in results[:20])
        taken = sum(o.spend for r in results[20:] for o in r.outcomes if o.granted)
        assert returned == 10 * 500
        spent = racing.get_usage(UsageQuery((promotion,))).spent(promotion, budget)
        assert spent == taken <= 1_000, f"round {round_}"
    assert verify(racing.url).ok
