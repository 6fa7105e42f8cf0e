"""Helpers for the table-driven pricing tests: a small rule text and a small request dict in,
the service JSON (service.md's EvaluateResponse) out, through the public surface only:
`load_sources([SourceFile(...)])` -> `compile_plan` -> `request_from_json` -> `evaluate` ->
`quote_to_json`.

A case's expectations are written by hand from the language reference (language.md §4, §5);
`check` compares only the keys a case names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from engine.lang.load import load_sources
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan
from engine.plan.plan import Plan
from engine.pricing.quote import evaluate
from engine.wire.decode import request_from_json
from engine.wire.encode import quote_to_json

AT = "2026-11-11T10:00:00+08:00"


def ruleset(body: str, stacking: str = "parallel", rounding: str = "half_up", min_payment: str = "0.00",
            extra: str = "") -> str:
    header = (f'ruleset "t" {{ currency CNY timezone "Asia/Shanghai" stacking {stacking} '
              f'rounding {rounding} min_payment {min_payment} {extra} }}\n')
    return header + body


@cache
def plan_of(text: str) -> Plan:
    loaded = load_sources([SourceFile("rules.promo", text)])
    errors = [d for d in loaded.diagnostics if d.is_error]
    assert not errors, [(d.code, d.span.line, d.span.column, d.message) for d in errors]
    return compile_plan(loaded)


def line(id: str, price: str, qty: int = 1, sku: str | None = None, shop: str = "S1", category: str = "c",
         **extra: Any) -> dict:
    return {"id": id, "sku": sku or f"sku-{id}", "shop": shop, "category": category, "price": price,
            "quantity": qty, **extra}


def cart(*lines: dict, at: str = AT, **extra: Any) -> dict:
    return {"at": at, "lines": list(lines), **extra}


def quote(rules: str, request: dict, ledger: Any = None) -> dict:
    """`ledger`: a LedgerView (engine/pricing/ledger.py) the quote reads, e.g. a FixedLedger."""
    plan = plan_of(rules)
    req = request_from_json(request, plan.digits, plan.timezone)
    return quote_to_json(evaluate(plan, req, ledger=ledger))


# ---- views of a quote ----------------------------------------------------------------------------


def finals(q: dict) -> dict[str, str]:
    return {ln["id"]: ln["final"] for ln in q["lines"]}


def line_discounts(q: dict) -> dict[str, dict[str, str]]:
    return {ln["id"]: {d["promotion"]: d["amount"] for d in ln["discounts"]} for ln in q["lines"]}


def applied(q: dict) -> dict[str, str]:
    return {a["promotion"]: a["amount"] for a in q["applied"]}


def capped(q: dict) -> set[str]:
    return {a["promotion"] for a in q["applied"] if a["capped"]}


def reasons(q: dict) -> dict[str, str]:
    return {n["promotion"]: n["reason"] for n in q["not_applied"]}


def not_applied(q: dict, name: str) -> dict:
    found = [n for n in q["not_applied"] if n["promotion"] == name]
    assert found, f"{name} not in not_applied: {reasons(q)}"
    return found[0]


def hints(q: dict) -> dict[str, dict]:
    return {h["promotion"]: {k: v for k, v in h.items() if k in ("missing_amount", "missing_quantity", "would_save")}
            for h in q["hints"]}


@dataclass
class Case:
    """One row of a pricing table. Only the expectations given are checked."""

    id: str
    rules: str
    request: dict
    payable: str | None = None
    finals: dict[str, str] | None = None  # line id -> final (every line of the quote, gift lines included)
    applied: dict[str, str] | None = None  # exactly these applied, with these amounts
    discounts: dict[str, dict[str, str]] | None = None  # line id -> promotion -> amount (only lines named)
    capped: set[str] | None = None  # exactly these applied promotions carry capped: true
    reasons: dict[str, str] | None = None  # promotion -> reason code (only promotions named)
    hints: dict[str, dict] | None = None  # exactly these hints
    shipping: str | None = None
    discount: str | None = None  # totals.discount
    presale: list[dict] | None = None
    extra: dict = field(default_factory=dict)
    ledger: Any = None  # a LedgerView the quote reads (None: no ledger)


def check(case: Case) -> dict:
    q = quote(case.rules, case.request, case.ledger)
    got, want = {}, {}
    if case.payable is not None:
        got["payable"], want["payable"] = q["totals"]["payable"], case.payable
    if case.shipping is not None:
        got["shipping"], want["shipping"] = q["totals"]["shipping"], case.shipping
    if case.discount is not None:
        got["discount"], want["discount"] = q["totals"]["discount"], case.discount
    if case.finals is not None:
        got["finals"], want["finals"] = finals(q), case.finals
    if case.applied is not None:
        got["applied"], want["applied"] = applied(q), case.applied
    if case.discounts is not None:
        ld = line_discounts(q)
        got["discounts"], want["discounts"] = {k: ld.get(k) for k in case.discounts}, case.discounts
    if case.capped is not None:
        got["capped"], want["capped"] = capped(q), case.capped
    if case.reasons is not None:
        r = reasons(q)
        got["reasons"], want["reasons"] = {k: r.get(k) for k in case.reasons}, case.reasons
    if case.hints is not None:
        got["hints"], want["hints"] = hints(q), case.hints
    if case.presale is not None:
        got["presale"] = [{k: p.get(k) for k in w} for p, w in zip(q["presale"], case.presale)]
        got["presale_count"] = len(q["presale"])
        want["presale"], want["presale_count"] = case.presale, len(case.presale)
    diff = {k: {"got": got[k], "want": want[k]} for k in want if got[k] != want[k]}
    assert not diff, diff
    return q


def params(cases: list[Case]):
    """pytest.param per case, with its id and any marks in case.extra['marks']."""
    import pytest

    return [pytest.param(c, id=c.id, marks=c.extra.get("marks", ())) for c in cases]
