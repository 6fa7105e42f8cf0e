"""The answer to "what does this cart cost": `evaluate(plan, request) -> Quote`, and its JSON form
(service.md's EvaluateResponse). Amounts are minor units here and decimal strings in JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from engine.combine import Choice, choose
from engine.compiler import Plan
from engine.evaluate import FULL, Prepared, prepare
from engine.explain import HintData, Minor, Reason, Trace, hint_messages, reason_messages
from engine.limits import DeadlineExceeded, Limits
from engine.money import format_money
from engine.reasons import UNKNOWN_COUPON
from engine.request import Request


@dataclass(frozen=True)
class LineQuote:
    id: str
    quantity: int
    list: int
    base: int
    final: int
    discounts: tuple[tuple[str, int], ...]
    gift_of: str | None = None


@dataclass(frozen=True)
class Applied:
    promotion: str
    level: str
    kind: str
    amount: int
    coupon_id: str
    capped: bool


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
    trace: tuple[dict, ...] = field(default=())
    better_set: BetterSet | None = None  # with `selected` coupons: a set the engine would choose


def evaluate(plan: Plan, request: Request, limits: Limits = Limits()) -> Quote:
    """The quote; past `limits` the best coupon set found, said not to be proven optimal.
    Raises DeadlineExceeded when the deadline passes before any set was priced."""
    explain = request.explain != "EXPLAIN_OFF"
    trace = Trace(request.explain == "EXPLAIN_TRACE")
    prep = prepare(plan, request, trace)
    choice = choose(prep, explain, limits)
    pricing = choice.pricing
    by_id = {line.id: i for i, line in enumerate(prep.lines)}

    lines = []
    for line in request.lines:  # cart order
        i = by_id[line.id]
        # discounts were recorded in evaluation order, which is level, priority, name order
        lines.append(LineQuote(line.id, line.quantity, line.list_amount, pricing.base[i], pricing.final[i],
                               tuple((name, amount) for name, amount in pricing.discounts[i].items() if amount)))
    for n, (promo, gift, shop) in enumerate(pricing.gifts):
        lines.append(LineQuote(f"gift-{n + 1}:{gift.sku}", gift.quantity, 0, 0, 0, (), gift_of=promo))

    wallet_ids = {c.promotion.name: c.wallet.id for c in prep.candidates if c.wallet}
    in_order = lambda names: sorted(names, key=lambda name: plan.by_name[name].order_key)  # noqa: E731
    applied = tuple(
        Applied(name, p.level, p.kind, pricing.applied[name], wallet_ids.get(name, ""), name in pricing.capped)
        for name in in_order(pricing.applied) if (p := plan.by_name[name])
    )
    not_applied: tuple[NotApplied, ...] = ()
    hints: tuple[HintData, ...] = ()
    if explain:
        reasons = {**prep.blocked, **pricing.failed, **choice.left_out}
        not_applied = tuple(NotApplied(name, reasons[name]) for name in in_order(reasons) if name not in pricing.applied)
        not_applied += tuple(NotApplied(name, Reason(UNKNOWN_COUPON)) for name in prep.unknown)
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
        better_set=_better_set(plan, request, pricing.payable, limits) if explain and request.selected else None,
    )


def _better_set(plan: Plan, request: Request, payable: int, limits: Limits) -> BetterSet | None:
    """When the buyer picked the coupons: the set the engine would pick, if it saves more."""
    if limits.past_deadline():
        return None  # a suggestion, not the answer: not worth a late reply
    try:
        best = choose(prepare(plan, replace(request, selected=())), explain=False, limits=limits)
    except DeadlineExceeded:
        return None
    if best.pricing.payable >= payable:
        return None
    coupons = tuple(sorted(n for n in best.enabled if plan.by_name[n].is_coupon and n in best.pricing.applied))
    return BetterSet(coupons, best.pricing.payable, payable - best.pricing.payable)


def _hints(next_steps: list[HintData], not_applied, in_order) -> list[HintData]:
    found = {h.promotion: h for h in next_steps}
    for item in not_applied:
        r = item.reason
        if r.code == "THRESHOLD_NOT_MET" and r.gap and r.would_save:
            found.setdefault(item.promotion, HintData(item.promotion, r.gap, r.gap_is_money, r.would_save))
    return [found[name] for name in in_order(found)]


def _presale(prep: Prepared, finals: list[int]):
    for i, line in enumerate(prep.lines):
        p = prep.presale.get(i)
        if p is None:
            continue
        due = 0 if p.stage == FULL else finals[i] - p.deposit
        yield PresaleQuote(line.id, p.stage, p.deposit, p.worth, due, p.presale.ships)


# ---- JSON (service.md) -----------------------------------------------------------------------------


def quote_to_json(quote: Quote) -> dict[str, Any]:
    plan = quote.plan
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    out: dict[str, Any] = {
        "ruleset": {"name": plan.name, "revision": plan.revision},
        "currency": plan.currency,
        "stacking": plan.stacking,
        "totals": {"list": money(quote.list), "discount": money(quote.discount),
                   "shipping": money(quote.shipping), "payable": money(quote.payable)},
        "lines": [_line_json(line, money) for line in quote.lines],
        "applied": [{"promotion": a.promotion, "level": a.level, "kind": a.kind, "amount": money(a.amount),
                     "coupon_id": a.coupon_id, "capped": a.capped} for a in quote.applied],
        "not_applied": [_not_applied_json(n, plan) for n in quote.not_applied],
        "hints": [_hint_json(h, plan) for h in quote.hints],
        "presale": [{"line": p.line, "stage": p.stage, "deposit": money(p.deposit), "deposit_worth": money(p.deposit_worth),
                     "balance_due": money(p.balance_due), **({"ships": p.ships} if p.ships else {})} for p in quote.presale],
        "search": quote.search.to_json(),
    }
    if quote.better_set:
        b = quote.better_set
        out["better_set"] = {"coupons": list(b.coupons), "payable": money(b.payable), "would_save": money(b.would_save)}
    if quote.trace:
        out["trace"] = [plain_detail(e, plan.digits) for e in quote.trace]
    return out


def _line_json(line: LineQuote, money) -> dict:
    out = {"id": line.id, "quantity": line.quantity, "list": money(line.list), "base": money(line.base),
           "final": money(line.final), "discounts": [{"promotion": p, "amount": money(a)} for p, a in line.discounts]}
    if line.gift_of:
        out["gift_of"] = line.gift_of
    return out


def _not_applied_json(item: NotApplied, plan: Plan) -> dict:
    message, message_zh = reason_messages(item.reason, plan.digits)
    promo = plan.by_name.get(item.promotion)  # None: an unknown coupon
    detail = {**({"at": str(promo.span)} if promo else {}), **plain_detail(item.reason.detail, plan.digits)}
    if item.reason.gap is not None:
        detail["gap"] = format_money(item.reason.gap, plan.digits) if item.reason.gap_is_money else item.reason.gap
    return {"promotion": item.promotion, "reason": item.reason.code, "message": message, "message_zh": message_zh,
            "detail": detail}


def _hint_json(hint: HintData, plan: Plan) -> dict:
    message, message_zh = hint_messages(hint, plan.digits)
    missing = {"missing_amount": format_money(hint.missing, plan.digits)} if hint.is_money else {"missing_quantity": hint.missing}
    return {"promotion": hint.promotion, **missing, "would_save": format_money(hint.would_save, plan.digits),
            "message": message, "message_zh": message_zh}


def plain_detail(value, digits: int):
    """Detail and trace values as JSON: money as decimal strings, containers recursively."""
    if isinstance(value, Minor):
        return format_money(value, digits)
    if isinstance(value, dict):
        return {k: plain_detail(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_detail(v, digits) for v in value]
    return value
