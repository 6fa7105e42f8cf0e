"""The pricer Reserve hands the ledger: the engine's quote of a cart turned into the `Order` the
ledger holds (server/ledger/types.py), priced again with the outcomes of a lost race.

The engine stays pure: it never sees the database. What it gets from the ledger is a read-only
snapshot (`Usage`: uses per promotion and period, spend, code states), read inside reserve's
transaction. This module is the one place that knows how a promotion's ledger clauses are
spelled in the plan (`clauses`) and how the engine is told about the ledger (`_engine_request`);
docs/ledger.md "Engine interface (next step)" is the contract the engine will grow into.

Today the language has one ledger clause, `limit N per user` (`Promotion.limit`): its uses are
read from the ledger instead of the request's `user.usage`, and a promotion the ledger refused
reaches the engine as a used-up limit (LIMIT_REACHED). `limit N total`, `budget M`, periods and
`codes` come with the next round; `clauses` already reads them where the plan will carry them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.base.request import Request
from engine.plan.plan import Plan, Promotion
from engine.pricing.limits import Limits
from engine.pricing.quote import Quote, evaluate
from server.ledger.shares import split
from server.ledger.types import Budget, Hold, Limit, Line, Order, Outcome, Period, Reader, Usage, UsageQuery

Price = Callable[[Plan, Request, Limits], Quote]
Answer = Callable[[Quote], Any]  # the quote as the JSON value the reservation keeps


@dataclass(frozen=True)
class Clauses:
    """What the ledger holds for one promotion when it applies."""

    limits: tuple[Limit, ...] = ()
    budgets: tuple[Budget, ...] = ()
    codes: bool = False  # redeemed by single-use codes

    @property
    def any(self) -> bool:
        return bool(self.limits or self.budgets or self.codes)


NONE = Clauses()


def _period(value: Any) -> Period | None:
    return None if value in (None, "") else Period(str(value))


def clauses(promotion: Promotion) -> Clauses:
    """The ledger clauses of a promotion. `limit N per user` is `Promotion.limit` today; the
    next round's plan carries `limits` (each with `count`, `per_user`, `period`), `budgets`
    (`amount` in minor units, `period`) and `codes`, read here once they exist."""
    limits: list[Limit] = []
    if promotion.limit is not None:
        limits.append(Limit(promotion.limit, per_user=True))
    for clause in getattr(promotion, "limits", ()) or ():
        limits.append(Limit(int(clause.count), bool(clause.per_user), _period(clause.period)))
    budgets = tuple(Budget(int(b.amount), _period(b.period)) for b in getattr(promotion, "budgets", ()) or ())
    return Clauses(tuple(dict.fromkeys(limits)), budgets, bool(getattr(promotion, "codes", False)))


def plan_clauses(plan: Plan) -> dict[str, Clauses]:
    """Every promotion of the plan that has a ledger clause (computed once per plan)."""
    found = {p.name: c for p in plan.promotions if (c := clauses(p)).any}
    return found


_CACHE: dict[str, dict[str, Clauses]] = {}


def cached_clauses(plan: Plan) -> dict[str, Clauses]:
    """plan_clauses, kept per plan revision (a reload brings a new revision)."""
    found = _CACHE.get(plan.revision)
    if found is None:
        if len(_CACHE) > 8:
            _CACHE.clear()
        found = _CACHE[plan.revision] = plan_clauses(plan)
    return found


class QuotePricer:
    """Prices one checkout for `Ledger.reserve` (the `Pricer` protocol): called with a reader of
    the reserve's transaction and the outcomes of the holds refused or cut so far.

    Pricing is the expensive part, so the same engine inputs are priced once: `prime` prices
    with a snapshot read before the transaction, and the call inside it prices again only if the
    snapshot it reads there differs (another checkout moved a counter this cart reads) or a hold
    was refused. `quote` is the last quote priced: the one the reservation holds."""

    def __init__(self, plan: Plan, request: Request, limits: Limits, buyer: str,
                 answer: Answer, price: Price = evaluate) -> None:
        self.plan = plan
        self.request = request
        self.limits = limits
        self.buyer = buyer
        self._answer = answer
        self._price = price
        self._clauses = cached_clauses(plan)
        self._priced: tuple[Any, Order, Quote] | None = None
        self.quote: Quote | None = None
        self.pricings = 0  # how many times the engine ran (bench and tests)

    # ---- the Pricer protocol ----

    def __call__(self, read: Reader, outcomes: Mapping[str, Outcome]) -> Order:
        snapshot = self._snapshot(read)
        inputs = (self._inputs(snapshot), tuple(sorted((k, _outcome_key(v)) for k, v in outcomes.items())))
        if self._priced is not None and self._priced[0] == inputs:
            self.quote = self._priced[2]
            return self._priced[1]
        quote = self._price(self.plan, self._engine_request(snapshot, outcomes), self.limits)
        self.pricings += 1
        order = order_of(quote, self.request, self._clauses, self._answer(quote))
        self._priced = (inputs, order, quote)
        self.quote = quote
        return order

    def prime(self, read: Reader) -> None:
        """Price before the transaction, with a snapshot read outside it."""
        self(read, {})

    # ---- what the engine reads of the ledger ----

    def query(self) -> UsageQuery | None:
        """The snapshot this cart needs: the counters of the promotions with ledger clauses. None
        when no promotion has any: the price does not depend on the ledger."""
        if not self._clauses:
            return None
        return UsageQuery(tuple(sorted(self._clauses)), buyer=self.buyer, at=self.request.at,
                          timezone=str(self.plan.timezone))

    def _snapshot(self, read: Reader) -> Usage | None:
        query = self.query()
        return None if query is None else read(query)

    def _inputs(self, snapshot: Usage | None) -> tuple[tuple[str, int], ...]:
        """What of the snapshot the engine's answer depends on (today: per-user uses)."""
        return tuple(sorted(self._usage(snapshot).items()))

    def _usage(self, snapshot: Usage | None) -> dict[str, int]:
        if snapshot is None:
            return {}
        usage = {}
        for name, found in self._clauses.items():
            mine = [limit for limit in found.limits if limit.per_user and limit.period is None]
            if mine:
                usage[name] = snapshot.uses(name, mine[0])
        return usage

    def _engine_request(self, snapshot: Usage | None, outcomes: Mapping[str, Outcome]) -> Request:
        """The request the engine prices. Today the ledger speaks to the engine through
        `user.usage` (the ledger's count replaces the request's for each promotion with a
        per-user limit), and a promotion the ledger refused is given a used-up limit. The next
        round passes `ledger=snapshot, unavailable=…, capped=…` to `evaluate` instead."""
        if snapshot is None and not outcomes:
            return self.request
        usage = dict(self.request.user.usage)
        usage.update(self._usage(snapshot))
        for name, outcome in outcomes.items():
            if not outcome.granted:
                cap = min((limit.count for limit in self._clauses.get(name, NONE).limits), default=0)
                usage[name] = max(usage.get(name, 0), outcome.used, cap)
        return replace(self.request, user=replace(self.request.user, usage=usage))


def _outcome_key(outcome: Outcome) -> tuple[Any, ...]:
    return outcome.granted, outcome.reason, outcome.spend, outcome.used


def order_of(quote: Quote, request: Request, found: Mapping[str, Clauses], answer: Any = None) -> Order:
    """The ledger's view of a quote: one hold per applied promotion (its discount as spend, its
    clauses, its code, its discount per line), the cart's lines with their final prices."""
    lines = tuple(Line(line.id, line.quantity, line.final) for line in quote.lines if line.gift_of is None)
    per_line: dict[str, dict[str, int]] = {}
    for line in quote.lines:
        if line.gift_of is None:
            for promotion, amount in line.discounts:
                per_line.setdefault(promotion, {})[line.id] = amount
    codes = _codes(request)
    holds = []
    for applied in quote.applied:
        clause = found.get(applied.promotion, NONE)
        holds.append(Hold(
            promotion=applied.promotion, limits=clause.limits, budgets=clause.budgets, spend=applied.amount,
            code=codes.get(applied.promotion) if clause.codes else None,
            allocation=_allocation(applied.amount, per_line.get(applied.promotion, {}))))
    return Order(tuple(holds), lines, quote.payable, answer)


def _allocation(spend: int, by_line: Mapping[str, int]) -> dict[str, int]:
    """The spend over the lines, in proportion to the promotion's discount on each: the line
    discounts themselves when they make up the whole spend; a part given on shipping is spread
    over the lines the same way (no lines: nothing to return it by, it goes back with the order)."""
    if not by_line or not any(by_line.values()):
        return {}
    return dict(zip(by_line, split(spend, list(by_line.values()))))


def _codes(request: Request) -> dict[str, str]:
    """coupon -> the code its wallet entry carries (`code`, next round's WalletEntry field)."""
    found: dict[str, str] = {}
    for entry in request.wallet:
        code = getattr(entry, "code", "")
        if code:
            found.setdefault(entry.coupon, code)
    return found
