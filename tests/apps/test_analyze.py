"""Price warnings (促销预警, engine/analyze.py): hand-computed figures, and properties.

Money in CNY. Every figure below is worked out by hand from docs/evaluation.md (§3 stacking, §5
benefits, §6 allocation by largest remainder, remainder ties to the line id first in code-point
order: the SKU line is `a:sku`, the filler `b:filler`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from fractions import Fraction
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.apps.analyze.scenarios import OTHER_SHOP, Options, Scenario, price, scenario_request
from engine.apps.analyze.search import analyze_item
from engine.apps.analyze.variants import remove_from
from engine.apps.catalog import CatalogItem
from engine.lang.load import load_ruleset, load_sources
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan
from engine.pricing.quote import evaluate
from engine.wire.encode import finding_to_json

ROOT = Path(__file__).resolve().parents[2]
AT = datetime.fromisoformat("2026-11-11T10:00:00+08:00")
OPTIONS = Options(at=AT)


def plan_of(body: str, stacking: str = "parallel"):
    text = f'ruleset "t" {{ currency CNY timezone "Asia/Shanghai" stacking {stacking} }}\n' + body
    loaded = load_sources([SourceFile("rules.promo", text)])
    assert loaded.ok, [d.message for d in loaded.diagnostics]
    return compile_plan(loaded)


# 8.5折 at item level, shop 满150减20, cross-shop 每满150减25
RULES_199 = """
promotion "item-85" { level item scope sku == "A" discount 8.5折 }
promotion "shop-150-20" { level shop scope shop == "S1" when amount >= 150 discount 20 }
promotion "cross-150-25" { level platform discount 25 every 150 }
"""
ITEM_199 = CatalogItem("A", "S1", 19900, category="shoes", warning_price=13000)


def test_199_alone_one_and_two_units():
    plan = plan_of(RULES_199)
    # one unit: 199.00 x 85% = 169.15 (item level); parallel: 满150减20 and 每满150减25 both on
    # 169.15 -> 169.15 - 20.00 - 25.00 = 124.15
    one = price(plan, ITEM_199, Scenario("alone", 1), OPTIONS)
    assert (one.base, one.final, one.unit) == (16915, 12415, 12415)
    # two units: 338.30; 满150减20 -> 20.00; 每满150减25: two full 150 -> 50.00
    # 338.30 - 20.00 - 50.00 = 268.30 -> 134.15 per unit
    two = price(plan, ITEM_199, Scenario("alone", 2), OPTIONS)
    assert (two.final, two.unit) == (26830, 13415)


def test_199_filler_goes_lower_and_is_flagged():
    plan = plan_of(RULES_199)
    f = analyze_item(plan, ITEM_199, OPTIONS)
    # One unit (base 169.15) and a filler of 130.85 from ANOTHER shop: the platform base is
    # 169.15 + 130.85 = 300.00 = two full 150 -> 50.00, allocated by 169.15 : 130.85 in fen:
    #   5000 x 16915 / 30000 = 2819.17 -> 2819, 5000 x 13085 / 30000 = 2180.83 -> 2180,
    #   the last fen to the larger remainder (the filler, .83) -> SKU 28.19.
    # The shop 满150减20 sees only S1's lines (the SKU: 169.15 >= 150) -> 20.00, all on the SKU.
    # 169.15 - 20.00 - 28.19 = 120.96 < 124.15 (每满减 at its full rate 25/150 instead of 25/169.15).
    # (A filler from its own shop would share the 20.00 too: 169.15 - 11.28 - 28.19 = 129.68.)
    assert f.lowest == 12096
    s = f.best.scenario
    assert (s.family, s.quantity, s.filler_amount, s.filler_quantity, s.filler_shop) == ("filler", 1, 13085, 1, OTHER_SHOP)
    assert f.best.promotions == ("item-85", "shop-150-20", "cross-150-25") and f.best.coupons == ()
    assert dict(f.best.discounts) == {"item-85": 2985, "shop-150-20": 2000, "cross-150-25": 2819}
    assert f.warning == 13000 and f.warning_source == "catalog" and f.below
    out = finding_to_json(f, plan)
    assert out["lowest_price"] == "120.96" and out["below_warning"] is True
    assert out["best"]["filler"] == {"amount": "130.85", "unit_price": "130.85", "quantity": 1, "shop": "other"}
    # shares of the reduction 199.00 - 120.96 = 78.04: 29.85 / 20.00 / 28.19
    assert [(x["promotion"], x["share"]) for x in out["best"]["shares"]] == [
        ("item-85", "38.25"), ("shop-150-20", "25.63"), ("cross-150-25", "36.12")]


def test_199_removal_what_if():
    plan = plan_of(RULES_199)
    f = analyze_item(plan, ITEM_199, OPTIONS)
    removed = {w.subject: w for w in f.what_ifs if w.kind == "remove"}
    assert list(removed) == ["shop-150-20"]  # the only shop-level promotion touching A
    # Without 满150减20 only 8.5折 and 每满150减25 are left. Best: 3 units (507.45) and an own-shop
    # filler of 92.55 -> 600.00 = four full 150 -> 100.00; in fen 10000 x 50745/60000 = 8457.5 and
    # 10000 x 9255/60000 = 1542.5: a remainder tie, the fen goes to `a:sku` -> 84.58;
    # 507.45 - 84.58 = 422.87 -> 140.9566... per unit (one unit with a 130.85 filler: 140.96).
    w = removed["shop-150-20"]
    assert w.lowest == Fraction(42287, 3)
    assert (w.best.scenario.quantity, w.best.scenario.filler_amount) == (3, 9255)
    assert finding_to_json(f, plan)["what_ifs"][0]["lowest_price"] == "140.95"
    # the what-if is priced on a plan whose promotion no longer scopes A
    variant = remove_from(plan, "shop-150-20", "A")
    assert price(variant, ITEM_199, w.best.scenario, OPTIONS).final == 42287
    assert plan.by_name["shop-150-20"] is not variant.by_name["shop-150-20"]


def test_no_threshold_coupon_reused_by_split_orders():
    plan = plan_of('coupon "s1-10" { level shop scope shop == "S1" discount 10 }\n'
                   'coupon "s1-once" { level shop scope shop == "S2" discount 10 limit 1 per user }\n')
    # 100.00 with a held 10.00 coupon: one unit per order pays 90.00; three units in one order
    # 300.00 - 10.00 = 290.00 -> 96.66...; three orders of one unit reuse the coupon: 90.00 each.
    f = analyze_item(plan, CatalogItem("X", "S1", 10000), OPTIONS)
    assert f.lowest == 9000 and f.best.coupons == ("s1-10",) and f.best.scenario.quantity == 1
    assert (f.split.units, f.split.one_order, f.split.split_orders) == (3, Fraction(29000, 3), 9000)
    # with `limit 1 per user` only the first order gets it: (90 + 100 + 100) / 3
    g = analyze_item(plan, CatalogItem("Y", "S2", 10000), OPTIONS)
    assert g.lowest == 9000 and g.split.split_orders == Fraction(29000, 3)
    assert finding_to_json(g, plan)["split"] == {"units": 3, "one_order": "96.66", "split_orders": "96.66"}


def test_seed_progressive_vs_parallel():
    parallel = compile_plan(load_ruleset(ROOT / "examples/seed/parallel"))
    progressive = compile_plan(load_ruleset(ROOT / "examples/seed/progressive"))
    item = CatalogItem("SKU-110", "S1", 11000, category="shoes")
    # two units: 220.00 -> 200.00 after 10 off each; parallel: -10 (满100减10) -20 (跨店满200减20)
    # = 170.00 -> 85.00 per unit; progressive: 200 - 10 = 190 < 200, the cross-shop one is not met
    # -> 190.00 -> 95.00 per unit
    assert price(parallel, item, Scenario("alone", 2), OPTIONS).unit == 8500
    assert price(progressive, item, Scenario("alone", 2), OPTIONS).unit == 9500
    f = analyze_item(parallel, item, OPTIONS)
    # lowest in parallel: one unit (100.00) and a 100.00 filler from another shop: 满100减10 on the
    # SKU alone -> 10.00; 跨店 on 200.00 -> 20.00 split 100 : 100 -> 10.00; 100 - 10 - 10 = 80.00
    assert f.lowest == 8000 and f.best.scenario.filler_amount == 10000
    # progressive: the shop promotion leaves 90.00, so the filler must bring 110.00 for the
    # cross-shop base to reach 200.00; 20.00 split 90 : 110 -> 9.00; 100 - 10 - 9 = 81.00
    other = {w.subject: w for w in f.what_ifs if w.kind == "stacking"}["progressive"]
    assert other.lowest == 8100 and other.best.scenario.filler_amount == 11000
    assert analyze_item(progressive, item, OPTIONS).lowest == 8100


def test_warning_blocks_and_margin():
    plan = plan_of('promotion "d" { level item discount 40% }\n'
                   'warning "default" { below 70% }\nwarning "nuts" { scope category == "nuts" below 60% }\n'
                   'warning "exact" { scope sku == "N2" below 80 each }\n')
    # 100.00 at 40% off -> 60.00; default line 70% -> 70.00; nuts: the highest matching line (70.00)
    f = analyze_item(plan, CatalogItem("N1", "S", 10000, category="nuts", cost=5000, ad_cost=300), OPTIONS)
    assert f.lowest == 6000 and f.warning == 7000 and f.warning_source == 'warning "default"' and f.below
    out = finding_to_json(f, plan)
    # margin at 60.00 with cost 50.00: 10.00, 16.67%; profit per order: 60.00 - 50.00 - 3.00
    assert out["margin"] == {"cost": "50.00", "per_unit": "10.00", "percent": "16.67"}
    assert out["profit_per_order"] == {"ad_cost": "3.00", "units": 1, "profit": "7.00"}
    g = analyze_item(plan, CatalogItem("N2", "S", 10000, category="nuts", warning_price=5000), OPTIONS)
    assert g.warning == 5000 and not g.below  # the catalog's price wins over every block
    h = analyze_item(plan, CatalogItem("N2", "S", 10000, category="tea"), OPTIONS)
    assert (h.warning, h.warning_source) == (8000, 'warning "exact"')
    assert analyze_item(plan_of('promotion "d" { level item discount 10% }'), CatalogItem("Z", "S", 100), OPTIONS).warning is None


def test_presale_balance_and_sold_tiers():
    plan = plan_of('presale "p" { scope sku == "P" price 900 tiers { sold >= 100: 800 } deposit 50 worth 100 '
                   'balance discount 20 deposit_window 2026-11-01 .. 2026-11-10 balance_window 2026-11-10 .. 2026-11-12 }\n'
                   'promotion "cross" { level platform when amount >= 500 discount 30 }\n')
    # sold tier reached -> 800; expansion 100 - 50 = 50, balance discount 20 -> base 730.00;
    # 跨店 730 >= 500 -> 30 -> 700.00 for the unit over both stages
    f = analyze_item(plan, CatalogItem("P", "S", 100000), OPTIONS)
    assert f.lowest == 70000


# ---- properties ------------------------------------------------------------------------------

PACKS = {
    "199": (plan_of(RULES_199), ITEM_199),
    "seed-parallel": (compile_plan(load_ruleset(ROOT / "examples/seed/parallel")), CatalogItem("SKU-110", "S1", 11000)),
    "seed-progressive": (compile_plan(load_ruleset(ROOT / "examples/seed/progressive")), CatalogItem("SKU-110", "S1", 11000)),
    "mixed": (plan_of("""
promotion "direct" { level item scope sku == "M" discount 15 each }
promotion "ladder" { level shop scope shop == "S1" tiers { amount >= 300: discount 60; amount >= 200: discount 30 } }
promotion "second-half" { level shop scope shop == "S2" nth 2 discount 50% }
coupon "s1-99-10" { level shop scope shop == "S1" when amount >= 99 discount 10 }
coupon "plat-88" { level platform when amount >= 199 discount 8.8折 max 50 }
promotion "cross" { level platform discount 20 every 200 max 100 }
"""), CatalogItem("M", "S1", 12990)),
}
PACKS["mixed-s2"] = (PACKS["mixed"][0], CatalogItem("M2", "S2", 8850))
FINDINGS = {name: analyze_item(plan, item, OPTIONS) for name, (plan, item) in PACKS.items()}

carts = st.tuples(
    st.sampled_from(sorted(PACKS)),
    st.integers(1, OPTIONS.max_units),  # units of the SKU
    st.sampled_from(["none", "own", "other"]),  # filler
    st.integers(1, 3),  # filler units
    st.integers(1, 60000),  # filler unit price, fen
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(carts)
def test_no_cart_of_the_families_goes_below_the_lowest(cart):
    name, q, where, fq, fp = cart
    plan, item = PACKS[name]
    if where == "none":
        s = Scenario("alone", q)
    else:
        s = Scenario("filler", q, fp, fq, item.shop if where == "own" else OTHER_SHOP)
    assert price(plan, item, s, OPTIONS).unit >= FINDINGS[name].lowest, (name, s)


def test_no_split_of_orders_goes_below_the_lowest():
    for f in FINDINGS.values():
        assert f.split.split_orders >= f.lowest and f.split.one_order >= f.lowest


def test_the_reported_scenario_reproduces_the_reported_price():
    for name, (plan, item) in PACKS.items():
        f = FINDINGS[name]
        for best, variant in [(f.best, plan)] + [
                (w.best, remove_from(plan, w.subject, item.sku) if w.kind == "remove" else replace(plan, stacking=w.subject))
                for w in f.what_ifs]:
            quote = evaluate(variant, scenario_request(variant, item, best.scenario, OPTIONS))
            line = next(ln for ln in quote.lines if ln.id == "a:sku")
            assert Fraction(line.final, line.quantity) == best.unit
            assert tuple(a.promotion for a in quote.applied if a.kind == "coupon") == best.coupons


# ---- lower bounds: scenarios are skipped only when they cannot beat the best --------------------

BOUND_PACKS = {
    **{name: plan for name, (plan, _) in PACKS.items()},
    "guards-progressive": plan_of("""
promotion "each" { level item scope category == "shoes" discount 3 each }
promotion "nth" { level shop nth 2 discount 50% }
promotion "tiers" { level shop tiers { amount >= 300: discount 60; quantity >= 3: discount 10% } }
coupon "cap" { level platform discount 30% max 40 }
coupon "seckill" { level platform when cart.amount >= 100 price 19.90 each }
promotion "every" { level platform discount 15 every 100 max 60 }
guard "floor" { scope category == "shoes" floor 40% }
""", stacking="progressive"),
    "exclusive-item-coupons": plan_of("""
coupon "item-c" { level item scope sku == "A" discount 12 }
promotion "item-p" { level item when cart.amount >= 200 discount 15% }
promotion "solo" { level shop scope shop == "S1" when quantity >= 2 discount 25 exclusive }
promotion "own" { level shop scope shop == "S1" when amount >= 120 discount 18 }
coupon "other-shop" { level shop scope shop == "__other_shop__" discount 40 }
promotion "cross" { level platform when amount >= 250 discount 35 }
"""),
}
bound_cases = st.tuples(
    st.sampled_from(sorted(BOUND_PACKS)),
    st.integers(1, 6),  # units of the SKU
    st.sampled_from(["none", "own", "other"]),
    st.integers(1, 3),  # filler units
    st.integers(1, 60000),  # filler unit price, fen
    st.integers(0, 20000),  # how far above it the range of filler prices reaches
    st.sampled_from([ITEM_199, CatalogItem("A", "S1", 5990, category="shoes", tags=frozenset({"hot"})),
                     CatalogItem("B", "S2", 199, category="tea")]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bound_cases)
def test_a_scenario_never_prices_below_its_bound(case):
    from engine.apps.analyze.bounds import Bounds

    name, q, where, fq, fp, extra, item = case
    plan = BOUND_PACKS[name]
    if where == "none":
        s = Scenario("alone", q)
    else:
        s = Scenario("filler", q, fp, fq, item.shop if where == "own" else OTHER_SHOP)
    bounds = Bounds(plan, item, OPTIONS)
    assert price(plan, item, s, OPTIONS).unit >= bounds.unit(s), (name, s)
    # a bound over a range of filler prices holds at the top of the range
    if s.filler_quantity:
        top = replace(s, filler_price=fp + extra)
        assert price(plan, item, top, OPTIONS).unit >= bounds.unit(s, fp + extra), (name, top)


def test_skipping_by_bounds_finds_what_pricing_every_scenario_finds(monkeypatch):
    from engine.apps.analyze import search as analyze

    items = [ITEM_199, CatalogItem("A", "S1", 5990, category="shoes"), CatalogItem("B", "S2", 199, category="tea")]
    cases = [(plan, item) for plan in BOUND_PACKS.values() for item in items] + list(PACKS.values())
    pruned = [analyze.lowest(plan, item, OPTIONS) for plan, item in cases]
    monkeypatch.setattr(analyze.Bounds, "unit", lambda self, s, hi=None: Fraction(0))  # no scenario skipped
    full = [analyze.lowest(plan, item, OPTIONS) for plan, item in cases]
    assert [(p.scenario, p.unit) for p, _, _ in pruned] == [(p.scenario, p.unit) for p, _, _ in full]
    assert sum(n for _, n, _ in pruned) < sum(n for _, n, _ in full)
