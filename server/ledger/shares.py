"""Exact splits of an amount in minor units, by largest remainder (ties to the earlier part), so
the parts always sum to the whole."""

from __future__ import annotations

from collections.abc import Sequence


def split(total: int, weights: Sequence[int]) -> list[int]:
    """`total` over `weights` in proportion; all-zero weights split it evenly."""
    if not weights:
        return []
    if not any(weights):
        weights = [1] * len(weights)
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in remainders[: total - sum(parts)]:
        parts[i] += 1
    return parts


def units_share(amount: int, quantity: int, before: int, count: int) -> int:
    """The share of `amount` (spread over `quantity` equal units, the first `amount % quantity`
    units one minor unit more) that units `before+1 .. before+count` carry: returning the units
    one by one gives back exactly `amount` in total."""
    base, extra = divmod(amount, quantity)

    def first(k: int) -> int:
        return k * base + min(k, extra)

    return first(before + count) - first(before)
