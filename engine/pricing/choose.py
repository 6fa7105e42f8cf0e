"""The choice of coupons and forced choices: the candidates split into parts that cannot interact,
each part searched alone (engine/pricing/search.py), and why each one left out is; and the
exhaustive reference the search must equal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

from engine.base.enums import ReasonCode
from engine.pricing.bounds import MaxOffers
from engine.pricing.constraints import (
    Key,
    choice_key,
    conflict,
    fits,
    seated,
    settled,
    slot,
    split,
)
from engine.pricing.explain import Minor, Reason
from engine.pricing.limits import Limits
from engine.pricing.parts import parts
from engine.pricing.price import run
from engine.pricing.search import Search
from engine.pricing.state import Candidate, Prepared, Pricing


@dataclass
class Choice:
    enabled: frozenset[str]
    pricing: Pricing
    left_out: dict[str, Reason]  # candidates not in the chosen set, with why
    evaluations: int = 0  # choices priced by the search (for benchmarks and traces)
    stopped: str | None = None  # why the search stopped before proving the choice optimal

    def reasons(self, prep: Prepared) -> dict[str, Reason]:
        """Why each promotion of the cart that is not in this choice did not apply: not a candidate
        (`prep.blocked`), failed where it was priced, or left out of the chosen set. A promotion
        applied in the choice may be among them (it failed in one shop): callers skip those."""
        return {**prep.blocked, **self.pricing.failed, **self.left_out}


def choose(prep: Prepared, explain: bool, limits: Limits = Limits()) -> Choice:
    fixed, free, optional = split(prep)
    groups = prep.plan.groups
    chosen: list[Candidate] = []
    evaluations, stopped, pricing = 0, None, None
    bounds = MaxOffers(prep)
    found = parts(prep, fixed, free, lambda a, c: conflict(a, c, groups) is not None
                  or bool(a.promotion.group) and a.promotion.group == c.promotion.group, lambda c: slot(c, groups),
                  bounds)
    for part in found:  # each solved alone; their best choices together are the best choice
        search = Search(prep, fixed, part, optional, explain, replace(limits, budget=max(1, limits.budget - evaluations)),
                         must_answer=part is not found[0], bounds=bounds)
        search.solve()
        # some choice stands (the one of the best outcome, see `Search._stands`), and with no
        # best found yet nothing is cut, so the search reaches it
        best = search.best
        assert best is not None
        chosen += best[1]
        pricing = best[2]
        evaluations += search.evaluations
        stopped = stopped or search.stopped
    if len(found) > 1 or pricing is None:
        pricing = run(prep, frozenset(c.promotion.name for c in fixed + chosen), explain)
    on = seated(pricing)
    sitting = [c for c in fixed + chosen if c.promotion.name in on]
    enabled = settled(sitting, prep.candidates, optional, prep.plan.groups)
    if enabled != frozenset(c.promotion.name for c in fixed + chosen):
        pricing = run(prep, enabled, explain)  # the same prices; reasons for the set as named
    left_out: dict[str, Reason] = {}
    if explain:
        with prep.trace.paused():
            for c in free:
                if c.promotion.name not in enabled:
                    left_out[c.promotion.name] = (
                        _why_left_out(prep, c, fixed, enabled, sitting, pricing) if not limits.past_deadline()
                        else Reason(ReasonCode.NOT_BEST_COMBINATION, {"why": "not explained: the deadline passed"}))
    return Choice(enabled, pricing, left_out, evaluations, stopped)


def exhaustive(prep: Prepared) -> tuple[Key, frozenset[str], Pricing, int]:
    """The reference the search must equal: price every set of candidates; a set is feasible when
    the promotions that apply in it respect the constraints and keep out every automatic
    promotion it leaves out; the lowest `choice_key` wins. Exponential: for tests and
    benchmarks. Returns (key, enabled names as `settled`, pricing, choices priced)."""
    groups = prep.plan.groups
    cands = prep.candidates
    optional = (lambda c: False) if prep.request.selected else (lambda c: c.promotion.is_coupon)
    free = {c.promotion.name for c in split(prep)[1]}
    best: tuple[Key, frozenset[str], Pricing] | None = None
    priced = 0
    for r in range(len(cands) + 1):
        for subset in combinations(cands, r):
            pricing = run(prep, frozenset(c.promotion.name for c in subset), False)
            priced += 1
            on = seated(pricing)
            sitting = [c for c in subset if c.promotion.name in on]
            if not all(fits(sitting[:k], c, groups) for k, c in enumerate(sitting)):
                continue
            if any(not optional(c) and c not in subset and fits(sitting, c, groups) for c in cands):
                continue
            key = choice_key(pricing, list(subset), free)
            if best is None or key < best[0]:
                best = (key, settled(sitting, cands, optional, groups), pricing)
    assert best is not None
    return (*best, priced)


def _why_left_out(prep: Prepared, cand: Candidate, fixed: list[Candidate], enabled: frozenset[str],
                  sitting: list[Candidate], pricing: Pricing) -> Reason:
    """Why a candidate is not in the chosen set, in the order of language.md §5: its own
    conditions first, then the constraint that excluded it (a promotion that applies), then
    the better set."""
    groups = prep.plan.groups
    name = cand.promotion.name
    alone = run(prep, frozenset(c.promotion.name for c in fixed) | {name})
    if name in alone.failed:
        return alone.failed[name]
    for other in sitting:
        why = conflict(cand, other, groups)
        if why:
            return Reason(why, {"winner": other.promotion.name}, winner=other.promotion.name)
    group = cand.promotion.group
    if group and sum(c.promotion.group == group for c in sitting) >= groups.get(group, 1):
        winner = next(c.promotion.name for c in sitting if c.promotion.group == group)
        return Reason(ReasonCode.GROUP_LIMIT, {"group": group, "winner": winner}, winner=winner)
    together = run(prep, enabled | {name})
    if name in together.failed:
        return together.failed[name]
    lost = {n: Minor(amount) for n, amount in pricing.applied.items() if together.applied.get(n, 0) < amount}
    detail = {"payable_with_it": Minor(together.payable), "payable_chosen": Minor(pricing.payable), "would_lose": lost}
    return Reason(ReasonCode.NOT_BEST_COMBINATION, detail, difference=together.payable - pricing.payable)
