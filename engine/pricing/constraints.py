"""The constraints between candidates and how choices compare: slots, groups, `exclusive`, the
seats of the promotions that apply, and the tie-breaks (language.md §4.5).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from engine.base.enums import ORDER_LEVELS, Level, ReasonCode
from engine.pricing.state import Candidate, Prepared, Pricing

FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


# How choices compare: (payable, coupons, expiries of the coupons, names), lowest first.
Key = tuple[int, int, list[datetime], list[str]]


# A set of candidates of which at most one can be chosen (see `slot`).
Slot = tuple[str, str]


def conflict(a: Candidate, b: Candidate, groups: dict[str, int]) -> ReasonCode | None:
    """Why two candidates cannot both be used (the pairwise constraints), or None."""
    pa, pb = a.promotion, b.promotion
    # (one coupon per line at item level needs no rule here: each line takes one item-level offer)
    if pa.is_coupon and pb.is_coupon and pa.level == pb.level:
        if pa.level == Level.PLATFORM:
            return ReasonCode.GROUP_LIMIT
        if pa.level == Level.SHOP and a.shops & b.shops:
            return ReasonCode.GROUP_LIMIT
    if (pa.exclusive or pb.exclusive) and pa.level in ORDER_LEVELS and pb.level in ORDER_LEVELS:
        if set(a.lines) & set(b.lines):
            return ReasonCode.EXCLUSIVE_CONFLICT
    if pa.group and pa.group == pb.group and groups.get(pa.group, 1) == 1:
        return ReasonCode.GROUP_LIMIT
    return None


def pairs(cands: list[Candidate]) -> list[tuple[int, int]]:
    """The pairs (a < z, indices into `cands`) that a constraint could tie: every pair `conflict`
    or a shared group can tie is among them (and item-level ones on a line, which compete for
    it): coupons of the platform, of a shop; members of a group; an `exclusive` one and those
    on its lines. Not every pair: a 200-coupon wallet has 20,000."""
    buckets: dict[tuple[str, str], list[int]] = {}
    on_line: dict[int, list[int]] = {}
    for k, c in enumerate(cands):
        p = c.promotion
        keys = [("group", p.group)] if p.group else []
        if p.is_coupon and p.level == Level.PLATFORM:
            keys.append(("platform", ""))
        elif p.is_coupon and p.level == Level.SHOP:
            keys += [("shop", shop) for shop in c.shops]
        elif p.level == Level.ITEM:
            keys += [("line", str(i)) for i in c.lines]
        for key in keys:
            buckets.setdefault(key, []).append(k)
        for i in c.lines:
            on_line.setdefault(i, []).append(k)
    found = {(a, z) for ks in buckets.values() for n, a in enumerate(ks) for z in ks[n + 1:]}
    for k, c in enumerate(cands):
        if c.promotion.exclusive:
            found |= {(min(k, j), max(k, j)) for i in c.lines for j in on_line[i] if j != k}
    return sorted(found)


def fits(chosen: list[Candidate], extra: Candidate, groups: dict[str, int]) -> bool:
    """Can `extra` join `chosen` (a feasible set) without breaking a constraint?"""
    group = extra.promotion.group
    if group and sum(c.promotion.group == group for c in chosen) >= groups.get(group, 1):
        return False
    return all(conflict(extra, c, groups) is None for c in chosen)


def expiry(c: Candidate) -> datetime:
    return c.wallet.expires if c.wallet and c.wallet.expires else FAR_FUTURE


def seated(pricing: Pricing) -> set[str]:
    """The promotions that apply in `pricing`: they take something off or give a gift. Only
    these take a seat (a slot, a group place, an `exclusive` conflict): one that does not apply
    keeps nothing out (language.md §4.5)."""
    return {name for name, off in pricing.applied.items() if off > 0} | {gift[0] for gift in pricing.gifts}


def choice_key(pricing: Pricing, chosen: list[Candidate], free: set[str]) -> Key:
    """Lowest payable; then fewer coupons; then earlier-expiring wallet entries; then names of
    the promotions chosen among (`free`). Only what applies counts: a coupon that takes
    nothing off is not used."""
    on = seated(pricing)
    used = [c for c in chosen if c.promotion.name in on]
    coupons = [c for c in used if c.promotion.is_coupon]
    return (pricing.payable, len(coupons), sorted(expiry(c) for c in coupons),
            sorted(c.promotion.name for c in used if c.promotion.name in free))


def settled(sitting: list[Candidate], cands: list[Candidate], optional: Callable[[Candidate], bool],
            groups: dict[str, int]) -> frozenset[str]:
    """The enabled set that a choice whose applying promotions are `sitting` stands for: those,
    and every automatic promotion they do not keep out (which then takes nothing off). Choices
    that differ only in promotions that do not apply price the same; this names them one way."""
    names = {c.promotion.name for c in sitting}
    return frozenset(names | {c.promotion.name for c in cands
                              if not optional(c) and c.promotion.name not in names and fits(sitting, c, groups)})


def _never(c: Candidate) -> bool:
    return False


def _is_coupon(c: Candidate) -> bool:
    return c.promotion.is_coupon


def split(prep: Prepared) -> tuple[list[Candidate], list[Candidate], Callable[[Candidate], bool]]:
    """(fixed, free, optional): the candidates that always apply, those the search chooses
    among, and which of those the buyer may leave out (coupons, unless `selected`)."""
    # no closures here: compiled, a closure and its environment refer to each other, a cycle
    # every evaluate would leave to the garbage collector (tests/pricing/test_no_cycles.py)
    groups = prep.plan.groups
    cands = prep.candidates
    # With `selected` coupons the buyer has chosen: they are tried like automatic promotions.
    optional: Callable[[Candidate], bool] = _never if prep.request.selected else _is_coupon
    members: dict[str, int] = {}
    for c in cands:
        if c.promotion.group:
            members[c.promotion.group] = members.get(c.promotion.group, 0) + 1
    # Every conflict involves a coupon, an exclusive promotion or a group member.
    constrained = [c for c in cands if c.promotion.is_coupon or c.promotion.exclusive or c.promotion.group]
    is_constrained = set(map(id, constrained))
    free_ids: set[int] = set()
    for c in cands:
        oversubscribed = c.promotion.group and members[c.promotion.group] > groups.get(c.promotion.group, 1)
        others = cands if id(c) in is_constrained else constrained
        if optional(c) or oversubscribed or any(conflict(c, o, groups) for o in others if o is not c):
            free_ids.add(id(c))
    return [c for c in cands if id(c) not in free_ids], [c for c in cands if id(c) in free_ids], optional


def slot(c: Candidate, groups: dict[str, int]) -> Slot:
    """A set of candidates of which at most one can be chosen, that `c` belongs to."""
    p = c.promotion
    if p.is_coupon and p.level == Level.PLATFORM:
        return ("platform-coupon", "")
    if p.is_coupon and p.level == Level.SHOP and c.shops:
        return ("shop-coupon", min(c.shops))
    if p.group and groups.get(p.group, 1) == 1:
        return ("group", p.group)
    return ("alone", p.name)
