"""Lower bounds of a scenario's unit price without pricing it, so that only the scenarios that could
beat the best found so far are priced.

A scenario is priced only if it could beat the best one found so far. Its lower bound is the
SKU line's base at the deepest item-level discount, less what every shop- and platform-level
promotion could place on that line: each one's offer at the lines' list amounts (benefits grow
with their base; a threshold not met there is never met), of which the SKU line gets at most
its share of the weights (rounded up) plus whatever the filler line cannot absorb; at most one
coupon per slot (one shop-level coupon per shop, one platform coupon) applies, so a slot counts
its largest member. Conditions other than thresholds are taken as met. A bound covers a filler
price range [lo, hi], so the raised-filler scenarios derived from a pruned one are pruned with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from fractions import Fraction

from engine.apps.analyze.scenarios import (
    Options,
    Scenario,
    ceil_div,
    filler_line,
    sku_line,
    touching,
)
from engine.apps.catalog import CatalogItem
from engine.base.enums import ORDER_LEVELS, Level
from engine.base.request import Line
from engine.plan import benefits as b
from engine.plan.plan import Plan, Promotion
from engine.plan.predicates import within
from engine.pricing.prepare import candidates_for


def _slot(p: Promotion) -> tuple[str, str]:
    """(level, name): the coupons of one level share one slot (name "")."""
    return (p.level, "" if p.is_coupon else p.name)


def _best_offer(p: Promotion, parts: list[b.Part], cart: tuple[int, int], rounding: str) -> tuple[int, list[int] | None]:
    """The most `p` can take off `parts` at these (largest possible) amounts: (off, unit-bound shares)."""
    facts = {"amount": sum(x.amount for x in parts), "quantity": sum(x.quantity for x in parts),
             "cart.amount": cart[0], "cart.quantity": cart[1]}

    def met(th) -> bool:
        return th is None or facts[th.attr] >= th.needed()

    if not all(met(c.threshold) for c in p.clauses):
        return 0, None
    ben = p.benefit
    options = [t.benefit for t in ben.tiers if met(t.threshold)] if isinstance(ben, b.Tiers) else [ben]
    whole = p.level != Level.ITEM
    best: tuple[int, list[int] | None] = (0, None)
    for option in options:
        off, shares = b.discount_parts(option, parts, rounding, whole)
        if isinstance(option, b.NthUnit):
            shares = [off] * len(parts)  # the discounted units may all be on one line
        if off > best[0]:
            best = (off, shares)
        elif off == best[0] and shares is not None and best[1] is not None:
            best = (off, [max(x, y) for x, y in zip(shares, best[1])])
    return best


def _ceil_share(off: int, weight: int, total: int) -> int:
    return off if total <= 0 else ceil_div(off * weight, total)


class Bounds:
    """Lower bounds of a scenario's unit price for one SKU under one plan (see above)."""

    def __init__(self, plan: Plan, item: CatalogItem, options: Options):
        self.plan, self.item, self.options = plan, item, options
        line = sku_line(item, 1)
        self.ok = not any(p.scope(line) for p in plan.presales)  # presale bases: not bounded
        promos = touching(plan, item, options.at)
        self.item_level = [p for p in promos if p.level == Level.ITEM]
        self.sku_promos = {p.name: p for p in promos if p.level in ORDER_LEVELS}
        # a scope that reads `price` may match a filler at one price of a range and not another
        self.price_free = not any(re.search(r"\bprice\b", p.scope_text) for p in plan.promotions)

    def _floor(self, line: Line) -> int:
        return self.plan.floor(line, self.options.at)

    def _matching(self, line: Line) -> dict[str, Promotion]:
        """Promotions active at `at` whose scope matches `line`."""
        at = self.options.at
        return {name: p for name, (p, _) in candidates_for(self.plan, [line]).items()
                if p.scope(line) and within(p.window, at)}

    def _item_off(self, promos: Iterable[Promotion], line: Line, cart: tuple[int, int]) -> int:
        """The deepest item-level discount of `line` in a cart of at most `cart` (amount, units)."""
        part = [b.Part(line.list_amount, line.quantity)]
        return max((_best_offer(p, part, cart, self.plan.rounding)[0] for p in promos
                    if not isinstance(p.benefit, b.Gift)), default=0)

    def variant_top(self, s: Scenario) -> int | None:
        """The highest filler price a raised variant of `s` can have (see `_variants`), without
        pricing `s`; None when there is no bound."""
        if s.filler_quantity != 1:
            return s.filler_price
        top = s.filler_price
        line = filler_line(self.item, s)
        promos = [p for p in self._matching(line).values() if p.level == Level.ITEM]
        if promos:
            # raised to price x price / base: the base is at least its list less the deepest discount
            cart = (line.list_amount + s.quantity * self.item.price, s.quantity + line.quantity)
            low = max(self._floor(line), line.list_amount - self._item_off(promos, line, cart))
            if low <= 0:
                return None
            top = max(top, ceil_div(s.filler_price * s.filler_price, low))
        if self.plan.stacking == "progressive":
            # topped up by what the shop level took from the SKU line: at most its list, and at
            # most what the shop level can place on it with a filler up to that price
            bound = self._scan(s, top + s.quantity * self.item.price)
            if bound is None:
                return None
            top += bound[1]
        return top

    def unit(self, s: Scenario, hi: int | None = None) -> Fraction:
        """A lower bound of the unit price of `s`, and of `s` with its filler priced up to `hi`."""
        bound = self._scan(s, s.filler_price if hi is None else hi)
        return Fraction(0) if bound is None else Fraction(bound[0], s.quantity)

    def _scan(self, s: Scenario, hi: int) -> tuple[int, int] | None:
        """A lower bound of the SKU line's final, and an upper bound of what the shop level places
        on it, for `s` with its filler priced anywhere from its price to `hi`; None without bounds."""
        plan, item = self.plan, self.item
        if not self.ok or (hi != s.filler_price and (plan.guards or not self.price_free)):
            return None
        q = s.quantity
        sku = sku_line(item, q)
        top = filler_line(item, replace(s, filler_price=hi))
        cart = (sku.list_amount + top.list_amount, q + top.quantity)  # the most the cart can be
        floor_s = self._floor(sku)
        base_s = max(floor_s, sku.list_amount - self._item_off(self.item_level, sku, cart))
        filler_promos: dict[str, Promotion] = {}
        floor_f = low_f = 0
        if s.filler_quantity:
            lo = filler_line(item, s)
            if any(p.scope(top) for p in plan.presales):
                return None
            filler_promos = self._matching(top)
            floor_f = self._floor(lo)
            item_f = [p for p in filler_promos.values() if p.level == Level.ITEM]
            low_f = max(floor_f, lo.list_amount - self._item_off(item_f, top, cart))
        progressive = plan.stacking == "progressive"
        took_f: dict[tuple[str, str], int] = {}  # slot -> most the filler gave to it so far
        part: dict[tuple[str, str], int] = {}  # slot -> most it places on the SKU line
        shared: dict[tuple[str, str], int] = {}  # slot -> most the filler absorbs of promotions shared with the SKU
        alone_f: dict[tuple[str, str], int] = {}  # slot -> most the filler absorbs of promotions without the SKU
        order_level = {**self.sku_promos, **{n: p for n, p in filler_promos.items() if p.level in ORDER_LEVELS}}
        for p in sorted(order_level.values(), key=lambda p: p.order_key):
            on_s, on_f = p.name in self.sku_promos, p.name in filler_promos
            slot = _slot(p)
            together = on_s and on_f and (p.level == Level.PLATFORM or top.shop == item.shop)
            if together:
                off, shares = _best_offer(p, [b.Part(sku.list_amount, q), b.Part(top.list_amount, top.quantity)], cart,
                                          plan.rounding)
                # progressive weights are what earlier promotions left: at most one per slot
                w_f = max(floor_f, low_f - sum(took_f.values())) if progressive else low_f
                w_s = max(floor_s, base_s - sum(part.values())) if progressive else base_s
                to_s = shares[0] if shares else _ceil_share(off, sku.list_amount, sku.list_amount + w_f)
                to_f = shares[1] if shares else _ceil_share(off, top.list_amount, top.list_amount + w_s)
                shared[slot] = max(shared.get(slot, 0), to_f)
            else:
                to_s = _best_offer(p, [b.Part(sku.list_amount, q)], cart, plan.rounding)[0] if on_s else 0
                to_f = _best_offer(p, [b.Part(top.list_amount, top.quantity)], cart, plan.rounding)[0] if on_f else 0
                alone_f[slot] = max(alone_f.get(slot, 0), to_f)
            part[slot] = max(part.get(slot, 0), to_s)
            took_f[slot] = max(took_f.get(slot, 0), to_f)
        # what the filler cannot absorb of the shared promotions' shares goes to the SKU line
        asked_shared = sum(shared.values())
        spill = min(asked_shared, max(0, asked_shared + sum(alone_f.values()) - (low_f - floor_f)))
        shop_level = sum(v for slot, v in part.items() if slot[0] == "shop")
        return max(floor_s, base_s - sum(part.values()) - spill), shop_level
