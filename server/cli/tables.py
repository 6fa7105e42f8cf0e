"""Human-readable output of the `promo` command: quotes and test results as terminal tables.

On a terminal: boxed tables drawn to its width, long cells wrapped (folded), never cut. Anywhere
else (a pipe, a file): plain lines, with no box drawing, no colour and no wrapping.
"""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.apps.ruletest import TestOutcome
from engine.base.money import format_money
from engine.pricing.quote import Quote
from engine.wire.encode import hint_messages, plain_detail, reason_messages


def stdout_console() -> Console:
    """The console of the command's output: the terminal's, or plain unwrapped lines. No markup:
    names and messages are printed as they are (a `[red]` in a line id is text); styles are Text."""
    console = Console(highlight=False, markup=False)
    if console.is_terminal:
        return console
    # as wide as any line, so that nothing is wrapped; soft_wrap: text lines are never broken
    return Console(highlight=False, markup=False, no_color=True, width=1_000_000, soft_wrap=True)


def table(console: Console, columns: tuple[str, ...], right: tuple[str, ...] = (), **options: Any) -> Table:
    """A table with `columns`, those in `right` (amounts) right-justified and never wrapped:
    boxed on a terminal, plain aligned columns elsewhere. A cell too long for its column is
    folded onto the next lines, never cut with "…" (a Chinese message has no space to wrap at
    and would lose its amount)."""
    boxed = console.is_terminal
    out = Table(title_justify="left", box=box.HEAVY_HEAD if boxed else None, pad_edge=boxed, **options)
    for col in columns:
        out.add_column(col, justify="right" if col in right else "left", overflow="fold", no_wrap=col in right)
    return out


def print_quote(quote: Quote, console: Console) -> None:
    plan = quote.plan
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    console.print(Text.assemble((plan.name, "bold"),
                                f" ({plan.stacking} stacking, {plan.currency}) revision {plan.revision[:12]}"))

    lines = table(console, ("line", "qty", "list", "base", "discounts", "final"), right=("qty", "list", "base", "final"),
                  title="lines")
    for line in quote.lines:
        discounts = ("\n".join(f"{name} −{money(a)}" for name, a in line.discounts)
                     or ("gift of " + line.gift_of if line.gift_of else ""))
        lines.add_row(line.id, str(line.quantity), money(line.list), money(line.base), discounts, money(line.final))
    console.print(lines)

    applied = table(console, ("promotion", "level", "kind", "amount", "note"), right=("amount",), title="applied")
    for a in quote.applied:
        applied.add_row(a.promotion, a.level, a.kind, money(a.amount), "capped" if a.capped else "")
    console.print(applied)

    totals = Table(show_header=False, box=None)
    sums = (("list", quote.list), ("discount", quote.discount), ("shipping", quote.shipping), ("payable", quote.payable))
    for label, value in sums:
        totals.add_row(label, Text(money(value), "bold" if label == "payable" else ""))
    console.print(totals)

    for p in quote.presale:
        console.print(f"presale {p.line}: {p.stage} stage, deposit {money(p.deposit)} (worth {money(p.deposit_worth)}), "
                      f"balance due {money(p.balance_due)}" + (f", ships {p.ships}" if p.ships else ""))
    if quote.not_applied:
        not_applied = table(console, ("promotion", "reason", "message", "detail"), title="not applied")
        for n in quote.not_applied:
            message, message_zh = reason_messages(n.reason, plan.digits)
            detail = n.reason.detail.get("clause") or n.reason.detail.get("winner") or ""
            not_applied.add_row(n.promotion, n.reason.code, f"{message}\n{message_zh}", str(detail))
        console.print(not_applied)
    for h in quote.hints:
        message, message_zh = hint_messages(h, plan.digits)
        console.print(f"hint {h.promotion}: {message} / {message_zh}")
    if quote.better_set:
        b = quote.better_set
        coupons = ", ".join(b.coupons) or "no coupon"
        console.print(f"better: {coupons} pays {money(b.payable)}, {money(b.would_save)} less than the selected coupons")
    if not quote.search.optimal:
        console.print(f"not proven optimal: the search stopped ({quote.search.stopped}) after "
                      f"{quote.search.choices_priced} choices; this is the best set it found")
    for event in quote.trace:  # only with explain trace
        shown = plain_detail(event, plan.digits)  # money as decimal strings
        console.print("trace " + ", ".join(f"{k}={_value(v)}" for k, v in shown.items()))


def _value(v: object) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def print_test_results(outcomes: list[TestOutcome], console: Console, explain: bool) -> None:
    for outcome in outcomes:
        # a failure says where the test is; a pass needs no position (it made every line wrap)
        console.print(Text.assemble(("PASS", "green"), f" {outcome.name}") if outcome.passed
                      else Text.assemble(("FAIL", "red"), f" {outcome.name}  ({outcome.at})"))
        for m in outcome.mismatches:
            console.print(f"    {m.at}: {m.expectation}")
            console.print(Text(f"      - expected {m.expected}", "red"))
            console.print(Text(f"      + actual   {m.actual}", "green"))
        if explain and not outcome.passed:
            print_quote(outcome.quote, console)  # with its trace
    failed = sum(not o.passed for o in outcomes)
    console.print(f"{len(outcomes) - failed} passed, {failed} failed")


def print_qualification(result: dict, console: Console) -> None:
    """The QualifyResponse JSON as a table: one row per wallet coupon."""
    console.print(f"without coupons {result['payable_without_coupons']}, with the best set {result['payable_best']}")
    wallet = table(console, ("coupon", "usable", "alone", "in best set", "why / what it takes"),
                   right=("alone", "in best set"), title="wallet")
    for c in result["coupons"]:
        why = f"{c['reason']}: {c['message']} / {c['message_zh']}" if "reason" in c else ""
        if c.get("detail"):
            why += "\n" + json.dumps(c["detail"], ensure_ascii=False)
        wallet.add_row(c["coupon"], "yes" if c["usable"] else "no", c["saving_alone"],
                       c["saving_in_best"] if c["in_best"] else "-", why)
    console.print(wallet)
