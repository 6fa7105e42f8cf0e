"""What-ifs: the same search on a variant plan (the SKU removed from one shop-level promotion, or
the other stacking mode), and the split-orders comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from engine.apps.analyze.scenarios import Options, Priced, Scenario, price
from engine.apps.catalog import CatalogItem
from engine.plan.plan import Plan


def remove_from(plan: Plan, name: str, sku: str) -> Plan:
    """The plan with `sku` taken out of promotion `name`'s scope (一键剔除)."""
    old = plan.by_name[name]
    scope = old.scope

    def without(line: Any) -> bool:  # a Line
        return scope(line) and line.sku != sku

    new = replace(old, scope=without)
    swap = lambda ps: tuple(new if p is old else p for p in ps)  # noqa: E731
    index = dict(plan.index)
    for key in _keys_of(plan).get(name, ()):
        index[key] = swap(index[key])
    changes: dict[str, Any] = dict(promotions=swap(plan.promotions), by_name={**plan.by_name, name: new}, index=index,
                                   everywhere=swap(plan.everywhere))
    if name in plan.scope_is_key:  # the engine trusts the index key for these: not any more
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


def split_orders(plan: Plan, item: CatalogItem, options: Options, alone: dict[int, Priced]) -> Split | None:
    """K units in one order against K orders of one unit (per-order coupons used again as far
    as their `limit` allows)."""
    k = options.max_units
    if k < 2:
        return None
    one_order = alone.get(k) or price(plan, item, Scenario("alone", k), options)
    first = alone[1]
    limited = [name for name, _, _ in first.applied if plan.by_name[name].per_user_limits]
    if not limited:
        total = first.final * k
    else:
        usage = dict(options.user.usage)
        total = 0
        for _ in range(k):
            p = price(plan, item, Scenario("alone", 1), options, usage=usage)
            total += p.final
            for name, _, _ in p.applied:
                if plan.by_name[name].per_user_limits:
                    usage[name] = usage.get(name, 0) + 1
    return Split(k, one_order.unit, Fraction(total, k))


@dataclass(frozen=True)
class Split:
    units: int
    one_order: Fraction  # unit price of all units in one order
    split_orders: Fraction  # unit price over `units` orders of one unit each
