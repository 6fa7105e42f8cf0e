"""For each coupon a buyer holds: can it be used on this cart, what does it save alone and inside
the best set, and if not, why not and what would make it usable (service.md `Qualify`).

Everything is priced by the same engine as checkout: "alone" is the cart with exactly that coupon
selected, "in the best set" is what the best set would lose without it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from engine.combine import choose
from engine.compiler import Plan
from engine.evaluate import prepare
from engine.explain import Reason, reason_messages
from engine.money import format_money
from engine.quote import plain_detail
from engine.reasons import UNKNOWN_COUPON
from engine.request import Request, WalletEntry


@dataclass(frozen=True)
class CouponStatus:
    entry: WalletEntry
    usable: bool
    in_best: bool
    saving_alone: int
    saving_in_best: int
    reason: Reason | None  # why it is not usable, or why the best set leaves it out


@dataclass(frozen=True)
class Qualification:
    plan: Plan
    payable_without_coupons: int
    payable_best: int
    coupons: tuple[CouponStatus, ...]


def _payable(plan: Plan, request: Request, selected: tuple[str, ...]) -> tuple[int, dict[str, Reason], set[str]]:
    """Price the cart with exactly `selected` coupons: payable, failures, applied names."""
    # an empty `selected` means "let the engine choose": no coupon at all is an empty wallet
    request = replace(request, selected=selected, wallet=request.wallet if selected else (), explain="EXPLAIN_REASONS")
    prep = prepare(plan, request)
    choice = choose(prep, explain=True)
    return choice.pricing.payable, {**prep.blocked, **choice.pricing.failed, **choice.left_out}, set(choice.pricing.applied)


def qualify(plan: Plan, request: Request) -> Qualification:
    request = replace(request, selected=(), explain="EXPLAIN_REASONS")
    no_coupons = replace(request, wallet=())
    base = choose(prepare(plan, no_coupons), explain=False).pricing.payable
    prep = prepare(plan, request)
    best = choose(prep, explain=True)
    best_coupons = tuple(sorted(n for n in best.enabled if plan.by_name[n].is_coupon))
    reasons = {**prep.blocked, **best.pricing.failed, **best.left_out}

    statuses = []
    for entry in request.wallet:
        name = entry.coupon
        promo = plan.by_name.get(name)
        if promo is None or not promo.is_coupon:
            statuses.append(CouponStatus(entry, False, False, 0, 0, Reason(UNKNOWN_COUPON)))
            continue
        if name in prep.blocked:
            statuses.append(CouponStatus(entry, False, False, 0, 0, prep.blocked[name]))
            continue
        alone, failures, applied = _payable(plan, request, (name,))
        if name not in applied:
            statuses.append(CouponStatus(entry, False, False, 0, 0, failures.get(name) or Reason("ZERO_BENEFIT")))
            continue
        in_best = name in best_coupons and name in best.pricing.applied
        saving_in_best = 0
        if in_best:
            without, _, _ = _payable(plan, request, tuple(n for n in best_coupons if n != name))
            saving_in_best = without - best.pricing.payable
        statuses.append(CouponStatus(entry, True, in_best, base - alone, saving_in_best,
                                     None if in_best else reasons.get(name)))
    return Qualification(plan, base, best.pricing.payable, tuple(statuses))


def qualification_to_json(q: Qualification, operator: bool = False) -> dict[str, Any]:
    """The QualifyResponse JSON. `operator` adds the operator detail (clause text, positions,
    values) to customer-safe messages."""
    digits = q.plan.digits
    money = lambda v: format_money(v, digits)  # noqa: E731
    out = []
    for s in q.coupons:
        item: dict[str, Any] = {"coupon": s.entry.coupon, "id": s.entry.id, "usable": s.usable, "in_best": s.in_best,
                                "saving_alone": money(s.saving_alone), "saving_in_best": money(s.saving_in_best)}
        if s.reason is not None:
            item["reason"] = s.reason.code
            item["message"], item["message_zh"] = reason_messages(s.reason, digits)
            if s.reason.gap is not None:
                key = "missing_amount" if s.reason.gap_is_money else "missing_quantity"
                item[key] = money(s.reason.gap) if s.reason.gap_is_money else s.reason.gap
                if s.reason.would_save:
                    item["would_save"] = money(s.reason.would_save)
            if operator:
                promo = q.plan.by_name.get(s.entry.coupon)
                at = {"at": str(promo.span)} if promo is not None else {}
                item["detail"] = {**at, **plain_detail(s.reason.detail, digits)}
        out.append(item)
    return {"ruleset": {"name": q.plan.name, "revision": q.plan.revision}, "currency": q.plan.currency,
            "payable_without_coupons": money(q.payable_without_coupons), "payable_best": money(q.payable_best),
            "coupons": out}
