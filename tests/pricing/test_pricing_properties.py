"""Money invariants over generated rulesets and carts (hypothesis).

Every discount's allocations sum to it; no line goes below its floor; payable >= min_payment >= 0;
the same request gives the same bytes; the order of cart lines changes no amount; explain modes
change no price.
"""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.lang.load import load_sources
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan
from engine.pricing.quote import evaluate
from engine.wire.decode import request_from_json
from engine.wire.encode import quote_to_json

SHOPS = ["S1", "S2", "S3"]
SKUS = ["A", "B", "C", "D"]

money = st.integers(1, 50_000).map(lambda cents: f"{cents // 100}.{cents % 100:02d}")
threshold = st.integers(0, 600).map(str)
percent = st.integers(1, 99).map(lambda p: f"{p}%")


@st.composite
def benefits(draw, level: str) -> str:
    forms = [
        st.builds(lambda m: f"discount {m}", st.integers(1, 80)),
        st.builds(lambda m: f"discount {m} each", st.integers(1, 30)),
        st.builds(lambda p, cap: f"discount {p}" + (f" max {cap}" if cap else ""), percent, st.sampled_from([None, 5, 50])),
        st.builds(lambda z: f"discount {z}折", st.sampled_from(["8.8", "9", "7.5", "5"])),
        st.builds(lambda m, s, cap: f"discount {m} every {s}" + (f" max {cap}" if cap else ""),
                  st.integers(1, 40), st.integers(50, 300), st.sampled_from([None, 60])),
        st.builds(lambda p: f"price {p} each", st.integers(1, 200)),
        st.builds(lambda a, b: f"tiers {{ amount >= {a + b}: discount {b // 2 + 5}; amount >= {a}: discount 5 }}",
                  st.integers(50, 300), st.integers(10, 200)),
        st.builds(lambda q: f"tiers {{ quantity >= 3: discount {q}%; quantity >= 2: discount 5% }}", st.integers(6, 40)),
        st.builds(lambda n, p: f"nth {n} discount {p}", st.integers(2, 3), percent),
    ]
    return draw(st.one_of(forms))


@st.composite
def promotions(draw, i: int) -> str:
    level = draw(st.sampled_from(["item", "shop", "platform"]))
    kind = draw(st.sampled_from(["promotion", "promotion", "coupon"]))
    lines = [f"level {level}"]
    scope = draw(st.sampled_from([None, 'shop == "S1"', 'sku in ["A", "B"]', 'category == "c1"', 'not (sku == "D")']))
    if scope:
        lines.append(f"scope {scope}")
    if draw(st.booleans()):
        lines.append(f"when amount >= {draw(threshold)}")
    if draw(st.integers(0, 5)) == 0:
        lines.append("exclusive")
    lines.append(draw(benefits(level)))
    body = "\n    ".join(lines)
    return f'{kind} "p{i}" {{\n    {body}\n}}\n'


@st.composite
def rulesets(draw) -> str:
    stacking = draw(st.sampled_from(["parallel", "progressive"]))
    rounding = draw(st.sampled_from(["half_up", "half_even", "down"]))
    min_payment = draw(st.sampled_from(["0", "0.01", "1"]))
    text = (f'ruleset "gen" {{\n    currency CNY\n    timezone "Asia/Shanghai"\n    stacking {stacking}\n'
            f"    rounding {rounding}\n    min_payment {min_payment}\n}}\n")
    text += "".join(draw(promotions(i)) for i in range(draw(st.integers(1, 7))))
    if draw(st.booleans()):
        text += f'guard "floor" {{\n    scope shop == "S2"\n    floor {draw(st.integers(10, 90))}%\n}}\n'
    if draw(st.booleans()):
        text += 'promotion "ship" {\n    level shipping\n    when amount >= 99\n    free_shipping\n}\n'
    return text


@st.composite
def carts(draw) -> dict:
    n = draw(st.integers(1, 6))
    lines = [
        {"id": f"l{i}", "sku": draw(st.sampled_from(SKUS)), "shop": draw(st.sampled_from(SHOPS)),
         "category": draw(st.sampled_from(["c1", "c2"])), "price": draw(money), "quantity": draw(st.integers(1, 4))}
        for i in range(n)
    ]
    wallet = [f"p{i}" for i in range(7) if draw(st.booleans())]
    return {"at": "2026-11-11T10:00:00+08:00", "lines": lines, "wallet": wallet,
            "shipping": {s: "8.00" for s in SHOPS if draw(st.booleans())}}


def price(rules: str, cart: dict, explain: str = "EXPLAIN_REASONS"):
    loaded = load_sources([SourceFile("gen.promo", rules)])
    assert loaded.ok, [d.message for d in loaded.diagnostics if d.is_error]
    plan = compile_plan(loaded)
    request = request_from_json({**cart, "explain": explain}, plan.digits, plan.timezone)
    return plan, evaluate(plan, request)


def _fee(text: str) -> int:
    whole, cents = text.split(".")
    return int(whole) * 100 + int(cents)


SETTINGS = settings(max_examples=int(os.environ.get("PROMO_PROPERTY_EXAMPLES", "120")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(rulesets(), carts())
def test_allocations_sum_floors_hold_and_payable_is_bounded(rules, cart):
    plan, quote = price(rules, cart)
    per_promotion: dict[str, int] = {}
    for line in quote.lines:
        if line.gift_of:
            continue
        assert sum(a for _, a in line.discounts) == line.list - line.final
        assert line.final >= 0
        for name, amount in line.discounts:
            assert amount > 0
            per_promotion[name] = per_promotion.get(name, 0) + amount
    goods = {a.promotion: a.amount for a in quote.applied if a.level != "shipping"}
    assert per_promotion == {k: v for k, v in goods.items() if v}
    floor_pct = next((int(r.split()[1][:-1]) for r in rules.splitlines() if r.strip().startswith("floor")), None)
    if floor_pct is not None:
        for line, raw in zip(quote.lines, cart["lines"]):
            if raw["shop"] == "S2":
                assert line.final * 100 >= line.list * floor_pct
    # min_payment is reached by taking discounts back, so an order worth less pays all it is worth
    assert quote.payable >= min(plan.min_payment, quote.list + sum(map(_fee, cart["shipping"].values()))) >= 0
    assert quote.payable == sum(q.final for q in quote.lines) + quote.shipping


@SETTINGS
@given(rulesets(), carts(), st.randoms(use_true_random=False))
def test_same_request_same_bytes_and_line_order_changes_nothing(rules, cart, rnd):
    _, first = price(rules, cart)
    _, again = price(rules, cart)
    assert json.dumps(quote_to_json(first)) == json.dumps(quote_to_json(again))
    shuffled = dict(cart, lines=rnd.sample(cart["lines"], len(cart["lines"])))
    _, other = price(rules, shuffled)
    assert {q.id: (q.base, q.final, q.discounts) for q in other.lines} == {q.id: (q.base, q.final, q.discounts) for q in first.lines}
    assert (other.payable, other.applied) == (first.payable, first.applied)


@SETTINGS
@given(rulesets(), carts())
def test_explain_modes_change_no_price(rules, cart):
    _, off = price(rules, cart, "EXPLAIN_OFF")
    _, trace = price(rules, cart, "EXPLAIN_TRACE")
    assert (off.payable, off.lines, off.applied, off.shipping) == (trace.payable, trace.lines, trace.applied, trace.shipping)
    assert off.not_applied == () and off.trace == ()
