"""Expressions -> Python closures, built once when a ruleset is compiled.

A line predicate takes a `Line`; an order predicate takes an `OrderFacts`. Money literals next to
money attributes become minor units here, date-times become instants in the ruleset timezone,
so evaluation never walks the syntax tree and never touches floats. A missing custom attribute
is a missing value: every comparison with it is false (as NULL in SQL).
"""

from __future__ import annotations

import operator
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from engine.base.money import decimal_to_minor, parse_money
from engine.base.request import Line, User
from engine.lang import ast
from engine.lang.schema import AttrInfo, attribute_type

MISSING = object()


class OrderFacts:  # compiled to a native class: made once per offer and per clause check
    """What an order predicate can see for one promotion at one point of evaluation."""

    def __init__(self, amount: int, quantity: int, cart_amount: int, cart_quantity: int, user: User,
                 channel: str, region: str, now: datetime, sold: int = 0) -> None:
        self.amount = amount  # the promotion's base, minor units
        self.quantity = quantity  # eligible units
        self.cart_amount = cart_amount
        self.cart_quantity = cart_quantity
        self.user = user
        self.channel = channel
        self.region = region
        self.now = now
        self.sold = sold  # presale units sold so far (presale price tiers)


def resolve_datetime(text: str, tz: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=tz)


_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

_LINE_GETTERS: dict[str, Callable[[Line], Any]] = {
    "sku": lambda l: l.sku,
    "shop": lambda l: l.shop,
    "category": lambda l: l.category,
    "brand": lambda l: l.brand,
    "tags": lambda l: l.tags,
    "price": lambda l: l.price,
}
_ORDER_GETTERS: dict[str, Callable[[OrderFacts], Any]] = {
    "amount": lambda f: f.amount,
    "quantity": lambda f: f.quantity,
    "cart.amount": lambda f: f.cart_amount,
    "cart.quantity": lambda f: f.cart_quantity,
    "user.id": lambda f: f.user.id,
    "user.level": lambda f: f.user.level,
    "user.tags": lambda f: f.user.tags,
    "user.new": lambda f: f.user.new,
    "channel": lambda f: f.channel,
    "region": lambda f: f.region,
    "now": lambda f: f.now,
    "sold": lambda f: f.sold,
}


class ExpressionCompiler:
    """Compiles the expressions of one ruleset (its currency digits, timezone, declarations)."""

    def __init__(self, digits: int, tz: ZoneInfo, declared: Mapping[str, AttrInfo]):
        self.digits, self.tz, self.declared = digits, tz, declared

    # -- types ---------------------------------------------------------------------------------
    def type_of(self, expr) -> str:
        if isinstance(expr, ast.Path):
            info = attribute_type(expr.dotted, self.declared)
            return info.type if info else "unknown"
        if isinstance(expr, ast.Arith):
            return "money" if any(self.type_of(x) == "money" for x in expr.operands) else "number"
        return {ast.Number: "number", ast.String: "string", ast.Bool: "bool", ast.DateTime: "datetime",
                ast.Percent: "number", ast.ListLit: "list"}.get(type(expr), "bool")

    # -- values ------------------------------------------------------------------------------------
    def constant(self, expr, as_type: str) -> Any:
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

    def value(self, expr, line_level: bool, as_type: str = "unknown") -> Callable[[Any], Any]:
        """A getter for `expr`'s value; literals are folded to constants of `as_type`."""
        const = self.constant(expr, as_type)
        if const is not MISSING:
            return lambda _env: const
        if isinstance(expr, ast.Path):
            return self._path(expr.dotted, line_level)
        if isinstance(expr, ast.Arith):
            first = self.value(expr.operands[0], line_level, as_type)
            steps = tuple((operator.add if op == "+" else operator.sub, self.value(x, line_level, as_type))
                          for op, x in zip(expr.ops, expr.operands[1:]))
            return _sum(first, steps)
        return self.predicate(expr, line_level)

    def _path(self, name: str, line_level: bool) -> Callable[[Any], Any]:
        getters = _LINE_GETTERS if line_level else _ORDER_GETTERS
        if name in getters:
            return getters[name]
        prefix, _, key = name.partition(".")
        info = attribute_type(name, self.declared)
        convert = self._converter(info.type if info else "string")
        if prefix == "line":
            return lambda l: convert(l.attributes.get(key, MISSING))
        return lambda f: convert(f.user.attributes.get(key, MISSING))

    def _converter(self, type_name: str) -> Callable[[Any], Any]:
        """Custom attributes arrive as JSON values; read them as their declared type."""

        def convert(raw):
            try:
                if raw is MISSING or raw is None:
                    return MISSING
                if type_name == "money":
                    return parse_money(raw, self.digits) if isinstance(raw, str) else MISSING
                if type_name == "datetime":
                    return resolve_datetime(raw, self.tz)
                if type_name == "set":
                    return frozenset(raw)
                if type_name in ("number", "integer"):
                    return Decimal(str(raw)) if not isinstance(raw, bool) else MISSING
                return raw
            except (ValueError, TypeError, ArithmeticError):
                return MISSING

        return convert

    # -- predicates --------------------------------------------------------------------------
    def predicate(self, expr, line_level: bool) -> Callable[[Any], bool]:
        if isinstance(expr, ast.And):
            return _all_of(tuple(self.predicate(x, line_level) for x in expr.operands))
        if isinstance(expr, ast.Or):
            return _any_of(tuple(self.predicate(x, line_level) for x in expr.operands))
        if isinstance(expr, ast.Not):
            a = self.predicate(expr.operand, line_level)
            return lambda env: not a(env)
        if isinstance(expr, ast.Compare):
            return self._compare(expr, line_level)
        if isinstance(expr, (ast.In, ast.Has)):
            return self._membership(expr, line_level)
        if isinstance(expr, ast.Bool):
            value = expr.value
            return lambda _env: value
        getter = self.value(expr, line_level)
        return lambda env: getter(env) is True

    def _compare(self, expr: ast.Compare, line_level: bool):
        types = {self.type_of(expr.left), self.type_of(expr.right)}
        as_type = "money" if "money" in types else "unknown"
        left = self.value(expr.left, line_level, as_type)
        right = self.value(expr.right, line_level, as_type)
        op = _COMPARE[expr.op]
        if isinstance(expr.left, ast.Path) and isinstance(expr.right, (ast.Number, ast.String, ast.Bool)):
            const = right(None)  # the common case, `sku == "x"`: one call per evaluation

            def compare_const(env):
                value = left(env)
                return value is not MISSING and op(value, const)

            return compare_const

        def compare(env):
            a, b = left(env), right(env)
            if a is MISSING or b is MISSING:
                return False
            try:
                return op(a, b)
            except TypeError:
                return False

        return compare

    def _membership(self, expr, line_level: bool):
        # `x in [..]`: x is one of the list; `set has x`: the set contains x.
        container, member = (expr.right, expr.left) if isinstance(expr, ast.In) else (expr.left, expr.right)
        types = {self.type_of(container), self.type_of(member)}
        as_type = "money" if "money" in types else "unknown"
        get_container = self.value(container, line_level, as_type)
        get_member = self.value(member, line_level, as_type)

        def membership(env):
            c, m = get_container(env), get_member(env)
            if c is MISSING or m is MISSING:
                return False
            try:
                return m in c
            except TypeError:
                return False

        return membership


# A chain is one loop over its operands: a 600-way `or` costs one call level, not 600.
Predicate = Callable[[Any], bool]
Getter = Callable[[Any], Any]


def _all_of(parts: tuple[Predicate, ...]) -> Predicate:
    def all_of(env: Any) -> bool:
        for part in parts:
            if not part(env):
                return False
        return True

    return all_of


def _any_of(parts: tuple[Predicate, ...]) -> Predicate:
    def any_of(env: Any) -> bool:
        for part in parts:
            if part(env):
                return True
        return False

    return any_of


def _sum(first: Getter, steps: tuple[tuple[Callable[[Any, Any], Any], Getter], ...]) -> Getter:
    """`a + b - c ...` left to right; missing as soon as one operand is missing."""

    def total(env: Any) -> Any:
        value = first(env)
        for op, get in steps:
            operand = get(env)
            if value is MISSING or operand is MISSING:
                return MISSING
            value = op(value, operand)
        return value

    return total
