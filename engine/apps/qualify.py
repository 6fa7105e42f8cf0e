"""For each coupon a buyer holds: can it be used on this cart, what does it save alone and inside
the best set, and if not, why not and what would make it usable (service.md `Qualify`).

Everything is priced by the same engine as checkout: "alone" is the cart with exactly that coupon
selected, "in the best set" is what the best set would lose without it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.base.enums import Explain, ReasonCode
from engine.base.request import Request, WalletEntry
from engine.plan.plan import Plan
from engine.pricing.choose import Choice, choose
from engine.pricing.explain import Reason
from engine.pricing.ledger import LedgerView
from engine.pricing.limits import Limits
from engine.pricing.prepare import prepare
from engine.pricing.quote import SearchOutcome
from engine.pricing.state import Prepared


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
    search: SearchOutcome  # the search behind payable_best


def _exactly(prep: Prepared, coupons: tuple[str, ...]) -> Prepared:
    """The prepared cart with exactly `coupons` selected (none: with no coupon at all). It shares
    `prep`'s work (candidates found once for the whole wallet, offers and prices memoized), so
    qualifying a wallet costs one search per coupon, not one preparation of the wallet per coupon."""
    keep = set(coupons)
    return replace(prep, request=replace(prep.request, selected=coupons),
                   candidates=[c for c in prep.candidates if not c.promotion.is_coupon or c.promotion.name in keep])


def _payable(prep: Prepared, coupons: tuple[str, ...], limits: Limits) -> tuple[int, dict[str, Reason], set[str]]:
    """Price the cart with exactly `coupons`: payable, failures, applied names."""
    choice = choose(_exactly(prep, coupons), explain=True, limits=limits)
    return choice.pricing.payable, choice.reasons(prep), set(choice.pricing.applied)


def qualify(plan: Plan, request: Request, limits: Limits = Limits(), ledger: LedgerView | None = None) -> Qualification:
    """Raises DeadlineExceeded when the deadline passes before every coupon is qualified.
    `ledger`: as for `evaluate` (a code used, a limit reached or a budget spent makes a coupon
    unusable, with that reason)."""
    prep = prepare(plan, replace(request, selected=(), explain=Explain.REASONS), ledger=ledger)
    base = choose(_exactly(prep, ()), explain=False, limits=limits).pricing.payable
    best = choose(prep, explain=True, limits=limits)
    best_coupons = tuple(sorted(n for n in best.enabled if plan.by_name[n].is_coupon))
    reasons = best.reasons(prep)

    statuses = []
    found: dict[str, CouponStatus] = {}  # per coupon name: duplicated entries are priced once
    for entry in prep.request.wallet:
        limits.check()
        name = entry.coupon
        if name not in found:
            found[name] = _status(plan, prep, best, best_coupons, reasons, base, entry, limits)
        statuses.append(replace(found[name], entry=entry))
    return Qualification(plan, base, best.pricing.payable, tuple(statuses), SearchOutcome.of(best))


def _status(plan: Plan, prep: Prepared, best: Choice, best_coupons: tuple[str, ...], reasons: dict[str, Reason],
            base: int, entry: WalletEntry, limits: Limits) -> CouponStatus:
    name = entry.coupon
    promo = plan.by_name.get(name)
    if promo is None or not promo.is_coupon:
        return CouponStatus(entry, False, False, 0, 0, Reason(ReasonCode.UNKNOWN_COUPON))
    if name in prep.blocked:
        return CouponStatus(entry, False, False, 0, 0, prep.blocked[name])
    alone, failures, applied = _payable(prep, (name,), limits)
    if name not in applied:
        return CouponStatus(entry, False, False, 0, 0, failures.get(name) or Reason(ReasonCode.ZERO_BENEFIT))
    in_best = name in best_coupons and name in best.pricing.applied
    saving_in_best = 0
    if in_best:
        without, _, _ = _payable(prep, tuple(n for n in best_coupons if n != name), limits)
        saving_in_best = without - best.pricing.payable
    return CouponStatus(entry, True, in_best, base - alone, saving_in_best, None if in_best else reasons.get(name))

