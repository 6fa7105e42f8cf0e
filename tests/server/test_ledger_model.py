"""A stateful property test, on both backends: random interleavings of reserve, commit, cancel,
return, replay, expiry (the clock moves) and sweep, checked against a model of the holds. After
every step the counters equal what the model's live holds add up to and stay within their caps,
and `verify` finds no drift between the counters and their entries."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from ledger_support import BACKENDS, Clock, fresh_url

from server.ledger.audit import verify
from server.ledger.codes import normalize
from server.ledger.errors import FailedPrecondition
from server.ledger.ledger import Ledger
from server.ledger.periods import period_key
from server.ledger.shares import units_share
from server.ledger.types import (
    Budget,
    CodeRef,
    CodeState,
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

EXAMPLES = int(os.environ.get("PROMO_MODEL_EXAMPLES", "15"))
BUYERS = ("u1", "u2")
A_LIMITS = (Limit(3), Limit(2, per_user=True, period=Period.DAY))
A_BUDGETS = (Budget(500), Budget(200, Period.DAY))
B_LIMITS = (Limit(2, per_user=True),)
QUANTITY, FINAL = 3, 1_000


@dataclass
class Model:
    """A reservation as the model sees it: what it holds on each counter (by key)."""

    reservation_id: str
    order_id: str
    state: State
    expires: datetime
    holds: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    spend: int = 0
    returned: int = 0


class LedgerMachine(RuleBasedStateMachine):
    url_of: object = None  # set per backend

    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock(datetime(2024, 11, 11, 12, tzinfo=UTC))
        self.ledger = Ledger(self.url_of(), clock=self.clock)  # type: ignore[operator]
        self.codes = list(self.ledger.issue_codes("c", 3, "issue"))
        self.reservations: dict[str, Model] = {}
        self.requests: list[tuple[ReserveRequest, object]] = []
        self.orders = 0

    def teardown(self) -> None:
        self.ledger.close()

    reserved = Bundle("reserved")

    def key(self) -> str:
        self.orders += 1
        return f"k{self.orders}"

    # ---- the model ----

    def live(self, model: Model) -> bool:
        return model.state is State.COMMITTED or (model.state is State.HELD and self.clock.at < model.expires)

    def counters(self) -> dict[tuple[str, str, str, str], int]:
        total: dict[tuple[str, str, str, str], int] = {}
        for model in self.reservations.values():
            if self.live(model):
                for key, amount in model.holds.items():
                    total[key] = total.get(key, 0) + amount
        return total

    def steps(self, hold: Hold, buyer: str, day: str) -> list[tuple[tuple[str, str, str, str], int, int]]:
        keys = []
        if hold.code:
            keys.append(((hold.promotion, "code", normalize(hold.code), ""), 1, 1))
        for limit in hold.limits:
            keys.append(((hold.promotion, "uses", buyer if limit.per_user else "", period_key(limit.period, day)),
                         1, limit.count))
        if hold.spend:
            for budget in hold.budgets:
                keys.append(((hold.promotion, "spend", "", period_key(budget.period, day)), hold.spend, budget.amount))
        return keys

    # ---- rules ----

    @rule(target=reserved, buyer=st.sampled_from(BUYERS), promotions=st.sets(st.sampled_from("abc"), min_size=1),
          spend=st.integers(1, 300), code=st.integers(0, 2), ttl=st.integers(1, 24))
    def reserve(self, buyer, promotions, spend, code, ttl):
        holds = []
        if "a" in promotions:
            holds.append(Hold("a", A_LIMITS, A_BUDGETS, spend, allocation={"x": spend}))
        if "b" in promotions:
            holds.append(Hold("b", B_LIMITS))
        if "c" in promotions:
            holds.append(Hold("c", code=self.codes[code].lower()))
        request = ReserveRequest(f"o{self.orders}", self.key(), buyer, ttl_seconds=ttl * 3_600,
                                 order=Order(tuple(holds), lines=(Line("x", QUANTITY, FINAL),)))
        expected = self.expect(request)
        answer = self.ledger.reserve(request)
        model = Model(answer.reservation_id, request.order_id, State.HELD,
                      self.clock.at + timedelta(seconds=request.ttl_seconds))
        for outcome in answer.outcomes:
            granted, spend_, reasons = expected[outcome.promotion]
            assert outcome.granted == granted, (outcome, expected)
            if granted:
                assert outcome.spend == spend_
                hold = next(h for h in holds if h.promotion == outcome.promotion)
                for key, want, _cap in self.steps(hold, buyer, self.clock.at.date()):
                    model.holds[key] = spend_ if key[1] == "spend" else want
                model.spend += spend_ if outcome.promotion == "a" else 0
            assert (outcome.reason in reasons) if reasons else outcome.reason is None, (outcome, reasons)
        self.reservations[answer.reservation_id] = model
        self.requests.append((request, answer))
        return answer.reservation_id

    def expect(self, request: ReserveRequest) -> dict[str, tuple[bool, int, set[Reason]]]:
        used = self.counters()
        expected = {}
        for hold in request.order.holds:
            reasons, spend = set(), hold.spend
            for key, want, cap in self.steps(hold, request.buyer, self.clock.at.date()):
                left = cap - used.get(key, 0)
                if key[1] == "spend":
                    if left <= 0:
                        reasons.add(Reason.BUDGET_EXHAUSTED)
                    spend = min(spend, max(left, 0))
                elif left < want:
                    reasons.add(Reason.CODE_USED if key[1] == "code" else Reason.LIMIT_REACHED)
            if reasons:
                expected[hold.promotion] = (False, 0, reasons)
            else:
                expected[hold.promotion] = (True, spend, {Reason.BUDGET_EXHAUSTED} if spend < hold.spend else set())
        return expected

    def settle(self, model: Model) -> State:
        """A held reservation past its expiry is expired, whether or not a sweep (or a reserve
        that needed its units) has marked it."""
        if model.state is State.HELD and not self.live(model):
            model.state = State.EXPIRED
        return model.state

    @rule(reservation_id=reserved)
    def commit(self, reservation_id):
        model = self.reservations[reservation_id]
        state = self.settle(model)
        try:
            answer = self.ledger.commit(reservation_id, self.key())
        except FailedPrecondition as error:  # ReservationExpired too
            assert state not in (State.HELD, State.COMMITTED), error
            return
        assert state in (State.HELD, State.COMMITTED) and answer.state is State.COMMITTED
        model.state = State.COMMITTED

    @rule(reservation_id=reserved)
    def cancel(self, reservation_id):
        model = self.reservations[reservation_id]
        state = self.settle(model)
        answer = self.ledger.cancel(reservation_id, self.key())
        expected = {State.COMMITTED: State.CANCELLED, State.HELD: State.RELEASED}.get(state, state)
        assert answer.state is expected
        model.state = expected

    @rule(reservation_id=reserved, units=st.integers(1, QUANTITY))
    def return_units(self, reservation_id, units):
        model = self.reservations[reservation_id]
        if model.state is not State.COMMITTED or model.returned + units > QUANTITY:
            return
        answer = self.ledger.return_(model.order_id, self.key(), [ReturnLine("x", units)])
        assert answer.refund == units_share(FINAL, QUANTITY, model.returned, units)
        back = units_share(model.spend, QUANTITY, model.returned, units)
        for key in model.holds:
            if key[1] == "spend":
                model.holds[key] -= back
        model.returned += units
        if model.returned == QUANTITY:
            model.state = State.RETURNED
        assert answer.state is model.state

    @rule(hours=st.integers(1, 20))
    def tick(self, hours):
        self.clock.advance(hours=hours)

    @rule()
    def sweep(self):
        # past their expiry: the model may have settled one as expired (a refused commit) that the
        # database has not marked yet, and reserves may have marked some already
        due = [m for m in self.reservations.values() if m.state in (State.HELD, State.EXPIRED) and not self.live(m)]
        assert self.ledger.sweep() <= len(due)
        for model in due:
            assert self.ledger.state(model.reservation_id) is State.EXPIRED
            self.settle(model)

    @rule(data=st.data())
    def replay(self, data):
        if self.requests:
            request, answer = data.draw(st.sampled_from(self.requests))
            assert self.ledger.reserve(request) == answer

    # ---- invariants ----

    @invariant()
    def counters_are_the_live_holds_within_their_caps(self):
        expected = self.counters()
        day = self.clock.at.date()
        for buyer in BUYERS:
            usage = self.ledger.get_usage(UsageQuery(("a", "b"), buyer=buyer, codes=tuple(
                CodeRef("c", code) for code in self.codes)))
            for promotion, limits in (("a", A_LIMITS), ("b", B_LIMITS)):
                for limit in limits:
                    key = (promotion, "uses", buyer if limit.per_user else "", period_key(limit.period, day))
                    assert usage.uses(promotion, limit) == expected.get(key, 0) <= limit.count
            for budget in A_BUDGETS:
                assert usage.spent("a", budget) == expected.get(("a", "spend", "", period_key(budget.period, day)),
                                                                0) <= budget.amount
            for code in self.codes:
                held = expected.get(("c", "code", code, ""), 0)
                assert (usage.code("c", code) is CodeState.FREE) == (held == 0)

    @invariant()
    def verify_finds_no_drift(self):
        report = verify(self.ledger.url)
        assert report.ok, report


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_interleavings_keep_the_counters_exact(backend, request, tmp_path_factory):
    fresh_url(backend, request.config, tmp_path_factory.mktemp("probe"))  # skip now if the backend is absent

    class Machine(LedgerMachine):
        url_of = staticmethod(lambda: fresh_url(backend, request.config, tmp_path_factory.mktemp("model")))

    run_state_machine_as_test(Machine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=25, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
