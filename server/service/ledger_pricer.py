"""The pricer Reserve hands the ledger: the engine's quote of a cart turned into the `Order` the
ledger holds (server/ledger/types.py), priced again with the outcomes of a lost race; and the
ledger's read-only view that Evaluate, Qualify and Reserve price with.

The engine stays pure: it never sees the database. What it gets from the ledger is a read-only
snapshot (`Usage`: uses per promotion and period, spend, code states), read in a read-only
transaction (Evaluate, Qualify) or inside reserve's, wrapped here as the engine's `LedgerView`
(engine/pricing/ledger.py) with the outcomes of the guarded writes so far: a refused promotion is
`unavailable` with its reason, a cut one `capped` at the spend its budget granted. This module is
the one place that knows how a promotion's ledger clauses are spelled in the plan (`clauses`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.base.enums import Stage
from engine.base.request import Request
from engine.plan.plan import BudgetClause, LimitClause, Plan, Promotion
from engine.pricing.limits import Limits
from engine.pricing.prepare import candidates_for
from engine.pricing.quote import Quote, evaluate
from server.ledger.shares import split
from server.ledger.types import (
    Budget,
    CodeRef,
    Hold,
    Limit,
    Line,
    Order,
    Outcome,
    Period,
    Reader,
    Reason,
    Usage,
    UsageQuery,
)
from server.service.presale_view import presale_orders, sold_query, with_sold

Price = Callable[..., Quote]  # evaluate(plan, request, limits, ledger=view)
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


def _period(value: str | None) -> Period | None:
    return None if value is None else Period(value)


def limit_of(clause: LimitClause) -> Limit:
    return Limit(clause.count, clause.per_user, _period(clause.period))


def budget_of(clause: BudgetClause) -> Budget:
    return Budget(clause.amount, _period(clause.period))


def clauses(promotion: Promotion) -> Clauses:
    """The ledger clauses of a promotion, as the ledger spells them."""
    return Clauses(tuple(dict.fromkeys(limit_of(c) for c in promotion.limits)),
                   tuple(budget_of(b) for b in promotion.budgets), promotion.codes)


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


def usage_query(plan: Plan, request: Request, found: Mapping[str, Clauses] | None = None) -> UsageQuery | None:
    """The snapshot a cart needs: the counters of the promotions with ledger clauses that concern
    it (automatic ones the plan's index finds for its lines, coupons it holds or selects), in
    the order's periods, and its wallet's codes. None when none has a clause: the price does not
    depend on the ledger."""
    found = cached_clauses(plan) if found is None else found
    if not found:
        return None
    held = {e.coupon for e in request.wallet} | set(request.selected)
    names = {name for name in candidates_for(plan, request.lines) if name in found and not plan.by_name[name].is_coupon}
    names |= {name for name in held if name in found}
    if not names:
        return None
    codes = tuple(sorted({CodeRef(e.coupon, e.code) for e in request.wallet
                          if e.code and e.coupon in names and found[e.coupon].codes},
                         key=lambda r: (r.coupon, r.code)))
    return UsageQuery(tuple(sorted(names)), buyer=request.user.id or None, at=request.at,
                      timezone=str(plan.timezone), codes=codes)


class LedgerSnapshot:
    """The engine's `LedgerView` of the server's `Usage`, with what the guarded writes found:
    `unavailable` (promotion -> the reason it was refused) and `capped` (promotion -> the spend
    its budget granted). Without a buyer a per-user limit counts no use (nothing is known of an
    anonymous buyer); an unread snapshot (None) counts nothing."""

    def __init__(self, usage: Usage | None, unavailable: Mapping[str, str] | None = None,
                 capped: Mapping[str, int] | None = None) -> None:
        self.usage = usage
        self._unavailable = dict(unavailable or {})
        self._capped = dict(capped or {})

    @classmethod
    def of(cls, usage: Usage | None, outcomes: Mapping[str, Outcome]) -> LedgerSnapshot:
        unavailable = {name: str(o.reason or Reason.LIMIT_REACHED) for name, o in outcomes.items() if not o.granted}
        capped = {name: o.spend for name, o in outcomes.items() if o.granted and o.spend < o.desired}
        return cls(usage, unavailable, capped)

    @property
    def unavailable(self) -> Mapping[str, str]:
        return self._unavailable

    @property
    def capped(self) -> Mapping[str, int]:
        return self._capped

    def uses(self, promotion: str, limit: LimitClause) -> int:
        if self.usage is None or (limit.per_user and not self.usage.buyer):
            return 0
        return self.usage.uses(promotion, limit_of(limit))

    def spent(self, promotion: str, budget: BudgetClause) -> int:
        return 0 if self.usage is None else self.usage.spent(promotion, budget_of(budget))

    def code(self, coupon: str, code: str) -> str:
        return "unknown" if self.usage is None else str(self.usage.code(coupon, code))

    def key(self, plan: Plan, query: UsageQuery | None) -> tuple[Any, ...]:
        """What of the snapshot an answer can depend on: every figure the query's promotions read."""
        if query is None:
            return ()
        figures: list[Any] = []
        for name in query.promotions:
            p = plan.by_name[name]
            figures += [(name, limit, self.uses(name, limit)) for limit in p.limits]
            figures += [(name, budget, self.spent(name, budget)) for budget in p.budgets]
        figures += [(ref.coupon, ref.code, self.code(ref.coupon, ref.code)) for ref in query.codes]
        return tuple(figures)


def ledger_view(plan: Plan, request: Request, read: Reader) -> LedgerSnapshot | None:
    """The view Evaluate and Qualify price with when the server has a ledger: the snapshot of
    the counters this cart needs, read by `read` (the ledger's read-only `get_usage`), or None
    when no promotion of the cart has a ledger clause."""
    query = usage_query(plan, request)
    return None if query is None else LedgerSnapshot(read(query))


class QuotePricer:
    """Prices one checkout for `Ledger.reserve` (the `Pricer` protocol): called with a reader of
    the reserve's transaction and the outcomes of the holds refused or cut so far.

    Pricing is the expensive part, so the same engine inputs are priced once: `prime` prices
    with a snapshot read before the transaction, and the call inside it prices again only if the
    snapshot it reads there differs (another checkout moved a counter this cart reads) or a hold
    was refused. Without `prime` the call inside prices (what LedgerService does on PostgreSQL,
    where the transaction locks nothing while it prices: `Ledger.prices_first`). `quote` is the
    last quote priced: the one the reservation holds."""

    def __init__(self, plan: Plan, request: Request, limits: Limits, buyer: str,
                 answer: Answer, price: Price = evaluate) -> None:
        self.plan = plan
        self.request = request
        self.limits = limits
        self.buyer = buyer
        self._answer = answer
        self._price = price
        self._clauses = cached_clauses(plan)
        self._query: tuple[UsageQuery | None] | None = None  # worked out on first use
        self._priced: tuple[Any, Order, Quote] | None = None
        self._tiered: frozenset[str] | None = None  # the plan's presales with price tiers (on first use)
        self.quote: Quote | None = None
        self.pricings = 0  # how many times the engine ran (bench and tests)

    # ---- the Pricer protocol ----

    def __call__(self, read: Reader, outcomes: Mapping[str, Outcome]) -> Order:
        query = self.query()
        usage = None if query is None else read(query)
        view = LedgerSnapshot.of(usage, outcomes)
        # a presale's units sold come from the ledger (server/service/presale_view.py)
        request = self.request if usage is None or not query or not query.presales else with_sold(self.request, usage.sold)
        inputs = (view.key(self.plan, query), tuple(sorted((k, _outcome_key(v)) for k, v in outcomes.items())),
                  self._sold_key(request.presale_sold))
        if self._priced is not None and self._priced[0] == inputs:
            self.quote = self._priced[2]
            return self._priced[1]
        quote = self._price(self.plan, request, self.limits, ledger=view)
        self.pricings += 1
        order = order_of(quote, request, self._clauses, self._answer(quote))
        if query is not None and query.presales:
            units, presales = presale_orders(self.plan, request, quote)
            order = replace(order, holds=order.holds + units, presales=presales)
        self._priced = (inputs, order, quote)
        self.quote = quote
        return order

    def prime(self, read: Reader) -> None:
        """Price before the transaction, with a snapshot read outside it."""
        self(read, {})

    # ---- what the engine reads of the ledger ----

    def _sold_key(self, sold: Mapping[str, int]) -> tuple[tuple[str, int], ...]:
        """What of the units sold the quote can depend on: the count of each presale with 件数阶梯
        tiers (`price ... tiers`, the one place `sold` is read). A presale without tiers prices
        every count alike, so its units moving under the snapshot re-price nothing; the stock is
        still the guarded update's to enforce. A tiered presale keys on the exact count: the
        compiled plan holds its tiers as predicates (engine/plan/plan.py `Presale.price_tiers`),
        not thresholds, so which counts share a tier is the engine's to know, not the server's.
        After the deposit window has closed the count is the one at the close (usage.sold):
        fixed, so it moves nothing either."""
        if not sold:
            return ()
        if self._tiered is None:
            self._tiered = frozenset(p.name for p in self.plan.presales if p.price_tiers)
        return tuple(sorted((name, n) for name, n in sold.items() if name in self._tiered))

    def query(self) -> UsageQuery | None:
        """The snapshot this cart needs (`usage_query`, for this buyer); None when no promotion of
        the cart has a ledger clause: the price does not depend on the ledger."""
        if self._query is None:
            found = usage_query(self.plan, self.request, self._clauses)
            presales = sold_query(self.plan, self.request)
            if presales:  # a presale line: its units sold are read, and its units held
                found = replace(found or UsageQuery((), at=self.request.at, timezone=str(self.plan.timezone)),
                                presales=presales)
            self._query = (None if found is None else replace(found, buyer=self.buyer),)
        return self._query[0]


def _outcome_key(outcome: Outcome) -> tuple[Any, ...]:
    return outcome.granted, outcome.reason, outcome.spend, outcome.used


def order_of(quote: Quote, request: Request, found: Mapping[str, Clauses], answer: Any = None) -> Order:
    """The ledger's view of a quote: one hold per applied promotion (its discount as spend, its
    clauses, its code, its discount per line), the cart's lines with what this order charges for
    each (`paid_now`): what a return refunds."""
    lines = tuple(Line(line.id, line.quantity, paid_now(quote, line.id, line.final))
                  for line in quote.lines if line.gift_of is None)
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
            allocation=_allocation(applied.amount, per_line.get(applied.promotion, {})),
            desired=applied.desired or 0))
    return Order(tuple(holds), lines, quote.payable, answer)


def paid_now(quote: Quote, line_id: str, final: int) -> int:
    """What this checkout charges for a line (the engine's `payable_now`): its final, or for a
    presale line its deposit at the deposit stage and its balance due at the balance stage (the
    line's final is then the whole price over both orders). The lines' sum plus shipping is the
    payable."""
    for presale in quote.presale:
        if presale.line == line_id and presale.stage != Stage.FULL:
            return presale.deposit if presale.stage == Stage.DEPOSIT else presale.balance_due
    return final


def _allocation(spend: int, by_line: Mapping[str, int]) -> dict[str, int]:
    """The spend over the lines, in proportion to the promotion's discount on each: the line
    discounts themselves when they make up the whole spend; a part given on shipping is spread
    over the lines the same way (no lines: nothing to return it by, it goes back with the order)."""
    if not by_line or not any(by_line.values()):
        return {}
    return dict(zip(by_line, split(spend, list(by_line.values()))))


def _codes(request: Request) -> dict[str, str]:
    """coupon -> the code its wallet entry carries (the first entry of the coupon with one)."""
    found: dict[str, str] = {}
    for entry in request.wallet:
        if entry.code:
            found.setdefault(entry.coupon, entry.code)
    return found
