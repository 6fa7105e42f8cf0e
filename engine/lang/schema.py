"""The attributes a rule may test, as data: name -> (type, where it may be used).

`scope` is a line predicate and may use "line" attributes; `when` and `tiers` are order
predicates and may use "order" attributes. `sold` is an order attribute that only exists inside
a presale's `price ... tiers`. Rulesets add `line.<name>` / `user.<name>` with `attribute`
declarations. The checker and the compiler both read this module; it holds no logic beyond
lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Where = Literal["line", "order"]

# The types an `attribute` declaration may name (and the built-ins use).
ATTRIBUTE_TYPES: tuple[str, ...] = ("string", "number", "money", "integer", "bool", "datetime", "set")

# Prefixes under which a ruleset may declare its own attributes, and where those are used.
DECLARABLE_PREFIXES: dict[str, Where] = {"line": "line", "user": "order"}


@dataclass(frozen=True, slots=True)
class AttrInfo:
    type: str  # one of ATTRIBUTE_TYPES
    where: Where
    presale_only: bool = False  # `sold`: only inside presale `price ... tiers`
    declared: bool = False  # from an `attribute` declaration rather than built in


BUILTIN: dict[str, AttrInfo] = {
    "sku": AttrInfo("string", "line"),
    "shop": AttrInfo("string", "line"),
    "category": AttrInfo("string", "line"),
    "brand": AttrInfo("string", "line"),
    "tags": AttrInfo("set", "line"),
    "price": AttrInfo("money", "line"),
    "amount": AttrInfo("money", "order"),
    "quantity": AttrInfo("integer", "order"),
    "cart.amount": AttrInfo("money", "order"),
    "cart.quantity": AttrInfo("integer", "order"),
    "user.id": AttrInfo("string", "order"),
    "user.level": AttrInfo("integer", "order"),
    "user.tags": AttrInfo("set", "order"),
    "user.new": AttrInfo("bool", "order"),
    "channel": AttrInfo("string", "order"),
    "region": AttrInfo("string", "order"),
    "now": AttrInfo("datetime", "order"),
    "sold": AttrInfo("integer", "order", presale_only=True),
}

# Enumerated values of settings and clauses.
LEVELS: tuple[str, ...] = ("item", "shop", "platform", "shipping")
STACKING_MODES: tuple[str, ...] = ("parallel", "progressive")
LIMIT_PER: tuple[str, ...] = ("user",)
PERIODS: tuple[str, ...] = ("day", "week", "month")  # of a `limit` or `budget` (calendar, ruleset timezone)
TEST_STAGES: tuple[str, ...] = ("deposit", "balance")
DEFAULT_CURRENCY = "CNY"

# Fields of a test's `line "id" ...` and `user { ... }`, with their types ("list" = list of
# strings). Declared `line.<name>` / `user.<name>` attributes add fields named `<name>`.
TEST_LINE_FIELDS: dict[str, str] = {
    "sku": "string", "shop": "string", "category": "string", "brand": "string",
    "tags": "set", "price": "money", "qty": "integer",
}
TEST_LINE_REQUIRED: tuple[str, ...] = ("sku", "price", "qty")
TEST_USER_FIELDS: dict[str, str] = {"id": "string", "level": "integer", "tags": "set", "new": "bool"}


def declared_info(path: str, type_name: str) -> AttrInfo | None:
    """The AttrInfo an `attribute <path> <type>` declaration gives, or None if it cannot declare."""
    prefix, _, rest = path.partition(".")
    if prefix not in DECLARABLE_PREFIXES or not rest or "." in rest or type_name not in ATTRIBUTE_TYPES:
        return None
    return AttrInfo(type_name, DECLARABLE_PREFIXES[prefix], declared=True)


def attribute_type(path: str, declared: Mapping[str, AttrInfo] | None = None) -> AttrInfo | None:
    """What `path` ("user.level", "line.material") is, or None if it is not an attribute."""
    found = BUILTIN.get(path)
    if found is None and declared:
        found = declared.get(path)
    return found


def known_attributes(declared: Mapping[str, AttrInfo] | None = None) -> list[str]:
    """Every attribute name, for "did you mean" suggestions."""
    return sorted(set(BUILTIN) | set(declared or ()))
