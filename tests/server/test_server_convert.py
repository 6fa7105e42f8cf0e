"""server/service/convert.py reads requests straight from the proto messages; the JSON path it
replaced (json_format.MessageToDict -> engine/wire/decode.py's `request_from_json`) is kept here as
the reference only. On generated requests, good and bad, both give the same request or the same
error (field and message). Answers are the message constructors over encode.py's JSON: on the
quotes of generated requests, the same message as json_format.ParseDict of that JSON."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.lang.load import load_ruleset
from engine.plan.compiler import compile_plan
from engine.pricing.quote import evaluate
from engine.wire.decode import RequestError, request_from_json
from engine.wire.encode import quote_to_json
from server.gen.promo.v1 import promo_pb2 as pb
from server.service import convert

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "examples" / "double11"
NOW = datetime(2026, 11, 11, tzinfo=UTC)


@cache
def plan():
    return compile_plan(load_ruleset(str(PACK)))


def reference_request(msg: pb.EvaluateRequest, max_lines: int = 10_000):
    """The JSON path convert.py used before it read messages directly."""
    try:
        data = json_format.MessageToDict(msg, preserving_proto_field_name=True)
    except json_format.SerializeToJsonError:
        field = convert.non_finite_field(msg)
        if field is None:
            raise
        raise RequestError(field, "must be a finite number, not NaN or Infinity") from None
    return request_from_json(data, plan().digits, plan().timezone, max_lines=max_lines)


def outcome(convert_fn, msg):
    try:
        request = convert_fn(msg)
    except RequestError as err:
        return ("error", err.field, err.message)
    return ("ok", dataclasses.replace(request, at=NOW) if not msg.at else request)


# ---- generated requests ------------------------------------------------------------------------

CART = json.loads((PACK / "cart.json").read_text(encoding="utf-8"))
SKUS = [line["sku"] for line in CART["lines"]]
SHOPS = [line["shop"] for line in CART["lines"]]
COUPONS = [w["coupon"] for w in CART["wallet"]] + ["88vip-95", "no-such-coupon"]
WORDS = st.sampled_from(["", "x", "l1", "l2", "shoes", "nuts", "cross", "88vip", "新"]) | st.text(max_size=6)
PRICES = st.sampled_from(["499.00", "59.90", "100", "0", "0.5", "1.234", "-1", "1e3", "abc", "", "NaN",
                          "99999999999999999999"])
TIMES = st.sampled_from(["2026-11-11T10:00:00+08:00", "2026-11-11T00:30:00", "2026-11-12T00:00:00Z", "11/11/2026",
                         "2026-11-20T00:00:00+08:00", ""])
NUMBERS = st.sampled_from([0.0, 1.0, 3.0, -2.5, 1e300, float("nan"), float("inf")])


def _json_values(depth: int = 2):
    leaf = st.none() | st.booleans() | NUMBERS | WORDS
    if depth == 0:
        return leaf
    inner = _json_values(depth - 1)
    return leaf | st.lists(inner, max_size=3) | st.dictionaries(WORDS, inner, max_size=3)


ATTRIBUTES = st.dictionaries(WORDS, _json_values(), max_size=3)


@st.composite
def lines(draw, i: int) -> pb.Line:
    line = pb.Line(id=draw(st.sampled_from([f"l{i}", f"l{i}", "l0", ""])), sku=draw(st.sampled_from([*SKUS, "", "sku-x"])),
                   shop=draw(st.sampled_from([*SHOPS, ""])), category=draw(WORDS), brand=draw(WORDS),
                   tags=draw(st.lists(WORDS, max_size=3)), price=draw(PRICES),
                   quantity=draw(st.sampled_from([1, 1, 2, 4, 0, -1, 1_000_001])))
    line.attributes.update(draw(ATTRIBUTES))
    return line


@st.composite
def wallet_entries(draw) -> pb.WalletCoupon:
    fields = {"coupon": draw(st.sampled_from([*COUPONS, ""])), "id": draw(st.sampled_from(["", "w-1", "w-2", "w-3"]))}
    expires = draw(st.none() | TIMES)
    if expires is not None:
        fields["expires"] = expires
    for f in pb.WalletCoupon.DESCRIPTOR.fields:  # any other string field (a newer proto's) gets values too
        if f.name not in fields and f.name != "expires" and f.type == f.TYPE_STRING:
            fields[f.name] = draw(st.sampled_from(["", "", "C-1", "C-2", "x" * 70]))
    return pb.WalletCoupon(**fields)


@st.composite
def requests(draw) -> pb.EvaluateRequest:
    count = draw(st.integers(0, 4))
    msg = pb.EvaluateRequest(
        at=draw(TIMES), channel=draw(st.sampled_from(["app", "web", ""])), region=draw(st.sampled_from(["CN-ZJ", ""])),
        lines=[draw(lines(i)) for i in range(count)],
        shipping=draw(st.dictionaries(st.sampled_from([*SHOPS, "S-X"]), PRICES, max_size=3)),
        wallet=draw(st.lists(wallet_entries(), max_size=5)),
        selected=draw(st.lists(wallet_entries(), max_size=2)),
        stage=draw(st.sampled_from([0, 0, 1, 2, 99])),
        presale_sold=draw(st.dictionaries(st.sampled_from(SKUS), st.sampled_from([0, 3, -1]), max_size=2)),
        explain=draw(st.sampled_from([0, 1, 2, 2, 3, 42])),
    )
    if draw(st.booleans()):
        msg.user.CopyFrom(pb.User(id=draw(WORDS), level=draw(st.sampled_from([0, 3, 5, -1])),
                                  tags=draw(st.lists(st.sampled_from(["88vip", "new", ""]), max_size=2)),
                                  new=draw(st.booleans()),
                                  usage=draw(st.dictionaries(st.sampled_from(COUPONS), st.sampled_from([0, 1, -1]),
                                                             max_size=2))))
        msg.user.attributes.update(draw(ATTRIBUTES))
    return msg


CHECKS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@CHECKS
@given(requests())
def test_direct_request_conversion_is_the_json_path(msg):
    direct = outcome(lambda m: convert.to_request(m, plan(), 10_000), msg)
    assert direct == outcome(reference_request, msg)


def _priceable(msg: pb.EvaluateRequest) -> pb.EvaluateRequest:
    """`msg` made valid, keeping its shape: so that most generated requests reach a quote."""
    for i, line in enumerate(msg.lines):
        line.id, line.sku = f"l{i}", line.sku or SKUS[i % len(SKUS)]
        line.price = line.price if line.price in ("499.00", "59.90", "100", "0", "0.5") else "10.00"
        line.quantity = min(max(line.quantity, 1), 5)
        line.attributes.Clear()
    msg.user.attributes.Clear()
    msg.user.level = abs(msg.user.level)
    for field, value in (("usage", abs), ("shipping", lambda fee: "8.00"), ("presale_sold", abs)):
        entries = getattr(msg.user if field == "usage" else msg, field)
        fixed = {k: value(v) for k, v in entries.items()}
        entries.clear()
        entries.update(fixed)
    msg.at = "2026-11-11T10:00:00+08:00"
    del msg.wallet[:]
    del msg.selected[:]
    msg.stage = msg.stage % 3
    msg.explain = msg.explain % 4
    return msg


@CHECKS
@given(requests(), st.lists(st.sampled_from(COUPONS), max_size=6), st.lists(st.sampled_from(COUPONS), max_size=2))
def test_direct_answer_is_the_engine_json(msg, wallet, selected):
    msg = _priceable(msg)
    msg.wallet.extend(pb.WalletCoupon(coupon=c, id=f"w-{i}") for i, c in enumerate(wallet))
    msg.selected.extend(pb.WalletCoupon(coupon=c) for c in selected)
    quote = evaluate(plan(), convert.to_request(msg, plan(), 10_000))
    assert convert.evaluate_response(quote) == json_format.ParseDict(quote_to_json(quote), pb.EvaluateResponse())


@pytest.mark.parametrize("explain", ["EXPLAIN_OFF", "EXPLAIN_REASONS", "EXPLAIN_TRACE"])
def test_the_pack_cart_converts_as_the_json_path_both_ways(explain):
    msg = json_format.ParseDict({**CART, "explain": explain}, pb.EvaluateRequest())
    request = convert.to_request(msg, plan(), 10_000)
    assert request == reference_request(msg)
    quote = evaluate(plan(), request)
    assert convert.evaluate_response(quote) == json_format.ParseDict(quote_to_json(quote), pb.EvaluateResponse())


def test_a_request_field_convert_does_not_read_fails_here():
    """A field added to the proto's request messages must be read by convert.py too, not only by
    decode.py: the fields convert.py reads by name are every field of each message."""
    from engine.wire import decode

    known = {"EvaluateRequest": decode.REQUEST_FIELDS, "User": decode.USER_FIELDS, "Line": decode.LINE_FIELDS,
             "WalletCoupon": decode.WALLET_FIELDS}
    for name, fields in known.items():
        proto = {f.name for f in pb.DESCRIPTOR.message_types_by_name[name].fields}
        assert proto == set(fields) == set(convert.READS[name]), name
