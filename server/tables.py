"""Human-readable output of the `promo` command: quotes and test results as terminal tables."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from engine.explain import hint_messages, reason_messages
from engine.money import format_money
from engine.quote import Quote, plain_detail
from engine.ruletest import TestOutcome


def print_quote(quote: Quote, console: Console) -> None:
    plan = quote.plan
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    console.print(f"[bold]{plan.name}[/] ({plan.stacking} stacking, {plan.currency}) revision {plan.revision[:12]}")

    lines = Table(title="lines", title_justify="left")
    for col in ("line", "qty", "list", "base", "discounts", "final"):
        lines.add_column(col, justify="right" if col not in ("line", "discounts") else "left")
    for line in quote.lines:
        discounts = "\n".join(f"{name} −{money(a)}" for name, a in line.discounts) or ("gift of " + line.gift_of if line.gift_of else "")
        lines.add_row(line.id, str(line.quantity), money(line.list), money(line.base), discounts, money(line.final))
    console.print(lines)

    applied = Table(title="applied", title_justify="left")
    for col in ("promotion", "level", "kind", "amount", "note"):
        applied.add_column(col, justify="right" if col == "amount" else "left")
    for a in quote.applied:
        applied.add_row(a.promotion, a.level, a.kind, money(a.amount), "capped" if a.capped else "")
    console.print(applied)

    totals = Table(show_header=False, box=None)
    for label, value in (("list", quote.list), ("discount", quote.discount), ("shipping", quote.shipping), ("payable", quote.payable)):
        totals.add_row(label, f"[bold]{money(value)}[/]" if label == "payable" else money(value))
    console.print(totals)

    for p in quote.presale:
        console.print(f"presale {p.line}: {p.stage} stage, deposit {money(p.deposit)} (worth {money(p.deposit_worth)}), "
                      f"balance due {money(p.balance_due)}" + (f", ships {p.ships}" if p.ships else ""))
    if quote.not_applied:
        table = Table(title="not applied", title_justify="left")
        for col in ("promotion", "reason", "message", "detail"):
            table.add_column(col)
        for n in quote.not_applied:
            message, message_zh = reason_messages(n.reason, plan.digits)
            detail = n.reason.detail.get("clause") or n.reason.detail.get("winner") or ""
            table.add_row(n.promotion, n.reason.code, f"{message}\n{message_zh}", str(detail))
        console.print(table)
    for h in quote.hints:
        message, message_zh = hint_messages(h, plan.digits)
        console.print(f"hint {h.promotion}: {message} / {message_zh}")
    if quote.better_set:
        b = quote.better_set
        coupons = ", ".join(b.coupons) or "no coupon"
        console.print(f"better: {coupons} pays {money(b.payable)}, {money(b.would_save)} less than the selected coupons")


def print_test_results(outcomes: list[TestOutcome], console: Console, explain: bool) -> None:
    for outcome in outcomes:
        mark = "[green]PASS[/]" if outcome.passed else "[red]FAIL[/]"
        console.print(f"{mark} {outcome.name}  ({outcome.at})", highlight=False)
        for m in outcome.mismatches:
            console.print(f"    {m.at}: {m.expectation}", highlight=False)
            console.print(f"      [red]- expected {m.expected}[/]", highlight=False)
            console.print(f"      [green]+ actual   {m.actual}[/]", highlight=False)
        if explain and not outcome.passed:
            print_quote(outcome.quote, console)
            for event in outcome.quote.trace:
                shown = plain_detail(event, outcome.quote.plan.digits)  # money as decimal strings
                console.print("    trace " + ", ".join(f"{k}={v}" for k, v in shown.items()), highlight=False)
    failed = sum(not o.passed for o in outcomes)
    console.print(f"{len(outcomes) - failed} passed, {failed} failed", highlight=False)


def print_qualification(result: dict, console: Console) -> None:
    """The QualifyResponse JSON as a table: one row per wallet coupon."""
    console.print(f"without coupons {result['payable_without_coupons']}, with the best set {result['payable_best']}")
    table = Table(title="wallet", title_justify="left")
    for col in ("coupon", "usable", "alone", "in best set", "why / what it takes"):
        table.add_column(col, justify="right" if col in ("alone", "in best set") else "left")
    for c in result["coupons"]:
        why = f"{c['reason']}: {c['message']} / {c['message_zh']}" if "reason" in c else ""
        if c.get("detail"):
            why += "\n" + json.dumps(c["detail"], ensure_ascii=False)
        table.add_row(c["coupon"], "yes" if c["usable"] else "no", c["saving_alone"],
                      c["saving_in_best"] if c["in_best"] else "-", why)
    console.print(table)
