"""Merchant price warnings (促销预警): the lowest unit price a buyer can reach for each SKU.

Every figure is a cart priced by `engine.quote.evaluate` (EXPLAIN_OFF), the same engine as
checkout; this module only decides which carts to price. For one catalog item at one time:

- **alone**: 1..K units of it (K = `Options.max_units`), plus the unit counts its promotions'
  thresholds point at (quantity thresholds, `nth N`, and the units it takes to reach an amount
  threshold or an `every` step), up to `Options.max_quantity`;
- **filler**: 1..K units of it with one filler line that tops an amount threshold up exactly (a
  threshold of `when`, of a tier, or a multiple of an `every` step: where 满减 and 每满减 give their
  highest rate), from its own shop (`filler_shop` = the SKU's shop) or from another shop
  (`OTHER_SHOP`); for quantity thresholds and `nth` at shop/platform level, filler units instead;
- **split orders**: K units bought as K orders of one unit (per-order coupons used again,
  `limit N per user` respected by counting the uses of the earlier orders);
- the buyer holds **every coupon** of the ruleset that could touch the cart (the engine picks the
  best set), and **presale bonuses** are taken: a SKU in a deposit presale is priced at its balance
  stage (its final is deposit + balance) and `sold` tiers are taken as reached.

The unit price of a scenario is the SKU line's final divided by its quantity (an exact fraction).
The filler is a made-up item: sku `FILLER_SKU`, with the SKU's category, brand and tags (a
"similar item"), one unit unless it supplies units. Line ids put the SKU first (`a:sku`), so
allocation ties go to the SKU (the merchant's worst case).

A scenario is priced only if a lower bound of its unit price (`_Bounds`, no pricing) can beat the
best price found so far; scenarios are priced in order of their bounds, so the result is that of
pricing every one of them.

What-ifs rerun the same search on a variant plan: the SKU removed from one shop-level promotion
(`remove_from`), or the other stacking mode.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import Any, Iterable, Iterator

from engine import benefits as b
from engine.catalog import CatalogError, CatalogItem
from engine.compiler import Plan, Promotion
from engine.evaluate import candidates_for
from engine.limits import STOPPED_BY_DEADLINE, DeadlineExceeded, Limits
from engine.money import format_money
from engine.quote import Quote, evaluate
from engine.request import Line, Request, User, WalletEntry

SKU_LINE = "a:sku"
FILLER_LINE = "b:filler"
FILLER_SKU = "__filler__"
OTHER_SHOP = "__other_shop__"
SOLD_REACHED = 10**9  # presale `sold` tiers: taken as reached (the lowest tier price)
FAMILY_ORDER = {"alone": 0, "filler": 1}


@dataclass(frozen=True)
class Options:
    at: datetime
    max_units: int = 3  # K: 1..K units alone and with filler; K orders for the split family
    max_quantity: int = 20  # cap for the unit counts derived from thresholds
    user: User = User(id="analyze")
    channel: str = ""
    region: str = ""
    what_ifs: str = "all"  # all | below (only for SKUs below their warning line) | none
    limits: Limits = Limits()  # for each cart priced; a deadline past stops the analysis


@dataclass(frozen=True)
class Scenario:
    """One cart: `quantity` units of the SKU, optionally a filler line."""

    family: str  # alone | filler
    quantity: int
    filler_price: int = 0  # unit list price of the filler, minor units
    filler_quantity: int = 0
    filler_shop: str = ""  # the SKU's shop or OTHER_SHOP

    @property
    def filler_amount(self) -> int:
        return self.filler_price * self.filler_quantity

    def key(self) -> tuple:
        return (FAMILY_ORDER[self.family], self.quantity, self.filler_amount, self.filler_shop == OTHER_SHOP,
                self.filler_quantity)


@dataclass(frozen=True)
class Priced:
    scenario: Scenario
    list: int  # the SKU line's list amount
    base: int
    final: int
    discounts: tuple[tuple[str, int], ...]  # the SKU line's, in evaluation order
    applied: tuple[tuple[str, str, str], ...]  # (name, kind, level) of every applied promotion
    filler_base: int = field(default=0, compare=False)

    @property
    def unit(self) -> Fraction:
        return Fraction(self.final, self.scenario.quantity)

    @property
    def coupons(self) -> tuple[str, ...]:
        return tuple(name for name, kind, _ in self.applied if kind == "coupon")

    @property
    def promotions(self) -> tuple[str, ...]:
        return tuple(name for name, kind, _ in self.applied if kind != "coupon")


@dataclass(frozen=True)
class WhatIf:
    kind: str  # remove | stacking
    subject: str  # the promotion removed, or the other stacking mode
    lowest: Fraction
    best: Priced


@dataclass(frozen=True)
class Split:
    units: int
    one_order: Fraction  # unit price of all units in one order
    split_orders: Fraction  # unit price over `units` orders of one unit each


@dataclass(frozen=True)
class Finding:
    item: CatalogItem
    best: Priced
    scenarios: int  # carts priced for the lowest price (what-ifs not counted)
    warning: Fraction | None  # warning line per unit
    warning_source: str  # "catalog", `warning "name"`, or ""
    split: Split | None
    what_ifs: tuple[WhatIf, ...] = ()

    @property
    def lowest(self) -> Fraction:
        return self.best.unit

    @property
    def below(self) -> bool:
        return self.warning is not None and self.lowest < self.warning


# ---- carts -------------------------------------------------------------------------------------


def sku_line(item: CatalogItem, quantity: int) -> Line:
    return Line(SKU_LINE, item.sku, item.shop, item.category, item.brand, item.tags, item.price, quantity,
                item.attributes)


def filler_line(item: CatalogItem, s: Scenario) -> Line:
    return Line(FILLER_LINE, FILLER_SKU, s.filler_shop, item.category, item.brand, item.tags, s.filler_price,
                s.filler_quantity)


def _stage(plan: Plan, line: Line, at: datetime) -> str:
    """Balance stage for a SKU in a deposit presale open at `at` (the buyer pays the whole price)."""
    within = lambda w: w is not None and w[0] <= at < w[1]  # noqa: E731
    for p in plan.presales:
        if p.scope(line) and (p.active is None or within(p.active)):
            if p.deposit is None:
                return "STAGE_UNSPECIFIED"
            if within(p.deposit_window) or within(p.balance_window):
                return "STAGE_BALANCE"
    return "STAGE_UNSPECIFIED"


def scenario_request(plan: Plan, item: CatalogItem, scenario: Scenario, options: Options,
                     usage: dict[str, int] | None = None) -> Request:
    """The cart of a scenario, as checkout would receive it: the buyer holds every coupon that
    could touch it."""
    lines = [sku_line(item, scenario.quantity)]
    if scenario.filler_quantity:
        lines.append(filler_line(item, scenario))
    coupons = sorted(name for name, (p, idx) in candidates_for(plan, lines).items()
                     if p.is_coupon and any(p.scope(lines[i]) for i in idx))
    return Request(
        at=options.at, lines=tuple(lines),
        user=replace(options.user, usage=usage) if usage else options.user,
        channel=options.channel, region=options.region,
        wallet=tuple(WalletEntry(name) for name in coupons),
        stage=_stage(plan, lines[0], options.at),
        presale_sold={p.name: SOLD_REACHED for p in plan.presales if p.price_tiers},
        explain="EXPLAIN_OFF",
    )


def price(plan: Plan, item: CatalogItem, scenario: Scenario, options: Options,
          usage: dict[str, int] | None = None) -> Priced:
    quote = evaluate(plan, scenario_request(plan, item, scenario, options, usage), options.limits)
    if quote.search.stopped == STOPPED_BY_DEADLINE:
        raise DeadlineExceeded("the deadline passed while pricing an item")  # a guess is no lowest price
    return priced_from_quote(quote, scenario)


def priced_from_quote(quote: Quote, scenario: Scenario) -> Priced:
    line = next(ln for ln in quote.lines if ln.id == SKU_LINE)
    filler = next((ln for ln in quote.lines if ln.id == FILLER_LINE), None)
    applied = tuple((a.promotion, a.kind, a.level) for a in quote.applied)
    return Priced(scenario, line.list, line.base, line.final, line.discounts, applied, filler.base if filler else 0)


# ---- plan variants ----------------------------------------------------------------------------


def remove_from(plan: Plan, name: str, sku: str) -> Plan:
    """The plan with `sku` taken out of promotion `name`'s scope (一键剔除)."""
    old = plan.by_name[name]
    new = replace(old, scope=lambda line, s=old.scope: s(line) and line.sku != sku)
    swap = lambda ps: tuple(new if p is old else p for p in ps)  # noqa: E731
    index = dict(plan.index)
    for key in _keys_of(plan).get(name, ()):
        index[key] = swap(index[key])
    changes = dict(promotions=swap(plan.promotions), by_name={**plan.by_name, name: new}, index=index,
                   everywhere=swap(plan.everywhere))
    if name in getattr(plan, "scope_is_key", ()):  # the engine trusts the index key for these: not any more
        changes["scope_is_key"] = plan.scope_is_key - {name}
    return replace(plan, **changes)


_KEYS: dict[int, tuple[Plan, dict[str, list]]] = {}


def _keys_of(plan: Plan) -> dict[str, list]:
    """Index keys per promotion name, once per plan (a plan lives as long as the analysis)."""
    cached = _KEYS.get(id(plan))
    if cached is None or cached[0] is not plan:
        keys: dict[str, list] = {}
        for key, promos in plan.index.items():
            for p in promos:
                keys.setdefault(p.name, []).append(key)
        if len(_KEYS) > 8:
            _KEYS.clear()
        cached = _KEYS[id(plan)] = (plan, keys)
    return cached[1]


def touching(plan: Plan, item: CatalogItem, at: datetime) -> list[Promotion]:
    """Promotions and coupons active at `at` whose scope matches the SKU, in evaluation order."""
    line = sku_line(item, 1)
    found = candidates_for(plan, [line])
    return sorted((p for p, _ in found.values()
                   if p.scope(line) and (p.window is None or p.window[0] <= at < p.window[1])),
                  key=lambda p: p.order_key)


# ---- thresholds --------------------------------------------------------------------------------


@dataclass
class _Targets:
    amounts: dict[str, set[int]] = field(default_factory=dict)  # level -> money thresholds (minor)
    every: dict[str, set[int]] = field(default_factory=dict)  # level -> every steps
    units: dict[str, set[int]] = field(default_factory=dict)  # level -> quantity thresholds / nth N


def _targets(promos: Iterable[Promotion]) -> _Targets:
    t = _Targets()

    def threshold(level, th):
        if th is None:
            return
        needed = th.needed()
        (t.amounts if th.is_money else t.units).setdefault(level, set()).add(needed)

    for p in promos:
        for clause in p.clauses:
            threshold(p.level, clause.threshold)
        ben = p.benefit
        if isinstance(ben, b.Tiers):
            for tier in ben.tiers:
                threshold(p.level, tier.threshold)
        elif isinstance(ben, b.EveryOff) and ben.step > 0:
            t.every.setdefault(p.level, set()).add(ben.step)
        elif isinstance(ben, b.NthUnit):
            t.units.setdefault(p.level, set()).add(ben.n)
    return t


def _ceil_div(a: int, b_: int) -> int:
    return -(-a // b_)


def _quantities(t: _Targets, item: CatalogItem, unit_base: int, options: Options) -> list[int]:
    found = set(range(1, options.max_units + 1))
    for level_units in t.units.values():
        for n in level_units:
            found.update((n, 2 * n))
    per_unit = [u for u in {item.price, unit_base} if u > 0]
    for level_amounts in (*t.amounts.values(), *({s * k for s in steps for k in (1, 2, 3)} for steps in t.every.values())):
        for amount in level_amounts:
            found.update(_ceil_div(amount, u) for u in per_unit)
    return sorted(q for q in found if 1 <= q <= options.max_quantity)


def _filler_scenarios(t: _Targets, item: CatalogItem, q: int, alone: Priced, options: Options) -> set[Scenario]:
    """Fillers that meet each amount threshold exactly (in base and in list terms), own shop and
    other shops as the promotion's level allows; and filler units for unit thresholds."""
    out: set[Scenario] = set()
    for level in set(t.amounts) | set(t.every) | set(t.units):
        shops = [item.shop] if level == "shop" else [item.shop, OTHER_SHOP]
        # item-level thresholds (`cart.amount`) see list amounts; shop and platform ones, bases
        have = alone.list if level == "item" else alone.base
        targets = set(t.amounts.get(level, ()))
        for step in t.every.get(level, ()):  # the next full step: 每满减 at its highest rate
            targets.add(step * max(1, _ceil_div(have, step)))
        for target in targets:
            if target > have:
                out.update(Scenario("filler", q, target - have, 1, shop) for shop in shops)
        if level in ("shop", "platform"):
            for n in t.units.get(level, ()):
                if n > q:  # cheap filler units reach a quantity threshold; the SKU keeps its share
                    out.update(Scenario("filler", q, 1, n - q, shop) for shop in shops)
                # nth: filler units at the SKU's own unit price leave the SKU among the cheapest
                per_unit = alone.base // q if alone.base else item.price
                if per_unit > 0 and q % n:
                    out.update(Scenario("filler", q, per_unit, n - q % n, shop) for shop in shops)
    return out


# ---- lower bounds -------------------------------------------------------------------------------
#
# A scenario is priced only if it could beat the best one found so far. Its lower bound is the
# SKU line's base at the deepest item-level discount, less what every shop- and platform-level
# promotion could place on that line: each one's offer at the lines' list amounts (benefits grow
# with their base; a threshold not met there is never met), of which the SKU line gets at most
# its share of the weights (rounded up) plus whatever the filler line cannot absorb; at most one
# coupon per slot (one shop-level coupon per shop, one platform coupon) applies, so a slot counts
# its largest member. Conditions other than thresholds are taken as met. A bound covers a filler
# price range [lo, hi], so the raised-filler scenarios derived from a pruned one are pruned with it.


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
    whole = p.level != "item"
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
    return off if total <= 0 else _ceil_div(off * weight, total)


class _Bounds:
    """Lower bounds of a scenario's unit price for one SKU under one plan (see above)."""

    def __init__(self, plan: Plan, item: CatalogItem, options: Options):
        self.plan, self.item, self.options = plan, item, options
        line = sku_line(item, 1)
        self.ok = not any(p.scope(line) for p in plan.presales)  # presale bases: not bounded
        promos = touching(plan, item, options.at)
        self.item_level = [p for p in promos if p.level == "item"]
        self.sku_promos = {p.name: p for p in promos if p.level in ("shop", "platform")}
        # a scope that reads `price` may match a filler at one price of a range and not another
        self.price_free = not any(re.search(r"\bprice\b", p.scope_text) for p in plan.promotions)

    def _floor(self, line: Line) -> int:
        at = self.options.at
        floor = max((g.floor(line.price, line.quantity) for g in self.plan.guards
                     if (g.window is None or g.window[0] <= at < g.window[1]) and g.scope(line)), default=0)
        return min(floor, line.list_amount)

    def _matching(self, line: Line) -> dict[str, Promotion]:
        """Promotions active at `at` whose scope matches `line`."""
        at = self.options.at
        return {name: p for name, (p, _) in candidates_for(self.plan, [line]).items()
                if p.scope(line) and (p.window is None or p.window[0] <= at < p.window[1])}

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
        promos = [p for p in self._matching(line).values() if p.level == "item"]
        if promos:
            # raised to price x price / base: the base is at least its list less the deepest discount
            cart = (line.list_amount + s.quantity * self.item.price, s.quantity + line.quantity)
            low = max(self._floor(line), line.list_amount - self._item_off(promos, line, cart))
            if low <= 0:
                return None
            top = max(top, _ceil_div(s.filler_price * s.filler_price, low))
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
            item_f = [p for p in filler_promos.values() if p.level == "item"]
            low_f = max(floor_f, lo.list_amount - self._item_off(item_f, top, cart))
        progressive = plan.stacking == "progressive"
        took_f: dict[tuple[str, str], int] = {}  # slot -> most the filler gave to it so far
        part: dict[tuple[str, str], int] = {}  # slot -> most it places on the SKU line
        shared: dict[tuple[str, str], int] = {}  # slot -> most the filler absorbs of promotions shared with the SKU
        alone_f: dict[tuple[str, str], int] = {}  # slot -> most the filler absorbs of promotions without the SKU
        order_level = {**self.sku_promos, **{n: p for n, p in filler_promos.items() if p.level in ("shop", "platform")}}
        for p in sorted(order_level.values(), key=lambda p: p.order_key):
            on_s, on_f = p.name in self.sku_promos, p.name in filler_promos
            slot = _slot(p)
            together = on_s and on_f and (p.level == "platform" or top.shop == item.shop)
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


# ---- the search --------------------------------------------------------------------------------


def _rank(p: Priced) -> tuple:
    return (p.unit, p.scenario.key())


def _variants(plan: Plan, s: Scenario, p: Priced) -> list[Scenario]:
    """Fillers raised after pricing `s`: to the price whose base is the gap when the filler took
    an item-level discount; in progressive stacking, topped up by what the shop level took."""
    out = []
    if s.filler_quantity == 1 and 0 < p.filler_base < s.filler_price:
        out.append(replace(s, filler_price=_ceil_div(s.filler_price * s.filler_price, p.filler_base)))
    if plan.stacking == "progressive" and s.filler_quantity == 1:
        taken = sum(amount for name, amount in p.discounts if plan.by_name[name].level == "shop")
        if taken:
            out.append(replace(s, filler_price=s.filler_price + taken))
    return out


def lowest(plan: Plan, item: CatalogItem, options: Options,
           alone: dict[int, Priced] | None = None) -> tuple[Priced, int, dict[int, Priced]]:
    """The scenario with the lowest unit price, how many carts were priced, and the alone
    scenarios by quantity. `alone` (from the same SKU under a plan with the same item level)
    supplies the bases the filler targets are measured on; without it 1..K units are priced."""
    promos = touching(plan, item, options.at)
    t = _targets(promos)
    priced: dict[Scenario, Priced] = {}

    def run(s: Scenario) -> Priced:
        if s not in priced:
            priced[s] = price(plan, item, s, options)
        return priced[s]

    if alone is None:
        alone = {q: run(Scenario("alone", q)) for q in range(1, options.max_units + 1)}
    family = {Scenario("alone", q) for q in _quantities(t, item, alone[1].base, options)}
    family |= {Scenario("alone", q) for q in range(1, options.max_units + 1)}
    for q in range(1, options.max_units + 1):
        family |= _filler_scenarios(t, item, q, alone[q], options)
    bounds = _Bounds(plan, item, options)
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


def split_orders(plan: Plan, item: CatalogItem, options: Options, alone: dict[int, Priced]) -> Split | None:
    """K units in one order against K orders of one unit (per-order coupons used again as far
    as their `limit` allows)."""
    k = options.max_units
    if k < 2:
        return None
    one_order = alone.get(k) or price(plan, item, Scenario("alone", k), options)
    first = alone[1]
    limited = [name for name, _, _ in first.applied if plan.by_name[name].limit is not None]
    if not limited:
        total = first.final * k
    else:
        usage = dict(options.user.usage)
        total = 0
        for _ in range(k):
            p = price(plan, item, Scenario("alone", 1), options, usage=usage)
            total += p.final
            for name, _, _ in p.applied:
                if plan.by_name[name].limit is not None:
                    usage[name] = usage.get(name, 0) + 1
    return Split(k, one_order.unit, Fraction(total, k))


def warning_line(plan: Plan, item: CatalogItem) -> tuple[Fraction | None, str]:
    """The catalog's warning price, else the highest line of the matching `warning` blocks."""
    if item.warning_price is not None:
        return Fraction(item.warning_price), "catalog"
    line = sku_line(item, 1)
    best: tuple[Fraction, str] | None = None
    for w in plan.warnings:
        if not w.scope(line):
            continue
        value = Fraction(w.each) if w.each is not None else item.price * w.percent
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
        fixed_items = not any(p.level == "item" and (p.is_coupon or p.exclusive or p.group) for p in promos)
        same = alone if fixed_items else None
        for p in promos:
            if p.level == "shop":
                w_best, _, _ = lowest(remove_from(plan, p.name, item.sku), item, options, same)
                what_ifs.append(WhatIf("remove", p.name, w_best.unit, w_best))
        other = "progressive" if plan.stacking == "parallel" else "parallel"
        w_best, _, _ = lowest(replace(plan, stacking=other), item, options, same)
        what_ifs.append(WhatIf("stacking", other, w_best.unit, w_best))
    return Finding(item, best, count, warning, source, split_orders(plan, item, options, alone), tuple(what_ifs))


def analyze(plan: Plan, items: Iterable[CatalogItem | CatalogError], options: Options) -> Iterator[Finding | CatalogError]:
    """One finding per item, in catalog order; bad rows pass through as CatalogError."""
    for item in items:
        yield item if isinstance(item, CatalogError) else analyze_item(plan, item, options)


# ---- JSON -------------------------------------------------------------------------------------


def unit_money(value: Fraction, digits: int) -> str:
    """A unit price as money: rounded down to the minor unit (never shows more than was reached)."""
    return format_money(value.numerator // value.denominator, digits)


def _percent(part: int | Fraction, whole: int | Fraction) -> str:
    if not whole:
        return "0.00"
    value = Fraction(part) * 100 / Fraction(whole)
    return format_money(round(value * 100), 2)


def priced_to_json(p: Priced, plan: Plan, item: CatalogItem) -> dict[str, Any]:
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    s = p.scenario
    reduction = p.list - p.final
    out: dict[str, Any] = {
        "family": s.family,
        "quantity": s.quantity,
        "unit_price": unit_money(p.unit, plan.digits),
        "line_list": money(p.list),
        "line_final": money(p.final),
        "promotions": list(p.promotions),
        "coupons": list(p.coupons),
        "shares": [{"promotion": name, "amount": money(amount), "share": _percent(amount, reduction)}
                   for name, amount in p.discounts],
    }
    if s.filler_quantity:
        out["filler"] = {"amount": money(s.filler_amount), "unit_price": money(s.filler_price),
                         "quantity": s.filler_quantity,
                         "shop": "other" if s.filler_shop == OTHER_SHOP else "own"}
    return out


def finding_to_json(f: Finding, plan: Plan) -> dict[str, Any]:
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    item = f.item
    out: dict[str, Any] = {
        "row": item.row,
        "sku": item.sku,
        "shop": item.shop,
        "category": item.category,
        "price": money(item.price),
        "lowest_price": unit_money(f.lowest, plan.digits),
        "discount_rate": _percent(item.price - f.lowest, item.price),
        "below_warning": f.below,
        "best": priced_to_json(f.best, plan, item),
        "scenarios": f.scenarios,
        "what_ifs": [{"kind": w.kind, "subject": w.subject, "lowest_price": unit_money(w.lowest, plan.digits),
                      "change": unit_money(w.lowest - f.lowest, plan.digits),
                      "below_warning": f.warning is not None and w.lowest < f.warning,
                      "best": priced_to_json(w.best, plan, item)} for w in f.what_ifs],
    }
    if f.warning is not None:
        out["warning"] = {"price": unit_money(f.warning, plan.digits), "source": f.warning_source}
    if item.cost is not None:
        margin = f.lowest - item.cost
        out["margin"] = {"cost": money(item.cost),
                         "per_unit": unit_money(margin, plan.digits), "percent": _percent(margin, f.lowest)}
    if item.ad_cost is not None:
        profit = f.best.final - (item.cost or 0) * f.best.scenario.quantity - item.ad_cost
        out["profit_per_order"] = {"ad_cost": money(item.ad_cost), "units": f.best.scenario.quantity,
                                   "profit": money(profit)}
    if f.split is not None:
        out["split"] = {"units": f.split.units, "one_order": unit_money(f.split.one_order, plan.digits),
                        "split_orders": unit_money(f.split.split_orders, plan.digits)}
    return out


def error_to_json(e: CatalogError) -> dict[str, Any]:
    return {"row": e.row, "error": e.message}


# ---- a whole catalog, on every core ----------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(rules: str) -> None:
    from engine.compiler import compile_plan
    from engine.load import load_ruleset

    _WORKER["plan"] = compile_plan(load_ruleset(rules))  # once per worker process


def _work(chunk: list, options: Options) -> list[dict[str, Any]]:
    plan = _WORKER["plan"]
    return [error_to_json(x) if isinstance(x, CatalogError) else finding_to_json(analyze_item(plan, x, options), plan)
            for x in chunk]


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def analyze_catalog(rules: str, plan: Plan, rows: Iterable[CatalogItem | CatalogError], options: Options,
                    processes: int | None = None, chunk_size: int = 32) -> Iterator[dict[str, Any]]:
    """Finding (or bad-row) JSON objects in catalog order. With several processes each worker
    compiles `rules` once and prices chunks of rows; at most a few chunks per worker are in
    flight, so memory stays flat however long the catalog is."""
    import multiprocessing
    import os
    from collections import deque

    processes = processes or os.cpu_count() or 1
    if processes <= 1:
        for chunk in _chunks(rows, chunk_size):
            _WORKER["plan"] = plan
            yield from _work(chunk, options)
        return
    ctx = multiprocessing.get_context("spawn")  # clean interpreters: nothing inherited but the arguments
    with ctx.Pool(processes, initializer=_init_worker, initargs=(str(rules),)) as pool:
        pending: deque = deque()
        for chunk in _chunks(rows, chunk_size):
            pending.append(pool.apply_async(_work, (chunk, options)))
            if len(pending) >= processes * 4:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
