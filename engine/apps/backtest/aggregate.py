"""What a backtest adds up: figures that merge (a monoid), so partitions priced anywhere, in any
order, give the same result, and only these small values travel back from a worker.

Every amount is an integer of minor units. `Aggregate.empty()` is the identity and `merge` is
associative and commutative: sums, counts, the `top` orders that move most (ordered by the size of
their change, then by row: a total order, so which ones are kept never depends on how the orders
were split) and the first `MAX_ERRORS` bad rows by row. Its size depends on the number of
promotions, shops and days, never on the number of orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.plan.plan import Plan
from engine.pricing.quote import Quote

MAX_ERRORS = 1_000  # bad rows kept (the first ones by row); all are counted
TOP = 20  # orders that move most

# the edges of the payable-change distribution, in major units: a change c falls in bucket k
# (signed: the sign of c) when EDGES[k-1] <= |c| < EDGES[k]; 0 is its own bucket
EDGES = (0.01, 1, 5, 10, 20, 50, 100, 200, 500, 1000)

# per shop: the orders with a line of it, their list amount (GMV), what each level took from its
# lines (item level, shop level, its share of platform discounts), anything else taken (a presale
# price), and the lines' final
SHOP_FIELDS = ("orders", "gmv", "item", "shop", "platform", "other", "final")
DAY_FIELDS = ("orders", "gmv", "discount", "payable")
TOTAL_FIELDS = ("orders", "gmv", "discount", "shipping", "payable")


def edges_minor(digits: int) -> tuple[int, ...]:
    return tuple(round(e * 10**digits) if e >= 1 else 1 for e in EDGES)


def bucket(change: int, edges: tuple[int, ...]) -> int:
    if change == 0:
        return 0
    size = abs(change)
    k = sum(1 for e in edges if size >= e)
    return k if change > 0 else -k


def _add_into(mine: dict[Any, list[int]], theirs: Mapping[Any, list[int]]) -> None:
    for key, values in theirs.items():
        have = mine.get(key)
        if have is None:
            mine[key] = list(values)
        else:
            for i, v in enumerate(values):
                have[i] += v


@dataclass
class Side:
    """The figures of one ruleset over the orders."""

    totals: list[int] = field(default_factory=lambda: [0] * len(TOTAL_FIELDS))
    promotions: dict[str, list[int]] = field(default_factory=dict)  # name -> [orders, spend]
    shops: dict[str, list[int]] = field(default_factory=dict)  # shop -> SHOP_FIELDS
    days: dict[str, list[int]] = field(default_factory=dict)  # ISO day -> DAY_FIELDS
    burn: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (promotion, day) -> [orders, spend]

    def add(self, quote: Quote, shop_of: Mapping[str, str], day: str, budgeted: frozenset[str]) -> dict[str, int]:
        """Adds one priced order; answers its lines' final per shop."""
        t = self.totals
        t[0] += 1
        t[1] += quote.list
        t[2] += quote.discount
        t[3] += quote.shipping
        t[4] += quote.payable
        for applied in quote.applied:
            if applied.amount:
                p = self.promotions.get(applied.promotion)
                if p is None:
                    p = self.promotions[applied.promotion] = [0, 0]
                p[0] += 1
                p[1] += applied.amount
                if applied.promotion in budgeted:
                    b = self.burn.get((applied.promotion, day))
                    if b is None:
                        b = self.burn[(applied.promotion, day)] = [0, 0]
                    b[0] += 1
                    b[1] += applied.amount
        levels = quote.plan.by_name
        finals: dict[str, int] = {}
        for line in quote.lines:
            shop_name = shop_of.get(line.id)
            if shop_name is None:  # a gift line: list 0, final 0
                continue
            s = self.shops.get(shop_name)
            if s is None:
                s = self.shops[shop_name] = [0] * len(SHOP_FIELDS)
            if shop_name not in finals:
                s[0] += 1
                finals[shop_name] = 0
            s[1] += line.list
            taken = 0
            for name, amount in line.discounts:
                promo = levels.get(name)
                level = promo.level if promo is not None else "item"  # a presale price is item level
                s[3 if level == "shop" else 4 if level == "platform" else 2] += amount
                taken += amount
            s[5] += line.list - line.final - taken
            s[6] += line.final
            finals[shop_name] += line.final
        d = self.days.get(day)
        if d is None:
            d = self.days[day] = [0] * len(DAY_FIELDS)
        d[0] += 1
        d[1] += quote.list
        d[2] += quote.discount
        d[3] += quote.payable
        return finals

    def merge(self, other: Side) -> None:
        self.totals = [a + b for a, b in zip(self.totals, other.totals)]
        for mine, theirs in ((self.promotions, other.promotions), (self.shops, other.shops),
                             (self.days, other.days), (self.burn, other.burn)):
            _add_into(mine, theirs)

    def canonical(self) -> dict[str, Any]:
        return {"totals": self.totals, "promotions": sorted(self.promotions.items()),
                "shops": sorted(self.shops.items()), "days": sorted(self.days.items()),
                "burn": sorted(self.burn.items())}


@dataclass(frozen=True)
class Mover:
    """An order whose payable changes between the rulesets, with what is needed to show it."""

    row: int
    order_id: str
    payable: int  # under RULES
    against: int  # under --against
    applied: tuple[tuple[str, int], ...]
    applied_against: tuple[tuple[str, int], ...]
    order: dict[str, Any]  # the order's JSON, as read

    @property
    def change(self) -> int:
        return self.payable - self.against

    @property
    def key(self) -> tuple[int, int]:
        return (-abs(self.change), self.row)


@dataclass
class Compare:
    """How the payable moves from --against to RULES (change = RULES − against)."""

    orders: list[int] = field(default_factory=lambda: [0, 0, 0])  # lower, same, higher
    buckets: dict[int, int] = field(default_factory=dict)
    shops: dict[str, list[int]] = field(default_factory=dict)  # shop -> [orders its final fell, rose]
    movers: list[Mover] = field(default_factory=list)  # the `top` largest, sorted by key

    def add(self, change: int, finals: Mapping[str, int], finals_against: Mapping[str, int],
            edges: tuple[int, ...]) -> None:
        self.orders[0 if change < 0 else 1 if change == 0 else 2] += 1
        k = bucket(change, edges)
        self.buckets[k] = self.buckets.get(k, 0) + 1
        for shop in finals.keys() | finals_against.keys():
            moved = finals.get(shop, 0) - finals_against.get(shop, 0)
            s = self.shops.get(shop)
            if s is None:
                s = self.shops[shop] = [0, 0]
            if moved:
                s[0 if moved < 0 else 1] += 1

    def wants(self, change: int, row: int, top: int) -> bool:
        """Whether an order with this change would be among the `top` movers (so worth keeping)."""
        return bool(change) and (len(self.movers) < top or (-abs(change), row) < self.movers[-1].key)

    def offer(self, mover: Mover, top: int) -> None:
        if self.wants(mover.change, mover.row, top):
            self.movers.append(mover)
            self.movers.sort(key=lambda m: m.key)
            del self.movers[top:]

    def merge(self, other: Compare, top: int) -> None:
        self.orders = [a + b for a, b in zip(self.orders, other.orders)]
        for k, n in other.buckets.items():
            self.buckets[k] = self.buckets.get(k, 0) + n
        for shop, (down, up) in other.shops.items():
            s = self.shops.setdefault(shop, [0, 0])
            s[0] += down
            s[1] += up
        self.movers = sorted(self.movers + other.movers, key=lambda m: m.key)[:top]

    def canonical(self) -> dict[str, Any]:
        return {"orders": self.orders, "buckets": sorted(self.buckets.items()), "shops": sorted(self.shops.items()),
                "movers": [(m.row, m.order_id, m.payable, m.against, m.applied, m.applied_against) for m in self.movers]}


@dataclass
class Aggregate:
    rules: Side = field(default_factory=Side)
    against: Side | None = None
    compare: Compare | None = None
    rows: int = 0  # rows read (orders and bad rows; blank lines are not rows)
    errors: list[tuple[int, str]] = field(default_factory=list)  # the first MAX_ERRORS bad rows by row
    bad: int = 0
    top: int = TOP
    # not part of the result (it depends on where the work ran): peak RSS in KiB per worker
    workers: dict[str, int] = field(default_factory=dict, compare=False)

    @classmethod
    def empty(cls, against: bool, top: int = TOP) -> Aggregate:
        return cls(against=Side() if against else None, compare=Compare() if against else None, top=top)

    def bad_row(self, row: int, message: str) -> None:
        self.rows += 1
        self.bad += 1
        if len(self.errors) < MAX_ERRORS or row < self.errors[-1][0]:
            self.errors.append((row, message))
            self.errors.sort()
            del self.errors[MAX_ERRORS:]

    def merge(self, other: Aggregate) -> Aggregate:
        """Adds `other` into this one (and answers it)."""
        self.rules.merge(other.rules)
        if self.against is not None and other.against is not None:
            self.against.merge(other.against)
        if self.compare is not None and other.compare is not None:
            self.compare.merge(other.compare, self.top)
        self.rows += other.rows
        self.bad += other.bad
        self.errors = sorted(self.errors + other.errors)[:MAX_ERRORS]
        for worker, rss in other.workers.items():
            self.workers[worker] = max(rss, self.workers.get(worker, 0))
        return self

    @property
    def priced(self) -> int:
        return self.rules.totals[0]

    def canonical(self) -> dict[str, Any]:
        """Everything the result holds, in one defined order (equal aggregates, equal values)."""
        return {"rows": self.rows, "bad": self.bad, "errors": self.errors, "rules": self.rules.canonical(),
                "against": self.against.canonical() if self.against else None,
                "compare": self.compare.canonical() if self.compare else None}


def merged(aggregates: Iterable[Aggregate], against: bool, top: int = TOP) -> Aggregate:
    total = Aggregate.empty(against, top)
    for a in aggregates:
        total.merge(a)
    return total


def day_of(at: datetime, plan: Plan) -> str:
    return at.astimezone(plan.timezone).date().isoformat()


def period_of(day: str, period: str | None) -> str:
    """The budget period a day is in: the day, its ISO week (2026-W46), its month (2026-11), or all."""
    if period in (None, ""):
        return ""
    if period == "day":
        return day
    d = date.fromisoformat(day)
    if period == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    return day[:7]
