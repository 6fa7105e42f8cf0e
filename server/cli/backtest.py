"""`promo backtest RULES ORDERS`: historical orders replayed under a ruleset, and against
another (docs/backtest.md). The work is engine/apps/backtest; this module reads the command
line, shows progress, prints the tables and writes the reports (server/cli/backtest_report.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from engine.apps.backtest.aggregate import Aggregate
from engine.apps.backtest.orders import OrdersFormatError, count_rows, partitions
from engine.apps.backtest.price import Budget, Job, budgets_of
from engine.apps.backtest.result import result
from engine.apps.backtest.run import run_backtest
from engine.apps.cluster import RulesError
from engine.base.money import MoneyError, parse_money
from engine.lang.diagnostics import render
from engine.lang.load import load_ruleset
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan
from engine.plan.plan import Plan
from engine.wire.decode import RequestError, parse_datetime, request_from_json
from server.cli.tables import stdout_console, table

PERIODS = ("day", "week", "month")


def load(rules: str) -> tuple[tuple[SourceFile, ...], Plan] | None:
    """The ruleset's sources and plan, or None after printing why there is none."""
    if not Path(rules).exists():
        print(f"error: `{rules}` does not exist", file=sys.stderr)
        return None
    loaded = load_ruleset(rules)
    if not loaded.sources:
        print(f"error: no .promo files directly in `{rules}`", file=sys.stderr)
        return None
    if not loaded.ok:
        for diag in loaded.diagnostics:
            print(render(diag, loaded.sources) + "\n", file=sys.stderr)
        print(f"error: the ruleset `{rules}` has errors (see `promo check {rules}`)", file=sys.stderr)
        return None
    return tuple(loaded.sources[path] for path in sorted(loaded.sources)), compile_plan(loaded)


def parse_budget(text: str, plan: Plan) -> Budget:
    """`NAME=AMOUNT[/day|week|month]` -> Budget; ValueError says what is wrong."""
    name, sep, rest = text.rpartition("=")
    if not sep or not name:
        raise ValueError(f"--budget `{text}`: expected NAME=AMOUNT or NAME=AMOUNT/day")
    amount_text, _, period = rest.partition("/")
    if period and period not in PERIODS:
        raise ValueError(f"--budget `{text}`: the period is day, week or month")
    if name not in plan.by_name:
        raise ValueError(f"--budget `{text}`: no promotion or coupon `{name}` in the ruleset")
    try:
        amount = parse_money(amount_text, plan.digits)
    except MoneyError as err:
        raise ValueError(f"--budget `{text}`: {err}") from None
    if amount <= 0:
        raise ValueError(f"--budget `{text}`: a budget is positive")
    return Budget(name, amount, period or None)


def _progress(args: argparse.Namespace, total: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[bad]} bad"),
                    TimeRemainingColumn(), console=Console(stderr=True, highlight=False),
                    disable=args.quiet), total


def run(args: argparse.Namespace) -> int:
    rules = load(args.rules)
    if rules is None:
        return 2
    sources, plan = rules
    against_sources, against_plan = None, None
    if args.against:
        other = load(args.against)
        if other is None:
            return 2
        against_sources, against_plan = other
        if against_plan.currency != plan.currency:
            print(f"error: `{args.rules}` is in {plan.currency} and `{args.against}` in {against_plan.currency}: "
                  "a backtest compares rulesets of one currency", file=sys.stderr)
            return 2
    if not Path(args.orders).is_file():
        print(f"error: `{args.orders}` does not exist", file=sys.stderr)
        return 2
    try:
        at = parse_datetime(args.at, "--at", plan.timezone) if args.at else None
    except RequestError as err:
        print(f"error: --at: {err.message}", file=sys.stderr)
        return 2
    try:
        budgets = budgets_of(plan) + tuple(parse_budget(b, plan) for b in args.budget)
        total = count_rows(args.orders)
        parts = partitions(args.orders, args.partition_rows)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    job = Job(sources, request_from_json, against=against_sources, at=at, budgets=budgets)
    if args.out:
        from server.cli.backtest_report import check_path

        try:
            check_path(args.out)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    bar, total = _progress(args, total)
    try:
        with bar:
            task = bar.add_task("backtest", total=total, bad=0)
            seen = {"bad": 0}

            def advance(agg: Aggregate) -> None:
                seen["bad"] += agg.bad
                bar.update(task, advance=agg.rows, bad=seen["bad"])

            agg = run_backtest(job, parts, processes=args.processes, scheduler=args.scheduler, progress=advance,
                               compiled=(plan, against_plan))
            bar.update(task, completed=total)
    except (OrdersFormatError, RulesError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    err_console = Console(stderr=True, highlight=False)
    for row, message in agg.errors:
        err_console.print(f"{args.orders}:{row}: bad row skipped: {message}", markup=False, soft_wrap=True)
    if agg.bad > len(agg.errors):
        err_console.print(f"… and {agg.bad - len(agg.errors)} more bad rows", markup=False)
    data = result(agg, job, plan, against_plan, orders=args.orders)
    speed = f"{agg.priced / seconds:,.0f} orders/s" if seconds > 0 else ""
    if args.out:
        from server.cli.backtest_report import write_report

        write_report(args.out, data, {"rules": args.rules, "against": args.against or "", "orders": args.orders})
        print(f"{agg.priced} orders priced, {agg.bad} bad rows skipped in {seconds:.1f} s ({speed}) -> {args.out}")
    else:
        print_tables(data, args)
        print(f"{agg.priced} orders priced, {agg.bad} bad rows skipped in {seconds:.1f} s ({speed})")
    return 0


def print_tables(data: dict[str, Any], args: argparse.Namespace) -> None:
    console = stdout_console()
    against = data["against"] is not None
    sides = ("rules", "against", "change") if against else ("rules",)
    t = table(console, ("", *sides), right=sides, title=f"totals ({data['currency']})")
    for name in ("orders", "gmv", "discount", "shipping", "payable"):
        t.add_row(name, *(str(data["totals"][s].get(name, "")) for s in sides))
    console.print(t)
    cols = ("promotion", "level", "orders", "spend", "average", "% of GMV") + (("against", "change") if against else ())
    t = table(console, cols, right=cols[2:], title="promotions (by spend, the first 20)")
    for p in data["promotions"][:20]:
        r = p["rules"]
        t.add_row(p["promotion"], p["level"], str(r["orders"]), r["spend"], r["average"], r["share_of_gmv"],
                  *((p["against"]["spend"], p["change"]) if against else ()))
    console.print(t)
    cols = ("shop", "orders", "item", "shop level", "platform share", "gives up", "final") + (
        ("final change", "gives up change") if against else ())
    t = table(console, cols, right=cols[1:], title="shops (" + ("who loses most first" if against else "by what they give up")
              + ", the first 20)")
    for s in data["shops"][:20]:
        r = s["rules"]
        t.add_row(s["shop"], str(r["orders"]), r["item"], r["shop"], r["platform"], r["gives_up"], r["final"],
                  *((s["change"]["final"], s["change"]["gives_up"]) if against else ()))
    console.print(t)
    if against:
        c = data["changes"]
        console.print(f"payable change per order: {c['orders']['lower']} lower, {c['orders']['same']} the same, "
                      f"{c['orders']['higher']} higher; shops whose lines' final fell: {c['shops']['final_down']}, "
                      f"rose: {c['shops']['final_up']}")
        t = table(console, ("row", "order", "payable", "against", "change"),
                  right=("payable", "against", "change"), title="the orders that move most")
        for m in data["movers"]:
            t.add_row(str(m["row"]), str(m["order_id"]), m["payable"], m["against"], m["change"])
        console.print(t)
        console.print("each of these orders as an EvaluateRequest, with its `promo eval` command: --out report.html "
                      "(or movers[].order in report.json)")
    for b in data["budgets"]:
        console.print(f"budget {b['promotion']} {b['budget']} ({b['period']}): spent {b['spend']}"
                      + (f", exhausted on {b['exhausted']}" if b["exhausted"] else ""))


def register(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """`promo backtest` on the command's subparsers."""
    p = sub.add_parser("backtest", help="replay historical orders under a ruleset (and against another): "
                                        "per promotion, per shop, who gains and who loses")
    p.add_argument("rules")
    p.add_argument("orders", help="JSON Lines (.jsonl) or Parquet: one EvaluateRequest per order, with its `at`")
    p.add_argument("--against", metavar="OTHER_RULES", help="the ruleset to compare with (the one that ran)")
    p.add_argument("--out", help="report.html | report.csv | report.json (default: tables)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--at-order-time", action="store_true", help="price each order at its own `at` (the default)")
    when.add_argument("--at", help="price every order at this time (ISO-8601; without offset in the ruleset timezone)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786): price there")
    p.add_argument("--processes", type=int, default=0, help="local worker processes (default: one per core)")
    p.add_argument("--partition-rows", type=int, default=2000, help="JSON Lines rows per partition (a task)")
    p.add_argument("--budget", action="append", default=[], metavar="NAME=AMOUNT[/day|week|month]",
                   help="follow a budget of this promotion (repeatable); the ruleset's own budgets are followed too")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)

