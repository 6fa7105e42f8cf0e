"""Stacking modes, allocation (分摊), guard floors, min_payment and rounding modes, with
expectations computed by hand from language.md §4.3, §4.4, §4.5, §4.8, §4.9. Amounts in comments
are yuan unless marked "fen" (minor units)."""

from __future__ import annotations

import pytest
from pricing_helpers import Case, cart, check, line, params, quote, ruleset

SEED_BODY = '''
promotion "sku110-direct" { level item active 2026-11-01 .. 2026-11-12 scope sku == "SKU-110" discount 10 each }
{kind} "s1-100-10" {{ level shop active 2026-11-01 .. 2026-11-12 scope shop == "S1" when amount >= 100 discount 10 }}
promotion "cross-200-20" { level platform active 2026-11-01 .. 2026-11-12 when amount >= 200 discount 20 }
'''


def seed(stacking: str, kind: str = "promotion") -> str:
    body = SEED_BODY.replace("{kind}", kind).replace("{{", "{").replace("}}", "}")
    return ruleset(body, stacking=stacking)


SEED_CART = cart(line("l1", "110.00", 2, sku="SKU-110"), shipping={"S1": "0.00"})

STACKING_CASES = [
    # 110→100 ×2 = 200; parallel: 满100减10 and 满200减20 both on 200 → 200 − 10 − 20 = 170
    Case("seed-parallel", seed("parallel"), SEED_CART, payable="170.00", discount="50.00",
         applied={"sku110-direct": "20.00", "s1-100-10": "10.00", "cross-200-20": "20.00"},
         discounts={"l1": {"sku110-direct": "20.00", "s1-100-10": "10.00", "cross-200-20": "20.00"}}),
    # progressive: 200 − 10 = 190 < 200 → cross-shop not met, 10.00 short, would save 20.00 → 190
    Case("seed-progressive", seed("progressive"), SEED_CART, payable="190.00",
         applied={"sku110-direct": "20.00", "s1-100-10": "10.00"}, reasons={"cross-200-20": "THRESHOLD_NOT_MET"},
         hints={"cross-200-20": {"missing_amount": "10.00", "would_save": "20.00"}}),
    # coupon variants (§4.5): parallel uses the held coupon (170 < 180)
    Case("seed-parallel-coupon", seed("parallel", "coupon"), {**SEED_CART, "wallet": ["s1-100-10"]},
         payable="170.00", applied={"sku110-direct": "20.00", "s1-100-10": "10.00", "cross-200-20": "20.00"}),
    # progressive: with the coupon 190, without it 200 − 20 = 180 → the coupon is left out
    Case("seed-progressive-coupon", seed("progressive", "coupon"), {**SEED_CART, "wallet": ["s1-100-10"]},
         payable="180.00", applied={"sku110-direct": "20.00", "cross-200-20": "20.00"},
         reasons={"s1-100-10": "NOT_BEST_COMBINATION"}),
    # the buyer insists on the coupon: exactly it is tried → 190
    Case("seed-progressive-coupon-selected", seed("progressive", "coupon"),
         {**SEED_CART, "wallet": ["s1-100-10"], "selected": ["s1-100-10"]},
         payable="190.00", applied={"sku110-direct": "20.00", "s1-100-10": "10.00"},
         reasons={"cross-200-20": "THRESHOLD_NOT_MET"}),
]


# Two shop-level promotions on one 200.00 line whose order matters in progressive mode:
# "pct" 10% off, "b190" 20 off from 190.
def two_shop(stacking: str, pct_priority: int, b190_priority: int) -> str:
    return ruleset(f'promotion "pct" {{ level shop priority {pct_priority} discount 10% }}\n'
                   f'promotion "b190" {{ level shop priority {b190_priority} when amount >= 190 discount 20 }}\n',
                   stacking=stacking)


ORDER_CASES = [
    # pct first (priority 10): 200 − 20 = 180 < 190 → b190 not met (gap 10) → 180
    Case("progressive-pct-first", two_shop("progressive", 10, 0), cart(line("a", "200.00")),
         payable="180.00", applied={"pct": "20.00"}, reasons={"b190": "THRESHOLD_NOT_MET"}),
    # b190 first (priority 10): 200 ≥ 190 → −20 → 180; then 10% of 180 = 18 → 162
    Case("progressive-b190-first", two_shop("progressive", 0, 10), cart(line("a", "200.00")),
         payable="162.00", applied={"pct": "18.00", "b190": "20.00"}),
    # equal priority: by name, "b190" < "pct" → same as above → 162
    Case("progressive-tie-by-name", two_shop("progressive", 0, 0), cart(line("a", "200.00")),
         payable="162.00", applied={"pct": "18.00", "b190": "20.00"}),
    # parallel: both on 200 → 20 + 20 → 160, whatever the priorities
    Case("parallel-order-irrelevant", two_shop("parallel", 10, 0), cart(line("a", "200.00")),
         payable="160.00", applied={"pct": "20.00", "b190": "20.00"}),
    # shop before platform whatever the priority: shop "s190" (20 off from 190) then platform 10% (priority 100):
    # 200 → 180 → 10% of 180 = 18 → 162 (platform first would give 180 and s190 not met)
    Case("progressive-shop-before-platform",
         ruleset('promotion "plat" { level platform priority 100 discount 10% }\n'
                 'promotion "s190" { level shop when amount >= 190 discount 20 }', stacking="progressive"),
         cart(line("a", "200.00")), payable="162.00", applied={"s190": "20.00", "plat": "18.00"}),
]


@pytest.mark.parametrize("case", params(STACKING_CASES + ORDER_CASES))
def test_stacking(case: Case):
    check(case)


def test_seed_coupon_left_out_says_what_it_would_cost():
    q = quote(seed("progressive", "coupon"), {**SEED_CART, "wallet": ["s1-100-10"]})
    na = [n for n in q["not_applied"] if n["promotion"] == "s1-100-10"][0]
    assert na["reason"] == "NOT_BEST_COMBINATION"
    # with it 190.00, chosen set 180.00
    assert (na["detail"]["payable_with_it"], na["detail"]["payable_chosen"]) == ("190.00", "180.00")


# ---- allocation --------------------------------------------------------------------------------------

D10 = ruleset('promotion "d" { level shop discount 10 }')
D001 = ruleset('promotion "d" { level shop discount 0.01 }')

ALLOCATION_CASES = [
    # 10.00 over three lines of 20.00: 333.33 fen each → 333 × 3 = 999; the last fen goes to the first
    # id on the remainder tie (a) → a 3.34, b 3.33, c 3.33
    Case("ten-over-three", D10, cart(line("a", "20.00"), line("b", "20.00"), line("c", "20.00")),
         payable="50.00", finals={"a": "16.66", "b": "16.67", "c": "16.67"}, applied={"d": "10.00"}),
    # the same cart listed c, b, a: the tie still goes to id a, and lines come back in cart order
    Case("ten-over-three-reversed", D10, cart(line("c", "20.00"), line("b", "20.00"), line("a", "20.00")),
         payable="50.00", finals={"c": "16.67", "b": "16.67", "a": "16.66"}),
    # 0.01 over two lines of 5.00: 0.5 fen each → 0 + 0, the one fen to the first id (x)
    Case("cent-over-two", D001, cart(line("x", "5.00"), line("y", "5.00")),
         payable="9.99", finals={"x": "4.99", "y": "5.00"}, applied={"d": "0.01"}),
    Case("cent-over-two-reversed", D001, cart(line("y", "5.00"), line("x", "5.00")),
         finals={"y": "5.00", "x": "4.99"}),
    # ids in code-point order, not numeric: "l10" < "l9"
    Case("cent-code-point-order", D001, cart(line("l9", "5.00"), line("l10", "5.00")),
         finals={"l9": "5.00", "l10": "4.99"}),
    # upper case before lower case: "B" (U+0042) < "a" (U+0061)
    Case("cent-code-point-case", D001, cart(line("a", "5.00"), line("B", "5.00")),
         finals={"a": "5.00", "B": "4.99"}),
    # docs §9.4 example: 50.00 over 219.60 and 100.00 → 3435.54 + 1564.46 fen → 3435 + 1564 = 4999,
    # the last fen to the larger remainder (a) → 34.36 / 15.64
    Case("docs-example", ruleset('promotion "d" { level shop discount 50 }'),
         cart(line("a", "219.60"), line("b", "100.00")),
         finals={"a": "185.24", "b": "84.36"}, discounts={"a": {"d": "34.36"}, "b": {"d": "15.64"}}),
    # the larger remainder wins even when its line comes later by id: 10 over 30 + 60 → a .33, b .67 → b
    Case("remainder-beats-id", D10, cart(line("a", "30.00"), line("b", "60.00")),
         discounts={"a": {"d": "3.33"}, "b": {"d": "6.67"}}),
]


@pytest.mark.parametrize("case", params(ALLOCATION_CASES))
def test_allocation(case: Case):
    check(case)


# ---- floors: guards, sub-orders reaching 0, redistribution --------------------------------------------

NUTS_GUARD = 'guard "nuts-floor" { scope category == "nuts" floor 60% }\n'
TEE_GUARD = 'guard "tee-floor" { scope sku == "tee" floor 9.90 each }\n'

FLOOR_CASES = [
    # item 50% on a nuts line of 33.33: discount 16.665 → 16.67; floor 60% × 33.33 = 19.998 → rounded up
    # to 20.00; room 13.33 → gives 13.33, final 20.00, CAPPED
    Case("guard-percent-item", ruleset(NUTS_GUARD + 'promotion "half" { level item scope category == "nuts" discount 50% }'),
         cart(line("n", "33.33", category="nuts")),
         payable="20.00", finals={"n": "20.00"}, applied={"half": "13.33"}, capped={"half"}),
    # each floor: tee 15.00×2, floor 9.90 × 2 = 19.80; item price 5 each would take 20.00, room 10.20 → CAPPED
    Case("guard-each-item", ruleset(TEE_GUARD + 'promotion "p5" { level item scope sku == "tee" price 5 each }'),
         cart(line("t", "15.00", 2, sku="tee")),
         payable="19.80", finals={"t": "19.80"}, applied={"p5": "10.20"}, capped={"p5"}),
    # shop 60 over nuts 50 (floor 30) + other 50: 30 / 30 → nuts can take only 20; the other 10 goes to
    # the line with room → nuts 30.00, other 10.00; all 60 placed, not capped
    Case("guard-redistribution", ruleset(NUTS_GUARD + 'promotion "d" { level shop discount 60 }'),
         cart(line("n", "50.00", category="nuts"), line("o", "50.00")),
         payable="40.00", finals={"n": "30.00", "o": "10.00"}, applied={"d": "60.00"}, capped=set()),
    # shop 30 on the nuts line alone: room 50 − 30 = 20 → 20 given, CAPPED
    Case("guard-capped-shop", ruleset(NUTS_GUARD + 'promotion "d" { level shop discount 30 }'),
         cart(line("n", "50.00", category="nuts")),
         payable="30.00", applied={"d": "20.00"}, capped={"d"}),
    # guard outside its window does not hold: 50% of 33.33 → 16.67 → 16.66
    Case("guard-inactive", ruleset('guard "g" { scope category == "nuts" active 2026-01-01 .. 2026-02-01 floor 60% }\n'
                                   'promotion "half" { level item scope category == "nuts" discount 50% }'),
         cart(line("n", "33.33", category="nuts")), payable="16.66", capped=set()),
]

# Cross-shop (platform) discount, parallel mode; shop-level discounts are placed first.
CROSS = ruleset('promotion "s1-10" { level shop scope shop == "S1" discount 10 }\n'
                'promotion "plat" { level platform discount 20 }\n')
CROSS_REDIST = ruleset('promotion "s1-8" { level shop scope shop == "S1" discount 8 }\n'
                       'promotion "plat" { level platform discount 50 }\n')

CROSS_CASES = [
    # S1 a 10.00 → shop −10 → 0.00; S2 b 5.00. plat 20 on the parallel base 15: 1333.33 / 666.67 fen →
    # 1333 / 667; a has no room, b takes 5.00, the other 15.00 has nowhere to go → plat gives 5.00, CAPPED;
    # the shop discount is whole
    Case("cross-shop-capped", CROSS, cart(line("a", "10.00", shop="S1"), line("b", "5.00", shop="S2")),
         payable="0.00", finals={"a": "0.00", "b": "0.00"}, applied={"s1-10": "10.00", "plat": "5.00"},
         capped={"plat"}),
    # S1 a 10.00 → −8 → 2.00; S2 b 90.00. plat 50 on 100: 5.00 / 45.00; a takes 2.00, the 3.00 left goes
    # to b → b −48 → 42.00; not capped
    Case("cross-shop-redistributed", CROSS_REDIST, cart(line("a", "10.00", shop="S1"), line("b", "90.00", shop="S2")),
         payable="42.00", finals={"a": "0.00", "b": "42.00"}, applied={"s1-8": "8.00", "plat": "50.00"}, capped=set(),
         discounts={"a": {"s1-8": "8.00", "plat": "2.00"}, "b": {"plat": "48.00"}}),
]


@pytest.mark.parametrize("case", params(FLOOR_CASES + CROSS_CASES))
def test_floors_and_caps(case: Case):
    check(case)


# ---- min_payment -------------------------------------------------------------------------------------

MIN_PAY_CASES = [
    # 10.00 − 10 = 0.00 < 0.01 → 0.01 taken back: d gives 9.99, CAPPED; payable 0.01
    Case("min-payment-one-cent", ruleset('promotion "d" { level shop discount 10 }', min_payment="0.01"),
         cart(line("a", "10.00")), payable="0.01", finals={"a": "0.01"}, applied={"d": "9.99"}, capped={"d"}),
    # 10.00: item 3 each → 7; shop 4 → 3; platform 3 → 0. min 1.00 → taken back from the last applied
    # (platform) first: plat 2.00, CAPPED; shop and item whole
    Case("min-payment-platform-first",
         ruleset('promotion "i3" { level item scope category == "c" discount 3 each }\n'
                 'promotion "s4" { level shop discount 4 }\n'
                 'promotion "p3" { level platform discount 3 }', min_payment="1.00"),
         cart(line("a", "10.00")), payable="1.00",
         applied={"i3": "3.00", "s4": "4.00", "p3": "2.00"}, capped={"p3"}),
    # two lines a, b of 5.00, platform 10 → 5 / 5 → 0 / 0; min 1.00 taken back from the first id (a)
    Case("min-payment-id-order", ruleset('promotion "p" { level platform discount 10 }', min_payment="1.00"),
         cart(line("b", "5.00"), line("a", "5.00")), payable="1.00",
         finals={"b": "0.00", "a": "1.00"}, applied={"p": "9.00"}, capped={"p"}),
    # shipping counts toward the payable: 10 − 10 + fee 2.00 = 2.00 ≥ 0.01 → nothing taken back
    Case("min-payment-shipping-counts", ruleset('promotion "d" { level shop discount 10 }', min_payment="0.01"),
         cart(line("a", "10.00"), shipping={"S1": "2.00"}), payable="2.00", applied={"d": "10.00"}, capped=set()),
]


@pytest.mark.parametrize("case", params(MIN_PAY_CASES))
def test_min_payment(case: Case):
    check(case)


# ---- rounding modes (§4.8): the discount is rounded once ---------------------------------------------


def pct(mode: str, level: str = "shop") -> str:
    scope = 'scope category == "c"' if level == "item" else ""
    return ruleset(f'promotion "p" {{ level {level} {scope} discount 15% }}', rounding=mode)


ROUNDING = [
    # (price, exact discount in fen, half_up, half_even, down)
    ("34.30", "514.5: .5 above an even fen", "5.15", "5.14", "5.14"),
    ("33.30", "499.5: .5 above an odd fen", "5.00", "5.00", "4.99"),
    ("33.33", "499.95", "5.00", "5.00", "4.99"),
    ("33.38", "500.7", "5.01", "5.01", "5.00"),
    ("33.35", "500.25", "5.00", "5.00", "5.00"),
    ("0.10", "1.5: .5 above an odd fen", "0.02", "0.02", "0.01"),
    ("0.30", "4.5: .5 above an even fen", "0.05", "0.04", "0.04"),
]
ROUNDING_CASES = []
for price, why, *expected in ROUNDING:
    for mode, off in zip(("half_up", "half_even", "down"), expected):
        for level in ("shop", "item"):
            ROUNDING_CASES.append(Case(f"15%-of-{price}-{mode}-{level}", pct(mode, level), cart(line("a", price)),
                                       applied={"p": off}, extra={"why": why}))

# per line at item level vs once at shop level: two lines of 34.30, 15% →
#   item: 5.145 per line → half_up 5.15 + 5.15 = 10.30; half_even/down 5.14 + 5.14 = 10.28
#   shop: 15% of 68.60 = 10.29 exactly in every mode; split 514.5 / 514.5 fen → 514 + 514, the tie to a
ROUNDING_CASES += [
    Case("per-line-item-half_up", pct("half_up", "item"), cart(line("a", "34.30"), line("b", "34.30")),
         applied={"p": "10.30"}, finals={"a": "29.15", "b": "29.15"}),
    Case("per-line-item-half_even", pct("half_even", "item"), cart(line("a", "34.30"), line("b", "34.30")),
         applied={"p": "10.28"}, finals={"a": "29.16", "b": "29.16"}),
    Case("once-shop-half_up", pct("half_up"), cart(line("a", "34.30"), line("b", "34.30")),
         applied={"p": "10.29"}, finals={"a": "29.15", "b": "29.16"}),
    Case("once-shop-down", pct("down"), cart(line("a", "34.30"), line("b", "34.30")),
         applied={"p": "10.29"}, finals={"a": "29.15", "b": "29.16"}),
]


@pytest.mark.parametrize("case", params(ROUNDING_CASES))
def test_rounding(case: Case):
    check(case)


# ---- a discount larger than what its lines can absorb --------------------------------------------------

def test_discount_larger_than_base_is_capped():
    # platform 20 on one 15.00 line: 15.00 placed, 5.00 absorbed by no line → §4.4: capped
    q = quote(ruleset('promotion "p" { level platform discount 20 }'), cart(line("a", "15.00")))
    assert [(a["promotion"], a["amount"], a["capped"]) for a in q["applied"]] == [("p", "15.00", True)]


# ---- the order of lines and the explain mode never change a price -------------------------------------

INVARIANCE_RULES = ruleset(
    'guard "g" { scope category == "nuts" floor 60% }\n'
    'promotion "i" { level item scope category == "nuts" discount 10% }\n'
    'promotion "s" { level shop nth 2 discount 50% }\n'
    'promotion "p" { level platform discount 20 every 100 }\n'
    'promotion "fs" { level shipping when amount >= 99 free_shipping }', min_payment="0.01")
INVARIANCE_LINES = [line("n1", "33.33", 3, category="nuts", shop="S1"), line("n2", "33.33", 3, category="nuts", shop="S1"),
                    line("B", "12.34", 1, shop="S2"), line("a", "12.34", 1, shop="S2"), line("l10", "0.01", 1, shop="S2")]


@pytest.mark.parametrize("explain", ["EXPLAIN_OFF", "EXPLAIN_REASONS", "EXPLAIN_TRACE"])
@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]])
def test_line_order_and_explain_do_not_change_prices(order, explain):
    request = cart(*[INVARIANCE_LINES[i] for i in order], shipping={"S1": "8.00", "S2": "6.00"}, explain=explain)
    q = quote(INVARIANCE_RULES, request)
    ref = quote(INVARIANCE_RULES, cart(*INVARIANCE_LINES, shipping={"S1": "8.00", "S2": "6.00"}))
    assert [ln["id"] for ln in q["lines"] if not ln.get("gift_of")] == [INVARIANCE_LINES[i]["id"] for i in order]
    assert q["totals"] == ref["totals"]
    by_id = lambda x: sorted((ln["id"], ln["final"], ln["discounts"]) for ln in x["lines"])  # noqa: E731
    assert by_id(q) == by_id(ref)
    assert q["applied"] == ref["applied"]
