"""Which coupons to use and which member wins a forced choice among automatic promotions.

Automatic promotions always apply unless a constraint forces a choice; coupons are optional.
Constraints: one coupon per line at item level, one per shop at shop level, one at platform
level, declared groups, and `exclusive` (no shared line with another shop/platform promotion).
Among the feasible choices the one with the lowest payable wins; ties: fewer coupons, then
earlier-expiring wallet entries, then names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import combinations

from engine.evaluate import Candidate, Prepared, Pricing, run
from engine.explain import Minor, Reason

FAR_FUTURE = datetime.max.replace(tzinfo=timezone.utc)


@dataclass
class Choice:
    enabled: frozenset[str]
    pricing: Pricing
    left_out: dict[str, Reason]  # candidates not in the chosen set, with why


def _conflict(a: Candidate, b: Candidate, groups: dict[str, int]) -> str | None:
    """Why two candidates cannot both be used (pairwise part of the constraints), or None."""
    pa, pb = a.promotion, b.promotion
    if pa.is_coupon and pb.is_coupon and pa.level == pb.level:
        if pa.level == "platform":
            return "GROUP_LIMIT"
        if pa.level == "shop" and {a_i for a_i in _shops(a)} & {b_i for b_i in _shops(b)}:
            return "GROUP_LIMIT"
        if pa.level == "item" and set(a.lines) & set(b.lines):
            return "GROUP_LIMIT"
    if (pa.exclusive or pb.exclusive) and pa.level in ("shop", "platform") and pb.level in ("shop", "platform"):
        if set(a.lines) & set(b.lines):
            return "EXCLUSIVE_CONFLICT"
    if pa.group and pa.group == pb.group and groups.get(pa.group, 1) == 1:
        return "GROUP_LIMIT"
    return None


def _shops(c: Candidate) -> set[int]:
    return {g[0] for g in c.groups}  # one representative line index per shop group


def _feasible(chosen: list[Candidate], groups: dict[str, int]) -> bool:
    counts: dict[str, int] = {}
    for c in chosen:
        if c.promotion.group:
            counts[c.promotion.group] = counts.get(c.promotion.group, 0) + 1
            if counts[c.promotion.group] > groups.get(c.promotion.group, 1):
                return False
    return all(_conflict(a, b, groups) is None for a, b in combinations(chosen, 2))


def _expiry(c: Candidate) -> datetime:
    return c.wallet.expires if c.wallet and c.wallet.expires else FAR_FUTURE


def choose(prep: Prepared, explain: bool) -> Choice:
    groups = prep.plan.groups
    cands = prep.candidates
    # With `selected` coupons the buyer has chosen: they are tried like automatic promotions.
    optional = (lambda c: False) if prep.request.selected else (lambda c: c.promotion.is_coupon)
    members: dict[str, int] = {}
    for c in cands:
        if c.promotion.group:
            members[c.promotion.group] = members.get(c.promotion.group, 0) + 1

    # Every conflict involves a coupon, an exclusive promotion or a group member.
    constrained = [c for c in cands if c.promotion.is_coupon or c.promotion.exclusive or c.promotion.group]

    def is_free(c: Candidate) -> bool:
        oversubscribed = c.promotion.group and members[c.promotion.group] > groups.get(c.promotion.group, 1)
        others = cands if c in constrained else constrained
        return optional(c) or oversubscribed or any(_conflict(c, o, groups) for o in others if o is not c)

    free = [c for c in cands if is_free(c)]
    fixed = [c for c in cands if not is_free(c)]
    best = None
    for chosen in _choices(free, fixed, groups, optional):
        enabled = frozenset(c.promotion.name for c in fixed + chosen)
        pricing = run(prep, enabled, explain)
        key = (pricing.payable, sum(c.promotion.is_coupon for c in chosen),
               sorted(_expiry(c) for c in chosen if c.promotion.is_coupon),
               sorted(c.promotion.name for c in chosen))
        if best is None or key < best[0]:
            best = (key, enabled, pricing, chosen)
    _, enabled, pricing, chosen = best
    left_out = {}
    if explain:
        for c in free:
            if c.promotion.name in enabled:
                continue
            left_out[c.promotion.name] = _why_left_out(prep, c, fixed, chosen, groups, pricing)
    return Choice(enabled, pricing, left_out)


def _choices(free: list[Candidate], fixed: list[Candidate], groups: dict[str, int], optional):
    """Feasible subsets of the free candidates in which no automatic promotion is left out
    that could have been added: the buyer cannot refuse an automatic promotion."""
    n = len(free)
    if n > 14:  # the exhaustive search below is exponential; the optimal search replaces it
        yield from _greedy(free, fixed, groups)
        return
    for mask in range(1 << n):
        chosen = [free[i] for i in range(n) if mask >> i & 1]
        if not _feasible(fixed + chosen, groups):
            continue
        if any(not optional(c) and c not in chosen and _feasible(fixed + chosen + [c], groups) for c in free):
            continue
        yield chosen


def _greedy(free, fixed, groups):
    chosen: list[Candidate] = []
    for c in free:
        if _feasible(fixed + chosen + [c], groups):
            chosen.append(c)
    yield chosen


def _why_left_out(prep, cand: Candidate, fixed, chosen: list[Candidate], groups, pricing: Pricing) -> Reason:
    """Why a candidate is not in the chosen set, in the order of language.md §5: its own
    conditions first, then the constraint that excluded it, then the better set."""
    name = cand.promotion.name
    alone = run(prep, frozenset(c.promotion.name for c in fixed) | {name})
    if name in alone.failed:
        return alone.failed[name]
    for other in fixed + chosen:
        why = _conflict(cand, other, groups)
        if why:
            return Reason(why, {"winner": other.promotion.name}, winner=other.promotion.name)
    group = cand.promotion.group
    if group and sum(c.promotion.group == group for c in chosen) >= groups.get(group, 1):
        winner = next(c.promotion.name for c in chosen if c.promotion.group == group)
        return Reason("GROUP_LIMIT", {"group": group, "winner": winner}, winner=winner)
    together = run(prep, pricing_enabled_with(prep, chosen, cand))
    if name in together.failed:
        return together.failed[name]
    lost = {n: Minor(amount) for n, amount in pricing.applied.items() if together.applied.get(n, 0) < amount}
    detail = {"payable_with_it": Minor(together.payable), "payable_chosen": Minor(pricing.payable), "would_lose": lost}
    return Reason("NOT_BEST_COMBINATION", detail, difference=together.payable - pricing.payable)


def pricing_enabled_with(prep: Prepared, chosen: list[Candidate], extra: Candidate) -> frozenset[str]:
    """The chosen set plus `extra`."""
    names = {c.promotion.name for c in prep.candidates if not c.promotion.is_coupon}
    names |= {c.promotion.name for c in chosen}
    names.add(extra.promotion.name)
    return frozenset(names)
