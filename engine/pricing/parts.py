"""Splitting the choice of coupons into parts that cannot interact (docs/evaluation.md §10).

Two free candidates interact when a constraint ties them (a slot, a group, an `exclusive`
overlap), or when one can change what a promotion that either of them touches gives. A
promotion's outcome can change only if something lowers its base (an item-level candidate on
its lines; in progressive mode also an earlier shop or platform one on its lines), and only if
that matters: its conditions or benefit respond within the range its base can take, or its
lines may run out of room. Parts that share nothing of the kind are solved alone, and their best
choices together are the best choice: the payables add up, and the tie-breaks (fewer coupons,
earlier expiries, first names, each a sorted list) are decided part by part.

Global ties: when `min_payment` may bind, or a promotion reads `cart.amount` (which any
item-level candidate changes), everything is one part.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.base.enums import ORDER_LEVELS, Level, Stage
from engine.plan import benefits as b
from engine.pricing.bounds import MaxOffers, group_offers
from engine.pricing.constraints import pairs
from engine.pricing.price import payable_now
from engine.pricing.state import Candidate, Prepared


def parts(prep: Prepared, fixed: list[Candidate], free: list[Candidate],
          tied: Callable[[Candidate, Candidate], bool], slot: Callable[[Candidate], object],
          bounds: MaxOffers | None = None) -> list[list[Candidate]]:
    """The free candidates in parts that cannot interact; `tied(a, b)`: a constraint between
    two of them; `slot(c)`: the set of candidates of which at most one applies that c is in.
    In the order of `free` within each part, parts by their first member."""
    if len(free) < 2:
        return [free]
    return _Split(prep, fixed, free, slot, bounds or MaxOffers(prep)).parts(tied)


class _Split:
    def __init__(self, prep: Prepared, fixed: list[Candidate], free: list[Candidate],
                 slot: Callable[[Candidate], object], bound: MaxOffers) -> None:
        self.prep, self.free, self.slot = prep, free, slot
        self.progressive = prep.plan.stacking == "progressive"
        self.cands = fixed + free
        self.bound = bound
        self.lines = {id(c): frozenset(c.lines) for c in self.cands}
        self.low = self._lowest()
        self.parent = list(range(len(free)))
        self.count = len(free)  # parts so far: at 1 there is nothing left to find
        self.on_line: dict[int, list[int]] = {}  # line -> the free candidates on it
        self.items_on_line: dict[int, list[int]] = {}  # line -> the free item-level candidates on it
        for k, c in enumerate(free):
            for i in c.lines:
                self.on_line.setdefault(i, []).append(k)
                if c.promotion.level == Level.ITEM:
                    self.items_on_line.setdefault(i, []).append(k)
        self.tight_for: dict[frozenset[int], bool] = {}  # by a promotion's lines: see `_tight`

    def parts(self, tied: Callable[[Candidate, Candidate], bool]) -> list[list[Candidate]]:
        free, lines = self.free, self.lines
        if self._coupled():
            return [free]
        for a, z in pairs(free):
            # item-level candidates on one line compete for it: which one wins is one decision
            if tied(free[a], free[z]) or free[a].promotion.level == free[z].promotion.level == Level.ITEM and (
                    lines[id(free[a])] & lines[id(free[z])]):
                self._join([a, z])
        index = {id(c): k for k, c in enumerate(free)}
        # Whether a promotion joins its movers does not depend on the order they are looked at
        # (only whether they are joined already, which makes the join a no-op): the promotions on
        # the most lines first, which join the most, so the later ones are often skipped without
        # asking whether they respond, and a progressive cart that is one part ends early.
        for promo in sorted(self.cands, key=lambda c: -len(c.lines)):
            if self.count == 1:
                return [free]
            if promo.promotion.level == Level.ITEM:
                continue  # item level sees list amounts only
            tight = self._tight(promo)
            if tight or self.progressive or promo.promotion.level == Level.SHIPPING:
                near = sorted({k for i in promo.lines for k in self.on_line.get(i, ())})
                movers = [k for k in near if free[k] is not promo and self._moves(free[k], promo, tight)]
            else:  # parallel mode, room to spare: only the item level moves its base
                movers = sorted({k for i in promo.lines for k in self.items_on_line.get(i, ())})
            ks = movers + ([index[id(promo)]] if id(promo) in index else [])
            if movers and len({self._root(k) for k in ks}) > 1 and (tight or self._responds(promo)):
                self._join(ks)
        out: dict[int, list[Candidate]] = {}
        for k, c in enumerate(free):
            out.setdefault(self._root(k), []).append(c)
        return list(out.values())

    def _root(self, k: int) -> int:
        parent = self.parent
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def _join(self, ks: list[int]) -> None:
        first = self._root(ks[0])
        for k in ks[1:]:
            other = self._root(k)
            if other != first:
                self.parent[other] = first
                self.count -= 1

    def _coupled(self) -> bool:
        prep = self.prep
        if prep.plan.min_payment > 0:
            gross = sum(payable_now(prep, i, top) for i, top in enumerate(prep.top)) + sum(prep.request.shipping.values())
            if gross - sum(self.bound(c) for c in self.cands) < prep.plan.min_payment:
                return True  # discounts may be taken back, which ties every promotion to every other
        items_move = any(c.promotion.level == Level.ITEM for c in self.free)
        return items_move and any(_reads_cart_amount(c) for c in self.cands)

    def _moves(self, mover: Candidate, promo: Candidate, tight: bool) -> bool:
        """Can choosing `mover` change the base of `promo` (it shares a line with it and comes
        before it), or, when `promo`'s lines may run out of room, the room it has?"""
        m, p = mover.promotion, promo.promotion  # they share a line
        if m.level == Level.ITEM or p.level == Level.SHIPPING:
            return True  # item level comes first; free shipping sees the goods after every discount
        return m.level in ORDER_LEVELS and (tight or self.progressive and m.order_key < p.order_key)

    def _responds(self, promo: Candidate) -> bool:
        """Can what `promo` offers change when its base falls as low as it can (an offer that
        grows with the base is the same at both ends only if it is the same in between)?"""
        p = promo.promotion
        if p.level == Level.SHIPPING or isinstance(p.benefit, b.Gift):
            # a condition decides whether it applies (and takes a seat), whatever it offers
            return bool(p.clauses) or isinstance(p.benefit, b.Tiers)
        if not p.monotone:
            return True
        return group_offers(self.prep, promo) != group_offers(self.prep, promo, self._lowest(promo))

    def _lowest(self, promo: Candidate | None = None) -> list[int]:
        """The lowest amount each line can have after item level (its best item-level discount
        taken), and, for `promo` in progressive mode, once every earlier shop or platform
        candidate on it has taken its bound too."""
        prep = self.prep
        if promo is None:
            low = list(prep.top)
            for c in self.cands:
                if c.promotion.level == Level.ITEM:
                    for g, off in zip(c.groups, group_offers(prep, c, prep.listed)):
                        i = g[0]
                        if not (i in prep.presale and prep.presale[i].stage != Stage.FULL):
                            low[i] = min(low[i], prep.listed[i] - off)
        else:
            low = list(self.low)
            if prep.plan.stacking == "progressive":
                for c in self.cands:
                    if c.promotion.level in ORDER_LEVELS and c.promotion.order_key < promo.promotion.order_key:
                        for i in self.lines[id(c)] & self.lines[id(promo)]:
                            low[i] -= self.bound(c)
        return [max(amount, prep.floors[i]) for i, amount in enumerate(low)]

    def _tight(self, promo: Candidate) -> bool:
        """Might `promo`'s lines run out of room: can the shop and platform candidates on them
        (`promo` too; one per slot, each its largest possible share of these lines) take more
        than the lines hold above their floors, even at their lowest amounts?"""
        lines = self.lines[id(promo)]
        known = self.tight_for.get(lines)
        if known is not None:
            return known
        room = sum(self.low[i] - self.prep.floors[i] for i in lines)
        taken: dict[object, int] = {}
        for c in self.cands:
            shared = lines & self.lines[id(c)]
            if c.promotion.level in ORDER_LEVELS and shared:
                key = self.slot(c)
                taken[key] = max(taken.get(key, 0), self._share(c, shared))
        tight = self.tight_for[lines] = sum(taken.values()) > room
        return tight

    def _share(self, c: Candidate, lines: frozenset[int]) -> int:
        """The most of `c`'s discount that can land on `lines`: in parallel mode a discount split
        by the lines' bases gives them at most their top amounts over the group's lowest base
        (plus a unit each for the remainders); else (progressive: the amounts it sees depend on
        the promotions before it), or for a discount that belongs to units, all of it."""
        bound = self.bound(c)
        benefit = c.promotion.benefit
        by_units = isinstance(benefit, (b.PriceEach, b.NthUnit)) or isinstance(benefit, b.AmountOff) and benefit.each
        if self.prep.plan.stacking == "progressive" or by_units or isinstance(benefit, b.Tiers):
            return bound
        share = 0
        for group in c.groups:
            inside = [i for i in group if i in lines]
            if inside:
                group_low = max(1, sum(self.low[i] for i in group))
                share += -(-bound * sum(self.prep.top[i] for i in inside) // group_low) + len(inside)
        return min(bound, share)


def _reads_cart_amount(c: Candidate) -> bool:
    p = c.promotion
    tiers = p.benefit.tiers if isinstance(p.benefit, b.Tiers) else ()
    return any("cart.amount" in clause.reads for clause in p.clauses) or any("cart.amount" in t.text for t in tiers)
