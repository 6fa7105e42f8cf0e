"""Expressions -> the closures of engine/plan/predicates.py, built once when a ruleset is compiled.

Money literals next to money attributes become minor units here, date-times become instants in
the ruleset timezone, so evaluation never walks the syntax tree and never touches floats.
Whether a comparison is of money is read from the checker's type of each side
(`Checked.types`), not inferred again. The closures come from the compiled factories of
predicates.py, so evaluation runs native code although this walk over the tree does not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.base.money import decimal_to_minor
from engine.lang import ast
from engine.lang.schema import AttrInfo, attribute_type
from engine.plan import predicates as p
from engine.plan.predicates import MISSING, Getter, Predicate, resolve_datetime


class ExpressionCompiler:
    """Compiles the expressions of one ruleset (its currency digits, timezone, declarations),
    with the type the checker gave each expression (`type_of`)."""

    def __init__(self, digits: int, tz: ZoneInfo, declared: Mapping[str, AttrInfo],
                 type_of: Callable[[Any], str]) -> None:
        self.digits, self.tz, self.declared, self.type_of = digits, tz, declared, type_of

    # -- values ------------------------------------------------------------------------------------
    def constant(self, expr: object, as_type: str) -> Any:
        if isinstance(expr, ast.Number):
            if as_type == "money":
                return decimal_to_minor(expr.value, self.digits)
            return int(expr.value) if expr.value == expr.value.to_integral_value() else expr.value
        if isinstance(expr, ast.Percent):
            return expr.value / Decimal(100)
        if isinstance(expr, (ast.String, ast.Bool)):
            return expr.value
        if isinstance(expr, ast.DateTime):
            return resolve_datetime(expr.text, self.tz)
        if isinstance(expr, ast.ListLit):
            return frozenset(self.constant(item, as_type) for item in expr.items)
        return MISSING

    def value(self, expr: object, line_level: bool, as_type: str = "unknown") -> Getter:
        """A getter for `expr`'s value; literals are folded to constants of `as_type`."""
        const = self.constant(expr, as_type)
        if const is not MISSING:
            return p.constant(const)
        if isinstance(expr, ast.Path):
            return self._path(expr.dotted, line_level)
        if isinstance(expr, ast.Arith):
            first = self.value(expr.operands[0], line_level, as_type)
            steps = tuple((p.ADD[op], self.value(x, line_level, as_type)) for op, x in zip(expr.ops, expr.operands[1:]))
            return p.sum_of(first, steps)
        return self.predicate(expr, line_level)

    def _path(self, name: str, line_level: bool) -> Getter:
        getters = p.LINE_GETTERS if line_level else p.ORDER_GETTERS
        if name in getters:
            return getters[name]
        prefix, _, key = name.partition(".")
        info = attribute_type(name, self.declared)
        convert = p.converter(info.type if info else "string", self.digits, self.tz)
        return p.line_attribute(key, convert) if prefix == "line" else p.user_attribute(key, convert)

    # -- predicates --------------------------------------------------------------------------
    def predicate(self, expr: object, line_level: bool) -> Predicate:
        if isinstance(expr, ast.And):
            return p.all_of(tuple(self.predicate(x, line_level) for x in expr.operands))
        if isinstance(expr, ast.Or):
            return p.any_of(tuple(self.predicate(x, line_level) for x in expr.operands))
        if isinstance(expr, ast.Not):
            return p.negation(self.predicate(expr.operand, line_level))
        if isinstance(expr, ast.Compare):
            return self._compare(expr, line_level)
        if isinstance(expr, (ast.In, ast.Has)):
            return self._membership(expr, line_level)
        if isinstance(expr, ast.Bool):
            return p.always(expr.value)
        return p.is_true(self.value(expr, line_level))

    def _money(self, *exprs: object) -> str:
        return "money" if any(self.type_of(e) == "money" for e in exprs) else "unknown"

    def _compare(self, expr: ast.Compare, line_level: bool) -> Predicate:
        as_type = self._money(expr.left, expr.right)
        left = self.value(expr.left, line_level, as_type)
        right = self.value(expr.right, line_level, as_type)
        op = p.COMPARE[expr.op]
        if isinstance(expr.left, ast.Path) and isinstance(expr.right, (ast.Number, ast.String, ast.Bool)):
            return p.compare_with(left, op, right(None))
        return p.compare(left, op, right)

    def _membership(self, expr: ast.In | ast.Has, line_level: bool) -> Predicate:
        # `x in [..]`: x is one of the list; `set has x`: the set contains x.
        container, member = (expr.right, expr.left) if isinstance(expr, ast.In) else (expr.left, expr.right)
        as_type = self._money(container, member)
        return p.membership(self.value(container, line_level, as_type), self.value(member, line_level, as_type))
