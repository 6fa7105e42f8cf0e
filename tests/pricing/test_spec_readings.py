"""The three readings of language.md §4.3 / §4.5 that an audit against an independent reference
found broken, each as a differential property and as the issue's named cases:

- a line brought to 0.00 still counts for `quantity` (and for `discount M each`): pricing it at
  0.00 or at 0.01 differs by exactly 0.01, never by a threshold's worth;
- one item coupon per *line*: with only item-level promotions and every coupon held, the payable
  is the sum over lines of each line's own best offer, computed here independently;
- a promotion that does not apply takes no seat: adding one that can never apply, to any group
  or as `exclusive`, never changes the payable.
"""

from __future__ import annotations

import os
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pricing_helpers import cart, line, quote
from test_combine import instances, same_as_brute_force

EXAMPLES = int(os.environ.get("PROMO_PROPERTY_EXAMPLES", "150"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HEADER = 'ruleset "r" {{ currency CNY timezone "Asia/Shanghai" stacking {mode} group "g" max 1 }}\n'


def payable(rules: str, request: dict) -> Decimal:
    return Decimal(quote(rules, request)["totals"]["payable"])


# ---- a line at 0.00 still counts -------------------------------------------------------------------

ORDER_LEVEL = st.sampled_from([
    'level platform when quantity >= {n} discount 7',
    'level shop when quantity >= {n} discount 3 each',
    'level platform when cart.quantity >= {n} discount 5',
    'level platform when quantity <= {n} discount 9',
    'level shop tiers {{ quantity >= {n}: discount 6; quantity >= 1: discount 1 }}',
])


@st.composite
def zero_line_instances(draw):
    mode = draw(st.sampled_from(["parallel", "progressive"]))
    body = ""
    wallet = []
    for k in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["promotion", "coupon"]))
        clause = draw(ORDER_LEVEL).format(n=draw(st.integers(1, 6)))
        group = ' group "g"' if draw(st.booleans()) else ""
        body += f'{kind} "o{k}" {{ {clause}{group} }}\n'
        wallet += [f"o{k}"] if kind == "coupon" else []
    # room enough on the other lines for every discount: only the free line's cent differs
    others = [line(f"a{k}", f"{draw(st.integers(100, 300))}.00", draw(st.integers(1, 3)))
              for k in range(draw(st.integers(1, 3)))]
    price = draw(st.integers(1, 5000))
    free = line("z", f"{price // 100}.{price % 100:02d}", 1, sku="Z")
    return HEADER.format(mode=mode) + body, others + [free], wallet, price


@PROPERTY
@given(zero_line_instances())
def test_a_line_at_zero_prices_one_cent_below_the_same_line_at_one_cent(instance):
    rules, lines, wallet, price = instance
    item = 'promotion "free-z" {{ level item scope sku == "Z" discount {} }}\n'
    to_zero = item.format(f"{price // 100}.{price % 100:02d}")
    at_cent = item.format(f"{(price - 1) // 100}.{(price - 1) % 100:02d}") if price > 1 else ""
    request = cart(*lines, wallet=wallet)
    assert payable(rules + at_cent, request) - payable(rules + to_zero, request) == Decimal("0.01")


# ---- one item coupon per line ----------------------------------------------------------------------

ITEM_BENEFITS = ["discount {m}", "discount {m} each", "discount {p}%", "price {m} each"]


def off_alone(benefit: str, amount: Decimal, quantity: int, m: Decimal, p: int) -> Decimal:
    """What one item-level benefit takes off a line, computed from language.md §2 directly."""
    if benefit == "discount {m}":
        return min(m, amount)
    if benefit == "discount {m} each":
        return min(m * quantity, amount)
    if benefit == "discount {p}%":
        return (amount * p / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return max(Decimal(0), amount - m * quantity)


@st.composite
def item_instances(draw):
    promos, text, wallet = [], "", []
    for k in range(draw(st.integers(1, 6))):
        scope_attr, scope_value = draw(st.sampled_from([("sku", "A"), ("sku", "B"), ("shop", "S1"), ("shop", "S2"),
                                                        ("category", "c1")]))
        benefit = draw(st.sampled_from(ITEM_BENEFITS))
        m, p = Decimal(draw(st.integers(1, 80))), draw(st.integers(1, 90))
        kind = draw(st.sampled_from(["coupon", "coupon", "promotion"]))
        text += (f'{kind} "i{k}" {{ level item scope {scope_attr} == "{scope_value}" '
                 f'{benefit.format(m=m, p=p)} }}\n')
        promos.append((scope_attr, scope_value, benefit, m, p))
        wallet += [f"i{k}"] if kind == "coupon" else []
    lines = [line(f"l{k}", f"{draw(st.integers(1, 200))}.{draw(st.integers(0, 99)):02d}", draw(st.integers(1, 3)),
                  sku=draw(st.sampled_from("ABC")), shop=draw(st.sampled_from(["S1", "S2"])),
                  category=draw(st.sampled_from(["c1", "c2"])))
             for k in range(draw(st.integers(1, 5)))]
    return text, promos, lines, wallet


@PROPERTY
@given(item_instances())
def test_every_line_takes_its_own_best_item_offer_with_every_coupon_held(instance):
    text, promos, lines, wallet = instance
    expected = Decimal(0)
    for ln in lines:
        amount = Decimal(ln["price"]) * ln["quantity"]
        offers = [off_alone(benefit, amount, ln["quantity"], m, p)
                  for attr, value, benefit, m, p in promos if ln[attr] == value]
        expected += amount - max(offers, default=Decimal(0))
    assert payable(HEADER.format(mode="parallel") + text, cart(*lines, wallet=wallet)) == expected


# ---- a promotion that does not apply takes no seat ---------------------------------------------------

@st.composite
def seat_traps(draw):
    """Carts where keeping an automatic group member out would pay less in progressive mode: its
    discount pushes the base below a later threshold (the trap a seated dud would spring)."""
    mode = draw(st.sampled_from(["progressive", "progressive", "parallel"]))
    lines = [line(f"l{k}", f"{draw(st.integers(50, 150))}.00", shop=draw(st.sampled_from(["S1", "S2"])))
             for k in range(draw(st.integers(1, 3)))]
    total = sum(int(ln["price"][:-3]) for ln in lines)
    a = draw(st.integers(5, 40))
    text = (f'ruleset "r" {{ currency CNY timezone "Asia/Shanghai" stacking {mode} group "g1" max 1 group "g2" max 2 }}\n'
            f'promotion "auto" {{ level shop discount {a} group "{draw(st.sampled_from(["g1", "g2"]))}" }}\n')
    kind = draw(st.sampled_from(["promotion", "coupon"]))
    text += f'{kind} "p" {{ level platform when amount >= {total - draw(st.integers(0, a))} discount {draw(st.integers(10, 60))} }}\n'
    wallet = ["p"] if kind == "coupon" else []
    if draw(st.booleans()):
        text += 'coupon "other" { level shop scope shop == "S2" discount 3 group "g2" }\n'
        wallet.append("other")
    return text, cart(*lines, wallet=wallet)


@PROPERTY
@given(st.one_of(instances(), seat_traps()), st.sampled_from(["promotion", "coupon"]),
       st.sampled_from(["shop", "platform"]), st.sampled_from(['group "g1"', 'group "g2"', "exclusive"]))
def test_a_promotion_that_never_applies_changes_no_price(instance, kind, level, seat):
    text, request = instance
    request = {**request, "explain": "EXPLAIN_OFF"}
    dud = f'{kind} "dud" {{ level {level} when amount >= 1000000 {seat} discount 1 }}\n'
    with_dud = {**request, "wallet": [*request["wallet"], "dud"]} if kind == "coupon" else request
    assert payable(text + dud, with_dud) == payable(text, request)
    same_as_brute_force(text + dud, with_dud)
