"""The catalog `promo analyze` reads: CSV or JSON Lines, one SKU per row, read lazily.

Columns: `sku, shop, category, brand, tags (; separated), price, warning_price, cost, ad_cost`;
only `sku`, `shop` and `price` are required. Money is a decimal string in the ruleset currency
("199.00"; JSON Lines may also use numbers written as strings or plain numbers). A bad row is
yielded as a `CatalogError` with its row number (the file's line number: the CSV header is line
1) and is never silently dropped; the caller reports it and goes on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.base.money import MoneyError, parse_money

COLUMNS = ("sku", "shop", "category", "brand", "tags", "price", "warning_price", "cost", "ad_cost")
REQUIRED = ("sku", "shop", "price")


class CatalogFormatError(ValueError):
    """The catalog as a whole cannot be read (unknown format, CSV header without a required column)."""


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    shop: str
    price: int  # unit list price, minor units
    category: str = ""
    brand: str = ""
    tags: frozenset[str] = frozenset()
    warning_price: int | None = None  # per unit
    cost: int | None = None  # per unit
    ad_cost: int | None = None  # per order
    row: int = 0
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogError:
    row: int
    message: str


def _money(value: Any, name: str, digits: int, required: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValueError(f"`{name}` is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"`{name}`: expected a decimal amount")
    text = value.strip() if isinstance(value, str) else repr(value)
    try:
        amount = parse_money(text, digits)
    except MoneyError as err:
        raise ValueError(f"`{name}`: {err}") from None
    if required and name == "price" and amount <= 0:
        raise ValueError("`price` must be positive")
    return amount


def item_from_mapping(data: Mapping[str, Any], row: int, digits: int) -> CatalogItem:
    """One row as a CatalogItem; ValueError names what is wrong."""
    def text(name: str, required: bool = False) -> str:
        value = data.get(name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ValueError(f"`{name}`: expected a string")
        value = value.strip()
        if required and not value:
            raise ValueError(f"`{name}` is required")
        return value

    tags = data.get("tags") or ""
    if isinstance(tags, str):
        tag_set = frozenset(t.strip() for t in tags.split(";") if t.strip())
    elif isinstance(tags, list) and all(isinstance(t, str) for t in tags):
        tag_set = frozenset(tags)
    else:
        raise ValueError("`tags`: expected `a;b` or a list of strings")
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise ValueError("`attributes`: expected an object")
    price = _money(data.get("price"), "price", digits, required=True)
    assert price is not None  # required: a missing price raised
    return CatalogItem(
        sku=text("sku", True), shop=text("shop", True), category=text("category"), brand=text("brand"),
        tags=tag_set, price=price,
        warning_price=_money(data.get("warning_price"), "warning_price", digits),
        cost=_money(data.get("cost"), "cost", digits), ad_cost=_money(data.get("ad_cost"), "ad_cost", digits),
        row=row, attributes=dict(attributes),
    )


def read_catalog(path: str | Path, digits: int) -> Iterator[CatalogItem | CatalogError]:
    """Rows of a `.csv` or `.jsonl`/`.ndjson`/`.json` catalog, one at a time (memory stays flat)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _read_csv(path, digits)
    elif suffix in (".jsonl", ".ndjson", ".json"):
        yield from _read_jsonl(path, digits)
    else:
        raise CatalogFormatError(f"`{path}`: a catalog is a .csv or .jsonl file")


def _read_csv(path: Path, digits: int) -> Iterator[CatalogItem | CatalogError]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise CatalogFormatError(f"`{path}`: the header has no {', '.join(missing)} column")
        reader.fieldnames = header
        for raw in reader:
            row = reader.line_num
            if None in raw:
                yield CatalogError(row, f"more fields than the header has ({len(header)})")
                continue
            try:
                yield item_from_mapping(raw, row, digits)
            except ValueError as err:
                yield CatalogError(row, str(err))


def _read_jsonl(path: Path, digits: int) -> Iterator[CatalogItem | CatalogError]:
    with path.open(encoding="utf-8-sig") as f:
        for row, text in enumerate(f, start=1):
            if not text.strip():
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as err:
                yield CatalogError(row, f"not JSON: {err.msg}")
                continue
            if not isinstance(data, dict):
                yield CatalogError(row, "expected a JSON object")
                continue
            try:
                yield item_from_mapping(data, row, digits)
            except ValueError as err:
                yield CatalogError(row, str(err))


def count_rows(path: str | Path) -> int:
    """Data rows (for a progress bar's total), without parsing them."""
    path = Path(path)
    with path.open("rb") as f:
        lines = sum(1 for line in f if line.strip())
    return max(0, lines - 1) if path.suffix.lower() == ".csv" else lines
