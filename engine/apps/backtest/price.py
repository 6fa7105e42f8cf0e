"""Pricing orders: one partition at a time into an `Aggregate`, each order by `evaluate` with
EXPLAIN_OFF under the ruleset (and the one it is compared against).

A `Job` carries the rules' sources (not their paths: a Dask worker on another machine compiles
the same text), the order time to use, the budgets to follow and the function that turns an
order's JSON into a `Request` (engine.wire's `request_from_json`: the apps layer does not import
the wire format, so the caller hands it over; it is pickled by reference). Each worker process
compiles a job's rules once (`plans`) and keeps them for every later partition.
"""

from __future__ import annotations

import os
import resource
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.apps.backtest.aggregate import TOP, Aggregate, Mover, day_of, edges_minor
from engine.apps.backtest.orders import BadRow, Partition, read_partition
from engine.apps.cluster import digest, keep_plan, plan_for
from engine.base.enums import Explain
from engine.base.request import Request
from engine.lang.source import SourceFile
from engine.plan.plan import Plan
from engine.pricing.quote import Quote, evaluate

Decode = Callable[[Any, int, Any], Request]  # (order JSON, minor digits, timezone) -> Request; ValueError if bad


@dataclass(frozen=True)
class Budget:
    """A budget followed by the backtest: the plan's `budget` clauses, or one given on the
    command line (`--budget NAME=AMOUNT[/day|week|month]`). Amount in minor units."""

    promotion: str
    amount: int
    period: str | None = None  # None: the whole run; "day" | "week" | "month"


@dataclass(frozen=True)
class Job:
    rules: tuple[SourceFile, ...]
    decode: Decode
    against: tuple[SourceFile, ...] | None = None
    at: datetime | None = None  # None: every order at its own `at`
    budgets: tuple[Budget, ...] = ()
    top: int = TOP
    keys: tuple[str, str] = field(default=("", ""), compare=False)  # the sources' digests

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", (digest(self.rules), digest(self.against) if self.against else ""))

    @property
    def budgeted(self) -> frozenset[str]:
        return frozenset(b.promotion for b in self.budgets)


def plans(job: Job) -> tuple[Plan, Plan | None]:
    """The job's compiled plans: compiled once per process, then reused."""
    return (plan_for(job.rules, job.keys[0]),
            plan_for(job.against, job.keys[1]) if job.against is not None else None)


def use_plans(job: Job, rules: Plan, against: Plan | None) -> None:
    """Hands this process plans compiled already (the in-process path compiles only once)."""
    keep_plan(job.rules, rules, job.keys[0])
    if job.against is not None and against is not None:
        keep_plan(job.against, against, job.keys[1])


def budgets_of(plan: Plan) -> tuple[Budget, ...]:
    """The plan's `budget` clauses (ledger.md §1), each with its amount in minor units and period."""
    return tuple(Budget(promotion.name, clause.amount, clause.period)
                 for promotion in plan.promotions for clause in promotion.budgets)


@dataclass(frozen=True)
class Priced:
    """One order under both rulesets (`against` None without --against)."""

    row: int
    order_id: str
    request: Request
    day: str
    quote: Quote
    against: Quote | None


def order_request(job: Job, plan: Plan, data: Mapping[str, Any], explain: Explain = Explain.OFF
                  ) -> tuple[str, Request, datetime]:
    """The order's id, its request (at `job.at` when given, else at its own time) and its own time.
    ValueError says what is wrong with it."""
    body = dict(data)
    order_id = body.pop("order_id", "")
    if isinstance(order_id, bool) or not isinstance(order_id, str | int):
        raise ValueError("order_id: expected a string or an integer")
    if job.at is None and not body.get("at"):
        raise ValueError("at: the order time is required (or price every order at one time with --at)")
    body.pop("explain", None)
    request = job.decode(body, plan.digits, plan.timezone)
    placed = request.at if body.get("at") else (job.at or request.at)
    return str(order_id), replace(request, at=job.at or request.at, explain=explain), placed


def price_order(job: Job, rules: Plan, against: Plan | None, row: int, data: Mapping[str, Any]) -> Priced | BadRow:
    try:
        order_id, request, placed = order_request(job, rules, data)
    except ValueError as err:
        return BadRow(row, str(err))
    try:
        quote = evaluate(rules, request)
        other = evaluate(against, request) if against is not None else None
    except Exception as err:  # noqa: BLE001 - one order never stops the run: it is reported by row
        return BadRow(row, f"could not be priced: {type(err).__name__}: {err}")
    return Priced(row, order_id, request, day_of(placed, rules), quote, other)


def fold(agg: Aggregate, job: Job, priced: Priced | BadRow, data: Mapping[str, Any], edges: tuple[int, ...]) -> None:
    if isinstance(priced, BadRow):
        agg.bad_row(priced.row, priced.message)
        return
    agg.rows += 1
    shop_of = {line.id: line.shop for line in priced.request.lines}
    budgeted = job.budgeted
    finals = agg.rules.add(priced.quote, shop_of, priced.day, budgeted)
    if priced.against is not None and agg.against is not None and agg.compare is not None:
        finals_against = agg.against.add(priced.against, shop_of, priced.day, budgeted)
        change = priced.quote.payable - priced.against.payable
        agg.compare.add(change, finals, finals_against, edges)
        if agg.compare.wants(change, priced.row, job.top):
            agg.compare.offer(Mover(priced.row, priced.order_id, priced.quote.payable, priced.against.payable,
                                    tuple((a.promotion, a.amount) for a in priced.quote.applied if a.amount),
                                    tuple((a.promotion, a.amount) for a in priced.against.applied if a.amount),
                                    {k: v for k, v in data.items() if k != "order_id"}), job.top)


def price_rows(job: Job, rows: Iterable[Any]) -> Aggregate:
    """Prices orders (`Order`s and `BadRow`s of orders.py) into a new aggregate."""
    rules, against = plans(job)
    agg = Aggregate.empty(against is not None, job.top)
    edges = edges_minor(rules.digits)
    for item in rows:
        if isinstance(item, BadRow):
            agg.bad_row(item.row, item.message)
        else:
            fold(agg, job, price_order(job, rules, against, item.row, item.data), item.data, edges)
    agg.workers[f"{socket.gethostname()}:{os.getpid()}"] = peak_rss_kib()
    return agg


def peak_rss_kib() -> int:
    """This process's peak resident memory, KiB: VmHWM, which starts afresh at exec (ru_maxrss
    carries the parent's peak into a spawned worker), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def price_partition(job: Job, part: Partition) -> Aggregate:
    """One partition, read where it is priced: only the aggregate goes back."""
    return price_rows(job, read_partition(part))
