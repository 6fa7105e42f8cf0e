"""Exact money: integers of minor units inside, decimal strings outside, never binary floats.

Allocation splits a discount over lines by largest remainder, so the parts always sum to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal

from engine.base.text import clip

# ISO-4217 minor units for the currencies a checkout is likely to see; others default to 2.
_MINOR_DIGITS = {
    "CNY": 2, "HKD": 2, "TWD": 2, "MOP": 2, "USD": 2, "EUR": 2, "GBP": 2, "SGD": 2, "MYR": 2,
    "THB": 2, "PHP": 2, "IDR": 2, "INR": 2, "AUD": 2, "CAD": 2, "NZD": 2, "CHF": 2, "SEK": 2,
    "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "RUB": 2, "TRY": 2, "BRL": 2, "MXN": 2,
    "ZAR": 2, "AED": 2, "SAR": 2, "ILS": 2, "JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0,
    "KWD": 3, "BHD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}
KNOWN_CURRENCIES = frozenset(_MINOR_DIGITS)

ROUNDING_MODES = ("half_up", "half_even", "down")


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get(currency, 2)


class MoneyError(ValueError):
    """A money string that is not a plain non-negative decimal with at most the minor digits."""


# Every amount a request brings (a price, a fee, a line's price x quantity, the cart's total) is
# below 10**15 minor units (10,000,000,000,000.00 in CNY): far above any real cart, and small
# enough that no sum or product of the engine comes near a big integer or a rounding context.
MAX_MINOR = 10**15 - 1
_MAX_DIGITS = len(str(MAX_MINOR))

# ASCII digits only: `\d` would take full-width and Arabic-Indic digits as well.
_MONEY_TEXT = re.compile(r"([0-9]+)(?:\.([0-9]+))?")


def decimal_to_minor(value: Decimal, digits: int) -> int:
    """Exact conversion; raises MoneyError if `value` has more decimals than the minor unit."""
    # a context as precise as the value: the default one (28 digits) would round a long literal
    context = Context(prec=max(28, len(value.as_tuple().digits) + digits), Emax=MAX_EMAX, Emin=MIN_EMIN)
    scaled = value.scaleb(digits, context)
    if scaled != scaled.to_integral_value(context=context):
        raise MoneyError(f"`{clip(str(value))}` has more than {digits} decimals")
    return int(scaled)


def parse_money(text: object, digits: int) -> int:
    """"110", "110.0", "110.00" -> 11000 (digits=2). No signs, exponents, NaN, non-ASCII digits,
    more decimals than the minor unit (even zeros: "1.230" is not a CNY amount) or amounts past
    MAX_MINOR. Integer arithmetic on the digits: an input is never rounded."""
    match = _MONEY_TEXT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise MoneyError(f"`{clip(text)}` is not a decimal amount like \"110.00\"")
    whole, fraction = match.group(1).lstrip("0"), match.group(2) or ""
    if len(fraction) > digits:
        raise MoneyError(f"`{clip(text)}` has more than {digits} decimals")
    # digits counted, not int(): int() refuses strings past 4,300 digits
    if len(whole) + digits > _MAX_DIGITS:
        raise MoneyError(f"`{clip(text)}` is too large: at most {format_money(MAX_MINOR, digits)}")
    return int(whole + fraction.ljust(digits, "0") or "0")


def format_money(minor: int, digits: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"


def round_ratio(numerator: int, denominator: int, mode: str) -> int:
    """Round numerator/denominator (non-negative, exact) to an integer with the ruleset's
    rounding mode. Integers only: this runs for every percentage discount."""
    floor, rest = divmod(numerator, denominator)
    if mode == "down" or rest == 0:
        return floor
    twice = 2 * rest
    if twice > denominator or (twice == denominator and (mode == "half_up" or floor % 2 == 1)):
        return floor + 1
    return floor


def allocate(total: int, weights: Sequence[int], room: Sequence[int] | None = None) -> tuple[list[int], int]:
    """Split `total` minor units in proportion to `weights` by largest remainder.

    `room` caps each part (a line's distance to its floor). What a capped part cannot take is
    split again over the parts that still have room, in proportion to the same weights.
    Returns the parts (same order as `weights`) and what no part could take. Remainder ties go
    to the earlier index, so callers pass lines in a canonical order.
    """
    # lists, not the Sequences given: compiled, a list[int] is indexed natively, a Sequence (a
    # tuple) through PyObject_GetItem; and `//` with the product less the quotient times W for the
    # remainder, which is divmod's exactly, in tagged integers (mypyc calls the generic divmod)
    w: list[int] = list(weights)
    n = len(w)
    parts = [0] * n
    cap: list[int] = list(room) if room is not None else [total] * n
    open_ = [i for i in range(n) if w[i] > 0 and cap[i] > 0]
    left = total
    while left > 0 and open_:
        if len(open_) == 1:  # one part takes what it has room for
            i = open_[0]
            take = min(left, cap[i] - parts[i])
            parts[i] += take
            return parts, left - take
        weight_sum = 0
        for i in open_:
            weight_sum += w[i]
        # exact shares left*w/W: integer quotient and remainder over the common denominator W
        quotients: list[int] = []
        remainders: list[int] = []
        given = 0
        for i in open_:
            share = left * w[i]
            q = share // weight_sum
            quotients.append(q)
            remainders.append(share - q * weight_sum)
            given += q
        extra = left - given
        if extra:  # the largest remainders get one more unit; sorted() is stable, reverse too: ties by index
            for k in sorted(range(len(open_)), key=remainders.__getitem__, reverse=True)[:extra]:
                quotients[k] += 1
        still_open = []
        for k, i in enumerate(open_):
            take = min(quotients[k], cap[i] - parts[i])
            parts[i] += take
            left -= take
            if cap[i] > parts[i]:
                still_open.append(i)
        open_ = still_open
    return parts, left
