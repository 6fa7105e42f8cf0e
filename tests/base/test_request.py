"""Malformed requests (service.md "Money on the wire", EvaluateRequest): `request_from_json`
raises RequestError whose `.field` is the path of the offending value."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from engine.base.enums import Explain, Stage
from engine.wire.decode import RequestError, request_from_json

SHANGHAI = ZoneInfo("Asia/Shanghai")


def req(**over) -> dict:
    base = {"at": "2026-11-11T10:00:00+08:00",
            "lines": [{"id": "l1", "sku": "A", "shop": "S1", "price": "10.00", "quantity": 1}]}
    return {**base, **over}


def with_line(**over) -> dict:
    return req(lines=[{"id": "l1", "sku": "A", "shop": "S1", "price": "10.00", "quantity": 1, **over}])


BAD = [
    ("price-too-many-decimals", with_line(price="1.234"), "lines[0].price"),
    ("price-negative", with_line(price="-1.00"), "lines[0].price"),
    ("price-exponent", with_line(price="1e3"), "lines[0].price"),
    ("price-nan", with_line(price="NaN"), "lines[0].price"),
    ("price-float", with_line(price=1.5), "lines[0].price"),
    ("price-missing", req(lines=[{"id": "l1", "sku": "A", "quantity": 1}]), "lines[0].price"),
    ("quantity-zero", with_line(quantity=0), "lines[0].quantity"),
    ("quantity-negative", with_line(quantity=-2), "lines[0].quantity"),
    ("quantity-fraction", with_line(quantity=1.5), "lines[0].quantity"),
    ("quantity-missing", req(lines=[{"id": "l1", "sku": "A", "price": "1.00"}]), "lines[0].quantity"),
    ("id-empty", with_line(id=""), "lines[0].id"),
    ("id-missing", req(lines=[{"sku": "A", "price": "1.00", "quantity": 1}]), "lines[0].id"),
    ("second-line-bad-price", req(lines=[{"id": "a", "sku": "A", "price": "1.00", "quantity": 1},
                                         {"id": "b", "sku": "B", "price": "2.001", "quantity": 1}]), "lines[1].price"),
    ("duplicate-ids", req(lines=[{"id": "a", "sku": "A", "price": "1.00", "quantity": 1},
                                 {"id": "a", "sku": "B", "price": "2.00", "quantity": 1}]), "lines[1].id"),
    ("explain-unknown", req(explain="EXPLAIN_ALL"), "explain"),
    ("stage-unknown", req(stage="STAGE_FINAL"), "stage"),
    ("shipping-too-many-decimals", req(shipping={"S1": "8.001"}), "shipping.S1"),
    ("shipping-negative", req(shipping={"S1": "-8"}), "shipping.S1"),
    ("at-not-a-date", req(at="11/11/2026"), "at"),
    ("wallet-expires-bad", req(wallet=[{"coupon": "c", "expires": "soon"}]), "wallet[0].expires"),
    ("wallet-empty-coupon", req(wallet=[{"coupon": ""}]), "wallet[0].coupon"),
    ("usage-negative", req(user={"usage": {"c": -1}}), "user.usage.c"),
    ("user-level-string", req(user={"level": "three"}), "user.level"),
    ("lines-not-a-list", req(lines={"id": "l1"}), "lines"),
    ("price-full-width-digits", with_line(price="１００"), "lines[0].price"),
    ("price-arabic-indic-digits", with_line(price="١٠٠"), "lines[0].price"),
    ("price-35-digits", with_line(price="1" * 35), "lines[0].price"),
    ("price-5000-digits", with_line(price="9" * 5000), "lines[0].price"),
    ("price-trailing-zero-decimal", with_line(price="1.230"), "lines[0].price"),
    ("price-times-quantity-too-large", with_line(price="9999999999999.99", quantity=2), "lines[0]"),
    ("cart-total-too-large", req(lines=[{"id": "a", "sku": "A", "price": "9999999999999.99", "quantity": 1}],
                                 shipping={"S1": "0.01"}), "lines"),
    ("quantity-arabic-indic-digits", with_line(quantity="٣"), "lines[0].quantity"),
    ("quantity-5000-digits", with_line(quantity="9" * 5000), "lines[0].quantity"),
    ("unknown-top-level-key", req(wallett=["c"]), "wallett"),
    ("unknown-line-key", with_line(qty=2), "lines[0].qty"),
    ("unknown-user-key", req(user={"levle": 3}), "user.levle"),
    ("unknown-wallet-key", req(wallet=[{"coupon": "c", "expire": "2026-11-30"}]), "wallet[0].expire"),
    ("camel-and-proto-name-twice", req(presale_sold={}, presaleSold={}), "presaleSold"),
]


@pytest.mark.parametrize("data,field", [pytest.param(d, f, id=i) for i, d, f in BAD])
def test_malformed_request_names_the_field(data, field):
    with pytest.raises(RequestError) as err:
        request_from_json(data, 2, SHANGHAI)
    assert err.value.field == field


@pytest.mark.parametrize("text,minor", [("110", 11000), ("110.0", 11000), ("110.00", 11000), ("0.01", 1), ("0", 0)])
def test_money_forms_accepted(text, minor):
    r = request_from_json(with_line(price=text), 2, SHANGHAI)
    assert r.lines[0].price == minor


def test_date_time_without_offset_is_read_in_the_ruleset_zone():
    r = request_from_json(req(at="2026-11-11T00:00:00"), 2, SHANGHAI)
    assert r.at.astimezone(UTC).isoformat() == "2026-11-10T16:00:00+00:00"


def test_wallet_shorthand_and_defaults():
    r = request_from_json(req(wallet=["c1", {"coupon": "c2", "id": "w2"}]), 2, SHANGHAI)
    assert [(w.coupon, w.id) for w in r.wallet] == [("c1", ""), ("c2", "w2")]
    assert (r.stage, r.explain) == (None, Explain.REASONS)  # the proto names are the wire's


def test_unspecified_enums_mean_the_default():
    from engine.wire.decode import request_from_json as parse

    r = parse({"at": "2026-11-11T10:00:00+08:00", "lines": [], "explain": "EXPLAIN_UNSPECIFIED",
               "stage": "STAGE_UNSPECIFIED"}, 2)
    assert (r.explain, r.stage) == (Explain.REASONS, None)


@pytest.mark.parametrize(("field", "name", "value"), [
    ("explain", "EXPLAIN_OFF", Explain.OFF), ("explain", "EXPLAIN_REASONS", Explain.REASONS),
    ("explain", "EXPLAIN_TRACE", Explain.TRACE),
    ("stage", "STAGE_DEPOSIT", Stage.DEPOSIT), ("stage", "STAGE_BALANCE", Stage.BALANCE),
])
def test_proto_enum_names_become_engine_values(field, name, value):
    r = request_from_json(req(**{field: name}), 2, SHANGHAI)
    assert getattr(r, field) is value


def test_an_engine_value_is_not_a_proto_name():
    with pytest.raises(RequestError, match="is not one of EXPLAIN_UNSPECIFIED, EXPLAIN_OFF"):
        request_from_json(req(explain="off"), 2, SHANGHAI)
    with pytest.raises(RequestError, match="stage"):
        request_from_json(req(stage=["STAGE_DEPOSIT"]), 2, SHANGHAI)


@pytest.mark.parametrize("data,message", [
    (req(wallett=["c"]), 'wallett: unknown field (did you mean "wallet"?)'),
    # `qty` is an unknown field, not a quantity of 0
    (req(lines=[{"id": "l1", "sku": "A", "price": "1.00", "qty": 2}]), 'lines[0].qty: unknown field (did you mean "quantity"?)'),
    (req(colour="red"), "colour: unknown field"),
])
def test_an_unknown_key_is_named_with_a_suggestion(data, message):
    with pytest.raises(RequestError) as err:
        request_from_json(data, 2, SHANGHAI)
    assert str(err.value) == message


def test_what_the_proto3_json_parser_accepts_is_accepted():
    """The proto's JSON names and `null` for a default, as in `promo serve` (json_format)."""
    from google.protobuf import json_format

    from server.gen.promo.v1 import promo_pb2 as pb

    data = req(presaleSold={"p": 3}, user=None, region=None, lines=[
        {"id": "l1", "sku": "A", "price": "10.00", "quantity": "2", "attributes": None}])
    json_format.ParseDict(data, pb.EvaluateRequest())  # the service would take it too
    r = request_from_json(data, 2, SHANGHAI)
    assert (r.presale_sold, r.region, r.lines[0].quantity, r.lines[0].attributes) == ({"p": 3}, "", 2, {})
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(req(wallett=[]), pb.EvaluateRequest())  # and both refuse an unknown key


def test_quoted_values_are_clipped():
    long_id = "x" * 10_000
    data = req(lines=[{"id": long_id, "sku": "A", "price": "1.00", "quantity": 1},
                      {"id": long_id, "sku": "B", "price": "1.00", "quantity": 1}])
    for bad in (data, req(stage="S" * 10_000), req(at="t" * 10_000), with_line(price="p" * 10_000),
                req(shipping={"s" * 10_000: "x"}), req(**{"k" * 10_000: 1})):
        with pytest.raises(RequestError) as err:
            request_from_json(bad, 2, SHANGHAI)
        assert len(str(err.value)) < 200 and "…" in str(err.value)


def test_the_largest_cart_is_accepted_exactly():
    r = request_from_json(req(lines=[{"id": "a", "sku": "A", "price": "999999999999.99", "quantity": 10}],
                              shipping={"S1": "0.09"}), 2, SHANGHAI)
    assert sum(line.list_amount for line in r.lines) + sum(r.shipping.values()) == 10**15 - 1


def test_a_request_survives_pickle_copy_and_replace():
    """Requests and users go to analyze's and backtest's worker processes (Options carries a
    User) and through `dataclasses.replace`; compiled (engine/base/request.py is in the mypyc
    set) a frozen dataclass needs its own `__reduce__` for that."""
    import copy
    import dataclasses
    import pickle

    from engine.base.request import Line, Request, User, WalletEntry

    request = request_from_json(req(user={"id": "u1", "level": 3, "tags": ["88vip"], "usage": {"p": 1}},
                                    wallet=[{"coupon": "c1", "id": "w1"}], explain="EXPLAIN_OFF",
                                    lines=[{"id": "l1", "sku": "A", "shop": "S1", "price": "10.00", "quantity": 2,
                                            "tags": ["hot"], "attributes": {"color": "red"}}]), 2, SHANGHAI)
    for value in (request, request.lines[0], request.user, request.wallet[0], User(), WalletEntry("c")):
        for twin in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
            assert twin == value and type(twin) is type(value)
    assert pickle.loads(pickle.dumps(request)).lines[0].list_amount == 2000
    changed = dataclasses.replace(request, selected=("c1",), explain=Explain.REASONS)
    assert changed.selected == ("c1",) and changed.lines == request.lines and changed.user == request.user
    assert Request(request.at, ()).user == User() and Line("l", "s", "S", "", "", frozenset(), 1, 1).attributes == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.lines[0].price = 1  # type: ignore[misc]
