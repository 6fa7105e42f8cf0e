"""A backtest's result as one JSON value (docs/backtest.md): money as decimal strings with the
currency's digits, every list in a defined order, so equal aggregates give equal bytes.

Averages and shares are exact fractions rounded half up once, at the end: an average discount to
the minor unit, a share to 0.01 %. Sums are never taken of rounded figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from fractions import Fraction
from typing import Any

from engine.apps.backtest.aggregate import (
    DAY_FIELDS,
    SHOP_FIELDS,
    TOTAL_FIELDS,
    Aggregate,
    Mover,
    Side,
    edges_minor,
    period_of,
)
from engine.apps.backtest.price import Budget, Job, order_request
from engine.base.enums import Explain
from engine.base.money import format_money
from engine.plan.plan import Plan
from engine.pricing.quote import evaluate


def _half_up(value: Fraction) -> int:
    sign = -1 if value < 0 else 1
    value = abs(value)
    whole, rest = divmod(value.numerator, value.denominator)
    return sign * (whole + (2 * rest >= value.denominator))


def percent(part: int, whole: int) -> str:
    if not whole:
        return "0.00"
    hundredths = _half_up(Fraction(part * 10_000, whole))
    sign = "-" if hundredths < 0 else ""
    return f"{sign}{abs(hundredths) // 100}.{abs(hundredths) % 100:02d}"


def describe(plan: Plan) -> dict[str, Any]:
    return {"name": plan.name, "revision": plan.revision, "stacking": plan.stacking}


class _Money:
    def __init__(self, digits: int):
        self.digits = digits

    def __call__(self, minor: int) -> str:
        return format_money(minor, self.digits)

    def average(self, total: int, count: int) -> str:
        return self(_half_up(Fraction(total, count)) if count else 0)


def _totals(side: Side, money: _Money) -> dict[str, Any]:
    t = dict(zip(TOTAL_FIELDS, side.totals))
    return {"orders": t["orders"], "gmv": money(t["gmv"]), "discount": money(t["discount"]),
            "shipping": money(t["shipping"]), "payable": money(t["payable"]),
            "average_payable": money.average(t["payable"], t["orders"])}


def _promotion(stats: list[int] | None, gmv: int, money: _Money) -> dict[str, Any] | None:
    if stats is None:
        return {"orders": 0, "spend": money(0), "average": money(0), "share_of_gmv": "0.00"}
    orders, spend = stats
    return {"orders": orders, "spend": money(spend), "average": money.average(spend, orders),
            "share_of_gmv": percent(spend, gmv)}


def _shop(stats: list[int] | None, money: _Money) -> dict[str, Any]:
    s = dict(zip(SHOP_FIELDS, stats or [0] * len(SHOP_FIELDS)))
    gives = s["item"] + s["shop"] + s["platform"] + s["other"]
    n = s["orders"]
    out: dict[str, Any] = {"orders": n}
    out.update({k: money(s[k]) for k in SHOP_FIELDS[1:]})
    out["gives_up"] = money(gives)
    out["per_order"] = {"item": money.average(s["item"], n), "shop": money.average(s["shop"], n),
                        "platform": money.average(s["platform"], n), "gives_up": money.average(gives, n),
                        "final": money.average(s["final"], n)}
    return out


def _gives(stats: list[int] | None) -> int:
    return sum(stats[2:6]) if stats else 0


def _buckets(buckets: dict[int, int], digits: int, money: _Money) -> list[dict[str, Any]]:
    edges = edges_minor(digits)
    out = []
    for k in sorted(buckets):
        # the bucket's changes, both ends included (None: no end): |change| in [edges[k-1], edges[k])
        low: int | None = 0
        high: int | None = 0
        if k:
            start = edges[abs(k) - 1]
            end = edges[abs(k)] - 1 if abs(k) < len(edges) else None
            low, high = (start, end) if k > 0 else ((-end if end is not None else None), -start)
        if low is None:
            label = f"<= {money(high or 0)}"
        elif high is None:
            label = f">= {money(low)}"
        else:
            label = money(low) if low == high else f"{money(low)} … {money(high)}"
        out.append({"bucket": k, "from": money(low) if low is not None else None,
                    "to": money(high) if high is not None else None, "label": label, "orders": buckets[k]})
    return out


def _budgets(budgets: tuple[Budget, ...], side: Side, money: _Money) -> list[dict[str, Any]]:
    out = []
    for b in budgets:
        days = sorted((day, v) for (name, day), v in side.burn.items() if name == b.promotion)
        running, exhausted = 0, None
        periods: dict[str, int] = {}
        rows = []
        for day, (orders, spend) in days:
            running += spend
            key = period_of(day, b.period)
            periods[key] = periods.get(key, 0) + spend
            if exhausted is None and periods[key] > b.amount:
                exhausted = day
            rows.append({"day": day, "orders": orders, "spend": money(spend), "cumulative": money(running),
                         "period_spend": money(periods[key]), "left": money(b.amount - periods[key])})
        out.append({"promotion": b.promotion, "budget": money(b.amount), "period": b.period or "total",
                    "spend": money(running), "exhausted": exhausted,
                    "over": [{"period": k or "total", "spend": money(v), "over_by": money(v - b.amount)}
                             for k, v in sorted(periods.items()) if v > b.amount],
                    "days": rows})
    return out


def _reasons(plan: Plan, job: Job, order: dict[str, Any], money: _Money) -> list[dict[str, Any]]:
    """Why the promotions that did not apply did not (the movers are priced again with reasons)."""
    try:
        _, request, _ = order_request(job, plan, order, Explain.REASONS)
        quote = evaluate(plan, replace(request, explain=Explain.REASONS))
    except Exception:  # noqa: BLE001 - it was priced once; a reason is a courtesy
        return []
    out = []
    for item in quote.not_applied:
        entry: dict[str, Any] = {"promotion": item.promotion, "reason": str(item.reason.code.value)}
        if item.reason.gap is not None:
            entry["gap"] = money(item.reason.gap) if item.reason.gap_is_money else item.reason.gap
        out.append(entry)
    return out


def _mover(m: Mover, money: _Money, reasons: Callable[[Mover], tuple[list, list]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"row": m.row, "order_id": m.order_id, "payable": money(m.payable),
                           "against": money(m.against), "change": money(m.change),
                           "applied": [{"promotion": n, "amount": money(a)} for n, a in m.applied],
                           "applied_against": [{"promotion": n, "amount": money(a)} for n, a in m.applied_against]}
    if reasons is not None:
        out["not_applied"], out["not_applied_against"] = reasons(m)
    out["order"] = m.order
    return out


def result(agg: Aggregate, job: Job, rules: Plan, against: Plan | None, orders: str = "",
           reasons: bool = True) -> dict[str, Any]:
    """The JSON value of a backtest (docs/backtest.md "The result")."""
    money = _Money(rules.digits)
    gmv = agg.rules.totals[1]
    gmv_against = agg.against.totals[1] if agg.against else 0
    out: dict[str, Any] = {
        "rules": describe(rules), "against": describe(against) if against else None, "currency": rules.currency,
        "at": job.at.astimezone(rules.timezone).isoformat() if isinstance(job.at, datetime) else "order time",
        "orders": {"file": orders, "rows": agg.rows, "priced": agg.priced, "bad": agg.bad},
        "totals": {"rules": _totals(agg.rules, money)},
    }
    if agg.against is not None:
        out["totals"]["against"] = _totals(agg.against, money)
        out["totals"]["change"] = {name: money(a - b) for name, a, b in
                                   zip(TOTAL_FIELDS[1:], agg.rules.totals[1:], agg.against.totals[1:])}

    names = set(agg.rules.promotions) | (set(agg.against.promotions) if agg.against else set())

    def spend(side: Side | None, name: str) -> int:
        return side.promotions.get(name, [0, 0])[1] if side else 0

    promotions = []
    for name in sorted(names, key=lambda n: (-spend(agg.rules, n), -spend(agg.against, n), n)):
        p = rules.by_name.get(name) or (against.by_name.get(name) if against else None)
        entry: dict[str, Any] = {"promotion": name, "level": p.level if p else "", "kind": p.kind if p else "",
                                 "title": p.title if p else "",
                                 "rules": _promotion(agg.rules.promotions.get(name), gmv, money)}
        if agg.against is not None:
            entry["against"] = _promotion(agg.against.promotions.get(name), gmv_against, money)
            entry["change"] = money(spend(agg.rules, name) - spend(agg.against, name))
        promotions.append(entry)
    out["promotions"] = promotions

    shops_seen = set(agg.rules.shops) | (set(agg.against.shops) if agg.against else set())

    def final_change(shop: str) -> int:
        a = agg.rules.shops.get(shop)
        b = agg.against.shops.get(shop) if agg.against else None
        return (a[6] if a else 0) - (b[6] if b else 0)

    if agg.against is not None:
        order = sorted(shops_seen, key=lambda s: (final_change(s), s))  # who loses most first
    else:
        order = sorted(shops_seen, key=lambda s: (-_gives(agg.rules.shops.get(s)), s))
    shops = []
    for shop in order:
        entry = {"shop": shop, "rules": _shop(agg.rules.shops.get(shop), money)}
        if agg.against is not None and agg.compare is not None:
            moves = agg.compare.shops.get(shop, [0, 0])
            entry["against"] = _shop(agg.against.shops.get(shop), money)
            entry["change"] = {"final": money(final_change(shop)),
                               "gives_up": money(_gives(agg.rules.shops.get(shop)) - _gives(agg.against.shops.get(shop))),
                               "orders_final_down": moves[0], "orders_final_up": moves[1]}
        shops.append(entry)
    out["shops"] = shops

    if agg.compare is not None and agg.against is not None:
        c = agg.compare
        changes = [final_change(s) for s in shops_seen]
        out["changes"] = {
            "orders": {"lower": c.orders[0], "same": c.orders[1], "higher": c.orders[2]},
            "payable": money(agg.rules.totals[4] - agg.against.totals[4]),
            "distribution": _buckets(c.buckets, rules.digits, money),
            "shops": {"final_down": sum(1 for x in changes if x < 0), "same": sum(1 for x in changes if x == 0),
                      "final_up": sum(1 for x in changes if x > 0)},
        }
        explain = None
        if reasons:
            def explain(m: Mover) -> tuple[list, list]:
                assert against is not None
                return _reasons(rules, job, m.order, money), _reasons(against, job, m.order, money)
        out["movers"] = [_mover(m, money, explain) for m in c.movers]
    else:
        out["changes"] = None
        out["movers"] = []

    days = sorted(set(agg.rules.days) | (set(agg.against.days) if agg.against else set()))

    def day_json(side: Side, day: str) -> dict[str, Any]:
        d = dict(zip(DAY_FIELDS, side.days.get(day, [0] * len(DAY_FIELDS))))
        return {"orders": d["orders"], "gmv": money(d["gmv"]), "discount": money(d["discount"]),
                "payable": money(d["payable"])}

    out["days"] = [{"day": day, "rules": day_json(agg.rules, day),
                    **({"against": day_json(agg.against, day)} if agg.against else {})} for day in days]
    out["budgets"] = _budgets(job.budgets, agg.rules, money)
    out["errors"] = [{"row": row, "error": message} for row, message in agg.errors]
    return out
