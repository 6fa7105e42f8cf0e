"""Presale (预售): deposit and balance stages, deposit expansion, balance discount, price tiers by
units sold, full-payment presale, deferred shipping. Expectations computed by hand from
language.md §2 (Presale) and §4.7, §4.9."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pricing_helpers import Case, cart, check, line, params, quote, ruleset

DEPOSIT_AT = "2026-10-25T10:00:00+08:00"
BALANCE_AT = "2026-11-02T10:00:00+08:00"
AFTER_AT = "2026-11-05T10:00:00+08:00"


def phone(balance_discount: str = "", extra: str = "") -> str:
    bd = f"balance discount {balance_discount}" if balance_discount else ""
    return ruleset(f'''
presale "phone-x" {{
    scope sku == "phone-x"
    price 1000
    deposit 100 worth 150
    {bd}
    deposit_window 2026-10-20 .. 2026-11-01
    balance_window 2026-11-01 .. 2026-11-04
    ships 2026-11-15
}}
promotion "shop-20" {{ level shop scope shop == "S1" discount 20 }}
coupon "plat-30" {{ level platform discount 30 }}
{extra}
''')


def ph(qty: int = 1, shop: str = "S1", price: str = "1200.00") -> dict:
    return line("p", price, qty, sku="phone-x", shop=shop)


PRESALE_CASES = [
    # spec example: price 1000, deposit 100 worth 150. Deposit stage: pay 100 × 1 = 100.00; projected
    # balance = (1000 − (150 − 100)) − 100 = 850.00; the line's final is deposit + balance = 950.00;
    # no coupon or order-level promotion at the deposit stage
    Case("deposit-stage", phone(), cart(ph(), at=DEPOSIT_AT, wallet=["plat-30"]),
         payable="100.00", finals={"p": "950.00"}, applied={},
         reasons={"shop-20": "STAGE_MISMATCH", "plat-30": "STAGE_MISMATCH"},
         presale=[{"line": "p", "stage": "deposit", "deposit": "100.00", "deposit_worth": "150.00",
                   "balance_due": "850.00", "ships": "2026-11-15"}]),
    # two units: deposit 100 × 2 = 200.00; projected balance (950 − 100) × 2 = 1700.00
    Case("deposit-stage-qty-2", phone(), cart(ph(2), at=DEPOSIT_AT),
         payable="200.00", finals={"p": "1900.00"},
         presale=[{"line": "p", "stage": "deposit", "balance_due": "1700.00"}]),
    # the stage may be named: STAGE_DEPOSIT inside the balance window still charges the deposit
    Case("deposit-stage-named", phone(), cart(ph(), at=BALANCE_AT, stage="STAGE_DEPOSIT"),
         payable="100.00", presale=[{"stage": "deposit"}]),
    # balance stage, balance discount 30: base = (1000 − 50 − 30) × 1 = 920; shop −20, plat −30 (both on 920
    # in parallel) → final 870; balance due = 870 − 100 = 770.00 = payable
    Case("balance-stage", phone("30"), cart(ph(), at=BALANCE_AT, wallet=["plat-30"]),
         payable="770.00", finals={"p": "870.00"}, applied={"shop-20": "20.00", "plat-30": "30.00"},
         presale=[{"line": "p", "stage": "balance", "deposit": "100.00", "deposit_worth": "150.00",
                   "balance_due": "770.00"}]),
    # balance stage, two units: base (1000 − 50 − 30) × 2 = 1840; −20 −30 → 1790; due 1790 − 200 = 1590
    Case("balance-stage-qty-2", phone("30"), cart(ph(2), at=BALANCE_AT, wallet=["plat-30"]),
         payable="1590.00", finals={"p": "1790.00"}, presale=[{"balance_due": "1590.00"}]),
    # no promotions used: base 950 → due 850.00, the projection made at the deposit stage
    Case("balance-stage-plain", phone(), cart(line("p", "1200.00", sku="phone-x", shop="S2"), at=BALANCE_AT),
         payable="850.00", finals={"p": "950.00"}, applied={}),
    # named balance stage during the deposit window
    Case("balance-stage-named", phone(), cart(ph(), at=DEPOSIT_AT, stage="STAGE_BALANCE"),
         payable="830.00", applied={"shop-20": "20.00"}, presale=[{"stage": "balance", "balance_due": "830.00"}]),
    # a deposit presale fixes the line's price: an item-level promotion does not touch it (base stays 950)
    Case("deposit-presale-fixes-price", phone(extra='promotion "big" { level item scope sku == "phone-x" discount 500 each }'),
         cart(line("p", "1200.00", sku="phone-x", shop="S2"), at=BALANCE_AT), payable="850.00", applied={}),
    # after both windows the presale is over: the line is an ordinary line at its list price, −20 by shop-20
    Case("after-presale", phone(), cart(ph(), at=AFTER_AT), payable="1180.00", presale=[]),
    # deposit stage with an ordinary line of the same shop: the presale line pays its deposit, the ordinary
    # line alone is the shop promotion's base (50 − 20 = 30) → 100 + 30 = 130
    Case("deposit-stage-mixed-cart", phone(), cart(ph(), line("o", "50.00", shop="S1"), at=DEPOSIT_AT),
         payable="130.00", finals={"p": "950.00", "o": "30.00"}, applied={"shop-20": "20.00"}),
    # balance stage, mixed: shop-20 over p (base 950) and o (50): 2000 fen × 950/1000 = 1900 fen, 100 fen →
    # p 950 − 19 = 931, o 50 − 1 = 49 → payable = (931 − 100) + 49 = 880
    Case("balance-stage-mixed-cart", phone(), cart(ph(), line("o", "50.00", shop="S1"), at=BALANCE_AT),
         payable="880.00", finals={"p": "931.00", "o": "49.00"}, presale=[{"balance_due": "831.00"}]),
]


SHIP = ruleset('''
presale "phone-x" {
    scope sku == "phone-x"  price 1000  deposit 100 worth 150
    deposit_window 2026-10-20 .. 2026-11-01  balance_window 2026-11-01 .. 2026-11-04
}''')

SHIPPING_CASES = [
    # deposit stage: shop S9 holds only deposit-stage lines → its 10.00 fee is deferred → 100.00
    Case("deposit-shipping-deferred", SHIP, cart(ph(shop="S9"), at=DEPOSIT_AT, shipping={"S9": "10.00"}),
         payable="100.00", shipping="0.00"),
    # balance stage: the fee is charged with the balance → 850 + 10 = 860
    Case("balance-shipping-charged", SHIP, cart(ph(shop="S9"), at=BALANCE_AT, shipping={"S9": "10.00"}),
         payable="860.00", shipping="10.00"),
    # deposit stage, the shop also sells an ordinary line: its fee is charged now → 100 + 30 + 10 = 140
    Case("deposit-shipping-mixed-shop", SHIP,
         cart(ph(shop="S9"), line("o", "30.00", shop="S9"), at=DEPOSIT_AT, shipping={"S9": "10.00"}),
         payable="140.00", shipping="10.00"),
]

LADDER = ruleset('''
presale "dj" {
    scope sku == "dj"
    price 2000 tiers { sold >= 100: 1600; sold >= 50: 1800 }
    deposit 100
    deposit_window 2026-10-20 .. 2026-11-01
    balance_window 2026-11-01 .. 2026-11-04
}''')


def dj(sold: int | None, at: str = BALANCE_AT) -> dict:
    extra = {"presale_sold": {"dj": sold}} if sold is not None else {}
    return cart(line("d", "2000.00", sku="dj"), at=at, **extra)


LADDER_CASES = [
    # balance due = tier price − deposit 100 (no expansion)
    Case("sold-120", LADDER, dj(120), payable="1500.00", finals={"d": "1600.00"}),  # 1600 − 100
    Case("sold-100-boundary", LADDER, dj(100), payable="1500.00"),  # sold >= 100 met exactly
    Case("sold-99", LADDER, dj(99), payable="1700.00"),  # 1800 − 100
    Case("sold-50-boundary", LADDER, dj(50), payable="1700.00"),
    Case("sold-49", LADDER, dj(49), payable="1900.00"),  # base price 2000 − 100
    Case("sold-absent", LADDER, dj(None), payable="1900.00"),  # absent = 0
    # deposit stage: the deposit whatever the tier; projected balance 1600 − 100 = 1500
    Case("sold-120-deposit-stage", LADDER, dj(120, DEPOSIT_AT), payable="100.00",
         presale=[{"stage": "deposit", "balance_due": "1500.00"}]),
]

FULL = '''
presale "rc" {{ scope sku == "rc" active 2026-10-20 .. 2026-11-12 price 299 ships 2026-11-20 }}
{extra}
'''


def full(extra: str = "") -> str:
    return ruleset(FULL.format(extra=extra))


RC = line("r", "399.00", sku="rc")

FULL_CASES = [
    # full presale: the presale price applies, paid in full now; the ship date is carried
    Case("full-presale", full(), cart(RC), payable="299.00", finals={"r": "299.00"},
         presale=[{"line": "r", "stage": "full", "balance_due": "0.00", "ships": "2026-11-20"}]),
    # competes with item promotions: 399 − 120 = 279 < 299 → the item promotion wins
    Case("full-presale-loses", full('promotion "i120" { level item scope sku == "rc" discount 120 each }'),
         cart(RC), payable="279.00", applied={"i120": "120.00"}),
    # 399 − 50 = 349 > 299 → the presale price wins; the item promotion is left out
    Case("full-presale-wins", full('promotion "i50" { level item scope sku == "rc" discount 50 each }'),
         cart(RC), payable="299.00", applied={}, reasons={"i50": "NOT_BEST_COMBINATION"}),
    # shop promotions use the presale base: 299 − 20 = 279
    Case("full-presale-shop", full('promotion "s20" { level shop discount 20 }'), cart(RC),
         payable="279.00", applied={"s20": "20.00"}),
    # outside `active`: list price
    Case("full-presale-outside", full(), cart(RC, at="2026-11-12T00:00:00+08:00"), payable="399.00", presale=[]),
]


@pytest.mark.parametrize("case", params(PRESALE_CASES + SHIPPING_CASES + LADDER_CASES + FULL_CASES))
def test_presale(case: Case):
    check(case)


def test_deposit_stage_coupon_reason_detail():
    q = quote(phone(), cart(ph(), at=DEPOSIT_AT, wallet=["plat-30"]))
    na = {n["promotion"]: n for n in q["not_applied"]}
    assert na["plat-30"]["reason"] == "STAGE_MISMATCH"
    assert na["plat-30"]["message"] and na["plat-30"]["message_zh"]


def test_a_line_listed_below_its_deposit_never_pays_back():
    # phone-x listed at 99.00 (under its deposit of 100): the deposit is capped at the unit's
    # price (99.00) and the tail at 0, so the balance is 0.00 — never −100.00 — and the line
    # costs its list price over both stages; the coupon has no room above the deposit paid
    q = check(Case("below-deposit", phone(balance_discount="50"),
                   cart(ph(price="99.00"), at=BALANCE_AT, wallet=["plat-30"]),
                   payable="0.00", finals={"p": "99.00"}, discount="0.00",
                   presale=[{"stage": "balance", "deposit": "99.00", "balance_due": "0.00"}]))
    assert [n["promotion"] for n in q["not_applied"]] == ["shop-20", "plat-30"]


@st.composite
def presale_instances(draw):
    """A presale with any numbers the checker accepts, lines listed at any price (below the
    deposit too), order-level promotions and coupons of any size, carts at either stage."""
    deposit = draw(st.integers(1, 500))
    worth = draw(st.sampled_from([None, deposit, deposit + draw(st.integers(1, 800))]))
    body = (f'presale "pre" {{ scope sku == "P" price {(worth or deposit) + draw(st.integers(0, 3000))} '
            f'deposit {deposit}{f" worth {worth}" if worth else ""} '
            f'{draw(st.sampled_from(["", "balance discount {}"])).format(draw(st.integers(1, 300)))} '
            'deposit_window 2026-10-20 .. 2026-11-01 balance_window 2026-11-01 .. 2026-11-04 }\n')
    for k in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["promotion", "coupon"]))
        level = draw(st.sampled_from(["shop", "platform"]))
        benefit = draw(st.sampled_from(["discount {m}", "discount {m} each", "discount 90%", "price 1 each"]))
        body += f'{kind} "o{k}" {{ level {level} {benefit.format(m=draw(st.integers(1, 2000)))} }}\n'
    lines = [line(f"l{k}", f"{draw(st.integers(1, 4000))}.{draw(st.integers(0, 99)):02d}", draw(st.integers(1, 3)),
                  sku=draw(st.sampled_from(["P", "P", "X"])), shop=draw(st.sampled_from(["S1", "S2"])))
             for k in range(draw(st.integers(1, 3)))]
    stage = draw(st.sampled_from([{}, {"stage": "STAGE_DEPOSIT"}, {"stage": "STAGE_BALANCE"}]))
    at = draw(st.sampled_from([DEPOSIT_AT, BALANCE_AT]))
    request = cart(*lines, at=at, wallet=[f"o{k}" for k in range(4)], shipping={"S1": "8.00"}, **stage)
    return ruleset(body, min_payment=draw(st.sampled_from(["0.00", "0.01", "5.00"]))), request


@settings(max_examples=int(os.environ.get("PROMO_PROPERTY_EXAMPLES", "120")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(presale_instances())
def test_payable_never_goes_below_its_floor_at_any_presale_stage(instance):
    rules, request = instance
    q = quote(rules, request)
    money = lambda text: Decimal(text)  # noqa: E731
    stages = {p["line"]: p for p in q["presale"]}
    worth_now = money(q["totals"]["shipping"])  # what this checkout charges before any promotion
    for ln in q["lines"]:
        assert 0 <= money(ln["final"]) <= money(ln["list"])
        p = stages.get(ln["id"])
        assert p is None or money(p["balance_due"]) >= 0
        if p is None:
            worth_now += money(ln["list"])
        elif p["stage"] == "deposit":
            worth_now += money(p["deposit"])
        elif p["stage"] == "balance":
            worth_now += money(ln["base"]) - money(p["deposit"])
        else:
            worth_now += money(ln["base"])
    assert money(q["totals"]["discount"]) >= 0
    floor = money(rules.split("min_payment ")[1].split()[0])
    assert money(q["totals"]["payable"]) >= min(floor, worth_now) >= 0
