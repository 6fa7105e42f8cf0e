"""The carts `promo analyze` prices for one SKU (see engine/apps/analyze/__init__.py): the options,
scenarios (alone, with a filler line), the unit counts and filler amounts that thresholds point
at, and pricing one scenario through checkout's own `evaluate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction

from engine.apps.catalog import CatalogItem
from engine.base.enums import ORDER_LEVELS, Explain, Level, Stage
from engine.base.request import Line, Request, User, WalletEntry
from engine.plan import benefits as b
from engine.plan.plan import Plan, Promotion
from engine.plan.predicates import within
from engine.pricing.limits import STOPPED_BY_DEADLINE, DeadlineExceeded, Limits
from engine.pricing.prepare import candidates_for
from engine.pricing.quote import Quote, evaluate

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


def sku_line(item: CatalogItem, quantity: int) -> Line:
    return Line(SKU_LINE, item.sku, item.shop, item.category, item.brand, item.tags, item.price, quantity,
                item.attributes)


def filler_line(item: CatalogItem, s: Scenario) -> Line:
    return Line(FILLER_LINE, FILLER_SKU, s.filler_shop, item.category, item.brand, item.tags, s.filler_price,
                s.filler_quantity)


def _stage(plan: Plan, line: Line, at: datetime) -> Stage | None:
    """Balance stage for a SKU in a deposit presale open at `at` (the buyer pays the whole price)."""
    for p in plan.presales:
        if p.scope(line) and within(p.active, at):
            if p.deposit is None:
                return None
            if any(w is not None and within(w, at) for w in (p.deposit_window, p.balance_window)):
                return Stage.BALANCE
    return None


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
        explain=Explain.OFF,
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


def touching(plan: Plan, item: CatalogItem, at: datetime) -> list[Promotion]:
    """Promotions and coupons active at `at` whose scope matches the SKU, in evaluation order."""
    line = sku_line(item, 1)
    found = candidates_for(plan, [line])
    return sorted((p for p, _ in found.values()
                   if p.scope(line) and within(p.window, at)),
                  key=lambda p: p.order_key)


@dataclass
class Targets:
    amounts: dict[str, set[int]] = field(default_factory=dict)  # level -> money thresholds (minor)
    every: dict[str, set[int]] = field(default_factory=dict)  # level -> every steps
    units: dict[str, set[int]] = field(default_factory=dict)  # level -> quantity thresholds / nth N


def targets(promos: Iterable[Promotion]) -> Targets:
    t = Targets()

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


def ceil_div(a: int, b_: int) -> int:
    return -(-a // b_)


def quantities(t: Targets, item: CatalogItem, unit_base: int, options: Options) -> list[int]:
    found = set(range(1, options.max_units + 1))
    for level_units in t.units.values():
        for n in level_units:
            found.update((n, 2 * n))
    per_unit = [u for u in {item.price, unit_base} if u > 0]
    for level_amounts in (*t.amounts.values(), *({s * k for s in steps for k in (1, 2, 3)} for steps in t.every.values())):
        for amount in level_amounts:
            found.update(ceil_div(amount, u) for u in per_unit)
    return sorted(q for q in found if 1 <= q <= options.max_quantity)


def filler_scenarios(t: Targets, item: CatalogItem, q: int, alone: Priced, options: Options) -> set[Scenario]:
    """Fillers that meet each amount threshold exactly (in base and in list terms), own shop and
    other shops as the promotion's level allows; and filler units for unit thresholds."""
    out: set[Scenario] = set()
    for level in set(t.amounts) | set(t.every) | set(t.units):
        shops = [item.shop] if level == Level.SHOP else [item.shop, OTHER_SHOP]
        # item-level thresholds (`cart.amount`) see list amounts; shop and platform ones, bases
        have = alone.list if level == Level.ITEM else alone.base
        targets = set(t.amounts.get(level, ()))
        for step in t.every.get(level, ()):  # the next full step: 每满减 at its highest rate
            targets.add(step * max(1, ceil_div(have, step)))
        for target in targets:
            if target > have:
                out.update(Scenario("filler", q, target - have, 1, shop) for shop in shops)
        if level in ORDER_LEVELS:
            for n in t.units.get(level, ()):
                if n > q:  # cheap filler units reach a quantity threshold; the SKU keeps its share
                    out.update(Scenario("filler", q, 1, n - q, shop) for shop in shops)
                # nth: filler units at the SKU's own unit price leave the SKU among the cheapest
                per_unit = alone.base // q if alone.base else item.price
                if per_unit > 0 and q % n:
                    out.update(Scenario("filler", q, per_unit, n - q % n, shop) for shop in shops)
    return out
