"""The answer to "what does this cart cost": `evaluate(plan, request) -> Quote`, and its JSON form
(service.md's EvaluateResponse). Amounts are minor units here and decimal strings in JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from engine.base.enums import ReasonCode
from engine.base.request import Request
from engine.plan.plan import Plan
from engine.pricing.choose import Choice, choose
from engine.pricing.explain import HintData, Reason, Trace
from engine.pricing.ledger import LedgerView
from engine.pricing.limits import DeadlineExceeded, Limits
from engine.pricing.prepare import prepare
from engine.pricing.state import EXPLAIN_OFF, EXPLAIN_TRACE, FULL, THRESHOLD_NOT_MET, Prepared


@dataclass(frozen=True)
class LineQuote:
    id: str
    quantity: int
    list: int
    base: int
    final: int
    discounts: tuple[tuple[str, int], ...]
    gift_of: str | None = None

    # Written out (dataclass keeps it): compiled, the generated __init__ runs interpreted (its
    # object.__setattr__ per field) at ~10x the cost; made for every line of every answer
    def __init__(self, id: str, quantity: int, list: int, base: int, final: int,
                 discounts: tuple[tuple[str, int], ...], gift_of: str | None = None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "list", list)
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "final", final)
        object.__setattr__(self, "discounts", discounts)
        object.__setattr__(self, "gift_of", gift_of)


@dataclass(frozen=True)
class Applied:
    promotion: str
    level: str
    kind: str
    amount: int
    coupon_id: str
    capped: bool
    desired: int | None = None  # its budget cut it (a ledger's snapshot): what it would have given

    def __init__(self, promotion: str, level: str, kind: str, amount: int, coupon_id: str, capped: bool,
                 desired: int | None = None) -> None:  # written out: see LineQuote
        object.__setattr__(self, "promotion", promotion)
        object.__setattr__(self, "level", level)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "coupon_id", coupon_id)
        object.__setattr__(self, "capped", capped)
        object.__setattr__(self, "desired", desired)


@dataclass(frozen=True)
class NotApplied:
    promotion: str
    reason: Reason


@dataclass(frozen=True)
class PresaleQuote:
    line: str
    stage: str
    deposit: int
    deposit_worth: int
    balance_due: int
    ships: str | None


@dataclass(frozen=True)
class BetterSet:
    coupons: tuple[str, ...]
    payable: int
    would_save: int


@dataclass(frozen=True)
class SearchOutcome:
    """How the coupon set was found (docs/evaluation.md §10)."""

    optimal: bool
    stopped: str  # "" when optimal, else why the search stopped: "budget" or "deadline"
    choices_priced: int

    @classmethod
    def of(cls, choice: Choice) -> SearchOutcome:
        return cls(choice.stopped is None, choice.stopped or "", choice.evaluations)

    def to_json(self) -> dict[str, Any]:
        return {"optimal": self.optimal, "stopped": self.stopped, "choices_priced": self.choices_priced}


@dataclass(frozen=True)
class Quote:
    plan: Plan
    list: int
    discount: int
    shipping: int
    payable: int
    lines: tuple[LineQuote, ...]
    applied: tuple[Applied, ...]
    not_applied: tuple[NotApplied, ...]
    hints: tuple[HintData, ...]
    presale: tuple[PresaleQuote, ...]
    search: SearchOutcome
    trace: tuple[dict[str, Any], ...] = field(default=())
    better_set: BetterSet | None = None  # with `selected` coupons: a set the engine would choose

    def __init__(self, plan: Plan, list: int, discount: int, shipping: int, payable: int, lines: tuple[LineQuote, ...],
                 applied: tuple[Applied, ...], not_applied: tuple[NotApplied, ...], hints: tuple[HintData, ...],
                 presale: tuple[PresaleQuote, ...], search: SearchOutcome, trace: tuple[dict[str, Any], ...] = (),
                 better_set: BetterSet | None = None) -> None:  # written out: see LineQuote
        object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "list", list)
        object.__setattr__(self, "discount", discount)
        object.__setattr__(self, "shipping", shipping)
        object.__setattr__(self, "payable", payable)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "applied", applied)
        object.__setattr__(self, "not_applied", not_applied)
        object.__setattr__(self, "hints", hints)
        object.__setattr__(self, "presale", presale)
        object.__setattr__(self, "search", search)
        object.__setattr__(self, "trace", trace)
        object.__setattr__(self, "better_set", better_set)


def evaluate(plan: Plan, request: Request, limits: Limits = Limits(), ledger: LedgerView | None = None) -> Quote:
    """The quote; past `limits` the best coupon set found, said not to be proven optimal.
    Raises DeadlineExceeded when the deadline passes before any set was priced. `ledger` is a
    read-only snapshot of the ledger (engine/pricing/ledger.py); None: no ledger, `user.usage`
    counts the per-user limits and nothing else of the ledger's clauses holds."""
    explain = request.explain != EXPLAIN_OFF
    trace = Trace(request.explain == EXPLAIN_TRACE)
    prep = prepare(plan, request, trace, ledger)
    choice = choose(prep, explain, limits)
    pricing = choice.pricing
    by_id = {line.id: i for i, line in enumerate(prep.lines)}

    lines = []
    for line in request.lines:  # cart order
        i = by_id[line.id]
        # discounts were recorded in evaluation order, which is level, priority, name order
        lines.append(LineQuote(line.id, line.quantity, line.list_amount, pricing.base[i], pricing.final[i],
                               tuple((name, amount) for name, amount in pricing.discounts[i].items() if amount)))
    for n, (promo, gift, _shop) in enumerate(pricing.gifts):
        lines.append(LineQuote(f"gift-{n + 1}:{gift.sku}", gift.quantity, 0, 0, 0, (), gift_of=promo))

    wallet_ids = {c.promotion.name: c.wallet.id for c in prep.candidates if c.wallet}

    def in_order(names: Iterable[str]) -> list[str]:
        return sorted(names, key=lambda name: plan.by_name[name].order_key)

    applied = tuple(
        Applied(name, p.level, p.kind, pricing.applied[name], wallet_ids.get(name, ""), name in pricing.capped,
                pricing.desired.get(name))
        for name in in_order(pricing.applied) if (p := plan.by_name[name])
    )
    not_applied: tuple[NotApplied, ...] = ()
    hints: tuple[HintData, ...] = ()
    if explain:
        reasons = choice.reasons(prep)
        not_applied = tuple(NotApplied(name, reasons[name]) for name in in_order(reasons) if name not in pricing.applied)
        not_applied += tuple(NotApplied(name, Reason(ReasonCode.UNKNOWN_COUPON)) for name in prep.unknown)
        hints = tuple(_hints(pricing.hints, not_applied, in_order))
    goods_list = sum(line.list for line in lines)
    goods_final = sum(line.final for line in lines)
    return Quote(
        plan=plan,
        list=goods_list,
        discount=goods_list - goods_final,
        shipping=sum(pricing.shipping.values()),
        payable=pricing.payable,
        lines=tuple(lines),
        applied=applied,
        not_applied=not_applied,
        hints=hints,
        presale=tuple(_presale(prep, pricing.final)),
        search=SearchOutcome.of(choice),
        trace=tuple(trace.events),
        better_set=_better_set(plan, request, pricing.payable, limits, ledger) if explain and request.selected else None,
    )


def _better_set(plan: Plan, request: Request, payable: int, limits: Limits, ledger: LedgerView | None) -> BetterSet | None:
    """When the buyer picked the coupons: the set the engine would pick, if it saves more."""
    if limits.past_deadline():
        return None  # a suggestion, not the answer: not worth a late reply
    try:
        best = choose(prepare(plan, replace(request, selected=()), ledger=ledger), explain=False, limits=limits)
    except DeadlineExceeded:
        return None
    if best.pricing.payable >= payable:
        return None
    coupons = tuple(sorted(n for n in best.enabled if plan.by_name[n].is_coupon and n in best.pricing.applied))
    return BetterSet(coupons, best.pricing.payable, payable - best.pricing.payable)


def _hints(next_steps: list[HintData], not_applied: tuple[NotApplied, ...],
           in_order: Callable[[Iterable[str]], list[str]]) -> list[HintData]:
    found = {h.promotion: h for h in next_steps}
    for item in not_applied:
        r = item.reason
        if r.code == THRESHOLD_NOT_MET and r.gap and r.would_save:
            found.setdefault(item.promotion, HintData(item.promotion, r.gap, r.gap_is_money, r.would_save))
    return [found[name] for name in in_order(found)]


def _presale(prep: Prepared, finals: list[int]) -> Iterator[PresaleQuote]:
    for i, line in enumerate(prep.lines):
        p = prep.presale.get(i)
        if p is None:
            continue
        due = 0 if p.stage == FULL else finals[i] - p.deposit
        yield PresaleQuote(line.id, p.stage, p.deposit, p.worth, due, p.presale.ships)


