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

What-ifs rerun the same search on a variant plan: the SKU removed from one shop-level promotion
(`remove_from`), or the other stacking mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import Any, Iterable, Iterator

from engine import benefits as b
from engine.catalog import CatalogError, CatalogItem
from engine.compiler import Plan, Promotion
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
        return (FAMILY_ORDER[self.family], self.quantity, self.filler_amount, self.filler_shop != "" and self.filler_shop == OTHER_SHOP)


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
    coupons = sorted(name for name, (p, idx) in plan.candidates_for(lines).items()
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
    quote = evaluate(plan, scenario_request(plan, item, scenario, options, usage))
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
    found = plan.candidates_for([line])
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


# ---- the search --------------------------------------------------------------------------------


def _better(a: Priced, b_: Priced) -> bool:
    return (a.unit, a.scenario.key()) < (b_.unit, b_.scenario.key())


def lowest(plan: Plan, item: CatalogItem, options: Options) -> tuple[Priced, int, dict[int, Priced]]:
    """The scenario with the lowest unit price, how many carts were priced, and the alone
    scenarios by quantity."""
    promos = touching(plan, item, options.at)
    t = _targets(promos)
    alone: dict[int, Priced] = {1: price(plan, item, Scenario("alone", 1), options)}
    for q in _quantities(t, item, alone[1].base, options):
        if q not in alone:
            alone[q] = price(plan, item, Scenario("alone", q), options)
    best = min(alone.values(), key=lambda p: (p.unit, p.scenario.key()))
    count = len(alone)
    seen: set[Scenario] = set()
    progressive = plan.stacking == "progressive"
    for q in range(1, options.max_units + 1):
        for s in sorted(_filler_scenarios(t, item, q, alone[q], options), key=Scenario.key):
            if s in seen:
                continue
            seen.add(s)
            p = price(plan, item, s, options)
            count += 1
            tries = [p]
            fb = p.filler_base
            if s.filler_quantity == 1 and 0 < fb < s.filler_price:
                # the filler took an item-level discount: raise its list price so its base is the gap
                s2 = replace(s, filler_price=_ceil_div(s.filler_price * s.filler_price, fb))
                if s2 not in seen:
                    seen.add(s2)
                    tries.append(price(plan, item, s2, options))
                    count += 1
            if progressive and s.filler_quantity == 1:
                # a later promotion's base is what earlier ones left: top the filler up by them
                taken = sum(amount for name, amount in p.discounts if plan.by_name[name].level == "shop")
                s3 = replace(s, filler_price=s.filler_price + taken) if taken else None
                if s3 is not None and s3 not in seen:
                    seen.add(s3)
                    tries.append(price(plan, item, s3, options))
                    count += 1
            for cand in tries:
                if _better(cand, best):
                    best = cand
    return best, count, alone


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
        for p in touching(plan, item, options.at):
            if p.level == "shop":
                w_best, _, _ = lowest(remove_from(plan, p.name, item.sku), item, options)
                what_ifs.append(WhatIf("remove", p.name, w_best.unit, w_best))
        other = "progressive" if plan.stacking == "parallel" else "parallel"
        w_best, _, _ = lowest(replace(plan, stacking=other), item, options)
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
