"""Which coupons to use and which member wins a forced choice among automatic promotions.

Automatic promotions always apply unless a constraint forces a choice; coupons are optional.
Constraints: one coupon per line at item level, one per shop at shop level, one at platform
level, declared groups, and `exclusive` (no shared line with another shop/platform promotion).
Among the feasible choices the one with the lowest payable wins; ties: fewer coupons, then
earlier-expiring wallet entries, then names.

The search is an exact branch and bound over the promotions that are free to choose. Each is
bounded by `max_offer` (what it could take off in any choice). A partial choice cannot end below
its price less the bounds of what may still be added and less what its own promotions may gain
(`Search._slack`: adding a promotion can make an earlier one miss a threshold and so leave more
to a later one); the undiscounted order less every bound is a floor too. Branches that cannot
beat the best choice found are cut, and so are those that could at best tie it and would lose
the tie. In progressive mode the bound also counts what a later promotion must lose when coupons
before it lower its base past one of its steps (`Search._shrink`). The first choice tried is
the greedy one, so the bound bites early.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from engine.base.enums import ORDER_LEVELS, Level, Stage
from engine.plan import benefits as b
from engine.plan.plan import Promotion
from engine.pricing.bounds import MaxOffers, group_offers
from engine.pricing.conditions import benefit_at
from engine.pricing.constraints import (
    Key,
    Slot,
    choice_key,
    conflict,
    expiry,
    fits,
    pairs,
    seated,
    slot,
)
from engine.pricing.explain import Minor
from engine.pricing.limits import (
    STOPPED_BY_BUDGET,
    STOPPED_BY_DEADLINE,
    DeadlineExceeded,
    Limits,
)
from engine.pricing.price import payable_now, run
from engine.pricing.state import Candidate, Prepared, Pricing


class _Stop(Exception):
    """A limit was reached once a feasible choice was known: the search ends with it."""


class Search:
    """Branch and bound over the free candidates, in order of their bounds. A choice is a bit
    mask over `free`; the constraints between candidates are precomputed as masks."""

    def __init__(self, prep: Prepared, fixed: list[Candidate], free: list[Candidate],
                 optional: Callable[[Candidate], bool], explain: bool, limits: Limits = Limits(),
                 must_answer: bool = False, bounds: MaxOffers | None = None):
        self.prep, self.fixed, self.optional, self.explain = prep, fixed, optional, explain
        self.limits = limits
        self.must_answer = must_answer  # a later part of an answer begun: reach a choice whatever the clock
        self.stopped: str | None = None
        groups = prep.plan.groups
        self.progressive = prep.plan.stacking == "progressive"
        self._bound = bounds or MaxOffers(prep)  # max_offer, for the fixed ones only when asked
        # Automatic promotions first (each is in, or left out for the blocker chosen with it, so
        # the coupons after them can be compared on ties), item-level coupons next (they lower the
        # bases of all the rest); then the most promising first, so the first choice reached is
        # the greedy one: a strong incumbent.
        self.free = sorted(free, key=lambda c: (optional(c), c.promotion.level != Level.ITEM, -self._bound(c),
                                                expiry(c), c.promotion.name))
        n = len(self.free)
        self.bound = [self._bound(c) for c in self.free]
        self.slot = [slot(c, groups) for c in self.free]
        self.conflicts = [0] * n
        for a, z in pairs(self.free):
            if conflict(self.free[a], self.free[z], groups):
                self.conflicts[a] |= 1 << z
                self.conflicts[z] |= 1 << a
        self.with_fixed = [fits(fixed, c, groups) for c in self.free]
        # Groups allowing more than one member are counted; a group of one is a pairwise conflict.
        self.counted: dict[str, tuple[int, int]] = {}  # group -> (members as a mask, room left)
        for k, c in enumerate(self.free):
            g = c.promotion.group
            if g and groups.get(g, 1) > 1:
                mask, room = self.counted.get(g, (0, groups[g] - sum(f.promotion.group == g for f in fixed)))
                self.counted[g] = (mask | 1 << k, room)
        # Item-level candidates do not exclude one another: each line takes the best offer of
        # those chosen. Each has an exact offer per line: (line, offer).
        self.item_offers = [_item_offers(prep, c) if c.promotion.level == Level.ITEM else [] for c in self.free]
        # A coupon that can take nothing off never applies, so it takes no seat and changes
        # nothing: not worth trying. (A gift takes nothing off the payable but does apply.)
        self.useless = [bound == 0 and optional(c) and not isinstance(c.promotion.benefit, b.Gift)
                        for bound, c in zip(self.bound, self.free)]
        for k in self._dominated(optional):
            self.useless[k] = True
        self.free_names = {c.promotion.name for c in self.free}
        self.best: tuple[Key, list[Candidate], Pricing] | None = None
        self.evaluations = 0
        self.min_payment = prep.plan.min_payment
        # Shop, platform and shipping promotions in evaluation order, for `_slack`:
        # (index in `free` or -1 if fixed, lines as a bit mask, name, monotone, candidate).
        index = {id(c): k for k, c in enumerate(self.free)}
        self.steps: list[tuple[int, int, str, bool, Candidate]] = [
            (index.get(id(c), -1), sum(1 << i for i in c.lines), c.promotion.name, c.promotion.monotone, c)
            for c in sorted(fixed + free, key=lambda c: c.promotion.order_key) if c.promotion.level != Level.ITEM]
        self.item_free = sum(1 << k for k, c in enumerate(self.free) if c.promotion.level == Level.ITEM)
        self.free_lines = [sum(1 << i for i in c.lines) for c in self.free]
        # For `_shrink`: each step's candidate, whether its offer is a non-decreasing function of
        # its base alone, and which free candidates can only lower that base (`_feeds`); each
        # step's index by name (-1: item level); offers probed, memoized.
        self.step_cands = [c for c in sorted(fixed + free, key=lambda c: c.promotion.order_key)
                           if c.promotion.level != Level.ITEM]
        self.shrinkable = [self.progressive and _shrinkable(c) for c in self.step_cands]
        self.sum_based = [self.progressive and _sum_based(c) for c in self.step_cands]  # for `_ranges`
        self.group_bounds: dict[int, list[int]] = {}  # step -> max_offer of each of its groups
        self.before: dict[tuple[int, int], int] = {}  # see `_before`
        self.feeds: dict[int, int] = {}  # step -> mask, made when first needed (`_feeds`)
        self.rank = {c.promotion.name: -1 for c in fixed + free if c.promotion.level == Level.ITEM}
        self.rank.update((c.promotion.name, j) for j, c in enumerate(self.step_cands))
        self.probes: dict[tuple[str, int, int, int], int] = {}
        # Every choice pays at least the fixed promotions' price less what the free ones can take
        # off and what the fixed ones can still gain (`_slack`); and at least the undiscounted
        # order (what each line would be charged - list amount, presale base or deposit - plus
        # shipping) less every fixed promotion's bound.
        self.item_levels: dict[int, tuple[int, list[int], list[int]]] = {}  # see `_at_items`
        self.offers_at: dict[tuple[int, bool, tuple[int, ...], int], int] = {}  # see `offer_at`
        self.offer_tables: dict[tuple[int, bool], _Offers] = {}
        self.item_given: dict[int, list[int]] = {}  # see `_given`
        # (parallel mode) no fixed shop/platform promotion can gain when item-level ones lower its base
        self.fixed_monotone = all(c.promotion.monotone for c in fixed if c.promotion.level in ORDER_LEVELS)
        self.root_pricing = self.price(0)
        self.root_item = [listed - base for listed, base in zip(prep.listed, self.root_pricing.base)]
        root = self.root_pricing.payable
        everything = (1 << n) - 1
        slack = (self._slack(0, everything, self.root_pricing, self._ranges(0, everything, self.root_pricing))
                 if root > self.min_payment else -1)
        if slack == 0:  # the second floor is never higher: no fixed promotion takes off more than its bound
            self.floor_price = root
        else:
            gross = sum(payable_now(prep, i, top) for i, top in enumerate(prep.top)) + sum(prep.request.shipping.values())
            self.floor_price = gross - sum(self._bound(c) for c in fixed)
            if slack > 0:
                self.floor_price = max(self.floor_price, root - slack)

    def chosen(self, mask: int) -> list[Candidate]:
        return [c for k, c in enumerate(self.free) if mask >> k & 1]

    def price(self, mask: int) -> Pricing:
        # Past a limit the best choice found is the answer; with none found yet (the first
        # leaves are feasible but for rare seat checks) the budget waits and a deadline fails.
        if self.evaluations >= self.limits.budget and self.best is not None:
            self.stopped = STOPPED_BY_BUDGET
        elif self.limits.past_deadline():
            if self.best is None and not self.must_answer:
                raise DeadlineExceeded("the deadline passed before any coupon set was priced")
            self.stopped = STOPPED_BY_DEADLINE if self.best is not None else None
        if self.stopped:
            self._trace(mask, result=f"stopped: {self.stopped}")
            raise _Stop
        self.evaluations += 1
        names = frozenset(c.promotion.name for c in self.fixed + self.chosen(mask))
        return run(self.prep, names, self.explain)

    def fits(self, mask: int, k: int) -> bool:
        if not self.with_fixed[k] or self.conflicts[k] & mask:
            return False
        g = self.free[k].promotion.group
        if g in self.counted:
            members, room = self.counted[g]
            return (members & mask).bit_count() < room
        return True

    def solve(self) -> None:
        try:
            self._visit(0, 0, self.root_pricing)
        except _Stop:
            pass
        finally:
            self.offer_tables.clear()  # they refer back to the search: a cycle only the collector would free

    def _visit(self, i: int, mask: int, pricing: Pricing | None, banned: int = 0) -> None:
        """Decide free candidate i onwards. `pricing` is the price of `mask` if known; choices are
        priced only at the leaves and where the cheap bound cannot cut. Candidates after i may
        already be decided: chosen out of order (in `mask`) to block an automatic promotion, or
        `banned` (left out, in the branches where an earlier blocker was chosen instead)."""
        decided = mask | banned
        given = self._given(mask)
        while i < len(self.free) and (decided >> i & 1 or not self.fits(mask, i) or self.useless[i]
                                      or self.item_offers[i] and self.optional(self.free[i]) and not self._may_win(i, given)):
            # nothing to decide: decided already, or it cannot join (an automatic one is then
            # blocked, as allowed), or it is a coupon that can take nothing off (at item level:
            # no line where it could beat what the chosen ones already give)
            i += 1
        if i == len(self.free):
            if any(not self.optional(c) and not mask >> k & 1 and self.fits(mask, k) for k, c in enumerate(self.free)):
                return  # an automatic promotion that fits was left out: the buyer cannot refuse it
            pricing = pricing or self.price(mask)
            if not self._stands(mask, pricing):
                return
            chosen = self.chosen(mask)
            key = choice_key(pricing, self.fixed + chosen, self.free_names)
            if self.best is None or key < self.best[0]:
                self.best = (key, chosen, pricing)
                self._trace(mask, payable=Minor(pricing.payable), result="best so far")
            return
        if self.best is not None:
            cut, pricing = self._cut(i, mask, pricing, self.best[0], banned)
            if cut:
                return
        self._visit(i + 1, mask | 1 << i, None, banned)
        if self.optional(self.free[i]):
            self._visit(i + 1, mask, pricing, banned)
        elif self.free[i].promotion.group in self.counted:
            self._visit(i + 1, mask, pricing, banned)  # its group may fill up later
        else:
            # An automatic promotion is left out only by a promotion it conflicts with: choose
            # that blocker now, one branch per blocker (earlier ones banned in the later branches),
            # so the bound at once knows what the blocker keeps out.
            for j in range(i + 1, len(self.free)):
                if self.conflicts[i] >> j & 1 and not decided >> j & 1 and self.fits(mask, j):
                    self._visit(i + 1, mask | 1 << j, None, banned)
                    banned |= 1 << j

    def _stands(self, mask: int, pricing: Pricing) -> bool:
        """Is the choice `mask` (priced in `pricing`) feasible once only the promotions that
        apply take seats? An automatic promotion left out because of one that does not apply
        was refused: the choice stands only if, added, none of those applies either (then
        nothing changes: a promotion that does not apply alters no other one's amounts)."""
        on = seated(pricing)
        sitting = [c for c in self.fixed + self.chosen(mask) if c.promotion.name in on]
        groups = self.prep.plan.groups
        out = [k for k, c in enumerate(self.free)
               if not self.optional(c) and not mask >> k & 1 and fits(sitting, c, groups)]
        if not out:
            return True
        tried = seated(self.price(mask | sum(1 << k for k in out)))
        return not any(self.free[k].promotion.name in tried for k in out)

    def _cut(self, i: int, mask: int, pricing: Pricing | None, best: Key, banned: int) -> tuple[bool, Pricing | None]:
        """Can no completion of `mask` beat the best choice found? (and the price of `mask`, if
        it had to be computed for the tighter bound)"""
        slots: dict[Slot, list[int]] = {}  # order-level candidates that can still be added
        items = 0  # item-level ones that may still win a line
        decided = mask | banned
        given = self._given(mask)
        for k in range(i, len(self.free)):  # candidates that exclude one another count once
            if not decided >> k & 1 and self.fits(mask, k):
                if self.item_offers[k]:
                    items |= 1 << k if self._may_win(k, given) else 0
                else:
                    slots.setdefault(self.slot[k], []).append(k)
        tie_cut = not items  # item-level ones that may still be added can take a chosen one's lines
        if not self.progressive and (not items or self.fixed_monotone):
            # Parallel mode: the bases the chosen item level leaves are the most any order-level
            # promotion can see (more item-level discounts only lower them), and exactly what it
            # sees once the item level is decided. A monotone offer at those bases bounds it, and
            # the fixed ones give no more once others are added (they only lose room or base).
            # So a completion pays at least the price of the chosen item level less those
            # offers of the order-level ones chosen and addable, less what the item-level ones
            # still addable can take off each line beyond it.
            payable, bases, now = self._at_items(mask & self.item_free)
            bounds: list[int] | _Offers = self._offers(mask & self.item_free, bases, exact=not items)
            addable = sum(self._tops(slots, bounds).values())
            bound = (payable - sum(bounds[k] for k in range(len(self.free)) if mask >> k & 1 and not self.item_offers[k])
                     - addable - self._item_gain(items, now))
        else:
            # every base an order-level promotion can see in a completion is at most what the
            # chosen item level leaves (progressive mode: promotions before it only lower it)
            chosen_items = mask & self.item_free
            bounds = self._offers(chosen_items, [listed - off for listed, off in zip(self.prep.listed, given)], exact=False) \
                if chosen_items else self.bound
            tops = self._tops(slots, bounds)
            addable = sum(tops.values())
            with_items = self._item_gain(mask & self.item_free | items, self.root_item)
            # Always valid: no promotion takes off more than its bound, no line more than its best offer.
            bound = (self.floor_price - sum(bounds[k] for k in range(len(self.free)) if mask >> k & 1 and not self.item_offers[k])
                     - with_items - addable)
        if bound <= best[0] and self.progressive:
            # The price of `mask`, less what can still be added and what its promotions can gain.
            # (In parallel mode the bounds are the offers themselves; pricing would rarely help.)
            pricing = pricing or self.price(mask)
            if pricing.payable > self.min_payment:
                remaining = sum(1 << k for ks in slots.values() for k in ks) | items
                now = [listed - base for listed, base in zip(self.prep.listed, pricing.base)]
                ranges = self._ranges(mask, remaining, pricing)
                priced = pricing.payable - self._slack(mask, remaining, pricing, ranges) - addable - self._item_gain(items, now)
                bound = max(bound, priced)
                if bound <= best[0]:
                    # Tighter still, but paying it need not fill every slot: no tie cut on it.
                    refined = priced + self._shrink(slots, pricing, tops, self._line_gains(items, now), ranges)
                    if refined > bound:
                        bound, tie_cut = refined, False
        if bound == best[0] and tie_cut and mask & self.item_free:
            pricing = pricing or self.price(mask)  # which chosen item-level ones win a line
        if bound > best[0] or bound == best[0] and tie_cut and self._loses_tie(mask, slots, best, pricing, bounds):
            self._trace(mask, bound=Minor(max(bound, 0)), result="cut: cannot beat the best choice")
            return True, pricing
        return False, pricing

    def _tops(self, slots: dict[Slot, list[int]], bounds: list[int] | _Offers) -> dict[Slot, int]:
        """The most each slot can still add: its largest offer in `bounds` (their sum: what the
        slots can add). An offer is never above its candidate's bound, so members whose bound
        the slot's best already reaches are not asked (each ask may compute an offer)."""
        tops: dict[Slot, int] = {}
        for key, ks in slots.items():
            top = 0
            for k in ks:
                if self.bound[k] > top:
                    top = max(top, bounds[k])
            tops[key] = top
        return tops

    def _dominated(self, optional: Callable[[Candidate], bool]) -> list[int]:
        """Coupons another coupon always does at least as well as: the same level, lines, group,
        `exclusive` and benefit (at item level: the same offer on every line), conditions no
        harder (each threshold no higher), and first on the tie-breaks (earlier expiry, then
        name). Wherever the dominated one applies the other applies with the same discount and
        the same conflicts, and wins the tie; where it does not apply it changes nothing. In
        progressive mode above item level each promotion sees what the earlier ones on its lines
        leave, so two such coupons are alike only if no other promotion on those lines comes
        between them in that order (`_places`; c03 after the automatic c02 sees less than c01
        before it: a brute-force find)."""
        by_kind: dict[tuple[Any, ...], list[int]] = {}
        for k, c in enumerate(self.free):
            p = c.promotion
            # a budget's cut makes a coupon give less than its text says: never alike another
            if optional(c) and not isinstance(p.benefit, (b.Tiers, b.Gift)) and p.name not in self.prep.caps:
                what = (tuple(self.item_offers[k]) if self.item_offers[k]
                        else (p.benefit, tuple(t.text for t in p.clauses if t.threshold is None)))
                by_kind.setdefault((p.level, c.lines, c.groups, p.group, p.exclusive, what), []).append(k)
        out = []
        for kind in by_kind.values():
            runs = self._places(kind) if self.progressive and not self.item_offers[kind[0]] else [kind]
            for ks in runs:
                ks.sort(key=lambda k: (expiry(self.free[k]), self.free[k].promotion.name))
                for n, k in enumerate(ks):
                    if any(self.item_offers[k] or _no_harder(self.free[j].promotion, self.free[k].promotion) for j in ks[:n]):
                        out.append(k)
        return out

    def _places(self, kind: list[int]) -> list[list[int]]:
        """Alike order-level coupons (`kind`, all on the same lines) in runs of those that no other
        shop, platform or shipping promotion on their lines separates in the evaluation order."""
        members = sorted(kind, key=lambda k: self.free[k].promotion.order_key)
        names = {self.free[k].promotion.name for k in kind}
        lines = set(self.free[kind[0]].lines)
        others = sorted(c.promotion.order_key for c in self.prep.candidates
                        if c.promotion.level != Level.ITEM and c.promotion.name not in names and lines.intersection(c.lines))
        runs: list[list[int]] = []
        seen = -1  # how many of `others` come before the current run
        for k in members:
            before = bisect_left(others, self.free[k].promotion.order_key)
            if before != seen:
                runs.append([])
                seen = before
            runs[-1].append(k)
        return runs

    def _at_items(self, items: int) -> tuple[int, list[int], list[int]]:
        """Parallel mode, for the chosen item-level candidates `items`: the payable with only
        those and the fixed candidates, the bases that item level leaves, and each line's
        item-level discount."""
        found = self.item_levels.get(items)
        if found is None:
            pricing = self.price(items)
            now = [listed - base for listed, base in zip(self.prep.listed, pricing.base)]
            found = self.item_levels[items] = (pricing.payable, pricing.base, now)
        return found

    def _offers(self, items: int, bases: list[int], exact: bool) -> _Offers:
        table = self.offer_tables.get((items, exact))
        if table is None:
            table = self.offer_tables[(items, exact)] = _Offers(self, bases, sum(bases), exact)
        return table

    def offer_at(self, k: int, bases: list[int], total: int, exact: bool) -> int:
        """Free order-level candidate k's offer at item-level `bases` (parallel mode), memoized
        by the bases of its own lines: `exact` (the item level is final) for any promotion,
        else a bound only for a monotone one (others: `max_offer`); shipping: its fees."""
        c = self.free[k]
        if c.promotion.level == Level.SHIPPING or not (exact or c.promotion.monotone):
            return self.bound[k]
        key = (k, exact, tuple([bases[i] for i in c.lines]), total)
        off = self.offers_at.get(key)
        if off is None:
            off = self.offers_at[key] = sum(group_offers(self.prep, c, bases))
        return off

    def _given(self, mask: int) -> list[int]:
        """What each line surely takes off at item level in a completion of `mask`: the best of
        the fixed item-level offers and those of the chosen item-level candidates (but for those
        a budget cuts)."""
        items = mask & self.item_free
        given = self.item_given.get(items)
        if given is None:
            given = list(self.root_item)
            for k in self._bits(items):
                if self.free[k].promotion.name in self.prep.caps:
                    continue  # a budget may cut it on some of its lines: nothing sure
                for i, off in self.item_offers[k]:
                    given[i] = max(given[i], off)
            self.item_given[items] = given
        return given

    def _may_win(self, k: int, given: list[int]) -> bool:
        """Could item-level candidate k win one of its lines, given what the lines surely take
        off (a tie with that is decided by priority and name)?"""
        return any(off > 0 and off >= given[i] for i, off in self.item_offers[k])

    def _item_gain(self, candidates: int, now: list[int]) -> int:
        """What the item-level candidates in `candidates` (a mask) can take off beyond `now` (the
        item-level discount of each line): per line, their best offer above it."""
        return sum(self._line_gains(candidates, now).values())

    def _line_gains(self, candidates: int, now: list[int]) -> dict[int, int]:
        """Per line, what the item-level candidates in `candidates` can take off beyond `now`
        (lines where that is positive)."""
        best: dict[int, int] = {}
        for k in self._bits(candidates):
            for i, off in self.item_offers[k]:
                if off > best.get(i, 0):
                    best[i] = off
        return {i: off - now[i] for i, off in best.items() if off > now[i]}

    @staticmethod
    def _bits(mask: int) -> list[int]:
        out = []
        while mask:
            low = mask & -mask
            out.append(low.bit_length() - 1)
            mask ^= low
        return out

    def _loses_tie(self, mask: int, slots: dict[Slot, list[int]], best: Key, pricing: Pricing | None,
                   bounds: list[int] | _Offers) -> bool:
        """When a completion of `mask` can at best pay what the best choice pays: can it not win
        the tie either? To pay the bound it must fill every slot that can take something off with
        a member whose bound is the slot's, and take nothing else that is a coupon; so it uses
        at least that many coupons, and its expiries and names are at best the earliest and
        first of each slot's such members. The chosen ones count only if they surely apply in
        such a completion: each must take off its bound (> 0), or, where `mask` was priced, keep
        what it takes off now (> 0); an item-level one applies where it wins a line in `pricing`
        (no item-level candidate is left to add, so that is final). (Not decided when an automatic
        one may join, or a chosen one may not apply; fixed coupons, which may or may not apply,
        are left out of the count.)"""
        picks = []
        for ks in slots.values():
            if any(not self.optional(self.free[k]) for k in ks):
                return False
            top = max(bounds[k] for k in ks)
            if top > 0:
                picks.append([self.free[k] for k in ks if bounds[k] == top])
        on = seated(pricing) if pricing is not None else None
        chosen = []
        for k, c in enumerate(self.free):
            if not mask >> k & 1:
                continue
            if self.item_offers[k]:
                if on is not None and c.promotion.name in on:
                    chosen.append(c)
            elif bounds[k] == 0 or on is not None and c.promotion.name not in on:
                return False
            else:
                chosen.append(c)
        coupons = [c for c in chosen if c.promotion.is_coupon]
        expiries = sorted([expiry(c) for c in coupons] + [min(map(expiry, p)) for p in picks])
        names = sorted([c.promotion.name for c in chosen] + [min(c.promotion.name for c in p) for p in picks])
        return (len(coupons) + len(picks), expiries, names) >= best[1:]

    def _slack(self, mask: int, remaining: int, pricing: Pricing, ranges: dict[int, tuple[int, int, int]]) -> int:
        """How much more than in `pricing` (the price of `mask`, above `min_payment`) the fixed
        and chosen promotions can take off once some of `remaining` are added.

        Adding promotions only lowers the amounts the others see, so a monotone promotion gains
        only where one before it on the same lines may now give less: a promotion that failed a
        threshold leaves more to the next one (progressive mode), or takes less of the room
        above the floors. Such a promotion, or a non-monotone one whose inputs may change, can
        gain up to its bound; the others give at most what they give now. An item-level
        promotion that may be added changes `cart.amount` for all of them. Where `ranges`
        (`_ranges`) knows the most a monotone promotion can give, it gains at most that less
        what it gives now."""
        changed = bool(remaining & self.item_free)
        dirty = lost = 0  # lines whose amounts may change; lines a promotion may give less on
        slack = 0
        for j, (k, lines, name, monotone, cand) in enumerate(self.steps):
            if k >= 0 and not mask >> k & 1:
                if remaining >> k & 1:
                    dirty |= lines
                continue
            if changed or lines & dirty:
                applied = pricing.applied.get(name, 0)
                if lines & lost or not monotone:
                    gain = max(0, self._bound(cand) - applied)
                    known = ranges.get(j)
                    if monotone and known is not None:
                        gain = min(gain, max(0, known[2] - applied))
                    slack += gain
                dirty |= lines
                if applied:
                    lost |= lines
        return slack

    def _ranges(self, mask: int, remaining: int, pricing: Pricing) -> dict[int, tuple[int, int, int]]:
        """For fixed and chosen shop/platform promotions of a completion of `mask` (priced in
        `pricing`) that adds some of `remaining` (progressive mode): step j -> (shift, low, high),
        the least and the most it can give, and, for one group of lines, how much higher than
        now its base can be (`shift`). Steps whose lines nothing may change give what they give
        now and are not listed; nor are those nothing is known of.

        A step's group of lines G sees the amounts its lines have before it, which completions
        only lower (by at most D: what the candidates of `remaining` before it on G can take off,
        one per slot at its bound, and each line's best item-level offer above what it has now),
        less what the steps before it on G give. Each of those must have all its lines (of a
        group) in G, so that all of what it gives lands on G, and give within a known range:
        then G's base lies between B - D - (what they may give more) and B + (what they may give
        less), B its base now. A monotone promotion whose benefit is computed on the sum
        (`_sum_based`) gives at most its offer at the top of that range and at least its offer
        at the bottom, or the room G keeps above its floors there if that is less (item-level
        ones lower `cart.amount` too: the bottom is read with `cart.amount` lowered by all they
        can take off). Any other promotion gives between 0 and its group's `max_offer`; one with
        a budget's cap, or with a group that lines of an earlier step straddle, is not known,
        and neither is anything after it on its lines."""
        if not self.progressive:
            return {}
        prep = self.prep
        items = remaining & self.item_free
        gains = self._line_gains(items, [listed - base for listed, base in zip(prep.listed, pricing.base)]) if items else {}
        cart_amount = sum(pricing.base)
        cart_low = cart_amount - sum(gains.values())
        dirty = unsure = 0  # lines whose amounts may change; lines after a step nothing is known of
        for k in self._bits(items):
            dirty |= self.free_lines[k]
        records: list[tuple[int, int, int, int]] = []  # (a group's lines, gives now, least, most)
        out: dict[int, tuple[int, int, int]] = {}
        for j, (k, lines, name, _, cand) in enumerate(self.steps):
            if k >= 0 and not mask >> k & 1:
                if remaining >> k & 1:
                    dirty |= lines
                continue
            if not lines & dirty:
                continue  # nothing before it on its lines may change: it gives the same
            dirty |= lines
            promo = cand.promotion
            if promo.level == Level.SHIPPING:
                continue  # it takes nothing off the lines
            if lines & unsure or promo.name in prep.caps:
                unsure |= lines
                continue
            sum_based = self.sum_based[j]
            found: list[tuple[int, int, int, int]] = []
            shift = low_total = high_total = 0
            for g, idx in enumerate(cand.groups):
                group = sum(1 << i for i in idx)
                now = sum(pricing.discounts[i].get(name, 0) for i in idx)
                up = down = 0
                for lines_h, now_h, low_h, high_h in records:
                    if lines_h & group:
                        if lines_h & ~group:
                            break  # it may move what it gives between G and other lines
                        up += now_h - low_h
                        down += high_h - now_h
                else:
                    if sum_based:
                        base, quantity = self._group_base(j, idx, pricing)
                        drop: dict[Slot, int] = {}
                        for a in self._bits(remaining & self._before(j, g, group)):
                            drop[self.slot[a]] = max(drop.get(self.slot[a], 0), self.bound[a])
                        bottom = max(0, base - sum(drop.values()) - sum(gains.get(i, 0) for i in idx) - down)
                        room = max(0, bottom - sum(prep.floors[i] for i in idx))
                        least = min(self._offer_at(promo, bottom, quantity, cart_low), room)
                        most = self._offer_at(promo, base + up, quantity, cart_amount)
                    else:
                        least, most = 0, self._group_bounds(j)[g]
                    if least <= now <= most:
                        found.append((group, now, least, most))
                        shift, low_total, high_total = shift + up, low_total + least, high_total + most
                        continue
                found = []
                break
            if not found:
                unsure |= lines
                continue
            records += found
            if sum_based:
                out[j] = (shift, low_total, high_total)
        return out

    def _group_base(self, j: int, idx: tuple[int, ...], pricing: Pricing) -> tuple[int, int]:
        """The base step j's group `idx` has in `pricing` (its lines' amounts after item level
        less what the steps before it gave them) and its units."""
        base = quantity = 0
        for i in idx:
            amount = pricing.final[i]
            for name, off in pricing.discounts[i].items():
                if self.rank.get(name, -1) >= j:
                    amount += off  # given at or after step j (or, never here, by a non-candidate)
            base += amount
            quantity += self.prep.lines[i].quantity
        return base, quantity

    def _before(self, j: int, g: int, group: int) -> int:
        """The free shop/platform candidates before step j on the lines (`group`, a mask) of its
        group g, as a bit mask over `free` (item-level ones are counted by their gains)."""
        found = self.before.get((j, g))
        if found is None:
            key = self.step_cands[j].promotion.order_key
            found = self.before[(j, g)] = sum(
                1 << a for a, c in enumerate(self.free)
                if self.free_lines[a] & group and c.promotion.level in ORDER_LEVELS and c.promotion.order_key < key)
        return found

    def _group_bounds(self, j: int) -> list[int]:
        found = self.group_bounds.get(j)
        if found is None:
            found = self.group_bounds[j] = group_offers(self.prep, self.step_cands[j])
        return found

    def _base_now(self, j: int, pricing: Pricing) -> tuple[int, int] | None:
        """Step j's base in `pricing` (its lines' amounts after item level less what came before
        it) and its units; None if a line has a discount of a promotion that is not a candidate."""
        rank = self.rank
        base = quantity = 0
        for i in self.step_cands[j].lines:
            amount = pricing.base[i]
            for name, off in pricing.discounts[i].items():
                r = rank.get(name)
                if r is None:
                    return None
                if 0 <= r < j:
                    amount -= off
            base += amount
            quantity += self.prep.lines[i].quantity  # a line at 0.00 still counts its units
        return base, quantity

    def _shrink(self, slots: dict[Slot, list[int]], pricing: Pricing, tops: dict[Slot, int],
                gains: dict[int, int], ranges: dict[int, tuple[int, int, int]]) -> int:
        """How much more than `_slack` and `addable` allow a completion of the partial choice
        (priced in `pricing`, above `min_payment`) must pay, because what is added before a
        promotion on its lines lowers its base and so what it gives (progressive mode); 0 if
        nothing is known.

        A step P (a fixed or chosen promotion) qualifies when its offer is a non-decreasing
        function of its base alone (`_shrinkable`) and `ranges` (`_ranges`) knows it: every
        step before it on its lines that may change has all its lines among P's and gives
        within a known range, so P's base is at most B (now) + U (`shift`: what they may give
        less) less E, what the added candidates that come before P and touch only its lines
        (`_feeds`) and the item-level ones (on P's lines) take off; the slots all of whose
        members are such take off E <= M (the sum of their `tops`, as `_cut` counted them, and the
        item-level `gains` on P's lines) together, maybe less than M (a threshold missed, a
        floor). (Item-level ones also lower `cart.amount`, which only lowers a monotone offer.)
        P then gives at most its offer at B + U - E with its units now (fewer units once a line
        is at 0 only lower a monotone offer), and `_slack` allowed it at least what it gives now;
        every other promotion gains at most its `_slack`, every other slot gives at most its
        bound. So the completion pays at least the `_cut` bound plus min over 0 <= E <= M of
        (M - E + max(0, now - offer(B + U - E))). Each qualifying P gives a bound; the best
        counts."""
        best = 0
        for j, (shift, _, _) in ranges.items():
            if self.shrinkable[j] and pricing.applied.get(self.steps[j][2], 0) > 0:
                best = max(best, self._step_loss(j, slots, pricing, tops, gains, shift))
        return best

    def _step_loss(self, j: int, slots: dict[Slot, list[int]], pricing: Pricing, tops: dict[Slot, int],
                   gains: dict[int, int], shift: int) -> int:
        """min over 0 <= E <= M of (M - E + max(0, now - offer(B + U - E))) for step j, U = `shift`
        (see `_shrink`)."""
        cand = self.step_cands[j]
        promo = cand.promotion
        feeds = self.feeds.get(j)
        if feeds is None:
            feeds = self.feeds[j] = self._feeds(j)
        # M: the slots all of whose members can only lower P's base (at most as `_cut` counted
        # them: a completion pays at least its bound plus M - E + ...), and the item-level gains
        room = sum(gains.get(i, 0) for i in cand.lines)
        for key, ks in slots.items():
            if all(feeds >> k & 1 for k in ks):
                room += tops[key]
        if room == 0:
            return 0
        # P's base now: its lines' amounts after item level less what came before P
        found = self._base_now(j, pricing)
        if found is None:
            return 0  # not a candidate: claim nothing
        base, quantity = found
        base += shift  # the most it can be before E is taken off
        now = pricing.applied[promo.name]
        cart_amount = sum(pricing.base)
        if self._offer_at(promo, base, quantity, cart_amount) < now:
            return 0  # not the base the pricing saw: claim nothing
        # phi(x) = x + max(0, now - offer(x)) over x = B - E in [B - M, B]: on each level of the
        # (non-decreasing, stepwise) offer phi rises with x, so its least value is at the start
        # of a level; levels start where the offer steps up (binary search), a few at most.
        x = max(0, base - room)
        level = self._offer_at(promo, x, quantity, cart_amount)
        least = x + max(0, now - level)
        for _ in range(8):
            if level >= now or self._offer_at(promo, base, quantity, cart_amount) <= level:
                return room - base + least  # beyond x, phi(y) = y or no other level
            lo, hi = x + 1, base
            while lo < hi:
                mid = (lo + hi) // 2
                if self._offer_at(promo, mid, quantity, cart_amount) > level:
                    hi = mid
                else:
                    lo = mid + 1
            x, level = lo, self._offer_at(promo, lo, quantity, cart_amount)
            least = min(least, x + max(0, now - level))
        return room - base + min(least, x + 1)  # unexplored levels start above x: phi >= x + 1

    def _feeds(self, j: int) -> int:
        """The free candidates that can only lower step j's base, as a bit mask over `free`:
        shop or platform level, before it, on its lines only."""
        key, lines = self.step_cands[j].promotion.order_key, self.steps[j][1]
        return sum(1 << k for k, f in enumerate(self.free) if f.promotion.level in ORDER_LEVELS
                   and f.promotion.order_key < key and not sum(1 << i for i in f.lines) & ~lines)

    def _offer_at(self, promo: Promotion, base: int, quantity: int, cart_amount: int) -> int:
        """What `promo` (`_shrinkable`) offers lines of `quantity` units at amount `base`."""
        key = (promo.name, base, quantity, cart_amount)
        off = self.probes.get(key)
        if off is None:
            prep = self.prep
            parts = [b.Part(base, quantity)]
            with prep.trace.paused():
                benefit, _ = benefit_at(prep, promo, prep.facts(base, quantity, cart_amount), parts, False)
            off = 0 if benefit is None else b.discount_parts(benefit, parts, prep.plan.rounding, True)[0]
            self.probes[key] = off
        return off

    def _trace(self, mask: int, **data: Any) -> None:
        if self.prep.trace.on:
            self.prep.trace.event("search", chosen=[c.promotion.name for c in self.chosen(mask)], **data)


def _shrinkable(c: Candidate) -> bool:
    """Is what `c` offers at shop/platform level a non-decreasing function of its base amount
    (and units) alone: monotone conditions, one group of lines, a benefit computed on the sum?"""
    return len(c.groups) == 1 and _sum_based(c)


def _sum_based(c: Candidate) -> bool:
    """Is what `c` offers each of its groups of lines at shop/platform level a non-decreasing
    function of the group's base amount (and units) alone: monotone conditions, a benefit
    computed on the sum?"""
    p = c.promotion
    if p.level not in ORDER_LEVELS or not p.monotone:
        return False
    benefit = p.benefit
    options = [t.benefit for t in benefit.tiers] if isinstance(benefit, b.Tiers) else [benefit]
    return all(isinstance(x, (b.PercentOff, b.EveryOff)) or isinstance(x, b.AmountOff) and not x.each for x in options)


def _item_offers(prep: Prepared, c: Candidate) -> list[tuple[int, int]]:
    """What an item-level candidate takes off each of its lines: exact, since item level sees
    fixed facts (the line's list amount and the cart's list total); nothing on a line whose
    deposit presale fixes its price."""
    offers = group_offers(prep, c, prep.listed)
    return [(g[0], 0 if g[0] in prep.presale and prep.presale[g[0]].stage != Stage.FULL else off)
            for g, off in zip(c.groups, offers)]


class _Offers:
    """The order-level bounds at given item-level bases, looked up as `bounds[k]` like the
    static ones and computed only for the candidates asked about."""

    def __init__(self, search: Search, bases: list[int], total: int, exact: bool) -> None:
        self.search, self.bases, self.total, self.exact = search, bases, total, exact
        self.found: dict[int, int] = {}

    def __getitem__(self, k: int) -> int:
        off = self.found.get(k)
        if off is None:
            off = self.found[k] = self.search.offer_at(k, self.bases, self.total, self.exact)
        return off


def _no_harder(p: Promotion, q: Promotion) -> bool:
    """Are `p`'s conditions met wherever `q`'s are? The same plain clauses (compared by their
    text when the kinds are grouped), and each threshold of `q` matched by one of `p` on the
    same attribute, no higher."""
    mine = [t.threshold for t in p.clauses if t.threshold is not None]
    theirs = [t.threshold for t in q.clauses if t.threshold is not None]
    return len(mine) == len(theirs) and all(
        any(m.attr == t.attr and m.needed() <= t.needed() for m in mine) for t in theirs) and all(
        any(m.attr == t.attr and m.needed() <= t.needed() for t in theirs) for m in mine)

