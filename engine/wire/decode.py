"""Requests from JSON: the JSON form of service.md's EvaluateRequest (the proto3 JSON mapping)
-> a validated `Request`, money in minor units.

Every problem names its field path, so the server can turn it into a BadRequest violation. It
accepts what the proto3 JSON parser accepts, so `promo eval` and the service read the same carts:
the proto's field names (and a field's lowerCamelCase JSON name), `null` for a default, and nothing
else: an unknown key is an error naming it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timezone
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from engine.base.enums import Explain, Stage
from engine.base.money import MAX_MINOR, MoneyError, format_money, parse_money
from engine.base.request import Line, Request, User, WalletEntry
from engine.base.text import clip

# the proto's enum value names (promo.proto `Explain`, `Stage`) -> the engine's values; the
# `_UNSPECIFIED` name (value 0) is the field's default. The one place they are mapped (the server
# reads requests through this module too).
EXPLAIN_NAMES: dict[str, Explain] = {"EXPLAIN_OFF": Explain.OFF, "EXPLAIN_REASONS": Explain.REASONS,
                                     "EXPLAIN_TRACE": Explain.TRACE}
STAGE_NAMES: dict[str, Stage] = {"STAGE_DEPOSIT": Stage.DEPOSIT, "STAGE_BALANCE": Stage.BALANCE}

E = TypeVar("E")
D = TypeVar("D")


MAX_QUANTITY = 1_000_000


# the fields of each message of promo.proto a request carries (attributes are free-form)
REQUEST_FIELDS = ("at", "user", "channel", "region", "lines", "shipping", "wallet", "selected", "stage",
                  "presale_sold", "explain")


USER_FIELDS = ("id", "level", "tags", "new", "usage", "attributes")


LINE_FIELDS = ("id", "sku", "shop", "category", "brand", "tags", "price", "quantity", "attributes")


WALLET_FIELDS = ("coupon", "id", "expires", "code")
MAX_CODE = 64  # characters of a wallet entry's code (the ledger issues at most 32 and a prefix)


_JSON_NAMES = {"presaleSold": "presale_sold"}  # the lowerCamelCase names that differ


class RequestError(ValueError):
    """A malformed request: `field` is the path of the offending value (`lines[0].price`)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def parse_datetime(text: Any, field_path: str, tz: ZoneInfo | timezone = UTC) -> datetime:
    """ISO-8601; a date-time without an offset is read in `tz` (the ruleset's timezone)."""
    if not isinstance(text, str) or not text:
        raise RequestError(field_path, "expected an ISO-8601 date-time string")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RequestError(field_path, f"`{clip(text)}` is not an ISO-8601 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _str(obj: Mapping, key: str, path: str, required: bool = False) -> str:
    value = obj.get(key, "")
    if not isinstance(value, str):
        raise RequestError(f"{path}{key}", "expected a string")
    if required and not value:
        raise RequestError(f"{path}{key}", "must not be empty")
    return value


_INT_TEXT = re.compile(r"-?[0-9]+")  # ASCII digits: int() would take any script's


def whole_number(value: Any, field_path: str, low: int = 0, high: int = 2**53) -> int:
    # proto3 JSON writes 64-bit integers as strings; accept both forms.
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        # past 20 digits it is out of range anyway, and int() refuses strings past 4,300 digits
        value = int(value) if len(value) <= 20 else high + 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(field_path, "expected a whole number")
    if not low <= value <= high:
        raise RequestError(field_path, f"must be between {low} and {high}")
    return value


def money_amount(value: Any, field_path: str, digits: int) -> int:
    try:
        return parse_money(value, digits)
    except MoneyError as err:
        raise RequestError(field_path, str(err)) from None


def _strings(value: Any, field_path: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RequestError(field_path, "expected a list of strings")
    return frozenset(value)


def _object(value: Any, field_path: str) -> Mapping:
    if not isinstance(value, dict):
        raise RequestError(field_path, "expected an object")
    return value


def _message(value: Any, field_path: str, fields: tuple[str, ...]) -> dict:
    """An object of `fields` (a proto message) without its `null`s; an unknown key is an error."""
    obj = _object(value, field_path)
    for key in obj:
        if key not in fields:
            prefix = f"{field_path}." if field_path else ""
            raise RequestError(f"{prefix}{clip(key)}", "unknown field" + _did_you_mean(key, fields))
    return {k: v for k, v in obj.items() if v is not None}


def _did_you_mean(key: str, fields: tuple[str, ...]) -> str:
    """` (did you mean "quantity"?)` for a misspelling (`wallett`) or an abbreviation (`qty`)."""
    close = difflib.get_close_matches(key, fields, n=1)
    if not close and key:
        close = [f for f in fields if f[0] == key[0] and _is_subsequence(key, f)][:1]
    return f' (did you mean "{close[0]}"?)' if close else ""


def _is_subsequence(short: str, long: str) -> bool:
    rest = iter(long)
    return all(c in rest for c in short)


def _line(obj: Any, i: int, digits: int) -> Line:
    path = f"lines[{i}]."
    obj = _message(obj, f"lines[{i}]", LINE_FIELDS)
    if "price" not in obj:
        raise RequestError(f"{path}price", "is required")
    attributes = _object(obj.get("attributes", {}), f"{path}attributes")
    line = Line(
        id=_str(obj, "id", path, required=True),
        sku=_str(obj, "sku", path, required=True),
        shop=_str(obj, "shop", path),
        category=_str(obj, "category", path),
        brand=_str(obj, "brand", path),
        tags=_strings(obj.get("tags", []), f"{path}tags"),
        price=money_amount(obj["price"], f"{path}price", digits),
        quantity=whole_number(obj.get("quantity", 0), f"{path}quantity", 1, MAX_QUANTITY),
        attributes=dict(attributes),
    )
    if line.list_amount > MAX_MINOR:
        raise RequestError(f"lines[{i}]", f"price × quantity must be at most {format_money(MAX_MINOR, digits)}")
    return line


def wallet_entry(value: Any, i: int, field_name: str, tz) -> WalletEntry:
    path = f"{field_name}[{i}]"
    if isinstance(value, str):  # the command line's shorthand: a coupon name
        value = {"coupon": value}
    value = _message(value, path, WALLET_FIELDS)
    expires = value.get("expires")
    code = _str(value, "code", f"{path}.")
    if len(code) > MAX_CODE:
        raise RequestError(f"{path}.code", f"at most {MAX_CODE} characters, got {len(code):,}")
    return WalletEntry(
        coupon=_str(value, "coupon", f"{path}.", required=True),
        id=_str(value, "id", f"{path}."),
        expires=parse_datetime(expires, f"{path}.expires", tz) if expires else None,
        code=code,
    )


def wallet_entries(values: list, tz) -> tuple[WalletEntry, ...]:
    """The wallet with repeated entries collapsed, the first kept where it stands: entries with
    the same coupon and id are one coupon held (an id names one issued coupon; entries without
    one cannot be told apart), so a wallet costs what its coupons cost, not its length. The same
    coupon and id with another expiry is an error: the request contradicts itself."""
    kept: dict[tuple[str, str], WalletEntry] = {}
    for i, value in enumerate(values):
        entry = wallet_entry(value, i, "wallet", tz)
        first = kept.setdefault((entry.coupon, entry.id), entry)
        if first.expires != entry.expires:
            raise RequestError(f"wallet[{i}].expires", f"coupon `{clip(entry.coupon)}` with id `{clip(entry.id)}` "
                               "is already in the wallet with another expiry")
        if first.code != entry.code:
            raise RequestError(f"wallet[{i}].code", f"coupon `{clip(entry.coupon)}` with id `{clip(entry.id)}` "
                               "is already in the wallet with another code")
    return tuple(kept.values())


def enum_value(value: Any, field_path: str, names: Mapping[str, E], unspecified: str, default: D) -> E | D:
    """A proto enum by its value name; absent, null or `<ENUM>_UNSPECIFIED`: `default`."""
    if value in ("", None, unspecified):
        return default
    if not isinstance(value, str) or value not in names:
        raise RequestError(field_path, f"`{clip(value)}` is not one of {', '.join((unspecified, *names))}")
    return names[value]


def request_from_json(data: Any, digits: int, tz: ZoneInfo | timezone = UTC,
                      max_lines: int = 10_000) -> Request:
    data = _message(_proto_names(_object(data, "request")), "", REQUEST_FIELDS)
    lines_json = data.get("lines", [])
    if not isinstance(lines_json, list):
        raise RequestError("lines", "expected a list")
    if len(lines_json) > max_lines:
        raise RequestError("lines", f"at most {max_lines} lines per cart")
    lines = tuple(_line(obj, i, digits) for i, obj in enumerate(lines_json))
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.id in seen:
            raise RequestError(f"lines[{i}].id", f"`{clip(line.id)}` is used by an earlier line")
        seen.add(line.id)

    user_json = _message(data.get("user", {}), "user", USER_FIELDS)
    usage = _object(user_json.get("usage", {}), "user.usage")
    user = User(
        id=_str(user_json, "id", "user."),
        level=whole_number(user_json.get("level", 0), "user.level", 0, 10**9),
        tags=_strings(user_json.get("tags", []), "user.tags"),
        new=_bool(user_json.get("new", False), "user.new"),
        usage={k: whole_number(v, f"user.usage.{clip(k)}") for k, v in usage.items()},
        attributes=dict(_object(user_json.get("attributes", {}), "user.attributes")),
    )
    shipping = _object(data.get("shipping", {}), "shipping")
    sold = _object(data.get("presale_sold", {}), "presale_sold")
    wallet = data.get("wallet", [])
    selected = data.get("selected", [])
    for name, value in (("wallet", wallet), ("selected", selected)):
        if not isinstance(value, list):
            raise RequestError(name, "expected a list")
    shipping_fees = {shop: money_amount(fee, f"shipping.{clip(shop)}", digits) for shop, fee in shipping.items()}
    if sum(line.list_amount for line in lines) + sum(shipping_fees.values()) > MAX_MINOR:
        raise RequestError("lines", f"the lines' list amounts and shipping must total at most {format_money(MAX_MINOR, digits)}")
    return Request(
        at=parse_datetime(data.get("at"), "at", tz) if data.get("at") else datetime.now(UTC),
        lines=lines,
        user=user,
        channel=_str(data, "channel", ""),
        region=_str(data, "region", ""),
        shipping=shipping_fees,
        wallet=wallet_entries(wallet, tz),
        selected=tuple(wallet_entry(v, i, "selected", tz).coupon for i, v in enumerate(selected)),
        stage=enum_value(data.get("stage"), "stage", STAGE_NAMES, "STAGE_UNSPECIFIED", None),
        presale_sold={k: whole_number(v, f"presale_sold.{clip(k)}") for k, v in sold.items()},
        explain=enum_value(data.get("explain"), "explain", EXPLAIN_NAMES, "EXPLAIN_UNSPECIFIED", Explain.REASONS),
    )


def _proto_names(data: Mapping) -> Mapping:
    """`data` with the lowerCamelCase JSON names renamed to the proto's (both are proto3 JSON)."""
    renamed = dict(data)
    for json_name, name in _JSON_NAMES.items():
        if json_name in renamed:
            if name in renamed:
                raise RequestError(json_name, f"the same field as `{name}`, given twice")
            renamed[name] = renamed.pop(json_name)
    return renamed


def _bool(value: Any, field_path: str) -> bool:
    if not isinstance(value, bool):
        raise RequestError(field_path, "expected true or false")
    return value
