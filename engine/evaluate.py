"""Pricing one cart for one choice of promotions: item level, shop and platform levels in either
stacking mode, allocation with floors, shipping, presale stages and the payable floor.

`prepare` does what does not depend on which coupons are used (candidates, floors, presale
stages); `run` prices one choice and is called once per choice the combination search tries.
Lines are kept in the code-point order of their ids, so the cart's order never changes a price.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from engine import benefits as b
from engine.compiler import Plan, Presale, Promotion
from engine.explain import HintData, Minor, Reason, Trace
from engine.money import allocate
from engine.predicates import OrderFacts
from engine.reasons import UNKNOWN_COUPON
from engine.request import Line, Request, WalletEntry

DEPOSIT, BALANCE, FULL = "deposit", "balance", "full"


@dataclass(frozen=True)
class PresaleLine:
    presale: Presale
    stage: str  # deposit | balance | full
    base: int  # what the line costs before coupons: (price - expansion - balance discount) x qty
    deposit: int  # deposit paid (or due now) for the line
    worth: int


@dataclass(frozen=True, eq=False)  # identity: compared and looked up often during the search
class Candidate:
    """A promotion that passed the request-level checks, with the lines its scope matches."""

    promotion: Promotion
    lines: tuple[int, ...]  # indices into Prepared.lines
    groups: tuple[tuple[int, ...], ...]  # per shop at level shop and shipping, else one group
    wallet: WalletEntry | None
    shops: frozenset[str] = frozenset()


@dataclass
class Prepared:
    plan: Plan
    request: Request
    lines: list[Line]  # sorted by id
    floors: list[int]
    presale: dict[int, PresaleLine]
    candidates: list[Candidate]
    blocked: dict[str, Reason]  # promotions that are not candidates, with why
    trace: Trace
    unknown: tuple[str, ...]  # coupon names in the wallet or `selected` that the ruleset lacks
    cart_quantity: int = 0
    listed: list[int] = field(default_factory=list)  # list amount of each line
    top: list[int] = field(default_factory=list)  # most a line can cost: list amount or presale base
    top_total: int = 0
    offers: dict = field(default_factory=dict)  # memo of _offer across the choices tried
    snapshots: dict = field(default_factory=dict)  # memo of the part of `run` every choice shares

    def facts(self, amount: int, quantity: int, cart_amount: int) -> OrderFacts:
        r = self.request
        return OrderFacts(amount, quantity, cart_amount, self.cart_quantity, r.user, r.channel, r.region, r.at)


@dataclass
class Pricing:
    """The outcome of one choice."""

    base: list[int]
    final: list[int]
    discounts: list[dict[str, int]]  # per line: promotion -> amount, in application order
    applied: dict[str, int] = field(default_factory=dict)  # promotion -> total discount
    capped: set[str] = field(default_factory=set)
    failed: dict[str, Reason] = field(default_factory=dict)
    hints: list[HintData] = field(default_factory=list)
    shipping: dict[str, int] = field(default_factory=dict)  # shop -> fee charged
    gifts: list[tuple[str, b.Gift, str]] = field(default_factory=list)  # (promotion, gift, shop)
    payable: int = 0


def _within(window, now) -> bool:
    return window is None or window[0] <= now < window[1]


# ---- preparation -------------------------------------------------------------------------------


def prepare(plan: Plan, request: Request, trace: Trace | None = None) -> Prepared:
    trace = trace or Trace(False)
    lines = sorted(request.lines, key=lambda line: line.id)
    now = request.at
    presale = {i: p for i, line in enumerate(lines) if (p := _presale_line(plan, request, line)) is not None}
    # a presale line's deposit is paid: no discount reaches below it
    floors = [max(_floor(plan, line, now), presale[i].deposit if i in presale else 0) for i, line in enumerate(lines)]
    wallet: dict[str, WalletEntry] = {}
    for entry in request.wallet:
        wallet.setdefault(entry.coupon, entry)
    unselected = set()
    if request.selected:  # exactly the selected coupons are tried; a coupon must still be held
        unselected = set(wallet) - set(request.selected)
        wallet = {name: wallet[name] for name in request.selected if name in wallet}

    candidates, blocked = [], {}
    found = candidates_for(plan, lines)
    every = tuple(range(len(lines)))
    for name in [*wallet, *request.selected]:  # held coupons whatever their scope
        if name in plan.by_name and name not in found:
            found[name] = (plan.by_name[name], every)
    quiet = request.explain == "EXPLAIN_OFF"  # no reasons wanted: skip what cannot apply early
    for promo, could in sorted(found.values(), key=lambda f: f[0].order_key):
        if promo.name in unselected:
            continue  # the buyer chose other coupons
        if quiet and ((promo.is_coupon and promo.name not in wallet) or not _within(promo.window, now)):
            continue
        # lines found under the key of a promotion whose whole scope is that key are in scope
        sure = could is not every and promo.name in plan.scope_is_key
        scoped = could if sure else tuple(i for i in could if promo.scope(lines[i]))
        if not scoped and not (promo.is_coupon and promo.name in wallet):
            continue  # not relevant to this cart: nothing to explain
        matched = tuple(i for i in scoped if lines[i].price > 0)
        reason = _blocked(promo, matched, presale, wallet, request, now)
        if reason is None and not matched:
            reason = _condition_failure(promo, plan, request) or Reason("NO_ELIGIBLE_ITEMS")
        if reason is not None:
            blocked[promo.name] = reason
            trace.event("candidate", promotion=promo.name, result=reason.code)
            continue
        if presale and promo.level != "item":
            matched = tuple(i for i in matched if presale.get(i) is None or presale[i].stage != DEPOSIT)
        groups = _groups(promo, matched, lines)
        shops = frozenset(lines[i].shop for i in matched)
        candidates.append(Candidate(promo, matched, groups, wallet.get(promo.name), shops))
        if trace.on:
            trace.event("candidate", promotion=promo.name, lines=[lines[i].id for i in matched], result="candidate")
    # names the ruleset does not know, held or selected: reported, never silently dropped
    unknown = tuple(dict.fromkeys(n for n in [*(e.coupon for e in request.wallet), *request.selected]
                                  if n not in plan.by_name))
    for name in unknown:
        trace.event("candidate", promotion=name, result=UNKNOWN_COUPON)
    listed = [line.list_amount for line in lines]
    top = [presale[i].base if i in presale else listed[i] for i in range(len(lines))]
    return Prepared(plan, request, lines, floors, presale, candidates, blocked, trace, unknown,
                    cart_quantity=sum(line.quantity for line in lines), listed=listed, top=top, top_total=sum(top))


def candidates_for(plan: Plan, lines: Sequence[Line]) -> dict[str, tuple[Promotion, tuple[int, ...]]]:
    """The promotions that may touch any of `lines`, from the plan's index, each with the
    indices of the lines it may touch (its scope still decides, unless its name is in
    `plan.scope_is_key` and it was found under a key)."""
    every = tuple(range(len(lines)))
    found: dict[str, tuple[Promotion, tuple[int, ...]]] = {p.name: (p, every) for p in plan.everywhere}
    keyed: dict[str, tuple[Promotion, list[int]]] = {}
    for i, line in enumerate(lines):
        for key in (("sku", line.sku), ("shop", line.shop), ("category", line.category)):
            for p in plan.index.get(key, ()):
                if p.name in keyed:
                    keyed[p.name][1].append(i)
                else:
                    keyed[p.name] = (p, [i])
    for name, (p, idx) in keyed.items():
        found[name] = (p, tuple(sorted(set(idx))))
    return found


def _blocked(promo, matched, presale, wallet, request, now) -> Reason | None:
    if not _within(promo.window, now):
        start, end = promo.window
        return Reason("OUTSIDE_WINDOW", {"window": f"{start.isoformat()} .. {end.isoformat()}", "now": now.isoformat()})
    if matched and presale and promo.level != "item" and all(i in presale and presale[i].stage == DEPOSIT for i in matched):
        return Reason("STAGE_MISMATCH", {"stage": DEPOSIT})
    if promo.is_coupon and promo.name not in wallet:
        return Reason("NOT_IN_WALLET")
    if promo.limit is not None and request.user.usage.get(promo.name, 0) >= promo.limit:
        return Reason("LIMIT_REACHED", {"limit": promo.limit, "used": request.user.usage.get(promo.name, 0)})
    return None


def _condition_failure(promo: Promotion, plan: Plan, request: Request) -> Reason | None:
    facts = OrderFacts(0, 0, 0, 0, request.user, request.channel, request.region, request.at)
    for clause in promo.clauses:
        if clause.threshold is None and not clause.test(facts):
            return Reason("CONDITION_FAILED", _clause_detail(clause, facts))
    return None


def _groups(promo: Promotion, matched: tuple[int, ...], lines: list[Line]) -> tuple[tuple[int, ...], ...]:
    # Shop-level promotions (and free shipping) apply per shop: each shop is its own sub-order.
    if promo.level in ("shop", "shipping"):
        by_shop: dict[str, list[int]] = {}
        for i in matched:
            by_shop.setdefault(lines[i].shop, []).append(i)
        return tuple(tuple(v) for _, v in sorted(by_shop.items()))
    if promo.level == "item":
        return tuple((i,) for i in matched)
    return (matched,) if matched else ()


def _floor(plan: Plan, line: Line, now) -> int:
    floor = 0
    for guard in plan.guards:
        if _within(guard.window, now) and guard.scope(line):
            floor = max(floor, guard.floor(line.price, line.quantity))
    return min(floor, line.list_amount)


def _presale_line(plan: Plan, request: Request, line: Line) -> PresaleLine | None:
    now = request.at
    for presale in plan.presales:
        if not presale.scope(line) or not _within(presale.active, now):
            continue
        if presale.deposit is None:  # 全款预售
            return PresaleLine(presale, FULL, min(_unit_price(presale, request), line.price) * line.quantity, 0, 0)
        stage = {"STAGE_DEPOSIT": DEPOSIT, "STAGE_BALANCE": BALANCE}.get(request.stage)
        if stage is None:
            stage = DEPOSIT if _within(presale.deposit_window, now) and presale.deposit_window else (
                BALANCE if presale.balance_window and _within(presale.balance_window, now) else None)
        if stage is None:
            continue
        unit = min(_unit_price(presale, request), line.price)  # a presale never raises the list price
        # Neither stage can pay back: the deposit is at most the unit's price and the tail at
        # least 0, so deposit <= base <= list amount and the balance due is never negative.
        deposit = min(presale.deposit, unit)
        worth = presale.worth if presale.worth is not None else presale.deposit
        tail = max(0, unit - worth - presale.balance_discount)
        return PresaleLine(presale, stage, (deposit + tail) * line.quantity, deposit * line.quantity, worth * line.quantity)
    return None


def _unit_price(presale: Presale, request: Request) -> int:
    sold = request.presale_sold.get(presale.name, 0)
    facts = OrderFacts(0, 0, 0, 0, request.user, request.channel, request.region, request.at, sold)
    prices = [price for test, price in presale.price_tiers if test(facts)]
    return min(prices + [presale.price])


# ---- one choice --------------------------------------------------------------------------------


def run(prep: Prepared, enabled: frozenset[str], explain: bool = True) -> Pricing:
    """Price the cart with the candidates named in `enabled` (automatic ones included)."""
    active = [c for c in prep.candidates if c.promotion.name in enabled]
    order = [c for c in active if c.promotion.level in ("shop", "platform")]
    # Every choice the search tries shares the item level and the order-level promotions before
    # the first one a constraint can switch off: that part is priced once per request.
    shared = next((k for k, c in enumerate(order) if _switchable(c.promotion)), len(order))
    key = (frozenset(c.promotion.name for c in active if c.promotion.level == "item"),
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
    _shipping(prep, [c for c in active if c.promotion.level == "shipping"], out, explain)
    _gifts_at_item_level(prep, active, out)
    _min_payment(prep, out)
    return out


def _switchable(promo: Promotion) -> bool:
    """Can a constraint leave this promotion out of some choice (see engine/combine.py)?"""
    return promo.is_coupon or promo.exclusive or promo.group is not None


def _copy(p: Pricing) -> Pricing:
    return Pricing(list(p.base), list(p.final), [dict(d) for d in p.discounts], dict(p.applied), set(p.capped),
                   dict(p.failed), list(p.hints), dict(p.shipping), list(p.gifts), p.payable)


def _item_level(prep: Prepared, active: list[Candidate], out: Pricing, explain: bool) -> None:
    rounding = prep.plan.rounding
    offers: dict[int, list[tuple[int, Promotion | None]]] = {}  # None: the presale price
    listed = prep.listed
    cart_list = sum(listed)  # item level comes before any discount
    tried: dict[str, Reason] = {}
    best_off: dict[str, int] = {}
    for cand in active:
        promo = cand.promotion
        if promo.level != "item" or isinstance(promo.benefit, b.Gift):
            continue
        for i in cand.lines:
            if i in prep.presale and prep.presale[i].stage != FULL:
                continue  # a deposit presale fixes the line's price
            line = prep.lines[i]
            facts = prep.facts(listed[i], line.quantity, cart_list)
            benefit, reason = _qualify(prep, promo, facts, [b.Part(listed[i], line.quantity)], explain)
            if benefit is None:
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
    for cand in active:
        name = cand.promotion.name
        if cand.promotion.level == "item" and name not in out.applied and not isinstance(cand.promotion.benefit, b.Gift):
            if name in tried and not best_off.get(name):
                out.failed[name] = tried[name]
            elif not best_off.get(name):
                out.failed[name] = Reason("ZERO_BENEFIT")
            else:
                out.failed[name] = Reason("NOT_BEST_COMBINATION", {"why": "another item-level price is lower on every eligible line"})
            out.capped.discard(name)


def _qualify(prep: Prepared, promo: Promotion, facts: OrderFacts, parts, explain: bool):
    """The benefit to apply if `promo`'s conditions hold at `facts`, else (None, reason)."""
    trace = prep.trace
    for clause in promo.clauses:
        ok = clause.test(facts)
        if trace.on:
            trace.event("clause", promotion=promo.name, clause=clause.text, at=str(clause.span),
                        values=_values(clause.reads, facts), result=ok)
        if not ok:
            if clause.threshold is None:
                return None, Reason("CONDITION_FAILED", _clause_detail(clause, facts) if explain else {})
            return None, _threshold_reason(prep, promo, clause.threshold, facts, parts, explain)
    benefit = promo.benefit
    if isinstance(benefit, b.Tiers):
        met = [t for t in benefit.tiers if t.test(facts)]
        if trace.on:
            trace.event("tiers", promotion=promo.name, met=[t.text for t in met], values=_values(("amount", "quantity"), facts))
        if not met:
            lowest = _nearest_tier(benefit, facts)
            if lowest is None:
                return None, Reason("CONDITION_FAILED", {"clause": " / ".join(t.text for t in benefit.tiers)})
            return None, _threshold_reason(prep, promo, lowest.threshold, facts, parts, explain, lowest.benefit)
        rounding = prep.plan.rounding
        return max(met, key=lambda t: b.discount_parts(t.benefit, parts, rounding, whole=True)[0]).benefit, None
    if isinstance(benefit, b.EveryOff) and facts.amount < benefit.step:
        reason = Reason("THRESHOLD_NOT_MET", {"threshold": "amount", "needed": Minor(benefit.step), "seen": Minor(facts.amount)},
                        gap=benefit.step - facts.amount, would_save=benefit.amount)
        return None, reason
    return benefit, None


def _nearest_tier(tiers: b.Tiers, facts: OrderFacts):
    with_gap = [(t.threshold.gap(facts), i, t) for i, t in enumerate(tiers.tiers) if t.threshold is not None]
    return min(with_gap)[2] if with_gap else None


def _threshold_reason(prep, promo, threshold, facts, parts, explain, benefit=None) -> Reason:
    gap = threshold.gap(facts)
    reason = Reason("THRESHOLD_NOT_MET", gap=gap, gap_is_money=threshold.is_money)
    if explain:
        needed, seen = threshold.needed(), getattr(facts, b.THRESHOLD_ATTRS[threshold.attr])
        if threshold.is_money:
            needed, seen = Minor(needed), Minor(seen)
        reason.detail = {"threshold": threshold.attr, "needed": needed, "seen": seen}
        reason.would_save = _saving_at(prep, benefit or promo.benefit, parts, gap, threshold.is_money, facts)
    return reason


def _saving_at(prep, benefit, parts, gap: int, is_money: bool, facts: OrderFacts) -> int:
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


def _values(reads, facts: OrderFacts) -> dict:
    values = {}
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
        values[name] = sorted(value) if isinstance(value, frozenset) else (value.isoformat() if hasattr(value, "isoformat") else value)
    return values


_MONEY_FACTS = ("amount", "cart.amount")


def _clause_detail(clause, facts: OrderFacts) -> dict:
    return {"clause": clause.text, "at": str(clause.span), "values": _values(clause.reads, facts)}


def _order_level(prep: Prepared, cand: Candidate, amounts: list[int], cart_amount: int, out: Pricing, explain: bool) -> None:
    promo = cand.promotion
    # progressive: each promotion's base is what earlier ones left; parallel: the item-level base
    seen = amounts if prep.plan.stacking == "progressive" else out.base
    total, reasons = 0, []
    for idx in cand.groups:
        # a line brought to 0.00 is still bought: its units count; it only has no room (§4.3)
        weights = tuple(seen[i] for i in idx)
        offer = _offer(prep, promo, idx, weights, cart_amount, explain)
        out.hints.extend(offer.hints)
        if offer.reason is not None:
            reasons.append(offer.reason)
            continue
        if isinstance(offer.benefit, b.Gift):
            out.gifts.append((promo.name, offer.benefit, prep.lines[idx[0]].shop if promo.level == "shop" else ""))
            out.applied.setdefault(promo.name, 0)
            continue
        off = offer.off
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
    if total > 0:
        out.applied[promo.name] = total
    elif promo.name not in out.applied:
        out.failed[promo.name] = _most_telling(reasons) or Reason("ZERO_BENEFIT")


@dataclass(frozen=True)
class _Offer:
    """What a promotion offers a group of lines at given amounts, before allocation."""

    benefit: b.Benefit | None
    reason: Reason | None
    off: int
    shares: list[int] | None
    hints: tuple[HintData, ...]


def _offer(prep: Prepared, promo: Promotion, idx, weights, cart_amount: int, explain: bool) -> _Offer:
    # The combination search prices many choices of one cart; a promotion seeing the same lines
    # at the same amounts offers the same, so offers are computed once per request.
    key = (promo.name, idx, weights, cart_amount)
    found = prep.offers.get(key)
    if found is None:
        parts = [b.Part(w, prep.lines[i].quantity) for w, i in zip(weights, idx)]
        facts = prep.facts(sum(weights), sum(p.quantity for p in parts), cart_amount)
        benefit, reason = _qualify(prep, promo, facts, parts, explain)
        off, shares = (0, None)
        if benefit is not None and not isinstance(benefit, b.Gift):
            off, shares = b.discount_parts(benefit, parts, prep.plan.rounding, whole=True)
        hints: list[HintData] = []
        if explain:
            _next_step_hint(prep, promo, benefit, facts, parts, hints)
        found = prep.offers[key] = _Offer(benefit, reason, off, shares, tuple(hints))
    return found


def _most_telling(reasons: list[Reason]) -> Reason | None:
    """Of one promotion's failures in several shops, the one closest to applying."""
    if not reasons:
        return None
    thresholds = [r for r in reasons if r.code == "THRESHOLD_NOT_MET" and r.gap is not None]
    if thresholds:
        return min(thresholds, key=lambda r: r.gap or 0)
    return reasons[0]


def _place(off: int, shares: list[int] | None, weights: Sequence[int], room: list[int]) -> list[int]:
    """Allocate `off` within each line's room; unit-bound shares first, the rest by weight."""
    if shares is None:
        parts, _ = allocate(off, weights, room)
        return parts
    first = [min(s, r) for s, r in zip(shares, room)]
    rest, _ = allocate(off - sum(first), weights, [r - f for r, f in zip(room, first)])
    return [f + r for f, r in zip(first, rest)]


def _next_step_hint(prep, promo: Promotion, benefit, facts: OrderFacts, parts, hints: list[HintData]) -> None:
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
        waived, reasons = 0, []
        for group in cand.groups:
            shop = prep.lines[group[0]].shop
            amount = sum(out.final[i] for i in group)
            parts = [b.Part(out.final[i], prep.lines[i].quantity) for i in group]
            facts = prep.facts(amount, sum(p.quantity for p in parts), sum(out.base))
            benefit, reason = _qualify(prep, promo, facts, parts, explain)
            if benefit is None:
                if reason.code == "THRESHOLD_NOT_MET":
                    reason.would_save = fees.get(shop, 0)  # what free shipping is worth here
                reasons.append(reason)
            elif fees.get(shop, 0) > 0:
                waived += fees[shop]
                fees[shop] = 0
        if waived:
            out.applied[promo.name] = waived
        else:
            out.failed[promo.name] = _most_telling(reasons) or Reason("ZERO_BENEFIT", {"why": "no shipping fee to waive"})
    out.shipping = fees


def _gifts_at_item_level(prep: Prepared, active: list[Candidate], out: Pricing) -> None:
    for cand in active:
        promo = cand.promotion
        if promo.level != "item" or not isinstance(promo.benefit, b.Gift):
            continue
        reasons = []
        for i in cand.lines:
            line = prep.lines[i]
            facts = prep.facts(line.list_amount, line.quantity, sum(out.base))
            benefit, reason = _qualify(prep, promo, facts, [b.Part(line.list_amount, line.quantity)], True)
            if benefit is None:
                reasons.append(reason)
            else:
                out.gifts.append((promo.name, benefit, line.shop))
                out.applied.setdefault(promo.name, 0)
        if promo.name not in out.applied:
            out.failed[promo.name] = _most_telling(reasons) or Reason("ZERO_BENEFIT")


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
            if name in prep.plan.by_name and prep.plan.by_name[name].level == "item":
                out.base[i] += back
            out.applied[name] -= back
            out.capped.add(name)
            need -= back
            out.payable += back


# ---- bounds for the combination search -------------------------------------------------------


def max_offer(prep: Prepared, cand: Candidate) -> int:
    """An upper bound on what `cand` can take off the payable in any choice of promotions.

    Each benefit form grows with its base, and no choice gives a line more than its list amount
    (or its presale base); so the offer at those amounts bounds every other offer. A promotion
    whose conditions are monotone in amounts and fail even there can never apply (0); for others
    the conditions are ignored."""
    promo = cand.promotion
    if promo.level == "shipping":
        return sum(prep.request.shipping.get(shop, 0) for shop in cand.shops)
    return sum(group_offers(prep, cand))


def group_offers(prep: Prepared, cand: Candidate, amounts: list[int] | None = None) -> list[int]:
    """`max_offer` of each of the candidate's groups of lines (at level item: of each line); or,
    with `amounts` (the lines' amounts after item level, in parallel mode), exactly what it
    offers each group when those are its bases, before allocation."""
    if not prep.trace.on:
        return _group_offers(prep, cand, cand.promotion, amounts)
    with prep.trace.paused():
        return _group_offers(prep, cand, cand.promotion, amounts)


def _group_offers(prep: Prepared, cand: Candidate, promo: Promotion, amounts: list[int] | None) -> list[int]:
    top = amounts if amounts is not None else prep.top
    total = prep.top_total if amounts is None else sum(amounts)
    exact = amounts is not None  # the conditions hold or fail at exactly these amounts
    offers = []
    for idx in cand.groups:
        off = 0
        if not isinstance(promo.benefit, b.Gift):
            parts = [b.Part(top[i], prep.lines[i].quantity) for i in idx]
            facts = prep.facts(sum(p.amount for p in parts), sum(p.quantity for p in parts), total)
            benefit, _ = _qualify(prep, promo, facts, parts, explain=False) if promo.monotone or exact else (promo.benefit, None)
            if benefit is not None:
                options = [t.benefit for t in benefit.tiers] if isinstance(benefit, b.Tiers) and not exact else [benefit]
                whole = promo.level != "item"
                off = max(b.discount_parts(x, parts, prep.plan.rounding, whole)[0] for x in options)
                off = min(off, sum(top[i] - min(prep.floors[i], top[i]) for i in idx))
        offers.append(off)
    return offers
