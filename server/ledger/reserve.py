"""Reserve: in one transaction, price (the caller's pricer, reading this transaction's view),
then take every hold of the priced order through the guarded updates. A promotion whose holds
cannot all be taken holds nothing (its own savepoint) and is reported; with a pricer the whole
attempt is then rolled back and the order priced again with the shortfalls, so the order that
is kept is one that its holds cover.

What a Reserve sends, in the usual case (nothing expired in the way, no race lost): the
pricer's snapshot read, one INSERT of the reservation with its priced answer, one guarded
UPDATE per counter, one executemany of the counter entries and one each of the lines,
redemptions and allocations. Expired holds are looked for only where they could be in the way:
the order's own (when the INSERT finds a live reservation of the order) and those on the
counters of a promotion that came up short (then given back and the attempt taken again) —
a read counts them as released anyway (usage.py), so the pricing never sees them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select

from server.ledger import codes, counters, presale, usage, validate
from server.ledger.clock import to_us
from server.ledger.database import Savepoint, insert_new, run
from server.ledger.errors import AlreadyExists, Contention, OutOfStock
from server.ledger.lifecycle import due_on_promotions, expire, expire_due
from server.ledger.periods import local_date, period_key
from server.ledger.schema import allocations, entries, lines, redemptions, reservations
from server.ledger.schema import codes as issued
from server.ledger.shares import split
from server.ledger.types import (
    Budget,
    CounterKey,
    Hold,
    Limit,
    Metric,
    Order,
    Outcome,
    Pricer,
    Reader,
    Reason,
    Reservation,
    ReserveRequest,
    State,
    UsageQuery,
)

NO_STOCK = 2**62  # the cap of a presale's units counter without `stock`
ATTEMPTS = 8  # pricings per reserve: each one after the first answers a lost race
_PRICED = (reservations.update().where(reservations.c.id == bindparam("rid"))
           .values(payable=bindparam("new_payable"), answer=bindparam("new_answer")))
_NEW_KEYS = ("id", "order_id", "parent_order_id", "buyer", "state", "timezone", "at_us", "local_day", "created_us",
             "expires_us", "payable", "answer")
_ISSUED = select(issued.c.coupon).where(issued.c.code == bindparam("code"))
_LINE_KEYS = ("reservation_id", "line_id", "quantity", "final", "returned")
_REDEMPTION_KEYS = ("reservation_id", "promotion", "desired", "granted", "code")
_ALLOCATION_KEYS = ("reservation_id", "promotion", "line_id", "amount")


def reserve(conn: Connection, request: ReserveRequest, price: Pricer | None, now: datetime) -> Reservation:
    now_us = to_us(now)
    day = local_date(request.at or now, request.timezone)
    expires = now + timedelta(seconds=request.ttl_seconds)
    reservation_id = "r_" + uuid.uuid4().hex

    def read(query: UsageQuery) -> usage.Usage:
        return usage.read(conn, query, now, now_us)

    first = request.order if request.order is not None else _priced(price, read, {})
    _open(conn, request, reservation_id, first, {
        "id": reservation_id, "order_id": request.order_id, "parent_order_id": request.parent_order_id,
        "buyer": request.buyer, "state": str(State.HELD), "timezone": request.timezone,
        "at_us": to_us(request.at or now), "local_day": day.isoformat(), "created_us": now_us,
        "expires_us": to_us(expires), "payable": first.payable, "answer": json.dumps(first.answer)}, now_us)
    order, outcomes = _settle(conn, request, price, read, reservation_id, day, now_us, first)
    _record(conn, reservation_id, order, outcomes, repriced=order is not first)
    presale.on_reserve(conn, request, reservation_id, order, now_us)
    return Reservation(reservation_id, request.order_id, State.HELD, expires, outcomes, order.answer)


def _open(conn: Connection, request: ReserveRequest, reservation_id: str, order: Order, values: dict[str, Any],
          now_us: int) -> None:
    """The reservation's row, unless the order has one held or committed (the unique index on
    live orders): a held one past its expiry no longer counts, so it is expired and the row
    inserted again."""
    new = lambda: insert_new(conn, reservations).returning(reservations.c.id)  # noqa: E731
    if run(conn, "reservations.new", new, values, _NEW_KEYS).first() is not None:
        return
    if expire_due(conn, now_us, order_id=request.order_id) and \
            run(conn, "reservations.new", new, values, _NEW_KEYS).first() is not None:
        return
    raise AlreadyExists("order_id", "the order has a reservation held or committed")


def _settle(conn: Connection, request: ReserveRequest, price: Pricer | None, read: Reader,
            reservation_id: str, day: date, now_us: int, order: Order) -> tuple[Order, tuple[Outcome, ...]]:
    fixed = request.order is not None
    shortfalls: dict[str, Outcome] = {}
    swept: set[str] = set()  # promotions whose expired holds were given back
    pricings = 1
    while True:
        attempt = Savepoint(conn, "attempt")
        changes: list[dict[str, Any]] = []  # the counter entries of this attempt, written in one statement
        outcomes = tuple(_take(conn, hold, request.buyer, day, reservation_id, now_us, changes)
                         for hold in sorted(order.holds, key=lambda h: h.promotion))
        asked = {h.promotion: h.spend for h in order.holds}
        # short: refused, or granted less than its hold asked (a cut the pricing made itself is not)
        short = {o.promotion: o for o in outcomes if not o.granted or o.spend < asked[o.promotion]}
        unswept = sorted(set(short) - swept)
        if unswept:  # an expired hold on a counter of theirs may be what was in the way
            swept.update(unswept)
            due = due_on_promotions(conn, now_us, unswept)
            if due:  # give it back (after this attempt is undone: no counter locked meanwhile) and take again
                attempt.rollback()
                expire(conn, due, now_us)
                continue
        _refuse_oversold(order, outcomes)
        if fixed or not short:
            if changes:
                run(conn, "entries.new", entries.insert, changes, counters.ENTRY_KEYS)
            attempt.commit()
            return order, outcomes
        attempt.rollback()
        if pricings == ATTEMPTS:
            raise Contention("order_id", "the ledger changed under every pricing of this order: retry")
        shortfalls.update(short)
        again = _priced(price, read, dict(shortfalls))
        pricings += 1
        fixed = again == order  # the pricer keeps this order as it is: hold what it can
        order = again


def _refuse_oversold(order: Order, outcomes: tuple[Outcome, ...]) -> None:
    """A presale line whose units the stock cannot cover refuses the whole reservation (docs/ledger.md):
    pricing it without the presale would charge the list price for what the buyer meant as a deposit."""
    for outcome in outcomes:
        if outcome.reason is Reason.OUT_OF_STOCK:
            hold = next(h for h in order.holds if h.promotion == outcome.promotion)
            line = next((i for i, p in enumerate(order.presales) if p.presale == hold.promotion), 0)
            raise OutOfStock(f"cart.lines[{line}]" if order.presales else "cart.lines", hold.promotion,
                             (hold.stock or 0) - outcome.used, hold.units)


def _priced(price: Pricer | None, read: Reader, shortfalls: Mapping[str, Outcome]) -> Order:
    if price is None:
        raise AssertionError("reserve needs an order or a pricer")
    order = price(read, shortfalls)
    validate.order(order)
    return order


def _take(conn: Connection, hold: Hold, buyer: str, day: date, reservation_id: str, now_us: int,
          changes: list[dict[str, Any]]) -> Outcome:
    """All of one promotion's holds, or none of them: a hold of one counter either takes it or
    writes nothing; one of several takes them under a savepoint, undone if one is refused."""
    if not _counts(hold):  # no counter to take: granted, and nothing to undo
        return Outcome(hold.promotion, True, None, hold.spend, hold.spend)
    code = codes.normalize(hold.code) if hold.code is not None else None
    steps = _steps(hold, code, buyer, day)
    if len(steps) == 1:  # (a code's lookup writes nothing)
        return _take_all(conn, hold, code, steps, reservation_id, now_us, changes)
    savepoint = Savepoint(conn, "hold")
    mark = len(changes)
    outcome = _take_all(conn, hold, code, steps, reservation_id, now_us, changes)
    if outcome.granted:
        savepoint.commit()
    else:
        savepoint.rollback()
        del changes[mark:]
    return outcome


def _counts(hold: Hold) -> bool:
    """The hold takes a counter: a code, a limit, or spend against a budget."""
    return hold.code is not None or bool(hold.limits) or bool(hold.spend and hold.budgets) or hold.units > 0


def _steps(hold: Hold, code: str | None, buyer: str, day: date) -> list[tuple[CounterKey, int, Limit | Budget | None]]:
    """The counters a hold takes, in the order every writer locks them; two clauses on one
    counter (say two budgets per day) are one step under the tighter cap."""
    steps: dict[CounterKey, tuple[int, Limit | Budget | None]] = {}

    def add(key: CounterKey, cap: int, clause: Limit | Budget | None) -> None:
        if key not in steps or cap < steps[key][0]:
            steps[key] = (cap, clause)

    if code is not None:
        add(CounterKey(hold.promotion, Metric.CODE, code, ""), 1, None)
    for limit in hold.limits:
        add(CounterKey(hold.promotion, Metric.USES, buyer if limit.per_user else "", period_key(limit.period, day)),
            limit.count, limit)
    if hold.spend:
        for budget in hold.budgets:
            add(CounterKey(hold.promotion, Metric.SPEND, "", period_key(budget.period, day)), budget.amount, budget)
    if hold.units:  # a presale's stock: no stock counts the units under a cap nothing reaches
        add(CounterKey(hold.promotion, Metric.UNITS, "", ""), hold.stock if hold.stock is not None else NO_STOCK, None)
    return [(key, cap, clause) for key, (cap, clause) in sorted(steps.items(), key=lambda kv: _order(kv[0]))]


def _order(key: CounterKey) -> tuple[str, str, str, str]:
    return key.promotion, str(key.metric), key.subject, key.period


def _take_all(conn: Connection, hold: Hold, code: str | None, steps: list[tuple[CounterKey, int, Limit | Budget | None]],
              reservation_id: str, now_us: int, changes: list[dict[str, Any]]) -> Outcome:
    desired = max(hold.desired, hold.spend)  # the pricing may have cut it already (a budget's remainder)

    def refused(reason: Reason, **clause: Any) -> Outcome:
        return Outcome(hold.promotion, False, reason, desired=desired, code=code, **clause)

    if code is not None and not _issued_for(conn, code, hold.promotion):
        return refused(Reason.CODE_UNKNOWN)
    spend, cut_by, spent = hold.spend, None, []  # type: tuple[int, Limit | Budget | None, list[int]]
    for key, cap, clause in steps:
        want = spend if key.metric is Metric.SPEND else hold.units if key.metric is Metric.UNITS else 1
        at_least = want if key.metric is Metric.UNITS else 1  # units: all the line's, or none
        got = counters.take(conn, key, want, cap, at_least, reservation_id=reservation_id, now_us=now_us,
                             changes=changes)
        if got is None:
            used = counters.used(conn, key)
            if key.metric is Metric.UNITS:
                return refused(Reason.OUT_OF_STOCK, used=used)
            if isinstance(clause, Budget):
                return refused(Reason.BUDGET_EXHAUSTED, budget=clause, used=used)
            return refused(Reason.LIMIT_REACHED if clause else Reason.CODE_USED, limit=clause, used=used)
        counter_id, amount = got
        if key.metric is Metric.SPEND:
            if amount < spend:  # this budget had less left: the earlier ones give the difference back
                for earlier in spent:
                    counters.give(conn, earlier, spend - amount, reservation_id=reservation_id, cause="cut",
                                  now_us=now_us, changes=changes)
                spend, cut_by = amount, clause
            spent.append(counter_id)
    if spend < hold.spend:
        assert isinstance(cut_by, Budget)
        return Outcome(hold.promotion, True, Reason.BUDGET_EXHAUSTED, desired, spend, budget=cut_by,
                       used=cut_by.amount - spend, code=code)
    # all it asked; cut by the pricing itself (it asked for less than it would give): still a cut
    return Outcome(hold.promotion, True, Reason.BUDGET_EXHAUSTED if spend < desired else None, desired, spend,
                   code=code)


def _issued_for(conn: Connection, code: str, coupon: str) -> bool:
    if not codes.is_valid(code):  # a typo: the check character says so without a lookup
        return False
    found = run(conn, "codes.coupon", lambda: _ISSUED, {"code": code}).first()
    return found is not None and found[0] == coupon


def _record(conn: Connection, reservation_id: str, order: Order, outcomes: tuple[Outcome, ...], *,
            repriced: bool) -> None:
    """What a return and the figures need: the lines, what each promotion got and where it fell
    (and the answer and payable, when a lost race priced the order again after its row was written)."""
    if repriced:
        run(conn, "reservations.priced", lambda: _PRICED,
            {"rid": reservation_id, "new_payable": order.payable, "new_answer": json.dumps(order.answer)})
    if order.lines:
        run(conn, "lines.new", lines.insert, [{"reservation_id": reservation_id, "line_id": x.id, "quantity": x.quantity,
                                               "final": x.final, "returned": 0} for x in order.lines], _LINE_KEYS)
    holds = {h.promotion: h for h in order.holds}
    units = {h.promotion for h in order.holds if h.units}  # a presale's units: the parent order records them
    granted = [o for o in outcomes if o.granted and o.promotion not in units]
    if granted:  # one statement for all, one for their allocations
        run(conn, "redemptions.new", redemptions.insert, [
            {"reservation_id": reservation_id, "promotion": o.promotion, "desired": o.desired, "granted": o.spend,
             "code": o.code} for o in granted], _REDEMPTION_KEYS)
    shares = []
    for outcome in granted:
        allocation = holds[outcome.promotion].allocation
        if allocation:
            parts = split(outcome.spend, list(allocation.values()))  # a cut falls in proportion
            shares += [{"reservation_id": reservation_id, "promotion": outcome.promotion, "line_id": line_id,
                        "amount": part} for line_id, part in zip(allocation, parts)]
    if shares:
        run(conn, "allocations.new", allocations.insert, shares, _ALLOCATION_KEYS)
