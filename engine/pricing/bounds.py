"""Bounds for the combination search: the most a candidate can take off in any choice, and what
it offers each of its groups of lines at given bases.
"""

from __future__ import annotations

from engine.base.enums import Level
from engine.plan import benefits as b
from engine.plan.plan import Promotion
from engine.pricing.conditions import benefit_at
from engine.pricing.state import Candidate, Prepared


def max_offer(prep: Prepared, cand: Candidate) -> int:
    """An upper bound on what `cand` can take off the payable in any choice of promotions.

    Each benefit form grows with its base, and no choice gives a line more than its list amount
    (or its presale base); so the offer at those amounts bounds every other offer. A promotion
    whose conditions are monotone in amounts and fail even there can never apply (0); for others
    the conditions are ignored."""
    promo = cand.promotion
    if promo.level == Level.SHIPPING:
        most = sum(prep.request.shipping.get(shop, 0) for shop in cand.shops)
    else:
        most = sum(group_offers(prep, cand))
    cap = prep.caps.get(promo.name)  # a budget's remainder (a ledger's): pricing never gives more
    return most if cap is None else min(most, cap)


class MaxOffers:
    """`max_offer` of each candidate of one `Prepared`, by name, computed when first asked: the
    split into parts and each part's search share it."""

    def __init__(self, prep: Prepared) -> None:
        self.prep = prep
        self.known: dict[str, int] = {}

    def __call__(self, cand: Candidate) -> int:
        off = self.known.get(cand.promotion.name)
        if off is None:
            off = self.known[cand.promotion.name] = max_offer(self.prep, cand)
        return off


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
            benefit, _ = (benefit_at(prep, promo, facts, parts, explain=False) if promo.monotone or exact
                          else (promo.benefit, None))
            if benefit is not None:
                options = [t.benefit for t in benefit.tiers] if isinstance(benefit, b.Tiers) and not exact else [benefit]
                whole = promo.level != Level.ITEM
                off = max(b.discount_parts(x, parts, prep.plan.rounding, whole)[0] for x in options)
                off = min(off, sum(top[i] - min(prep.floors[i], top[i]) for i in idx))
        offers.append(off)
    return offers
