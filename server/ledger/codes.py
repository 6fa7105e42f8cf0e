"""Single-use codes: the format, the check character and the random draw (no database here).

The alphabet has 31 symbols, digits and capitals without the look-alikes 0 O 1 I L. 31 is prime,
so the alphabet is the field Z/31 and the check is a Damm check over the quasigroup
x*y = 3x + y (mod 31): read left to right, s = 3*s + value (Horner), and the check character is
the one that brings s to 0. It catches
- any single wrong character: each position weighs a power of 3, never 0 mod a prime;
- any swap of neighbours x y -> y x: the sum changes by 3^k * 2 * (x - y), never 0 for x != y;
and as 3 is a primitive root mod 31, any swap of characters up to 30 places apart. Codes are
read case-insensitively, with spaces and hyphens ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, prime
VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHT = 3
_ACCEPT = 256 - 256 % BASE  # bytes at or above this are drawn again (no bias)


def normalize(text: str) -> str:
    return "".join(text.split()).replace("-", "").upper()


def checksum(body: str) -> int:
    s = 0
    for c in body:
        s = (_WEIGHT * s + VALUE[c]) % BASE
    return s


def check_character(body: str) -> str:
    """The character that, appended to `body`, makes the checksum 0."""
    return ALPHABET[-_WEIGHT * checksum(body) % BASE]


def is_valid(text: str) -> bool:
    """Well formed: only alphabet characters (after normalize), a check character that fits."""
    code = normalize(text)
    return len(code) >= 2 and all(c in VALUE for c in code) and checksum(code) == 0


def draw(count: int, randbytes: Callable[[int], bytes] = os.urandom) -> str:
    """`count` characters drawn uniformly from the alphabet, from a cryptographic source."""
    out: list[str] = []
    while len(out) < count:
        out.extend(ALPHABET[b % BASE] for b in randbytes(2 * (count - len(out)) + 8) if b < _ACCEPT)
    return "".join(out[:count])


def make(prefix: str, length: int, count: int = 1, randbytes: Callable[[int], bytes] = os.urandom) -> list[str]:
    """`count` codes: the prefix, then `length - 1` random characters and the check character."""
    width = length - 1
    drawn = draw(width * count, randbytes)
    bodies = (prefix + drawn[i:i + width] for i in range(0, len(drawn), width))
    return [body + check_character(body) for body in bodies]
