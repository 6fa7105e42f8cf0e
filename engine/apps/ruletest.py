"""Rules as code: run the `test` blocks of a ruleset against its own plan.

A test block becomes an ordinary `Request`, is priced by `evaluate` like any checkout, and each
`expect` is compared with the quote. Failures carry the expected and the actual value. The
blocks come from the loaded ruleset's syntax trees (`rule_tests`), not from the plan: a plan
holds no syntax.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.base.enums import Explain, Stage
from engine.base.money import decimal_to_minor, format_money
from engine.base.request import Line, Request, User, WalletEntry
from engine.lang import ast
from engine.plan.plan import Plan
from engine.plan.predicates import resolve_datetime
from engine.pricing.ledger import FixedLedger
from engine.pricing.quote import Quote, evaluate

_LINE_FIELDS = {"sku", "shop", "category", "brand", "tags", "price", "qty"}
_USER_FIELDS = {"id", "level", "tags", "new"}


@dataclass(frozen=True)
class Mismatch:
    expectation: str  # `expect payable 170`
    expected: str
    actual: str
    at: str  # file:line:col of the expect


@dataclass(frozen=True)
class TestOutcome:
    name: str
    at: str
    mismatches: tuple[Mismatch, ...]
    quote: Quote

    @property
    def passed(self) -> bool:
        return not self.mismatches


def rule_tests(files: Iterable[ast.File]) -> list[ast.RuleTest]:
    """The `test` blocks of a ruleset's files, in the order written."""
    return [item for f in files for item in f.items if isinstance(item, ast.RuleTest)]


def run_tests(plan: Plan, tests: Sequence[ast.RuleTest], explain: bool = False) -> list[TestOutcome]:
    return [run_test(plan, test, explain) for test in tests]


def request_of(plan: Plan, test: ast.RuleTest, explain: bool = False) -> Request:
    digits, tz = plan.digits, plan.timezone
    fields: dict[str, Any] = {"lines": [], "shipping": {}, "wallet": [], "selected": [], "presale_sold": {},
                              "usage": {}}
    user: dict[str, Any] = {}
    for st in test.statements:
        if isinstance(st, ast.AtStmt):
            fields["at"] = resolve_datetime(st.at.text, tz)
        elif isinstance(st, ast.UserStmt):
            user = {f.name.value: _literal(f.value) for f in st.fields}
        elif isinstance(st, ast.ChannelStmt):
            fields["channel"] = st.value.value
        elif isinstance(st, ast.RegionStmt):
            fields["region"] = st.value.value
        elif isinstance(st, ast.LineStmt):
            fields["lines"].append(_line(st, digits))
        elif isinstance(st, ast.ShippingStmt):
            fields["shipping"][st.shop.value] = decimal_to_minor(st.fee.value, digits)
        elif isinstance(st, ast.WalletStmt):
            held = len(fields["wallet"])
            fields["wallet"] += [WalletEntry(n.value, f"w{held + k + 1}") for k, n in enumerate(st.coupons)]
        elif isinstance(st, ast.SelectedStmt):
            fields["selected"] += [n.value for n in st.coupons]
        elif isinstance(st, ast.StageStmt):
            fields["stage"] = Stage(st.stage.value)
        elif isinstance(st, ast.SoldStmt):
            fields["presale_sold"][st.presale.value] = int(st.count.value)
    usage = fields.pop("usage")
    return Request(
        at=fields.pop("at", None) or resolve_datetime("1970-01-01", tz),
        lines=tuple(fields.pop("lines")),
        user=User(
            id=str(user.get("id", "")),
            level=int(user.get("level", 0)),
            tags=frozenset(user.get("tags", ())),
            new=bool(user.get("new", False)),
            usage=usage,
            attributes={k: v for k, v in user.items() if k not in _USER_FIELDS},
        ),
        wallet=tuple(fields.pop("wallet")),
        selected=tuple(fields.pop("selected")),
        explain=Explain.TRACE if explain else Explain.REASONS,
        **fields,
    )


def _literal(expr: object) -> Any:
    if isinstance(expr, ast.ListLit):
        return [_literal(i) for i in expr.items]
    if isinstance(expr, ast.Number):
        return expr.value
    if isinstance(expr, ast.DateTime):
        return expr.text
    assert isinstance(expr, (ast.String, ast.Bool)), expr  # the checker allows no other field value
    return expr.value


def _line(st: ast.LineStmt, digits: int) -> Line:
    values = {f.name.value: _literal(f.value) for f in st.fields}
    attributes = {k: (format(v, "f") if isinstance(v, Decimal) else v)
                  for k, v in values.items() if k not in _LINE_FIELDS}
    return Line(
        id=st.id.value,
        sku=str(values.get("sku", "")),
        shop=str(values.get("shop", "")),
        category=str(values.get("category", "")),
        brand=str(values.get("brand", "")),
        tags=frozenset(values.get("tags", ())),
        price=decimal_to_minor(Decimal(values.get("price", 0)), digits),
        quantity=int(values.get("qty", 1)),
        attributes=attributes,
    )


def ledger_of(plan: Plan, test: ast.RuleTest) -> FixedLedger | None:
    """The ledger a test's `used` / `spent` describe (every limit of a promotion reads its `used`,
    every budget its `spent`), or None when it has neither: priced without a ledger."""
    uses = {s.promotion.value: int(s.count.value) for s in test.statements if isinstance(s, ast.UsedStmt)}
    spend = {s.promotion.value: decimal_to_minor(s.amount.value, plan.digits)
             for s in test.statements if isinstance(s, ast.SpentStmt)}
    return FixedLedger(uses, spend) if uses or spend else None


def run_test(plan: Plan, test: ast.RuleTest, explain: bool = False) -> TestOutcome:
    quote = evaluate(plan, request_of(plan, test, explain), ledger=ledger_of(plan, test))
    mismatches = []
    for st in test.statements:
        if isinstance(st, ast.Expect):
            expected, actual = _compare(plan, quote, st)
            if expected != actual:
                mismatches.append(Mismatch(_describe(st), str(expected), actual, str(st.span)))
    return TestOutcome(test.name.value, str(test.span), tuple(mismatches), quote)


def _describe(st: ast.Expect) -> str:
    parts = ["expect", st.what]
    if st.subject is not None:
        parts.append(f'"{st.subject.value}"')
    if st.what == "line":
        parts.append("final")
    if st.what == "hint" and st.value is not None:
        parts.append("missing")
    if st.value is not None:
        parts.append(st.value.text)
    if st.code is not None:
        parts.append(st.code.value)
    return " ".join(parts)


def _compare(plan: Plan, quote: Quote, st: ast.Expect) -> tuple[str | None, str]:
    """(expected, actual) as the text a reader compares, e.g. ("170.00", "190.00")."""
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    want = money(decimal_to_minor(st.value.value, plan.digits)) if st.value is not None else None
    subject = st.subject.value if st.subject is not None else ""
    if st.what == "payable":
        return want, money(quote.payable)
    if st.what == "discount":
        return want, money(quote.discount)
    if st.what == "shipping":
        return want, money(quote.shipping)
    if st.what == "applied":
        found = next((a for a in quote.applied if a.promotion == subject), None)
        if want is None:
            return "applied", "applied" if found else _not_applied_code(quote, subject)
        return want, money(found.amount) if found else _not_applied_code(quote, subject)
    if st.what == "not_applied":
        found = next((a for a in quote.applied if a.promotion == subject), None)
        code = st.code.value if st.code is not None else None
        return code, f"applied {money(found.amount)}" if found else _not_applied_code(quote, subject)
    if st.what == "line":
        line = next((line for line in quote.lines if line.id == subject), None)
        return want, money(line.final) if line else "no such line"
    if st.what == "hint":
        hint = next((h for h in quote.hints if h.promotion == subject), None)
        if hint is None:
            return want or "a hint", "no hint"
        actual = money(hint.missing) if hint.is_money else str(hint.missing)
        if want is None:
            return "a hint", "a hint"
        return (want if hint.is_money or st.value is None else str(int(st.value.value))), actual
    raise AssertionError(st.what)


def _not_applied_code(quote: Quote, name: str) -> str:
    found = next((n for n in quote.not_applied if n.promotion == name), None)
    return found.reason.code if found else "not evaluated"
