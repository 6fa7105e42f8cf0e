"""The `tests` pass: `test` blocks, which the test runner (engine/apps/ruletest.py) turns into
requests.

Tests are only in `*_test.promo` files; `wallet`/`selected` name coupons (not automatic
promotions); `expect not_applied` takes the reasons of engine.base.enums except `CAPPED` (an
applied marker).
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.base.enums import CAPPED, NOT_APPLIED_REASONS
from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check.expressions import NUMERIC
from engine.lang.check.state import KEYWORDS, State, keyword_span
from engine.lang.checked import UNKNOWN
from engine.lang.schema import TEST_LINE_FIELDS, TEST_LINE_REQUIRED, TEST_STAGES, TEST_USER_FIELDS
from engine.lang.source import Span

_REPEATABLE = (ast.LineStmt, ast.ShippingStmt, ast.SoldStmt, ast.UsedStmt, ast.SpentStmt, ast.Expect)
_FIELD_TYPES: dict[type, str] = {ast.String: "string", ast.Number: "number", ast.Bool: "bool",
                                 ast.DateTime: "datetime", ast.ListLit: "list"}


def run(st: State) -> None:
    allowed = {f.path: f.path.endswith("_test.promo") for f in st.files}
    line_fields = dict(TEST_LINE_FIELDS)
    user_fields = dict(TEST_USER_FIELDS)
    for path, info in st.declared.items():
        prefix, _, name = path.partition(".")
        (line_fields if prefix == "line" else user_fields).setdefault(name, info.type)
    for t in st.of(ast.RuleTest):
        _test(st, t, allowed.get(t.span.file, True), line_fields, user_fields)


def _test(st: State, t: ast.RuleTest, allowed: bool, line_fields: dict[str, str], user_fields: dict[str, str]) -> None:
    if not allowed:
        st.emit(m.test_outside_test_file(keyword_span(t), t.name.value))
    st.singles(t, t.statements, allowed_twice=_REPEATABLE)
    lines: dict[str, ast.LineStmt] = {}
    once: dict[tuple[str, str], Span] = {}
    for s in t.statements:
        if isinstance(s, ast.LineStmt):
            if s.id.value in lines:
                st.emit(m.line_twice(s.id.span, s.id.value, lines[s.id.value].id.span))
            else:
                lines[s.id.value] = s
    for s in t.statements:
        if isinstance(s, ast.AtStmt):
            st.instant(s.at)
        elif isinstance(s, ast.UserStmt):
            _fields(st, s.fields, user_fields, KEYWORDS[ast.UserStmt])
        elif isinstance(s, ast.LineStmt):
            present = _fields(st, s.fields, line_fields, KEYWORDS[ast.LineStmt])
            for required in TEST_LINE_REQUIRED:
                if required not in present:
                    st.emit(m.line_without(s.id.span, s.id.value, required))
        elif isinstance(s, ast.ShippingStmt):
            st.money(s.fee)
            first = _first(once, ("shipping", s.shop.value), s)
            if first is not None:
                st.emit(m.shipping_twice(keyword_span(s), s.shop.value, first))
        elif isinstance(s, (ast.WalletStmt, ast.SelectedStmt)):
            for name in s.coupons:
                if _promotion_name(st, name, presale_ok=False) and st.promotions[name.value].kind != "coupon":
                    st.emit(m.not_a_coupon(name.span, name.value))
        elif isinstance(s, ast.StageStmt):
            st.enum(s.stage, TEST_STAGES, m.STAGE)
        elif isinstance(s, ast.SoldStmt):
            if s.presale.value not in st.presales:
                st.emit(m.no_such_presale(s.presale.span, s.presale.value, st.presales))
            st.whole(s.count, m.UNITS_SOLD)
            first = _first(once, ("sold", s.presale.value), s)
            if first is not None:
                st.emit(m.sold_twice(keyword_span(s), s.presale.value, first))
        elif isinstance(s, (ast.UsedStmt, ast.SpentStmt)):
            _promotion_name(st, s.promotion, presale_ok=False)
            if isinstance(s, ast.UsedStmt):
                st.whole(s.count, m.USED)
            else:
                st.money(s.amount)
            word = KEYWORDS[type(s)]
            first = _first(once, (word, s.promotion.value), s)
            if first is not None:
                st.emit(m.ledger_stmt_twice(keyword_span(s), word, s.promotion.value, first))
        elif isinstance(s, ast.Expect):
            _expect(st, s, lines, once)


def _first(once: dict[tuple[str, str], Span], key: tuple[str, str], stmt: object) -> Span | None:
    """Where a statement that may appear once per key was first written, or None (now it is)."""
    if key in once:
        return once[key]
    once[key] = stmt.span  # type: ignore[attr-defined]
    return None


def _expect(st: State, s: ast.Expect, lines: dict[str, ast.LineStmt], once: dict[tuple[str, str], Span]) -> None:
    st.money(s.value)
    if s.what in ("payable", "discount", "shipping"):
        first = _first(once, ("expect", s.what), s)
        if first is not None:
            st.emit(m.expect_twice(keyword_span(s), s.what, first))
    elif s.what == "line" and s.subject is not None:
        if s.subject.value not in lines:
            st.emit(m.no_such_line(s.subject.span, s.subject.value, lines))
    elif s.subject is not None:
        _promotion_name(st, s.subject, presale_ok=True)
    if s.what == "not_applied" and s.code is not None:
        if s.code.value == CAPPED:
            st.emit(m.capped_is_no_reason(s.code.span))
        else:
            st.enum(s.code, NOT_APPLIED_REASONS, m.REASON_CODE)


def _promotion_name(st: State, name: ast.Name, presale_ok: bool) -> bool:
    if name.value in st.promotions or (presale_ok and name.value in st.presales):
        return True
    known = list(st.promotions) + (list(st.presales) if presale_ok else [])
    st.emit(m.no_such_promotion(name.span, name.value, known))
    return False


def _fields(st: State, fields: Sequence[ast.Field], known: dict[str, str], where: str) -> set[str]:
    present: dict[str, ast.Field] = {}
    for f in fields:
        name = f.name.value
        if name in present:
            st.emit(m.field_twice(f.name.span, name, where, present[name].name.span))
            continue
        present[name] = f
        expected = known.get(name)
        if expected is None:
            st.emit(m.unknown_field(f.name.span, where, name, known))
            continue
        _field_value(st, f, expected)
    return set(present)


def _field_value(st: State, f: ast.Field, expected: str) -> None:
    v = f.value
    got = _FIELD_TYPES.get(type(v), UNKNOWN)
    want = "list" if expected == "set" else "number" if expected in NUMERIC else expected
    if got != want:
        st.emit(m.field_type(v, f.name.value, expected))
        return
    if isinstance(v, ast.ListLit):
        for item in v.items:
            if not isinstance(item, ast.String):
                st.emit(m.field_holds_strings(item, f.name.value))
    elif isinstance(v, ast.DateTime):
        st.instant(v)
    elif isinstance(v, ast.Number):
        if expected == "money":
            st.money(v)
        elif expected == "integer":
            st.whole(v, m.field_name(f.name.value), minimum=1 if f.name.value == "qty" else 0)
