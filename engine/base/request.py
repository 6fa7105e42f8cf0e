"""What a checkout asks: the cart and its context, validated, with money in minor units.

`request_from_json` reads the JSON form of service.md's EvaluateRequest (proto3 JSON mapping);
every problem names its field path, so the server can turn it into a BadRequest violation.
It accepts what the proto3 JSON parser accepts, so `promo eval` and the service read the same
carts: the proto's field names (and a field's lowerCamelCase JSON name), `null` for a default,
and nothing else: an unknown key is an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


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
    stage: str = "STAGE_UNSPECIFIED"
    presale_sold: Mapping[str, int] = field(default_factory=dict)
    explain: str = "EXPLAIN_REASONS"


# ---- JSON -> Request ---------------------------------------------------------------------------

