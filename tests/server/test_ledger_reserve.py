"""The operations one at a time, on both backends: what reserve grants, cuts and refuses; commit,
cancel and return; idempotency; expiry; the errors and the fields they name; the pricer loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from ledger_support import clock, ledger, ledger_url, request, tables  # noqa: F401

from server.ledger.audit import verify
from server.ledger.errors import (
    AlreadyExists,
    Contention,
    FailedPrecondition,
    IdempotencyConflict,
    InvalidArgument,
    NotFound,
    ReservationExpired,
)
from server.ledger.ledger import Ledger
from server.ledger.types import (
    Budget,
    Hold,
    Limit,
    Line,
    Order,
    Period,
    Reason,
    ReserveRequest,
    ReturnLine,
    State,
    UsageQuery,
)

TOTAL_10 = Limit(10)


def usage(ledger, promotion="p", buyer="u1"):
    return ledger.get_usage(UsageQuery((promotion,), buyer=buyer))


def test_uses_are_granted_up_to_the_limit_then_refused_with_which_limit_and_how_many(ledger):
    limit = Limit(2)
    outcomes = [ledger.reserve(request(f"o{i}", Hold("p", limits=(limit,)), buyer=f"u{i}")).outcomes[0]
                for i in range(3)]
    assert [o.granted for o in outcomes] == [True, True, False]
    assert (outcomes[2].reason, outcomes[2].limit, outcomes[2].used) == (Reason.LIMIT_REACHED, limit, 2)
    assert usage(ledger).uses("p", limit) == 2


def test_a_per_user_limit_per_day_counts_each_buyer_on_each_day(ledger, clock):
    daily = Limit(1, per_user=True, period=Period.DAY)
    hold = Hold("p", limits=(daily,))
    granted = [ledger.reserve(request(f"o{i}", hold, buyer=buyer)).outcomes[0].granted
               for i, buyer in enumerate(["u1", "u2", "u1"])]
    clock.advance(days=1)
    granted.append(ledger.reserve(request("o3", hold, buyer="u1")).outcomes[0].granted)
    assert granted == [True, True, False, True]


def test_a_promotion_refused_by_one_limit_holds_nothing_on_the_others(ledger):
    total, mine = Limit(1), Limit(5, per_user=True)
    ledger.reserve(request("o1", Hold("p", limits=(total,)), buyer="u2"))
    refused = ledger.reserve(request("o2", Hold("p", limits=(total, mine), budgets=(Budget(500),), spend=100)))
    assert refused.outcomes[0].reason is Reason.LIMIT_REACHED and refused.outcomes[0].limit == total
    assert usage(ledger).uses("p", mine) == 0 and usage(ledger).spent("p", Budget(500)) == 0


def test_a_budget_with_less_left_cuts_the_spend_then_refuses(ledger):
    budget = Budget(1_000)
    hold = Hold("p", budgets=(budget,), spend=400)
    first, second, cut, none = (ledger.reserve(request(f"o{i}", hold)).outcomes[0] for i in range(4))
    assert (first.spend, second.spend, first.reason) == (400, 400, None)
    assert (cut.granted, cut.reason, cut.desired, cut.spend, cut.capped, cut.budget, cut.used) == (
        True, Reason.BUDGET_EXHAUSTED, 400, 200, True, budget, 800)
    assert (none.granted, none.reason, none.used) == (False, Reason.BUDGET_EXHAUSTED, 1_000)
    assert usage(ledger).spent("p", budget) == 1_000


def test_the_tighter_of_two_budgets_cuts_and_the_other_gives_the_difference_back(ledger):
    total, daily = Budget(10_000), Budget(300, Period.DAY)
    ledger.reserve(request("o1", Hold("p", budgets=(total, daily), spend=200)))
    cut = ledger.reserve(request("o2", Hold("p", budgets=(total, daily), spend=250))).outcomes[0]
    assert (cut.spend, cut.budget) == (100, daily)
    now = usage(ledger)
    assert (now.spent("p", total), now.spent("p", daily)) == (300, 300)
    assert verify(ledger.url).ok


def test_two_clauses_on_one_counter_hold_under_the_tighter(ledger):
    uses = Hold("p", limits=(Limit(3), Limit(1)))
    assert ledger.reserve(request("o1", uses)).outcomes[0].reason is None
    assert ledger.reserve(request("o2", uses)).outcomes[0].limit == Limit(1)
    spend = Hold("q", budgets=(Budget(900), Budget(100)), spend=60)
    assert ledger.reserve(request("o3", spend)).outcomes[0].reason is None
    assert ledger.reserve(request("o4", spend)).outcomes[0].budget == Budget(100)
    assert usage(ledger).uses("p", Limit(3)) == 1 and usage(ledger, "q").spent("q", Budget(900)) == 100


def test_commit_makes_the_holds_permanent_and_cancel_gives_everything_back(ledger):
    hold = Hold("p", limits=(TOTAL_10,), budgets=(Budget(1_000),), spend=300)
    reserved = ledger.reserve(request("o1", hold))
    assert ledger.commit(reserved.reservation_id, "commit-1").state is State.COMMITTED
    counts = usage(ledger).counters
    assert [(c.used, c.held, c.committed) for c in counts.values()] == [(300, 0, 300), (1, 0, 1)]
    assert ledger.commit(reserved.reservation_id, "commit-2").state is State.COMMITTED  # again: as it is
    assert ledger.cancel(reserved.reservation_id, "cancel-1").state is State.CANCELLED
    assert [c.used for c in usage(ledger).counters.values()] == [0, 0]
    assert ledger.cancel(reserved.reservation_id, "cancel-2").state is State.CANCELLED
    assert verify(ledger.url).ok


def test_cancel_releases_a_held_reservation_and_its_order_may_reserve_again(ledger):
    reserved = ledger.reserve(request("o1", Hold("p", limits=(Limit(1),))))
    with pytest.raises(AlreadyExists) as error:
        ledger.reserve(request("o1", Hold("p", limits=(Limit(1),)), key="other"))
    assert error.value.field == "order_id"
    assert ledger.cancel(reserved.reservation_id, "cancel").state is State.RELEASED
    assert ledger.reserve(request("o1", Hold("p", limits=(Limit(1),)), key="again")).outcomes[0].granted
    with pytest.raises(FailedPrecondition) as error:
        ledger.commit(reserved.reservation_id, "commit")
    assert error.value.field == "reservation_id"


def test_a_held_reservation_past_its_expiry_counts_as_released_at_once_and_the_sweep_marks_it(ledger, clock):
    hold = Hold("p", limits=(Limit(1),), budgets=(Budget(500),), spend=500)
    reserved = ledger.reserve(request("o1", hold, ttl_seconds=60))
    clock.advance(seconds=59)
    assert usage(ledger).uses("p", Limit(1)) == 1
    clock.advance(seconds=1)
    assert usage(ledger).uses("p", Limit(1)) == 0 and usage(ledger).spent("p", Budget(500)) == 0
    assert ledger.state(reserved.reservation_id) is State.HELD  # nothing written yet
    with pytest.raises(ReservationExpired) as error:
        ledger.commit(reserved.reservation_id, "commit")
    assert (error.value.field, error.value.status) == ("reservation_id", "FAILED_PRECONDITION")
    assert ledger.sweep() == 1 and ledger.sweep() == 0
    assert ledger.state(reserved.reservation_id) is State.EXPIRED
    assert ledger.cancel(reserved.reservation_id, "cancel").state is State.EXPIRED
    assert verify(ledger.url).ok


def test_a_reserve_takes_the_units_of_an_expired_hold_without_a_sweep(ledger, clock):
    first = ledger.reserve(request("o1", Hold("p", limits=(Limit(1),)), ttl_seconds=1))
    clock.advance(seconds=1)
    assert ledger.reserve(request("o2", Hold("p", limits=(Limit(1),)))).outcomes[0].granted
    assert ledger.state(first.reservation_id) is State.EXPIRED  # the reserve swept the hold it needed
    again = ledger.reserve(request("o1", Hold("q"), key="o1-again"))  # and so may the expired order
    assert again.outcomes[0].granted
    assert verify(ledger.url).ok


def order_with_lines(spend=100):
    lines = (Line("a", 3, 2_000), Line("b", 1, 1_000))
    hold = Hold("p", limits=(Limit(5),), budgets=(Budget(10_000),), spend=spend, allocation={"a": spend - 30, "b": 30})
    return Order(holds=(hold,), lines=lines, payable=3_000)


def test_returning_units_one_by_one_gives_back_exactly_the_final_and_the_spend(ledger):
    reserved = ledger.reserve(ReserveRequest("o1", "reserve", "u1", order=order_with_lines()))
    ledger.commit(reserved.reservation_id, "commit")
    refunds = [ledger.return_("o1", f"return-a{i}", [ReturnLine("a", 1)]) for i in range(3)]
    assert [r.refund for r in refunds] == [667, 667, 666] and {r.state for r in refunds} == {State.COMMITTED}
    assert usage(ledger).spent("p", Budget(10_000)) == 30  # 70 of line a given back, by largest remainder
    assert usage(ledger).uses("p", Limit(5)) == 1  # a use goes back only with the last unit
    last = ledger.return_("o1", "return-b", [ReturnLine("b", 1)])
    assert (last.refund, last.state) == (1_000, State.RETURNED)
    assert usage(ledger).uses("p", Limit(5)) == 0 and usage(ledger).spent("p", Budget(10_000)) == 0
    assert verify(ledger.url).ok


def test_a_cut_spend_falls_on_the_lines_in_proportion(ledger):
    ledger.reserve(request("o0", Hold("p", budgets=(Budget(10_000),), spend=9_950)))
    reserved = ledger.reserve(ReserveRequest("o1", "reserve", "u1", order=order_with_lines()))
    assert reserved.outcomes[0].spend == 50
    ledger.commit(reserved.reservation_id, "commit")
    ledger.return_("o1", "return", [ReturnLine("a", 3)])
    assert usage(ledger).spent("p", Budget(10_000)) == 9_950 + 15  # line a carried 70/100 of 50
    assert verify(ledger.url).ok


def test_return_errors_name_their_field(ledger):
    with pytest.raises(NotFound) as error:
        ledger.return_("nope", "k", [ReturnLine("a", 1)])
    assert error.value.field == "order_id"
    reserved = ledger.reserve(ReserveRequest("o1", "reserve", "u1", order=order_with_lines()))
    with pytest.raises(FailedPrecondition):  # not paid yet
        ledger.return_("o1", "k", [ReturnLine("a", 1)])
    ledger.commit(reserved.reservation_id, "commit")
    for lines, field in [([ReturnLine("z", 1)], "lines[0].id"), ([ReturnLine("b", 1), ReturnLine("a", 4)],
                         "lines[1].quantity"), ([], "lines"), ([ReturnLine("a", 1), ReturnLine("a", 1)], "lines[1].id"),
                         ([ReturnLine("a", 0)], "lines[0].quantity")]:
        with pytest.raises(InvalidArgument) as error:
            ledger.return_("o1", f"k-{field}", lines)
        assert error.value.field == field
    assert usage(ledger).spent("p", Budget(10_000)) == 100  # a refused return gave nothing back


def test_the_same_key_and_request_answers_the_first_answer_and_writes_nothing(ledger, clock):
    hold = Hold("p", limits=(Limit(1),))
    first = ledger.reserve(request("o1", hold))
    committed = ledger.commit(first.reservation_id, "commit")
    before = tables(ledger.url)
    clock.advance(hours=1)  # later, and after the commit: still the first answer
    assert ledger.reserve(request("o1", hold)) == first
    assert ledger.commit(first.reservation_id, "commit") == committed
    assert tables(ledger.url) == before


@pytest.mark.parametrize("call", [
    lambda ledger, r: ledger.reserve(request("o1", Hold("p", limits=(Limit(2),)))),
    lambda ledger, r: ledger.reserve(request("o2", Hold("p", limits=(Limit(1),)), key="reserve-o1")),
    lambda ledger, r: ledger.commit(r.reservation_id, "reserve-o1"),
    lambda ledger, r: ledger.cancel("r_other", "reserve-o1"),
    lambda ledger, r: ledger.return_("o1", "reserve-o1", [ReturnLine("a", 1)]),
])
def test_the_same_key_with_another_request_is_a_conflict_naming_the_key(ledger, call):
    first = ledger.reserve(request("o1", Hold("p", limits=(Limit(1),))))
    before = tables(ledger.url)
    with pytest.raises(IdempotencyConflict) as error:
        call(ledger, first)
    assert (error.value.field, error.value.status) == ("idempotency_key", "ALREADY_EXISTS")
    assert tables(ledger.url) == before


@pytest.mark.parametrize(("fields", "field"), [
    ({"ttl_seconds": 0}, "ttl_seconds"), ({"ttl_seconds": 86_401}, "ttl_seconds"),
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"at": datetime(2024, 1, 1)}, "at"), ({"order_id": ""}, "order_id"),
    ({"buyer": "x" * 201}, "buyer"), ({"idempotency_key": ""}, "idempotency_key"),
    ({"order": Order(holds=(Hold("p"), Hold("p")))}, "order.holds[1].promotion"),
    ({"order": Order(holds=(Hold("p", limits=(Limit(0),)),))}, "order.holds[0].limits[0].count"),
    ({"order": Order(holds=(Hold("p", spend=5, allocation={"a": 4}),), lines=(Line("a", 1, 9),))},
     "order.holds[0].allocation"),
    ({"order": Order(holds=(Hold("p", spend=5, allocation={"z": 5}),))}, "order.holds[0].allocation"),
    ({"order": Order(holds=(), lines=(Line("a", 0, 9),))}, "order.lines[0].quantity"),
    ({"order": None}, "order"),
])
def test_bad_reserve_requests_name_their_field(ledger, fields, field):
    base = {"order_id": "o1", "idempotency_key": "k", "buyer": "u1", "order": Order(holds=())}
    with pytest.raises(InvalidArgument) as error:
        ledger.reserve(ReserveRequest(**{**base, **fields}))
    assert (error.value.field, error.value.status) == (field, "INVALID_ARGUMENT")


def test_unknown_reservations_are_not_found(ledger):
    for call in (ledger.commit, ledger.cancel):
        with pytest.raises(NotFound) as error:
            call("r_nope", f"k-{call.__name__}")
        assert (error.value.field, error.value.status) == ("reservation_id", "NOT_FOUND")


def test_the_pricer_prices_again_without_what_was_refused_and_the_kept_order_is_covered(ledger):
    limit, budget = Limit(1), Budget(250)
    ledger.reserve(request("o0", Hold("coupon", limits=(limit,))))
    ledger.reserve(request("o1", Hold("auto", budgets=(budget,), spend=100)))
    calls = []

    def price(read, outcomes):
        calls.append(dict(outcomes))
        seen = read(UsageQuery(("auto", "coupon")))
        holds = [Hold("auto", budgets=(budget,), spend=min(200, outcomes["auto"].spend if "auto" in outcomes else 200))]
        if "coupon" not in outcomes:
            holds.append(Hold("coupon", limits=(limit,)))
        return Order(holds=tuple(holds), answer={"left": budget.amount - seen.spent("auto", budget)})

    reserved = ledger.reserve(ReserveRequest("o2", "reserve", "u1"), price)
    assert [sorted(c) for c in calls] == [[], ["auto", "coupon"]]
    assert [(o.promotion, o.spend, o.reason) for o in reserved.outcomes] == [("auto", 150, None)]
    assert reserved.answer == {"left": 150}
    assert usage(ledger, "auto").spent("auto", budget) == 250 and usage(ledger, "coupon").uses("coupon", limit) == 1
    assert verify(ledger.url).ok


def test_a_pricer_that_never_settles_is_contention(ledger):
    ledger.reserve(request("o0", Hold("p", limits=(Limit(1),))))
    flip = iter(range(100))

    def price(read, outcomes):  # asks for the refused promotion again under a new spend each time
        return Order(holds=(Hold("p", limits=(Limit(1),), spend=next(flip)),))

    with pytest.raises(Contention) as error:
        ledger.reserve(ReserveRequest("o1", "reserve", "u1"), price)
    assert error.value.status == "ABORTED"
    assert tables(ledger.url)["reservations"] and len(tables(ledger.url)["reservations"]) == 1


def test_a_ledger_refuses_a_database_that_is_not_migrated(tmp_path):
    with pytest.raises(FailedPrecondition) as error:
        Ledger(f"sqlite:///{tmp_path / 'empty.db'}")
    assert error.value.field == "ledger"


def test_times_are_the_ledgers_clock_and_ttl(ledger, clock):
    reserved = ledger.reserve(request("o1", Hold("p"), ttl_seconds=120))
    assert reserved.expires_at == clock.at + timedelta(seconds=120) and reserved.expires_at.tzinfo == UTC
