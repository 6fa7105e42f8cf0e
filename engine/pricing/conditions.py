"""Whether a promotion's conditions hold where it is priced, and if not why not (a reason with
its detail) and what would make it apply (hints): the benefit a promotion gives at given facts.
"""

from __future__ import annotations

from typing import Any

from engine.base.enums import ReasonCode
from engine.plan import benefits as b
from engine.plan.plan import Clause, Promotion
from engine.plan.predicates import OrderFacts
from engine.pricing.explain import HintData, Minor, Reason
from engine.pricing.state import CONDITION_FAILED, THRESHOLD_NOT_MET, Prepared


def benefit_at(prep: Prepared, promo: Promotion, facts: OrderFacts, parts: list[b.Part],
               explain: bool) -> tuple[b.Benefit | None, Reason | None]:
    """The benefit to apply if `promo`'s conditions hold at `facts`, else (None, reason)."""
    trace = prep.trace
    for clause in promo.clauses:
        ok = clause.test(facts)
        if trace.on:
            trace.event("clause", promotion=promo.name, clause=clause.text, at=str(clause.span),
                        values=_values(clause.reads, facts), result=ok)
        if not ok:
            if clause.threshold is None:
                return None, Reason(CONDITION_FAILED, clause_detail(clause, facts) if explain else {})
            return None, _threshold_reason(prep, promo, clause.threshold, facts, parts, explain)
    benefit = promo.benefit
    if isinstance(benefit, b.Tiers):
        met = [t for t in benefit.tiers if t.test(facts)]
        if trace.on:
            trace.event("tiers", promotion=promo.name, met=[t.text for t in met], values=_values(("amount", "quantity"), facts))
        if not met:
            lowest = _nearest_tier(benefit, facts)
            if lowest is None or lowest.threshold is None:
                return None, Reason(ReasonCode.CONDITION_FAILED, {"clause": " / ".join(t.text for t in benefit.tiers)})
            return None, _threshold_reason(prep, promo, lowest.threshold, facts, parts, explain, lowest.benefit)
        rounding = prep.plan.rounding
        return max(met, key=lambda t: b.discount_parts(t.benefit, parts, rounding, whole=True)[0]).benefit, None
    if isinstance(benefit, b.EveryOff) and facts.amount < benefit.step:
        reason = Reason(ReasonCode.THRESHOLD_NOT_MET,
                        {"threshold": "amount", "needed": Minor(benefit.step), "seen": Minor(facts.amount)},
                        gap=benefit.step - facts.amount, would_save=benefit.amount)
        return None, reason
    return benefit, None


def _nearest_tier(tiers: b.Tiers, facts: OrderFacts) -> b.Tier | None:
    with_gap = [(t.threshold.gap(facts), i, t) for i, t in enumerate(tiers.tiers) if t.threshold is not None]
    return min(with_gap)[2] if with_gap else None


def _threshold_reason(prep: Prepared, promo: Promotion, threshold: b.Threshold, facts: OrderFacts, parts: list[b.Part],
                      explain: bool, benefit: b.Benefit | None = None) -> Reason:
    gap = threshold.gap(facts)
    reason = Reason(THRESHOLD_NOT_MET, gap=gap, gap_is_money=threshold.is_money)
    if explain:
        needed, seen = threshold.needed(), getattr(facts, b.THRESHOLD_ATTRS[threshold.attr])
        detail: dict[str, Any] = {"threshold": threshold.attr, "needed": needed, "seen": seen}
        if threshold.is_money:  # shown as money. Straight into the dict: compiled, an `int` variable drops the subclass
            detail["needed"] = Minor(needed)
            detail["seen"] = Minor(seen)
        reason.detail = detail
        reason.would_save = _saving_at(prep, benefit or promo.benefit, parts, gap, threshold.is_money, facts)
    return reason


def _saving_at(prep: Prepared, benefit: b.Benefit, parts: list[b.Part], gap: int, is_money: bool,
               facts: OrderFacts) -> int:
    """The discount once a gap is closed: parts grown by the missing amount or units."""
    amount = sum(p.amount for p in parts)
    units = sum(p.quantity for p in parts) or 1
    if is_money:
        grown = [*parts, b.Part(gap, max(1, -(-gap * units // max(amount, 1))))] if gap else parts
    else:
        unit_price = amount // units if units else 0
        grown = [*parts, b.Part(unit_price * gap, gap)] if gap else parts
    if isinstance(benefit, b.Tiers):
        new_facts = OrderFacts(sum(p.amount for p in grown), sum(p.quantity for p in grown), facts.cart_amount,
                               facts.cart_quantity, facts.user, facts.channel, facts.region, facts.now)
        met = [t.benefit for t in benefit.tiers if t.test(new_facts)]
        return max((b.discount_parts(x, grown, prep.plan.rounding, True)[0] for x in met), default=0)
    if isinstance(benefit, (b.Gift, b.FreeShipping)):
        return 0
    return b.discount_parts(benefit, grown, prep.plan.rounding, whole=True)[0]


def _values(reads: tuple[str, ...], facts: OrderFacts) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in reads:
        attr = {"cart.amount": "cart_amount", "cart.quantity": "cart_quantity"}.get(name, name)
        value: Any
        if "." in attr:
            head, _, rest = attr.partition(".")
            obj = facts.user if head == "user" else None
            value = getattr(obj, rest, None) if obj is not None and rest in ("id", "level", "tags", "new") else (
                obj.attributes.get(rest) if obj is not None else None)
        else:
            value = getattr(facts, attr, None)
        if name in _MONEY_FACTS:
            value = Minor(value)
        values[name] = (sorted(value) if isinstance(value, frozenset)
                        else value.isoformat() if hasattr(value, "isoformat") else value)
    return values


_MONEY_FACTS = ("amount", "cart.amount")


def clause_detail(clause: Clause, facts: OrderFacts) -> dict[str, Any]:
    return {"clause": clause.text, "at": str(clause.span), "values": _values(clause.reads, facts)}


def most_telling(reasons: list[Reason]) -> Reason | None:
    """Of one promotion's failures in several shops, the one closest to applying."""
    if not reasons:
        return None
    thresholds = [r for r in reasons if r.code == THRESHOLD_NOT_MET and r.gap is not None]
    if thresholds:
        return min(thresholds, key=lambda r: r.gap or 0)
    return reasons[0]


def next_step_hint(prep: Prepared, promo: Promotion, benefit: b.Benefit | None, facts: OrderFacts, parts: list[b.Part],
                   hints: list[HintData]) -> None:
    """For an applied tiered or every-S promotion: what the next tier or step would save."""
    if benefit is None:
        return
    rounding = prep.plan.rounding
    now_off = b.discount_parts(benefit, parts, rounding, whole=True)[0] if not isinstance(benefit, b.Tiers) else 0
    if isinstance(promo.benefit, b.EveryOff):
        step = b.next_every_step(promo.benefit, facts.amount)
        if step is not None:
            gap = step - facts.amount
            save = _saving_at(prep, promo.benefit, parts, gap, True, facts)
            if save > now_off:
                hints.append(HintData(promo.name, gap, True, save, now_off))
    elif isinstance(promo.benefit, b.Tiers):
        # the nearest tier not met that would save more: gaps are priced nearest first, and
        # only until one does (pricing every tier at every gap would cost tiers squared)
        gaps = sorted({(t.threshold.gap(facts), t.threshold.is_money) for t in promo.benefit.tiers
                       if t.threshold is not None and not t.test(facts)})
        for gap in sorted({g for g, _ in gaps}):
            higher = [(gap, save, is_money) for g, is_money in gaps if g == gap
                      if (save := _saving_at(prep, promo.benefit, parts, gap, is_money, facts)) > now_off]
            if higher:
                gap, save, is_money = min(higher)
                hints.append(HintData(promo.name, gap, is_money, save, now_off))
                break
