"""The lowest unit price of one SKU: the scenarios priced in order of their lower bounds until
none left can beat the best; the warning line; each finding with its what-ifs.
"""


from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

from engine.apps.analyze.bounds import Bounds
from engine.apps.analyze.scenarios import (
    Options,
    Priced,
    Scenario,
    ceil_div,
    filler_scenarios,
    price,
    quantities,
    sku_line,
    targets,
    touching,
)
from engine.apps.analyze.variants import Split, remove_from, split_orders
from engine.apps.catalog import CatalogError, CatalogItem
from engine.base.enums import Level
from engine.plan.plan import Plan


@dataclass(frozen=True)
class WhatIf:
    kind: str  # remove | stacking
    subject: str  # the promotion removed, or the other stacking mode
    lowest: Fraction
    best: Priced


@dataclass(frozen=True)
class Finding:
    item: CatalogItem
    best: Priced
    scenarios: int  # carts priced for the lowest price (what-ifs not counted)
    warning: Fraction | None  # warning line per unit
    warning_source: str  # "catalog", `warning "name"`, or ""
    split: Split | None
    what_ifs: tuple[WhatIf, ...] = ()
    guard: tuple[str, int] | None = None  # the guard whose floor holds the best price: (name, floor of the line)

    @property
    def lowest(self) -> Fraction:
        return self.best.unit

    @property
    def below(self) -> bool:
        return self.warning is not None and self.lowest < self.warning








# ---- the search --------------------------------------------------------------------------------


def _rank(p: Priced) -> tuple:
    return (p.unit, p.scenario.key())


def _variants(plan: Plan, s: Scenario, p: Priced) -> list[Scenario]:
    """Fillers raised after pricing `s`: to the price whose base is the gap when the filler took
    an item-level discount; in progressive stacking, topped up by what the shop level took."""
    out = []
    if s.filler_quantity == 1 and 0 < p.filler_base < s.filler_price:
        out.append(replace(s, filler_price=ceil_div(s.filler_price * s.filler_price, p.filler_base)))
    if plan.stacking == "progressive" and s.filler_quantity == 1:
        taken = sum(amount for name, amount in p.discounts if plan.by_name[name].level == Level.SHOP)
        if taken:
            out.append(replace(s, filler_price=s.filler_price + taken))
    return out


def lowest(plan: Plan, item: CatalogItem, options: Options,
           alone: dict[int, Priced] | None = None) -> tuple[Priced, int, dict[int, Priced]]:
    """The scenario with the lowest unit price, how many carts were priced, and the alone
    scenarios by quantity. `alone` (from the same SKU under a plan with the same item level)
    supplies the bases the filler targets are measured on; without it 1..K units are priced."""
    promos = touching(plan, item, options.at)
    t = targets(promos)
    priced: dict[Scenario, Priced] = {}

    def run(s: Scenario) -> Priced:
        if s not in priced:
            priced[s] = price(plan, item, s, options)
        return priced[s]

    if alone is None:
        alone = {q: run(Scenario("alone", q)) for q in range(1, options.max_units + 1)}
    family = {Scenario("alone", q) for q in quantities(t, item, alone[1].base, options)}
    family |= {Scenario("alone", q) for q in range(1, options.max_units + 1)}
    for q in range(1, options.max_units + 1):
        family |= filler_scenarios(t, item, q, alone[q], options)
    bounds = Bounds(plan, item, options)
    # (bound, key, scenario, whether its raised variants are still to come)
    queue = []
    for s in family:
        top = bounds.variant_top(s)
        queue.append((Fraction(0) if top is None else bounds.unit(s, top), s.key(), s, bool(s.filler_quantity)))
    heapq.heapify(queue)
    best: Priced | None = min((priced[s] for s in priced if s in family), key=_rank, default=None)
    while queue:
        bound, key, s, derive = heapq.heappop(queue)
        if best is not None and (bound, key) > _rank(best):
            break  # every scenario left is bounded above the best
        p = run(s)
        if best is None or _rank(p) < _rank(best):
            best = p
        if derive:
            for v in _variants(plan, s, p):
                if v not in priced:
                    heapq.heappush(queue, (bounds.unit(v), v.key(), v, False))
    assert best is not None
    return best, len(priced), alone


def warning_line(plan: Plan, item: CatalogItem) -> tuple[Fraction | None, str]:
    """The catalog's warning price, else the highest line of the matching `warning` blocks."""
    if item.warning_price is not None:
        return Fraction(item.warning_price), "catalog"
    line = sku_line(item, 1)
    best: tuple[Fraction, str] | None = None
    for w in plan.warnings:
        if not w.scope(line):
            continue
        if w.each is not None:
            value = Fraction(w.each)
        else:
            assert w.percent is not None  # a warning line is an amount or a percentage
            value = item.price * w.percent
        if best is None or value > best[0]:
            best = (value, f'warning "{w.name}"')
    return best if best else (None, "")


def analyze_item(plan: Plan, item: CatalogItem, options: Options) -> Finding:
    best, count, alone = lowest(plan, item, options)
    warning, source = warning_line(plan, item)
    what_ifs: list[WhatIf] = []
    below = warning is not None and best.unit < warning
    if options.what_ifs == "all" or (options.what_ifs == "below" and below):
        promos = touching(plan, item, options.at)
        # A variant keeps the item level (it changes a shop-level scope or the stacking), so the
        # bases the filler targets are measured on are the same, unless the engine may choose
        # among item-level promotions (a coupon, an exclusive one, a group) differently.
        fixed_items = not any(p.level == Level.ITEM and (p.is_coupon or p.exclusive or p.group) for p in promos)
        same = alone if fixed_items else None
        for p in promos:
            if p.level == Level.SHOP:
                w_best, _, _ = lowest(remove_from(plan, p.name, item.sku), item, options, same)
                what_ifs.append(WhatIf("remove", p.name, w_best.unit, w_best))
        other = "progressive" if plan.stacking == "parallel" else "parallel"
        w_best, _, _ = lowest(replace(plan, stacking=other), item, options, same)
        what_ifs.append(WhatIf("stacking", other, w_best.unit, w_best))
    return Finding(item, best, count, warning, source, split_orders(plan, item, options, alone), tuple(what_ifs),
                   holding_guard(plan, item, best, options))


def holding_guard(plan: Plan, item: CatalogItem, best: Priced, options: Options) -> tuple[str, int] | None:
    """The guard that holds the best scenario's SKU line at its floor: the highest floor among the
    guards active at `at` whose scope matches the line, when the line's final is that floor."""
    line = sku_line(item, best.scenario.quantity)
    at = options.at
    floors = [(g.floor(line.price, line.quantity), g.name) for g in plan.guards_at(line, at)]
    if not floors:
        return None
    floor, name = max(sorted(floors, key=lambda f: f[1]), key=lambda f: f[0])  # ties: the first name
    return (name, floor) if best.final <= floor else None


def analyze(plan: Plan, items: Iterable[CatalogItem | CatalogError], options: Options) -> Iterator[Finding | CatalogError]:
    """One finding per item, in catalog order; bad rows pass through as CatalogError."""
    for item in items:
        yield item if isinstance(item, CatalogError) else analyze_item(plan, item, options)




