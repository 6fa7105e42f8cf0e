"""What a checkout asks: the cart and its context, validated, with money in minor units.

engine/wire/decode.py's `request_from_json` makes one from the JSON form of service.md's
EvaluateRequest (the proto3 JSON mapping), naming the field of every problem.

Compiled by mypyc with the pricing core (pyproject `[tool.promo] compiled`): pricing reads a
line's fields over a thousand times a request, native attribute reads instead of instance
dictionary lookups. Each class writes its `__init__` out (dataclass keeps it: compiled, the
generated one would run interpreted) and `__reduce__` (pickled to analyze's and backtest's
workers: a compiled frozen dataclass has no working default, its `__setstate__` meets the
frozen `__setattr__`).
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

    def __init__(self, id: str, sku: str, shop: str, category: str, brand: str, tags: frozenset[str], price: int,
                 quantity: int, attributes: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "sku", sku)
        object.__setattr__(self, "shop", shop)
        object.__setattr__(self, "category", category)
        object.__setattr__(self, "brand", brand)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "attributes", {} if attributes is None else attributes)

    def __reduce__(self) -> tuple[type[Line], tuple[Any, ...]]:
        return Line, (self.id, self.sku, self.shop, self.category, self.brand, self.tags, self.price, self.quantity,
                      self.attributes)

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

    def __init__(self, id: str = "", level: int = 0, tags: frozenset[str] = frozenset(), new: bool = False,
                 usage: Mapping[str, int] | None = None, attributes: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "level", level)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "new", new)
        object.__setattr__(self, "usage", {} if usage is None else usage)
        object.__setattr__(self, "attributes", {} if attributes is None else attributes)

    def __reduce__(self) -> tuple[type[User], tuple[Any, ...]]:
        return User, (self.id, self.level, self.tags, self.new, self.usage, self.attributes)


@dataclass(frozen=True)
class WalletEntry:
    coupon: str
    id: str = ""
    expires: datetime | None = None
    code: str = ""  # the single-use code it is redeemed with (a coupon with `codes`); "" none

    def __init__(self, coupon: str, id: str = "", expires: datetime | None = None, code: str = "") -> None:
        object.__setattr__(self, "coupon", coupon)
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "expires", expires)
        object.__setattr__(self, "code", code)

    def __reduce__(self) -> tuple[type[WalletEntry], tuple[Any, ...]]:
        return WalletEntry, (self.coupon, self.id, self.expires, self.code)


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

    def __init__(self, at: datetime, lines: tuple[Line, ...], user: User | None = None, channel: str = "",
                 region: str = "", shipping: Mapping[str, int] | None = None, wallet: tuple[WalletEntry, ...] = (),
                 selected: tuple[str, ...] = (), stage: Stage | None = None,
                 presale_sold: Mapping[str, int] | None = None, explain: Explain = Explain.REASONS) -> None:
        object.__setattr__(self, "at", at)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "user", _NO_USER if user is None else user)
        object.__setattr__(self, "channel", channel)
        object.__setattr__(self, "region", region)
        object.__setattr__(self, "shipping", {} if shipping is None else shipping)
        object.__setattr__(self, "wallet", wallet)
        object.__setattr__(self, "selected", selected)
        object.__setattr__(self, "stage", stage)
        object.__setattr__(self, "presale_sold", {} if presale_sold is None else presale_sold)
        object.__setattr__(self, "explain", explain)

    def __reduce__(self) -> tuple[type[Request], tuple[Any, ...]]:
        return Request, (self.at, self.lines, self.user, self.channel, self.region, self.shipping, self.wallet,
                         self.selected, self.stage, self.presale_sold, self.explain)


_NO_USER = User()
