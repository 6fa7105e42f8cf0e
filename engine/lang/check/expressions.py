"""The `types` pass: every predicate (`scope`, `when`, tier conditions, presale tier conditions)
typed, each expression's type recorded for the compiler.

Number literals go with money, integer and number attributes; money and integer attributes do
not mix (`amount >= quantity`); a percentage literal compares only with a declared `number`
attribute; sets take `has "x"` (strings) and `"x" in set`, never `==`; ordering operators need
numbers, money, percentages or date-times. Integer attributes take whole numbers. `sold` is only
known in a presale's `price ... tiers`; `now`, `user.*`, `channel`, `region`, `cart.*`, `amount`,
`quantity` are order attributes (also allowed in `tiers`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check.state import PRESALE_TIERS, SCOPE, TIERS, WHEN, State, Where, is_whole
from engine.lang.checked import UNKNOWN
from engine.lang.schema import attribute_type, known_attributes
from engine.lang.source import Span

NUMERIC = frozenset({"number", "money", "integer"})
_ORDERED = NUMERIC | {"datetime", "percent"}


def run(st: State) -> None:
    typer = _Typer(st)
    for scope in st.clauses(ast.Scope):
        typer.predicate(scope.expr, SCOPE)
    for when in st.clauses(ast.When):
        typer.predicate(when.expr, WHEN)
    for tiers in st.clauses(ast.Tiers):
        for tier in tiers.tiers:
            typer.predicate(tier.condition, TIERS)
    for price in st.clauses(ast.PresalePrice):
        for presale_tier in price.tiers:
            typer.predicate(presale_tier.condition, PRESALE_TIERS)


def compatible(a: str, b: str) -> bool:
    if a == b or UNKNOWN in (a, b) or {a, b} == {"number", "percent"}:
        return True  # a percentage compares with a `number` attribute (`line.margin < 20%`)
    return a in NUMERIC and b in NUMERIC and "number" in (a, b)


_LITERAL_TYPES: dict[type, str] = {ast.String: "string", ast.Number: "number", ast.Percent: "percent", ast.Bool: "bool"}


class _Typer:
    def __init__(self, st: State) -> None:
        self.st = st
        self.emit = st.emit
        self.typed = st.types.by_id
        self.rules: dict[type, Callable[[object, Where], str]] = {
            ast.Path: self.path, ast.DateTime: self.datetime_literal, ast.ListLit: self.list_type,  # type: ignore[dict-item]
            ast.And: self.boolean, ast.Or: self.boolean, ast.Not: self.boolean,
            ast.Compare: self.compare, ast.In: self.in_, ast.Has: self.has, ast.Arith: self.arith,  # type: ignore[dict-item]
        }

    def predicate(self, expr: ast.Expr, ctx: Where) -> None:
        t = self.type_of(expr, ctx)
        if t not in ("bool", UNKNOWN):
            self.emit(m.not_a_condition(expr, t))

    def type_of(self, e: object, ctx: Where) -> str:
        """The type of `e` ("string", "money", "list[string]", ... or "?" once reported), recorded."""
        kind = type(e)
        t = _LITERAL_TYPES.get(kind)
        if t is None:
            rule = self.rules.get(kind)
            t = rule(e, ctx) if rule is not None else UNKNOWN
        self.typed[id(e)] = t
        return t

    def boolean(self, e: object, ctx: Where) -> str:
        for side in ast.subexpressions(e):
            t = self.type_of(side, ctx)
            if t not in ("bool", UNKNOWN):
                self.emit(m.not_a_condition(side, t))
        return "bool"

    def datetime_literal(self, e: ast.DateTime, ctx: Where) -> str:
        return "datetime" if self.st.instant(e) is not None else UNKNOWN

    def path(self, p: ast.Path, ctx: Where) -> str:
        name = p.dotted
        info = attribute_type(name, self.st.declared)
        if info is None:
            self.emit(m.unknown_attribute(p, known_attributes(self.st.declared)))
            return UNKNOWN
        if info.presale_only and not ctx.presale:
            self.emit(m.sold_outside_presale(p.span, name))
        elif ctx.where == "line" and info.where == "order":
            self.emit(m.order_attribute_in_scope(p.span, name))
        elif ctx.where == "order" and info.where == "line":
            self.emit(m.line_attribute_in_when(p.span, name, ctx.clause))
        return info.type

    def list_type(self, e: ast.ListLit, ctx: Where) -> str:
        elem = UNKNOWN
        for item in e.items:
            t = self.type_of(item, ctx)
            if t == UNKNOWN:
                continue
            if t.startswith("list") or t == "set":
                self.emit(m.list_in_list(item.span, t))
            elif elem == UNKNOWN:
                elem = t
            elif not compatible(elem, t):
                self.emit(m.mixed_list(item, t, elem))
            elif elem == "number":
                elem = t
        return f"list[{elem}]"

    def compare(self, e: ast.Compare, ctx: Where) -> str:
        lt, rt = self.type_of(e.left, ctx), self.type_of(e.right, ctx)
        if UNKNOWN in (lt, rt):
            return "bool"
        if lt.startswith("list") or rt.startswith("list"):
            bad = e.left if lt.startswith("list") else e.right
            self.emit(m.compare_with_list(bad.span, e.op, e.left if bad is e.right else e.right))
        elif "set" in (lt, rt):
            self.emit(m.compare_with_set(e.left if lt == "set" else e.right, e.op))
        elif not compatible(lt, rt):
            self.emit(m.cannot_compare(_blame(e.left, e.right).span, e.left, lt, e.right, rt))
        else:
            t = lt if lt != "number" else rt
            if e.op not in ("==", "!=") and t not in _ORDERED:
                self.emit(m.not_ordered(_blame(e.left, e.right).span, e.op, t))
            else:
                self.literal_checks(t, (e.left, e.right))
        return "bool"

    def literal_checks(self, t: str, exprs: Iterable[object]) -> None:
        """Money literals next to money need the currency's precision; counts need whole numbers."""
        if t not in ("money", "integer"):
            return
        for num in _literals(exprs):
            if t == "money":
                self.st.money(num)
            elif not is_whole(num.value):
                self.emit(m.count_not_whole(num))

    def in_(self, e: ast.In, ctx: Where) -> str:
        lt, rt = self.type_of(e.left, ctx), self.type_of(e.right, ctx)
        if lt.startswith("list") or lt == "set":
            self.emit(m.in_needs_one_value(e.left, lt))
        elif rt == "set":
            if lt not in ("string", UNKNOWN):
                self.emit(m.set_holds_strings(e.left, lt))
        elif not rt.startswith("list"):
            if rt != UNKNOWN:
                self.emit(m.in_needs_list(e.right.span, e.left, rt))
        else:
            elem = rt[5:-1]
            if UNKNOWN in (lt, elem):
                pass
            elif not compatible(lt, elem):
                self.emit(m.list_holds_other(e.right.span, e.left, lt, elem))
            else:
                items = e.right.items if isinstance(e.right, ast.ListLit) else ()
                self.literal_checks(lt if lt != "number" else elem, items)
        return "bool"

    def has(self, e: ast.Has, ctx: Where) -> str:
        lt, rt = self.type_of(e.left, ctx), self.type_of(e.right, ctx)
        if lt not in ("set", UNKNOWN):
            self.emit(m.has_needs_set(e.left.span, lt))
        if rt not in ("string", UNKNOWN):
            self.emit(m.has_needs_string(e.right.span, e.left, rt))
        return "bool"

    def arith(self, e: ast.Arith, ctx: Where) -> str:
        """The type of `a + b - c ...`, folded left to right as the chain is evaluated."""
        types = [self.type_of(x, ctx) for x in e.operands]
        if UNKNOWN in types:
            return UNKNOWN
        for i, (side, t) in enumerate(zip(e.operands, types)):
            if t not in NUMERIC:
                self.emit(m.arith_needs_numbers(side.span, e.ops[max(i - 1, 0)], t))
                return UNKNOWN
        lt = types[0]
        for i, (op, right, rt) in enumerate(zip(e.ops, e.operands[1:], types[1:]), start=1):
            if not compatible(lt, rt):
                left = _prefix(e, i)
                self.emit(m.cannot_add(_blame(left, right).span, op, left, lt, right, rt))
                return UNKNOWN
            lt = ("money" if "money" in (lt, rt) else "integer" if lt == rt == "integer"
                  else lt if rt == "number" else rt)
        self.literal_checks(lt, e.operands)
        return lt


def _blame(left: object, right: object) -> ast.Expr:
    """The operand a type error points at: the literal side, else the right."""
    return left if isinstance(right, ast.Path) and not isinstance(left, ast.Path) else right  # type: ignore[return-value]


def _prefix(e: ast.Arith, n: int) -> ast.Expr:
    """The first `n` operands of a chain, as the expression they form (for messages)."""
    if n == 1:
        return e.operands[0]
    first, last = e.operands[0].span, e.operands[n - 1].span
    return ast.Arith(e.operands[:n], e.ops[: n - 1],
                     span=Span(first.file, first.line, first.column, last.end_line, last.end_column))


def _literals(exprs: Iterable[object]) -> Iterator[ast.Number]:
    """The number literals of `exprs`, inside sums and lists too."""
    stack = list(reversed(list(exprs)))
    while stack:
        e = stack.pop()
        if isinstance(e, ast.Number):
            yield e
        elif isinstance(e, (ast.Arith, ast.ListLit)):
            stack.extend(reversed(ast.subexpressions(e)))
