"""The closures a plan's predicates are made of, and what they see: built once when a ruleset is
compiled (engine/plan/expressions.py walks the syntax tree and calls the factories here), run on
every request. Compiled by mypyc with the pricing core, so a predicate is native code all the
way down; no syntax tree is known here (pricing imports this module, never the language).

A line predicate takes a `Line`; an order predicate takes an `OrderFacts`. A missing custom
attribute is a missing value: every comparison with it is false (as NULL in SQL).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.base.money import parse_money
from engine.base.request import User

MISSING = object()

# A chain is one loop over its operands: a 600-way `or` costs one call level, not 600.
Predicate = Callable[[Any], bool]
Getter = Callable[[Any], Any]
Operator = Callable[[Any, Any], Any]


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


def within(window: tuple[datetime, datetime] | None, now: datetime) -> bool:
    """Whether `now` is in a half-open window [start, end); no window is always. The one test of
    a promotion's, guard's or presale's window, wherever it is asked."""
    return window is None or window[0] <= now < window[1]


def active_guards(guards: Sequence[Any], line: Any, now: datetime) -> list[Any]:
    """The guards (a plan's `Guard`s) active at `now` whose scope matches `line`, in the order
    written."""
    return [guard for guard in guards if within(guard.window, now) and guard.scope(line)]


def line_floor(guards: Sequence[Any], line: Any, now: datetime) -> int:
    """The least `line` (a `Line`) may cost at `now`: the highest floor of the guards active then
    whose scope matches it, never more than its list amount (a guard never raises a price).
    Compiled, as pricing asks it of every line of every request (`Plan.floor` for the rest)."""
    floor = 0
    if guards:
        for guard in active_guards(guards, line, now):
            floor = max(floor, int(guard.floor(line.price, line.quantity)))
    return min(floor, int(line.list_amount))


COMPARE: dict[str, Operator] = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
                                ">": operator.gt, ">=": operator.ge}
ADD: dict[str, Operator] = {"+": operator.add, "-": operator.sub}

LINE_GETTERS: dict[str, Getter] = {
    "sku": lambda line: line.sku,
    "shop": lambda line: line.shop,
    "category": lambda line: line.category,
    "brand": lambda line: line.brand,
    "tags": lambda line: line.tags,
    "price": lambda line: line.price,
}
ORDER_GETTERS: dict[str, Getter] = {
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


# ---- values ------------------------------------------------------------------------------------


def constant(value: Any) -> Getter:
    return lambda _env: value


def converter(type_name: str, digits: int, tz: ZoneInfo) -> Getter:
    """Custom attributes arrive as JSON values; read them as their declared type."""

    def convert(raw: Any) -> Any:
        try:
            if raw is MISSING or raw is None:
                return MISSING
            if type_name == "money":
                return parse_money(raw, digits) if isinstance(raw, str) else MISSING
            if type_name == "datetime":
                return resolve_datetime(raw, tz)
            if type_name == "set":
                return frozenset(raw)
            if type_name in ("number", "integer"):
                return Decimal(str(raw)) if not isinstance(raw, bool) else MISSING
            return raw
        except (ValueError, TypeError, ArithmeticError):
            return MISSING

    return convert


def line_attribute(key: str, convert: Getter) -> Getter:
    def get(line: Any) -> Any:  # a Line
        return convert(line.attributes.get(key, MISSING))

    return get


def user_attribute(key: str, convert: Getter) -> Getter:
    def get(facts: Any) -> Any:  # an OrderFacts
        return convert(facts.user.attributes.get(key, MISSING))

    return get


def sum_of(first: Getter, steps: tuple[tuple[Operator, Getter], ...]) -> Getter:
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


# ---- predicates ----------------------------------------------------------------------------------


def all_of(parts: tuple[Predicate, ...]) -> Predicate:
    def all_of(env: Any) -> bool:
        for part in parts:
            if not part(env):
                return False
        return True

    return all_of


def any_of(parts: tuple[Predicate, ...]) -> Predicate:
    def any_of(env: Any) -> bool:
        for part in parts:
            if part(env):
                return True
        return False

    return any_of


def negation(part: Predicate) -> Predicate:
    return lambda env: not part(env)


def always(value: bool) -> Predicate:
    return lambda _env: value


def is_true(getter: Getter) -> Predicate:
    return lambda env: getter(env) is True


def compare_with(left: Getter, op: Operator, const: Any) -> Predicate:
    """`path OP constant`, the common case (`sku == "x"`): one call per evaluation."""

    def compare_const(env: Any) -> bool:
        value = left(env)
        return value is not MISSING and bool(op(value, const))

    return compare_const


def compare(left: Getter, op: Operator, right: Getter) -> Predicate:
    def compare(env: Any) -> bool:
        a, b = left(env), right(env)
        if a is MISSING or b is MISSING:
            return False
        try:
            return bool(op(a, b))
        except TypeError:
            return False

    return compare


def membership(get_container: Getter, get_member: Getter) -> Predicate:
    """`x in [..]`: x is one of the list; `set has x`: the set contains x."""

    def membership(env: Any) -> bool:
        c, m = get_container(env), get_member(env)
        if c is MISSING or m is MISSING:
            return False
        try:
            return m in c
        except TypeError:
            return False

    return membership
