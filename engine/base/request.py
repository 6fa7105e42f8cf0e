"""What a checkout asks: the cart and its context, validated, with money in minor units.

engine/wire/decode.py's `request_from_json` makes one from the JSON form of service.md's
EvaluateRequest (the proto3 JSON mapping), naming the field of every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.base.enums import Explain, Stage


@dataclass(frozen=True)
class Line:
    id: str
    sku: str
    shop: str
    category: str
    brand: str
    tags: frozenset[str]
    price: int  # unit list price, minor units
    quantity: int
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def list_amount(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True)
class User:
    id: str = ""
    level: int = 0
    tags: frozenset[str] = frozenset()
    new: bool = False
    usage: Mapping[str, int] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WalletEntry:
    coupon: str
    id: str = ""
    expires: datetime | None = None
    code: str = ""  # the single-use code it is redeemed with (a coupon with `codes`); "" none


@dataclass(frozen=True)
class Request:
    at: datetime
    lines: tuple[Line, ...]
    user: User = User()
    channel: str = ""
    region: str = ""
    shipping: Mapping[str, int] = field(default_factory=dict)  # shop -> fee, minor units
    wallet: tuple[WalletEntry, ...] = ()
    selected: tuple[str, ...] = ()
    stage: Stage | None = None  # None: decided from `at` and the presale windows
    presale_sold: Mapping[str, int] = field(default_factory=dict)
    explain: Explain = Explain.REASONS


