"""Pricing one cart for one choice of promotions: item level, shop and platform levels in either
stacking mode, allocation with floors, shipping, presale stages and the payable floor.

`prepare` does what does not depend on which coupons are used (candidates, floors, presale
stages); `run` prices one choice and is called once per choice the combination search tries.
Lines are kept in the code-point order of their ids, so the cart's order never changes a price.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.base.money import allocate
from engine.plan import benefits as b
from engine.plan.plan import Promotion
from engine.pricing.conditions import benefit_at, most_telling, next_step_hint
from engine.pricing.explain import HintData, Minor, Reason
from engine.pricing.state import (
    DEPOSIT,
    FULL,
    ITEM,
    NOT_BEST_COMBINATION,
    PLATFORM,
    SHIPPING,
    SHOP,
    THRESHOLD_NOT_MET,
    ZERO_BENEFIT,
    Candidate,
    Prepared,
    Pricing,
)

# ---- preparation -------------------------------------------------------------------------------


# ---- one choice --------------------------------------------------------------------------------


def run(prep: Prepared, enabled: frozenset[str], explain: bool = True) -> Pricing:
    """Price the cart with the candidates named in `enabled` (automatic ones included)."""
    active = [c for c in prep.candidates if c.promotion.name in enabled]
    order = [c for c in active if c.promotion.level in (SHOP, PLATFORM)]
    # Every choice the search tries shares the item level and the order-level promotions before
    # the first one a constraint can switch off: that part is priced once per request.
    shared = next((k for k, c in enumerate(order) if _switchable(c.promotion)), len(order))
    key = (frozenset(c.promotion.name for c in active if c.promotion.level == ITEM),
           tuple(c.promotion.name for c in order[:shared]), explain)
    snapshot = prep.snapshots.get(key)
    if snapshot is None:
        out = Pricing(base=list(prep.listed), final=[], discounts=[{} for _ in prep.lines])
        _item_level(prep, active, out, explain)
        out.final = list(out.base)  # the running amounts until the last level is done
        for cand in order[:shared]:
            _order_level(prep, cand, out.final, sum(out.base), out, explain)
        prep.snapshots[key] = _copy(out)
    else:
        out = _copy(snapshot)
    for cand in order[shared:]:
        _order_level(prep, cand, out.final, sum(out.base), out, explain)
    _shipping(prep, [c for c in active if c.promotion.level == SHIPPING], out, explain)
    _gifts_at_item_level(prep, active, out)
    _min_payment(prep, out)
    return out


def _switchable(promo: Promotion) -> bool:
    """Can a constraint leave this promotion out of some choice (see engine/combine.py)?"""
    return promo.is_coupon or promo.exclusive or promo.group is not None


def _copy(p: Pricing) -> Pricing:
    return Pricing(list(p.base), list(p.final), [dict(d) for d in p.discounts], dict(p.applied), set(p.capped),
                   dict(p.desired), dict(p.failed), list(p.hints), dict(p.shipping), list(p.gifts), p.payable)


def _item_level(prep: Prepared, active: list[Candidate], out: Pricing, explain: bool) -> None:
    rounding = prep.plan.rounding
    offers: dict[int, list[tuple[int, Promotion | None]]] = {}  # None: the presale price
    listed = prep.listed
    cart_list = sum(listed)  # item level comes before any discount
    tried: dict[str, Reason] = {}
    best_off: dict[str, int] = {}
    for cand in active:
        promo = cand.promotion
        if promo.level != ITEM or isinstance(promo.benefit, b.Gift):
            continue
        for i in cand.lines:
            if i in prep.presale and prep.presale[i].stage != FULL:
                continue  # a deposit presale fixes the line's price
            line = prep.lines[i]
            facts = prep.facts(listed[i], line.quantity, cart_list)
            benefit, reason = benefit_at(prep, promo, facts, [b.Part(listed[i], line.quantity)], explain)
            if benefit is None:
                assert reason is not None  # benefit_at: a benefit, or why there is none
                tried.setdefault(promo.name, reason)
                continue
            off, _ = b.discount_parts(benefit, [b.Part(listed[i], line.quantity)], rounding, whole=False)
            room = listed[i] - prep.floors[i]
            if off > room:
                out.capped.add(promo.name)
            offers.setdefault(i, []).append((min(off, room), promo))
            best_off[promo.name] = max(best_off.get(promo.name, 0), min(off, room))
    for i, line in enumerate(prep.lines):
        options = offers.get(i, [])
        presale = prep.presale.get(i)
        if presale is not None:
            options.append((listed[i] - presale.base, None))
        if not options:
            continue
        # the lowest line amount wins; ties: the presale price, then higher priority, then the name
        off, winner = min(options, key=lambda o: (-o[0], -o[1].priority, o[1].name) if o[1] else (-o[0], -(10**9), ""))
        out.base[i] = listed[i] - off
        if winner is not None and off > 0:
            out.discounts[i][winner.name] = off
            out.applied[winner.name] = out.applied.get(winner.name, 0) + off
        if prep.trace.on:
            prep.trace.event("item", line=line.id, winner=winner.name if winner else "presale", discount=Minor(off))
    if prep.caps:
        _cut_item_level(prep, active, out)
    for cand in active:
        name = cand.promotion.name
        if cand.promotion.level == ITEM and name not in out.applied and not isinstance(cand.promotion.benefit, b.Gift):
            if name in tried and not best_off.get(name):
                out.failed[name] = tried[name]
            elif not best_off.get(name):
                out.failed[name] = Reason(ZERO_BENEFIT)
            else:
                out.failed[name] = Reason(NOT_BEST_COMBINATION,
                                          {"why": "another item-level price is lower on every eligible line"})
            out.capped.discard(name)


def _cut_item_level(prep: Prepared, active: list[Candidate], out: Pricing) -> None:
    """An item-level promotion whose budget has less left than it gives: the lines give back
    what is over, in id order, each as much as is still needed (ledger.md §2: a budget cuts)."""
    for cand in active:
        name = cand.promotion.name
        cap = prep.caps.get(name)
        if cap is None or cand.promotion.level != ITEM or out.applied.get(name, 0) <= cap:
            continue
        over = out.applied[name] - cap
        out.desired[name] = out.applied[name]
        for i in range(len(prep.lines)):
            part = out.discounts[i].get(name, 0)
            if over <= 0:
                break
            if part:
                back = min(part, over)
                out.discounts[i][name] = part - back
                out.base[i] += back
                over -= back
        out.applied[name] = cap
        out.capped.add(name)
        if prep.trace.on:
            prep.trace.event("budget", promotion=name, desired=Minor(out.desired[name]), granted=Minor(cap))


def _order_level(prep: Prepared, cand: Candidate, amounts: list[int], cart_amount: int, out: Pricing, explain: bool) -> None:
    promo = cand.promotion
    # progressive: each promotion's base is what earlier ones left; parallel: the item-level base
    seen = amounts if prep.plan.stacking == "progressive" else out.base
    total, reasons = 0, []
    cap = prep.caps.get(promo.name)  # a budget with less left than the offer cuts it (ledger.md §2)
    cut = 0
    for idx in cand.groups:
        # a line brought to 0.00 is still bought: its units count; it only has no room (§4.3)
        weights = tuple(seen[i] for i in idx)
        offer = _offer(prep, promo, idx, weights, cart_amount, explain)
        out.hints.extend(offer.hints)
        if offer.reason is not None:
            reasons.append(offer.reason)
            continue
        if isinstance(offer.benefit, b.Gift):
            out.gifts.append((promo.name, offer.benefit, prep.lines[idx[0]].shop if promo.level == SHOP else ""))
            out.applied.setdefault(promo.name, 0)
            continue
        off = offer.off
        if cap is not None and off > cap - total:
            cut += off - max(0, cap - total)
            off = max(0, cap - total)
        floors = prep.floors
        placed = _place(off, offer.shares, weights, [max(0, amounts[i] - floors[i]) for i in idx])
        for i, part in zip(idx, placed):
            if part:
                amounts[i] -= part
                line_discounts = out.discounts[i]
                line_discounts[promo.name] = line_discounts.get(promo.name, 0) + part
        placed_total = sum(placed)
        if placed_total < off:
            out.capped.add(promo.name)
        total += placed_total
        if prep.trace.on:
            prep.trace.event("apply", promotion=promo.name, base=Minor(sum(weights)), discount=Minor(off),
                             placed=Minor(placed_total), lines=[prep.lines[i].id for i in idx])
    if cut and total > 0:
        out.desired[promo.name] = total + cut
        out.capped.add(promo.name)
        if prep.trace.on:
            prep.trace.event("budget", promotion=promo.name, desired=Minor(total + cut), granted=Minor(total))
    if total > 0:
        out.applied[promo.name] = total
    elif promo.name not in out.applied:
        out.failed[promo.name] = most_telling(reasons) or Reason(ZERO_BENEFIT)


@dataclass(frozen=True)
class _Offer:
    """What a promotion offers a group of lines at given amounts, before allocation."""

    benefit: b.Benefit | None
    reason: Reason | None
    off: int
    shares: list[int] | None
    hints: tuple[HintData, ...]

    # written out (dataclass keeps it): compiled, the generated one runs interpreted at ~10x the cost
    def __init__(self, benefit: b.Benefit | None, reason: Reason | None, off: int, shares: list[int] | None,
                 hints: tuple[HintData, ...]) -> None:
        object.__setattr__(self, "benefit", benefit)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "off", off)
        object.__setattr__(self, "shares", shares)
        object.__setattr__(self, "hints", hints)


def _offer(prep: Prepared, promo: Promotion, idx: tuple[int, ...], weights: tuple[int, ...], cart_amount: int,
           explain: bool) -> _Offer:
    # The combination search prices many choices of one cart; a promotion seeing the same lines
    # at the same amounts offers the same, so offers are computed once per request.
    key = (promo.name, idx, weights, cart_amount)
    found = prep.offers.get(key)
    if found is None:
        parts = [b.Part(w, prep.lines[i].quantity) for w, i in zip(weights, idx)]
        facts = prep.facts(sum(weights), sum(p.quantity for p in parts), cart_amount)
        benefit, reason = benefit_at(prep, promo, facts, parts, explain)
        off, shares = (0, None)
        if benefit is not None and not isinstance(benefit, b.Gift):
            off, shares = b.discount_parts(benefit, parts, prep.plan.rounding, whole=True)
        hints: list[HintData] = []
        if explain:
            next_step_hint(prep, promo, benefit, facts, parts, hints)
        found = prep.offers[key] = _Offer(benefit, reason, off, shares, tuple(hints))
    return found


def _place(off: int, shares: list[int] | None, weights: Sequence[int], room: list[int]) -> list[int]:
    """Allocate `off` within each line's room; unit-bound shares first, the rest by weight."""
    if shares is None:
        parts, _ = allocate(off, weights, room)
        return parts
    over = sum(shares) - off
    if over > 0:  # a budget cut the offer: the lines give back what is over, in id order (as at item level)
        shares = list(shares)
        for k, share in enumerate(shares):
            back = min(share, over)
            shares[k] -= back
            over -= back
    first = [min(s, r) for s, r in zip(shares, room)]
    rest, _ = allocate(off - sum(first), weights, [r - f for r, f in zip(room, first)])
    return [f + r for f, r in zip(first, rest)]


def _shipping(prep: Prepared, active: list[Candidate], out: Pricing, explain: bool) -> None:
    fees = dict(prep.request.shipping)
    if prep.presale:
        # shipping of a shop whose lines are all at the deposit stage is charged with the balance
        for shop in list(fees):
            lines = [i for i, line in enumerate(prep.lines) if line.shop == shop]
            if lines and all(i in prep.presale and prep.presale[i].stage == DEPOSIT for i in lines):
                fees[shop] = 0
    for cand in active:
        promo = cand.promotion
        waived, cut = 0, 0
        cap = prep.caps.get(promo.name)  # a budget with less left than the fees cuts the waiver
        reasons: list[Reason] = []
        for group in cand.groups:
            shop = prep.lines[group[0]].shop
            amount = sum(out.final[i] for i in group)
            parts = [b.Part(out.final[i], prep.lines[i].quantity) for i in group]
            facts = prep.facts(amount, sum(p.quantity for p in parts), sum(out.base))
            benefit, reason = benefit_at(prep, promo, facts, parts, explain)
            if benefit is None:
                assert reason is not None
                if reason.code == THRESHOLD_NOT_MET:
                    reason.would_save = fees.get(shop, 0)  # what free shipping is worth here
                reasons.append(reason)
            elif fees.get(shop, 0) > 0:
                give = fees[shop] if cap is None else min(fees[shop], max(0, cap - waived))
                cut += fees[shop] - give
                waived += give
                fees[shop] -= give
        if cut and waived:
            out.desired[promo.name] = waived + cut
            out.capped.add(promo.name)
        if waived:
            out.applied[promo.name] = waived
        else:
            out.failed[promo.name] = most_telling(reasons) or Reason(ZERO_BENEFIT, {"why": "no shipping fee to waive"})
    out.shipping = fees


def _gifts_at_item_level(prep: Prepared, active: list[Candidate], out: Pricing) -> None:
    for cand in active:
        promo = cand.promotion
        if promo.level != ITEM or not isinstance(promo.benefit, b.Gift):
            continue
        reasons: list[Reason] = []
        for i in cand.lines:
            line = prep.lines[i]
            facts = prep.facts(line.list_amount, line.quantity, sum(out.base))
            benefit, reason = benefit_at(prep, promo, facts, [b.Part(line.list_amount, line.quantity)], True)
            if benefit is None:
                assert reason is not None
                reasons.append(reason)
            else:
                assert isinstance(benefit, b.Gift)
                out.gifts.append((promo.name, benefit, line.shop))
                out.applied.setdefault(promo.name, 0)
        if promo.name not in out.applied:
            out.failed[promo.name] = most_telling(reasons) or Reason(ZERO_BENEFIT)


def payable_now(prep: Prepared, i: int, final: int) -> int:
    """What line `i` is charged in this checkout: its final, its deposit, or its balance."""
    presale = prep.presale.get(i)
    if presale is None or presale.stage == FULL:
        return final
    if presale.stage == DEPOSIT:
        return presale.deposit
    return final - presale.deposit


def _min_payment(prep: Prepared, out: Pricing) -> None:
    """Keep the payable of a non-empty order at or above min_payment by taking discounts back:
    the last applied first (platform, then shop, then item), lines in id order."""
    out.payable = sum(payable_now(prep, i, f) for i, f in enumerate(out.final)) + sum(out.shipping.values())
    need = prep.plan.min_payment - out.payable
    if need <= 0 or not prep.lines:
        return
    order = sorted(out.applied, key=lambda name: prep.plan.by_name[name].order_key, reverse=True)
    for name in order:
        for i in range(len(prep.lines)):
            part = out.discounts[i].get(name, 0)
            if need <= 0 or part == 0 or (i in prep.presale and prep.presale[i].stage == DEPOSIT):
                continue
            back = min(part, need)
            out.discounts[i][name] = part - back
            out.final[i] += back
            if name in prep.plan.by_name and prep.plan.by_name[name].level == ITEM:
                out.base[i] += back
            out.applied[name] -= back
            out.capped.add(name)
            need -= back
            out.payable += back


# ---- bounds for the combination search -------------------------------------------------------

