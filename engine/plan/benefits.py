"""Benefit forms as data, and what each one takes off.

At level item a benefit is computed on one line; at shop and platform level on the promotion's
base, once. Percentages are exact fractions; the discount is rounded once, never the price.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from engine.base.money import allocate, round_ratio
from engine.plan.predicates import OrderFacts


@dataclass(frozen=True)
class AmountOff:
    amount: int
    each: bool = False  # `discount M each`: M off every eligible unit


@dataclass(frozen=True)
class PercentOff:
    rate: Fraction  # 12% -> 3/25
    cap: int | None = None


@dataclass(frozen=True)
class EveryOff:
    amount: int
    step: int
    cap: int | None = None


@dataclass(frozen=True)
class PriceEach:
    price: int


THRESHOLD_ATTRS = {"amount": "amount", "quantity": "quantity", "cart.amount": "cart_amount",
                   "cart.quantity": "cart_quantity"}


@dataclass(frozen=True)
class Threshold:
    """`amount >= 100`: a comparison of an amount or a quantity with a constant."""

    attr: str  # amount | quantity | cart.amount | cart.quantity
    strict: bool  # `>` rather than `>=`
    value: int  # minor units for amounts, units for quantities

    @property
    def is_money(self) -> bool:
        return self.attr.endswith("amount")

    def needed(self) -> int:
        return self.value + 1 if self.strict else self.value

    def gap(self, facts: OrderFacts) -> int:
        seen: int = getattr(facts, THRESHOLD_ATTRS[self.attr])
        return max(0, self.needed() - seen)


@dataclass(frozen=True)
class Tier:
    test: Callable[[OrderFacts], bool]
    benefit: Simple
    threshold: Threshold | None
    text: str


@dataclass(frozen=True)
class Tiers:
    tiers: tuple[Tier, ...]


@dataclass(frozen=True)
class NthUnit:
    n: int
    benefit: Simple


@dataclass(frozen=True)
class Gift:
    sku: str
    quantity: int


@dataclass(frozen=True)
class FreeShipping:
    pass


Simple = AmountOff | PercentOff | PriceEach
Benefit = AmountOff | PercentOff | EveryOff | PriceEach | Tiers | NthUnit | Gift | FreeShipping


class Part:  # compiled to a native class: made for every eligible line of every offer
    """One eligible line as a benefit sees it: its amount at this promotion's base and units."""

    def __init__(self, amount: int, quantity: int) -> None:
        self.amount = amount
        self.quantity = quantity


def discount_parts(benefit: Benefit, parts: list[Part], rounding: str, whole: bool) -> tuple[int, list[int] | None]:
    """What `benefit` (not tiers) takes off `parts`.

    `whole` is True at shop/platform level (one computation on the sum) and False at item level
    (one part). Returns the discount and, for forms that belong to particular units (`each`,
    `price … each`, `nth`), the share of each part; otherwise None (allocate by amounts).
    """
    # The discount may exceed what the lines can absorb; allocation then caps it and the
    # promotion reports CAPPED (language.md §4.4).
    base = sum(p.amount for p in parts)
    if isinstance(benefit, AmountOff):
        if not benefit.each:
            return benefit.amount, None
        shares = [benefit.amount * p.quantity for p in parts]
        return sum(shares), shares
    if isinstance(benefit, PercentOff):
        off = round_ratio(base * benefit.rate.numerator, benefit.rate.denominator, rounding)
        return min(off, benefit.cap if benefit.cap is not None else off), None
    if isinstance(benefit, EveryOff):
        off = benefit.amount * (base // benefit.step)
        return min(off, benefit.cap if benefit.cap is not None else off), None
    if isinstance(benefit, PriceEach):
        shares = [max(0, p.amount - benefit.price * p.quantity) for p in parts]
        return sum(shares), shares
    if isinstance(benefit, NthUnit):
        return _nth(benefit, parts, rounding)
    return 0, None


def _nth(benefit: NthUnit, parts: list[Part], rounding: str) -> tuple[int, list[int]]:
    """Every n-th unit gets the inner benefit; the discounted units are the cheapest ones.

    Exact arithmetic in integers over one common denominator (unit prices are amount/quantity)."""
    inner = benefit.benefit
    rate = inner.rate if isinstance(inner, PercentOff) else Fraction(1)
    # divisible by every quantity and, after dividing by one, still by the rate's denominator
    denominator = rate.denominator * math.lcm(*(p.quantity for p in parts))
    unit = [p.amount * denominator // p.quantity for p in parts]  # unit prices, scaled
    exact = [0] * len(parts)  # scaled exact discount per part
    units_left = sum(p.quantity for p in parts) // benefit.n
    for i in sorted(range(len(parts)), key=lambda i: (unit[i], i)):
        if units_left <= 0:
            break
        count = min(units_left, parts[i].quantity)
        units_left -= count
        if isinstance(inner, PercentOff):
            per_unit = unit[i] * rate.numerator // rate.denominator  # exact, see `denominator`
        elif isinstance(inner, AmountOff):
            per_unit = min(inner.amount * denominator, unit[i])
        else:  # PriceEach
            per_unit = max(0, unit[i] - inner.price * denominator)
        exact[i] = per_unit * count
    total = round_ratio(sum(exact), denominator, rounding)
    if isinstance(inner, PercentOff) and inner.cap is not None:
        total = min(total, inner.cap)
    shares, _ = allocate(total, exact)
    return total, shares


def next_every_step(benefit: EveryOff, base: int) -> int | None:
    """The base at which an every-S benefit next grows, or None once it is at its cap."""
    current = benefit.amount * (base // benefit.step)
    if benefit.cap is not None and current >= benefit.cap:
        return None
    return (base // benefit.step + 1) * benefit.step
