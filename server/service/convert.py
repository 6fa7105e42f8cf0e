"""Proto messages <-> the engine's requests and JSON answers.

The proto3 JSON mapping of promo.v1 is the engine's JSON (proto/promo/v1/promo.proto). Requests
are read straight from the message's fields (`to_request`, no dict of the whole message) through
engine/wire/decode.py's value checks, so every problem names its field as `request_from_json`
names it for the CLI. Answers are built by the message constructors straight from the engine's
JSON dict (encode.py, which the CLI prints): the same mapping (enum names, nested dicts,
Struct/ListValue from dicts and lists; an unknown key raises), about 15x faster than
json_format.ParseDict. tests/server/test_server_convert.py pins both to the json_format path
(bench/grpc.py shows the split of one call).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format, struct_pb2

from engine.apps.analyze.scenarios import Options
from engine.apps.analyze.search import Finding
from engine.apps.catalog import CatalogItem, item_from_mapping
from engine.apps.qualify import Qualification
from engine.base.enums import Explain
from engine.base.money import MAX_MINOR, format_money
from engine.base.request import Line, Request, User
from engine.base.text import clip
from engine.lang.diagnostics import Diagnostic
from engine.lang.source import SourceFile
from engine.plan.plan import Plan
from engine.pricing.quote import Quote
from engine.wire import decode
from engine.wire.decode import RequestError, parse_datetime, request_from_json
from engine.wire.encode import finding_to_json, qualification_to_json, quote_to_json, to_json
from server.gen.promo.v1 import promo_pb2 as pb
from server.ledger.clock import utc_now


class LimitExceeded(Exception):
    """A request past a configured size limit (RESOURCE_EXHAUSTED), naming the field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _as_json(message, path: str = "") -> dict[str, Any]:
    """`message` as the engine's JSON; `path` is where it sits in the request, for errors."""
    # Defaults left out: proto3 cannot tell "unset" from zero, and the engine has the same defaults.
    try:
        return json_format.MessageToDict(message, preserving_proto_field_name=True)
    except json_format.SerializeToJsonError:
        field = non_finite_field(message, path)
        if field is None:
            raise
        raise RequestError(field, "must be a finite number, not NaN or Infinity") from None  # JSON has neither


def non_finite_field(message, path: str = "") -> str | None:
    """The path of the first NaN or ±Infinity in a Struct inside `message` (`lines[2].attributes.size`)."""
    if isinstance(message, struct_pb2.Value):
        kind = message.WhichOneof("kind")
        if kind == "number_value":
            return None if math.isfinite(message.number_value) else path
        return non_finite_field(getattr(message, kind), path) if kind in ("struct_value", "list_value") else None
    if isinstance(message, struct_pb2.Struct):
        named = [(f"{path}.{key}", value) for key, value in sorted(message.fields.items())]
    elif isinstance(message, struct_pb2.ListValue):
        named = [(f"{path}[{i}]", value) for i, value in enumerate(message.values)]
    else:  # a promo.v1 message: its message fields (the maps of requests hold scalars)
        named = []
        for f, value in message.ListFields():
            if f.message_type and not f.message_type.GetOptions().map_entry:
                name = f"{path}.{f.name}".lstrip(".")
                named += [(f"{name}[{i}]", v) for i, v in enumerate(value)] if f.is_repeated else [(name, value)]
    return next((found for sub, value in named if (found := non_finite_field(value, sub))), None)


MAX_WALLET = 1_000  # coupons held per wallet, repeats collapsed (`promo serve --max-wallet`)


def to_request(msg: pb.EvaluateRequest, plan: Plan, max_lines: int, max_wallet: int = MAX_WALLET,
               now: Callable[[], datetime] = utc_now) -> Request:
    """The engine's request, read straight from the message's fields (no dict of the whole
    message): what `request_from_json` does with the message's JSON, the same checks in the same
    order with the same field paths, through decode.py's own value checks (money, whole numbers,
    date-times, enum names, the wallet). proto3 types leave out the JSON type checks; an unset
    field reads as its default, as json_format leaves it out. tests/server/test_server_convert.py
    pins it equal to the JSON path on generated requests."""
    # counted before converting, so an oversized cart costs no conversion
    if len(msg.lines) > max_lines:
        raise LimitExceeded("lines", f"at most {max_lines} lines per cart, got {len(msg.lines)}")
    if len(msg.wallet) > max_wallet:  # entries of one coupon and id are one coupon held (engine/request.py)
        held = len({(w.coupon, w.id) for w in msg.wallet})
        if held > max_wallet:
            raise LimitExceeded("wallet", f"at most {max_wallet} coupons per wallet, got {held}")
    if len(msg.selected) > max_wallet:
        raise LimitExceeded("selected", f"at most {max_wallet} coupons selected, got {len(msg.selected)}")
    digits, tz = plan.digits, plan.timezone
    user_msg = msg.user
    # the free-form attributes first: json_format refuses a NaN before the engine sees anything
    line_attributes = [_struct(line.attributes, msg) if line.attributes.fields else {} for line in msg.lines]
    user_attributes = _struct(user_msg.attributes, msg) if user_msg.attributes.fields else {}

    lines = tuple(_line(line, i, digits, attributes) for i, (line, attributes) in enumerate(zip(msg.lines, line_attributes)))
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if line.id in seen:
            raise RequestError(f"lines[{i}].id", f"`{clip(line.id)}` is used by an earlier line")
        seen.add(line.id)
    user = User(
        id=user_msg.id,
        level=decode.whole_number(user_msg.level, "user.level", 0, 10**9),
        tags=frozenset(user_msg.tags),
        new=user_msg.new,
        usage={k: decode.whole_number(v, f"user.usage.{clip(k)}") for k, v in user_msg.usage.items()},
        attributes=user_attributes,
    )
    shipping = {shop: decode.money_amount(fee, f"shipping.{clip(shop)}", digits) for shop, fee in msg.shipping.items()}
    if sum(line.list_amount for line in lines) + sum(shipping.values()) > MAX_MINOR:
        raise RequestError("lines", f"the lines' list amounts and shipping must total at most {format_money(MAX_MINOR, digits)}")
    return Request(
        at=decode.parse_datetime(msg.at, "at", tz) if msg.at else now(),
        lines=lines,
        user=user,
        channel=msg.channel,
        region=msg.region,
        shipping=shipping,
        wallet=decode.wallet_entries([_entry(w) for w in msg.wallet], tz) if msg.wallet else (),
        selected=tuple(decode.wallet_entry(_entry(w), i, "selected", tz).coupon for i, w in enumerate(msg.selected)),
        stage=decode.enum_value(_STAGES.get(msg.stage, msg.stage), "stage", decode.STAGE_NAMES, "STAGE_UNSPECIFIED", None),
        presale_sold={k: decode.whole_number(v, f"presale_sold.{clip(k)}") for k, v in msg.presale_sold.items()},
        explain=decode.enum_value(_EXPLAINS.get(msg.explain, msg.explain), "explain", decode.EXPLAIN_NAMES,
                             "EXPLAIN_UNSPECIFIED", Explain.REASONS),
    )


# the fields each message's reader above takes by name (a wallet entry's: all it has, for decode.py);
# tests/server/test_server_convert.py checks they are the message's fields and decode.py's
READS = {"EvaluateRequest": ("at", "user", "channel", "region", "lines", "shipping", "wallet", "selected", "stage",
                             "presale_sold", "explain"),
         "User": ("id", "level", "tags", "new", "usage", "attributes"),
         "Line": ("id", "sku", "shop", "category", "brand", "tags", "price", "quantity", "attributes"),
         "WalletCoupon": decode.WALLET_FIELDS}

# enum numbers -> their proto names (decode.py maps the names); an unknown number stays a number,
# which decode.py names in its error, as it does json_format's
_STAGES = {v.number: v.name for v in pb.Stage.DESCRIPTOR.values}
_EXPLAINS = {v.number: v.name for v in pb.Explain.DESCRIPTOR.values}


def _line(line: pb.Line, i: int, digits: int, attributes: dict) -> Line:
    path = f"lines[{i}]."
    if not line.price:
        raise RequestError(f"{path}price", "is required")
    if not line.id:
        raise RequestError(f"{path}id", "must not be empty")
    if not line.sku:
        raise RequestError(f"{path}sku", "must not be empty")
    out = Line(
        id=line.id, sku=line.sku, shop=line.shop, category=line.category, brand=line.brand,
        tags=frozenset(line.tags),
        price=decode.money_amount(line.price, f"{path}price", digits),
        quantity=decode.whole_number(line.quantity, f"{path}quantity", 1, decode.MAX_QUANTITY),
        attributes=attributes,
    )
    if out.list_amount > MAX_MINOR:
        raise RequestError(f"lines[{i}]", f"price × quantity must be at most {format_money(MAX_MINOR, digits)}")
    return out


def _entry(w: pb.WalletCoupon) -> dict[str, Any]:
    """A wallet entry as decode.py's wallet reads it (its fields that are set, as json_format
    gives them): the one definition of a wallet entry and of the wallet's repeats."""
    return {f.name: value for f, value in w.ListFields()}


def _struct(struct: struct_pb2.Struct, request) -> dict[str, Any]:
    """A Struct as json_format gives it: numbers as floats, null as None."""
    return {key: _value(value, request) for key, value in struct.fields.items()}


def _value(value: struct_pb2.Value, request) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):  # JSON has neither: named as json_format's refusal was
            raise RequestError(non_finite_field(request) or "attributes", "must be a finite number, not NaN or Infinity")
        return number
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _struct(value.struct_value, request)
    if kind == "list_value":
        return [_value(v, request) for v in value.list_value.values]
    return None  # null_value, or no kind set (json_format gives None for both)


def evaluate_response(quote: Quote) -> pb.EvaluateResponse:
    """The answer from encode.py's `quote_to_json` (the CLI prints the same dict): the message
    constructor takes the nested dicts in C, enum names and Structs included, and an unknown key
    raises. Measured on the double11 cart, this is faster than building each sub-message from
    the quote in Python (89 vs 118 µs), so the one definition is also the fast path."""
    return pb.EvaluateResponse(**quote_to_json(quote))


def qualify_response(q: Qualification, operator: bool) -> pb.QualifyResponse:
    return pb.QualifyResponse(**qualification_to_json(q, operator=operator))


MAX_PATH = 1024  # characters of a ValidateRules path: every diagnostic of the answer repeats it


def source_files(msg: pb.ValidateRulesRequest, max_bytes: int) -> list[SourceFile]:
    """The files to check, at most `max_bytes` of paths and texts in all (UTF-8): checking takes
    seconds a megabyte, and cannot be interrupted."""
    size = sum(len(f.path.encode("utf-8")) + len(f.text.encode("utf-8")) for f in msg.files)
    if size > max_bytes:
        raise LimitExceeded("files", f"at most {max_bytes:,} bytes of source per call, got {size:,}")
    seen: set[str] = set()
    for i, f in enumerate(msg.files):
        if not f.path:
            raise RequestError(f"files[{i}].path", "must not be empty")
        if len(f.path) > MAX_PATH:
            raise LimitExceeded(f"files[{i}].path", f"at most {MAX_PATH} characters, got {len(f.path):,}")
        if f.path in seen:
            raise RequestError(f"files[{i}].path", f"`{f.path}` is used by an earlier file")
        seen.add(f.path)
    return [SourceFile(f.path, f.text) for f in msg.files]


def diagnostic(d: Diagnostic) -> pb.Diagnostic:
    data = {k: v for k, v in to_json(d).items() if v is not None}  # `help: null` is an absent help
    return pb.Diagnostic(**data)


def ruleset_response(plan: Plan, loaded_at: datetime) -> pb.GetRulesetResponse:
    out = pb.GetRulesetResponse(
        name=plan.name, revision=plan.revision,
        loaded_at=loaded_at.astimezone(UTC).isoformat(timespec="seconds"),
        currency=plan.currency, timezone=str(plan.timezone), stacking=plan.stacking,
        files=sorted(plan.sources),
    )
    for p in plan.promotions:  # already in level, priority, name order
        info = out.promotions.add(name=p.name, title=p.title or "", priority=p.priority,
                                  level=pb.Level.Value(p.level), kind=pb.Kind.Value(p.kind))
        if p.window is not None:
            start, end = (t.astimezone(plan.timezone).isoformat() for t in p.window)
            info.window.start, info.window.end = start, end
    return out


# ---- AnalyzePrices -----------------------------------------------------------------------------

MAX_UNITS = 10


def to_analyze(msg: pb.AnalyzePricesRequest, plan: Plan, max_items: int,
               now: Callable[[], datetime] = utc_now) -> tuple[list[CatalogItem], Options]:
    """The items (all checked before the first finding is sent) and the analysis options."""
    import re

    if len(msg.items) > max_items:
        raise LimitExceeded("items", f"at most {max_items} items per call, got {len(msg.items)}")
    items = []
    for i, item in enumerate(msg.items):
        data = _as_json(item, f"items[{i}]")
        try:
            items.append(item_from_mapping(data, i + 1, plan.digits))
        except ValueError as err:
            named = re.match(r"`(\w+)`", str(err))
            raise RequestError(f"items[{i}].{named.group(1) if named else 'price'}", str(err)) from None
    if not 0 <= msg.max_units <= MAX_UNITS:
        raise RequestError("max_units", f"must be between 0 and {MAX_UNITS}")
    user = User(id="analyze")
    if msg.HasField("user"):
        cart = request_from_json({"user": _as_json(msg.user, "user"), "at": "2026-01-01T00:00:00+00:00"}, plan.digits,
                                 plan.timezone)
        user = cart.user
    at = parse_datetime(msg.at, "at", plan.timezone) if msg.at else now()
    return items, Options(at=at, max_units=msg.max_units or 3, user=user, channel=msg.channel,
                          what_ifs="none" if msg.skip_what_ifs else "all")


def price_finding(finding: Finding, plan: Plan) -> pb.PriceFinding:
    return pb.PriceFinding(**finding_to_json(finding, plan))
