"""Why a promotion did not apply (language.md §5), hints, and windows at their edges and across
time zones (§1 half-open windows). Every §5 code is produced at least once, plus CAPPED."""

from __future__ import annotations

import pytest
from pricing_helpers import Case, cart, check, line, not_applied, params, quote, ruleset

from engine.base.enums import NOT_APPLIED_REASONS
from engine.pricing.ledger import FixedLedger

# ---- windows -------------------------------------------------------------------------------------

HALF_HOUR = ruleset('promotion "hh" { level item active 2026-11-11T00:00 .. 2026-11-11T00:30 '
                    'scope category == "c" discount 1 each }')
DAY = ruleset('promotion "day" { level item active 2026-11-11 .. 2026-11-12 scope category == "c" discount 1 each }')

WINDOW_EDGES = [
    # (rules, at, inside?) — the ruleset is in Asia/Shanghai (+08:00); line 10.00 → 9.00 when inside
    (HALF_HOUR, "2026-11-11T00:00:00+08:00", True),  # start is included
    (HALF_HOUR, "2026-11-11T00:29:59+08:00", True),
    (HALF_HOUR, "2026-11-11T00:30:00+08:00", False),  # end is excluded
    (HALF_HOUR, "2026-11-10T23:59:59+08:00", False),
    (HALF_HOUR, "2026-11-10T16:00:00+00:00", True),  # = 00:00 in Shanghai
    (HALF_HOUR, "2026-11-10T16:29:59Z", True),
    (HALF_HOUR, "2026-11-10T16:30:00Z", False),  # = 00:30 in Shanghai
    (HALF_HOUR, "2026-11-10T15:59:59+00:00", False),
    (HALF_HOUR, "2026-11-10T11:00:00-05:00", True),  # = 16:00Z = 00:00 Shanghai
    (HALF_HOUR, "2026-11-11T00:00:00", True),  # no offset: read in the ruleset's zone
    (HALF_HOUR, "2026-11-11T00:30:00", False),
    (DAY, "2026-11-10T16:00:00Z", True),  # a date alone is its midnight in the ruleset's zone
    (DAY, "2026-11-11T23:59:59+08:00", True),
    (DAY, "2026-11-11T15:59:59Z", True),
    (DAY, "2026-11-11T16:00:00Z", False),  # = 2026-11-12 00:00 Shanghai
    (DAY, "2026-11-11T12:00:00-05:00", False),  # = 17:00Z, after the end
    (DAY, "2026-11-10T15:59:59Z", False),
]

WINDOW_CASES = [
    Case(f"{'hh' if rules is HALF_HOUR else 'day'}@{at}", rules, cart(line("a", "10.00"), at=at),
         payable="9.00" if inside else "10.00",
         reasons={} if inside else {("hh" if rules is HALF_HOUR else "day"): "OUTSIDE_WINDOW"})
    for rules, at, inside in WINDOW_EDGES
]


@pytest.mark.parametrize("case", params(WINDOW_CASES))
def test_window_edges(case: Case):
    q = check(case)
    if case.payable == "9.00":
        assert q["not_applied"] == []


# ---- one row per reason code ---------------------------------------------------------------------

SEED_PROGRESSIVE_COUPON = ruleset('''
promotion "sku110-direct" { level item scope sku == "SKU-110" discount 10 each }
coupon "s1-100-10" { level shop scope shop == "S1" when amount >= 100 discount 10 }
promotion "cross-200-20" { level platform when amount >= 200 discount 20 }
''', stacking="progressive")

PRESALE = ruleset('''
presale "phone-x" { scope sku == "phone-x" price 1000 deposit 100 worth 150
    deposit_window 2026-10-20 .. 2026-11-01 balance_window 2026-11-01 .. 2026-11-04 }
coupon "plat-30" { level platform discount 30 }
coupon "late" { level platform active 2026-11-01 .. 2026-11-12 discount 30 }
''')

REASON_CASES = [
    # UNKNOWN_COUPON: a wallet name and a selected name the ruleset does not know are reported,
    # after the promotions it knows; the known held coupon is still used
    Case("UNKNOWN_COUPON", ruleset('coupon "c" { level shop discount 5 }'),
         cart(line("a", "50.00"), wallet=["c", "typo"]), payable="45.00", reasons={"typo": "UNKNOWN_COUPON"}),
    Case("UNKNOWN_COUPON-selected", ruleset('coupon "c" { level shop discount 5 }'),
         cart(line("a", "50.00"), wallet=["c"], selected=["c", "nope"]), payable="45.00",
         reasons={"nope": "UNKNOWN_COUPON"}),
    # OUTSIDE_WINDOW: a coupon held but not yet active
    Case("OUTSIDE_WINDOW", ruleset('coupon "c" { level shop active 2026-12-01 .. 2026-12-02 discount 5 }'),
         cart(line("a", "50.00"), wallet=["c"]), payable="50.00", reasons={"c": "OUTSIDE_WINDOW"}),
    # STAGE_MISMATCH: a held platform coupon at the deposit stage; deposit 100 is paid
    Case("STAGE_MISMATCH", PRESALE, cart(line("p", "1200.00", sku="phone-x"), at="2026-10-25T10:00:00+08:00", wallet=["plat-30"]),
         payable="100.00", reasons={"plat-30": "STAGE_MISMATCH"}),
    # order: OUTSIDE_WINDOW is checked before STAGE_MISMATCH
    Case("OUTSIDE_WINDOW-before-STAGE_MISMATCH", PRESALE,
         cart(line("p", "1200.00", sku="phone-x"), at="2026-10-25T10:00:00+08:00", wallet=["late"]),
         reasons={"late": "OUTSIDE_WINDOW"}),
    # order: STAGE_MISMATCH is checked before NOT_IN_WALLET (plat-30 not held)
    Case("STAGE_MISMATCH-before-NOT_IN_WALLET", PRESALE,
         cart(line("p", "1200.00", sku="phone-x"), at="2026-10-25T10:00:00+08:00"),
         reasons={"plat-30": "STAGE_MISMATCH"}),
    # NOT_IN_WALLET: a coupon for goods in the cart that the buyer does not hold
    Case("NOT_IN_WALLET", ruleset('coupon "c" { level shop scope shop == "S1" discount 5 }'),
         cart(line("a", "50.00")), payable="50.00", reasons={"c": "NOT_IN_WALLET"}),
    # LIMIT_REACHED via user.usage: limit 1, used once
    Case("LIMIT_REACHED", ruleset('coupon "c" { level shop discount 5 limit 1 per user }'),
         cart(line("a", "50.00"), wallet=["c"], user={"id": "u1", "usage": {"c": 1}}),
         payable="50.00", applied={}, reasons={"c": "LIMIT_REACHED"}),
    # ... used 0 times: applies, 50 − 5 = 45
    Case("LIMIT-not-reached", ruleset('coupon "c" { level shop discount 5 limit 1 per user }'),
         cart(line("a", "50.00"), wallet=["c"], user={"id": "u1", "usage": {"c": 0}}),
         payable="45.00", applied={"c": "5.00"}),
    # an automatic promotion with a limit: limit 2, used 2 → LIMIT_REACHED; used 1 → applies
    Case("LIMIT_REACHED-automatic", ruleset('promotion "p" { level shop discount 5 limit 2 per user }'),
         cart(line("a", "50.00"), user={"usage": {"p": 2}}), payable="50.00", reasons={"p": "LIMIT_REACHED"}),
    Case("LIMIT-automatic-under", ruleset('promotion "p" { level shop discount 5 limit 2 per user }'),
         cart(line("a", "50.00"), user={"usage": {"p": 1}}), payable="45.00"),
    # order: NOT_IN_WALLET before LIMIT_REACHED
    Case("NOT_IN_WALLET-before-LIMIT_REACHED", ruleset('coupon "c" { level shop discount 5 limit 1 per user }'),
         cart(line("a", "50.00"), user={"usage": {"c": 1}}), reasons={"c": "NOT_IN_WALLET"}),
    # order: LIMIT_REACHED before CONDITION_FAILED
    Case("LIMIT_REACHED-before-CONDITION_FAILED",
         ruleset('coupon "c" { level shop when channel == "app" discount 5 limit 1 per user }'),
         cart(line("a", "50.00"), channel="pc", wallet=["c"], user={"usage": {"c": 1}}), reasons={"c": "LIMIT_REACHED"}),
    # CONDITION_FAILED: channel "pc" ≠ "app"; checked before the (also failing) threshold
    Case("CONDITION_FAILED", ruleset('promotion "app" { level shop when channel == "app" and amount >= 100 discount 10 }'),
         cart(line("a", "50.00"), channel="pc"), payable="50.00", reasons={"app": "CONDITION_FAILED"}, hints={}),
    # ... with the right channel the threshold is what fails: gap 100 − 50 = 50.00, would save 10.00
    Case("THRESHOLD_NOT_MET-after-condition", ruleset('promotion "app" { level shop when channel == "app" and amount >= 100 discount 10 }'),
         cart(line("a", "50.00"), channel="app"), payable="50.00", reasons={"app": "THRESHOLD_NOT_MET"},
         hints={"app": {"missing_amount": "50.00", "would_save": "10.00"}}),
    # user.level is not a threshold attribute: CONDITION_FAILED, no hint
    Case("CONDITION_FAILED-user-level", ruleset('promotion "vip" { level platform when user.level >= 3 discount 10 }'),
         cart(line("a", "50.00"), user={"level": 1}), reasons={"vip": "CONDITION_FAILED"}, hints={}),
    # NO_ELIGIBLE_ITEMS: a held coupon whose scope matches no line
    Case("NO_ELIGIBLE_ITEMS-coupon", ruleset('coupon "c" { level shop scope brand == "nothing" discount 5 }'),
         cart(line("a", "50.00"), wallet=["c"]), payable="50.00", reasons={"c": "NO_ELIGIBLE_ITEMS"}),
    # ... the same when the scope names a sku (or shop, category) that is not in the cart
    Case("NO_ELIGIBLE_ITEMS-coupon-sku", ruleset('coupon "c" { level shop scope sku == "nothing" discount 5 }'),
         cart(line("a", "50.00"), wallet=["c"]), payable="50.00", reasons={"c": "NO_ELIGIBLE_ITEMS"}),
    # NO_ELIGIBLE_ITEMS: the only line in scope has a zero amount
    Case("NO_ELIGIBLE_ITEMS-zero-line", ruleset('promotion "p" { level shop scope sku == "free" discount 5 }'),
         cart(line("z", "0.00", sku="free"), line("a", "50.00")), payable="50.00", reasons={"p": "NO_ELIGIBLE_ITEMS"}),
    # THRESHOLD_NOT_MET with a strict comparison: amount > 100 at 100.00 → needs 100.01 → gap 0.01
    Case("THRESHOLD_NOT_MET-strict", ruleset('promotion "p" { level shop when amount > 100 discount 10 }'),
         cart(line("a", "100.00")), payable="100.00", reasons={"p": "THRESHOLD_NOT_MET"},
         hints={"p": {"missing_amount": "0.01", "would_save": "10.00"}}),
    # THRESHOLD_NOT_MET on units: quantity >= 3 with 2 → 1 missing, would save 10.00
    Case("THRESHOLD_NOT_MET-quantity", ruleset('promotion "p" { level shop when quantity >= 3 discount 10 }'),
         cart(line("a", "20.00", 2)), payable="40.00", reasons={"p": "THRESHOLD_NOT_MET"},
         hints={"p": {"missing_quantity": 1, "would_save": "10.00"}}),
    # cart.amount is a threshold too: 250 of 300 → gap 50.00
    Case("THRESHOLD_NOT_MET-cart-amount", ruleset('promotion "p" { level platform when cart.amount >= 300 discount 10 }'),
         cart(line("a", "250.00")), reasons={"p": "THRESHOLD_NOT_MET"}),
    # EXCLUSIVE_CONFLICT: exclusive 30 vs 10 on the same line → 70 < 90 → the exclusive one wins
    Case("EXCLUSIVE_CONFLICT", ruleset('promotion "excl" { level shop exclusive discount 30 }\n'
                                       'promotion "other" { level shop discount 10 }'),
         cart(line("a", "100.00")), payable="70.00", applied={"excl": "30.00"}, reasons={"other": "EXCLUSIVE_CONFLICT"}),
    # the exclusive one loses when the others together save more: 10 + 10 = 20 > 5 → 80
    Case("EXCLUSIVE_CONFLICT-exclusive-loses", ruleset('promotion "excl" { level shop exclusive discount 5 }\n'
                                                       'promotion "o1" { level shop discount 10 }\n'
                                                       'promotion "o2" { level platform discount 10 }'),
         cart(line("a", "100.00")), payable="80.00", applied={"o1": "10.00", "o2": "10.00"},
         reasons={"excl": "EXCLUSIVE_CONFLICT"}),
    # no shared line, no conflict: excl on S1, other on S2 → both: 100 − 30 + 100 − 10 = 160
    Case("exclusive-disjoint", ruleset('promotion "excl" { level shop scope shop == "S1" exclusive discount 30 }\n'
                                       'promotion "other" { level shop scope shop == "S2" discount 10 }'),
         cart(line("a", "100.00", shop="S1"), line("b", "100.00", shop="S2")), payable="160.00"),
    # GROUP_LIMIT: group g max 1; c10 (S1) and c5 (S2) both held → c10 (saves more) → 200 − 10 = 190
    Case("GROUP_LIMIT", ruleset('coupon "c10" { level shop scope shop == "S1" group "g" discount 10 }\n'
                                'coupon "c5" { level shop scope shop == "S2" group "g" discount 5 }',
                                extra='group "g" max 1'),
         cart(line("a", "100.00", shop="S1"), line("b", "100.00", shop="S2"), wallet=["c10", "c5"]),
         payable="190.00", applied={"c10": "10.00"}, reasons={"c5": "GROUP_LIMIT"}),
    # max 2: both → 185
    Case("group-max-2", ruleset('coupon "c10" { level shop scope shop == "S1" group "g" discount 10 }\n'
                                'coupon "c5" { level shop scope shop == "S2" group "g" discount 5 }',
                                extra='group "g" max 2'),
         cart(line("a", "100.00", shop="S1"), line("b", "100.00", shop="S2"), wallet=["c10", "c5"]),
         payable="185.00", applied={"c10": "10.00", "c5": "5.00"}),
    # NOT_BEST_COMBINATION: seed, progressive, held 满100减10 → 180 without it vs 190 with it
    Case("NOT_BEST_COMBINATION", SEED_PROGRESSIVE_COUPON,
         cart(line("l1", "110.00", 2, sku="SKU-110"), wallet=["s1-100-10"]),
         payable="180.00", reasons={"s1-100-10": "NOT_BEST_COMBINATION"}),
    # ZERO_BENEFIT: free shipping met (50 ≥ 0) but there is no fee to waive
    Case("ZERO_BENEFIT-shipping", ruleset('promotion "fs" { level shipping free_shipping }'),
         cart(line("a", "50.00"), shipping={"S1": "0.00"}), payable="50.00", reasons={"fs": "ZERO_BENEFIT"}),
    # ZERO_BENEFIT: a shop-level price that is above every unit's price (never raises) saves nothing
    Case("ZERO_BENEFIT-shop-price", ruleset('promotion "p" { level shop price 19.90 each }'),
         cart(line("a", "15.00")), payable="15.00", reasons={"p": "ZERO_BENEFIT"}),
    # ZERO_BENEFIT at item level: the same price promotion on a cheaper line (no other item promotion
    # competes, so nothing was "better")
    Case("ZERO_BENEFIT-item-price", ruleset('promotion "p" { level item scope category == "c" price 19.90 each }'),
         cart(line("a", "15.00")), payable="15.00", reasons={"p": "ZERO_BENEFIT"}),
    # ... and item-level nth 2 on single-unit lines
    Case("ZERO_BENEFIT-item-nth", ruleset('promotion "p" { level item scope category == "c" nth 2 discount 50% }'),
         cart(line("a", "15.00")), payable="15.00", reasons={"p": "ZERO_BENEFIT"}),
    # the item-level loser: two item promotions on one line, the one leaving the lower amount wins
    Case("item-level-loser", ruleset('promotion "i5" { level item scope category == "c" discount 5 each }\n'
                                     'promotion "i8" { level item scope category == "c" discount 8 each }'),
         cart(line("a", "20.00")), payable="12.00", applied={"i8": "8.00"}, reasons={"i5": "NOT_BEST_COMBINATION"}),
    # the ledger's reasons need a ledger's snapshot (a FixedLedger here; the server's in tests/server)
    # CODE_UNKNOWN: a coupon with `codes` held without a code
    Case("CODE_UNKNOWN", ruleset('coupon "c" { level shop codes discount 5 }'),
         cart(line("a", "50.00"), wallet=["c"]), payable="50.00", reasons={"c": "CODE_UNKNOWN"}, ledger=FixedLedger()),
    # CODE_USED: its code is redeemed already
    Case("CODE_USED", ruleset('coupon "c" { level shop codes discount 5 }'),
         cart(line("a", "50.00"), wallet=[{"coupon": "c", "code": "K7Q2"}]), payable="50.00",
         reasons={"c": "CODE_USED"}, ledger=FixedLedger(codes={("c", "K7Q2"): "redeemed"})),
    # a free code: 50 − 5 = 45
    Case("code-free", ruleset('coupon "c" { level shop codes discount 5 }'),
         cart(line("a", "50.00"), wallet=[{"coupon": "c", "code": "K7Q2"}]), payable="45.00",
         applied={"c": "5.00"}, ledger=FixedLedger()),
    # LIMIT_REACHED of a total limit: 3 uses of `limit 3 total`
    Case("LIMIT_REACHED-total", ruleset('promotion "p" { level shop limit 3 total discount 5 }'),
         cart(line("a", "50.00")), payable="50.00", reasons={"p": "LIMIT_REACHED"}, ledger=FixedLedger({"p": 3})),
    # BUDGET_EXHAUSTED: 25.00 spent of `budget 25`
    Case("BUDGET_EXHAUSTED", ruleset('promotion "p" { level shop budget 25 discount 10 }'),
         cart(line("a", "50.00")), payable="50.00", reasons={"p": "BUDGET_EXHAUSTED"},
         ledger=FixedLedger(spend={"p": 2500})),
    # a budget with 5.00 left cuts the 10.00 off to 5.00: 50 − 5 = 45, capped
    Case("budget-cut", ruleset('promotion "p" { level shop budget 25 discount 10 }'),
         cart(line("a", "50.00")), payable="45.00", applied={"p": "5.00"}, capped={"p"},
         ledger=FixedLedger(spend={"p": 2000})),
    # CODE_UNKNOWN is checked before LIMIT_REACHED, LIMIT_REACHED before BUDGET_EXHAUSTED
    Case("CODE_UNKNOWN-before-LIMIT_REACHED", ruleset('coupon "c" { level shop codes limit 1 total discount 5 }'),
         cart(line("a", "50.00"), wallet=["c"]), reasons={"c": "CODE_UNKNOWN"}, ledger=FixedLedger({"c": 1})),
    Case("LIMIT_REACHED-before-BUDGET_EXHAUSTED", ruleset('promotion "p" { level shop limit 1 total budget 5 discount 5 }'),
         cart(line("a", "50.00")), reasons={"p": "LIMIT_REACHED"}, ledger=FixedLedger({"p": 1}, {"p": 500})),
]


@pytest.mark.parametrize("case", params(REASON_CASES))
def test_reason_codes(case: Case):
    check(case)


def test_every_reason_code_is_covered():
    produced = {code for c in REASON_CASES + WINDOW_CASES for code in (c.reasons or {}).values()}
    assert set(NOT_APPLIED_REASONS) <= produced


def test_every_not_applied_has_messages_and_location():
    for case in REASON_CASES:
        q = quote(case.rules, case.request)
        for n in q["not_applied"]:
            assert n["message"] and n["message_zh"], n
            # an unknown coupon has no place in the rules to point at
            assert n["reason"] == "UNKNOWN_COUPON" or n["detail"]["at"].startswith("rules.promo:"), n


def test_condition_failed_names_the_clause_and_values():
    rules = ruleset('promotion "app" { level shop when channel == "app" and amount >= 100 discount 10 }')
    n = not_applied(quote(rules, cart(line("a", "50.00"), channel="pc")), "app")
    assert n["reason"] == "CONDITION_FAILED"
    assert n["detail"]["clause"] == 'channel == "app"'
    assert n["detail"]["values"] == {"channel": "pc"}


def test_threshold_detail_gap_money_and_units():
    money = ruleset('promotion "p" { level shop when amount >= 100 discount 10 }')
    n = not_applied(quote(money, cart(line("a", "70.00"))), "p")
    assert (n["reason"], n["detail"]["gap"]) == ("THRESHOLD_NOT_MET", "30.00")  # 100 − 70
    units = ruleset('promotion "p" { level shop when quantity >= 3 discount 10 }')
    n = not_applied(quote(units, cart(line("a", "20.00", 1))), "p")
    assert (n["reason"], n["detail"]["gap"]) == ("THRESHOLD_NOT_MET", 2)  # 3 − 1


def test_conflict_reasons_name_the_winner():
    excl = ruleset('promotion "excl" { level shop exclusive discount 30 }\npromotion "other" { level shop discount 10 }')
    assert not_applied(quote(excl, cart(line("a", "100.00"))), "other")["detail"]["winner"] == "excl"
    group = ruleset('coupon "c10" { level shop scope shop == "S1" group "g" discount 10 }\n'
                    'coupon "c5" { level shop scope shop == "S2" group "g" discount 5 }', extra='group "g" max 1')
    q = quote(group, cart(line("a", "100.00", shop="S1"), line("b", "100.00", shop="S2"), wallet=["c10", "c5"]))
    assert not_applied(q, "c5")["detail"]["winner"] == "c10"


def test_limit_reached_detail():
    rules = ruleset('coupon "c" { level shop discount 5 limit 1 per user }')
    n = not_applied(quote(rules, cart(line("a", "50.00"), wallet=["c"], user={"usage": {"c": 3}})), "c")
    assert (n["reason"], n["detail"]["limit"], n["detail"]["used"]) == ("LIMIT_REACHED", 1, 3)


def test_capped_flag_on_applied_promotion():
    # guard floor 60% of 50.00 = 30.00; shop 30 off can place 20 → capped: true, amount 20.00
    rules = ruleset('guard "g" { scope category == "nuts" floor 60% }\npromotion "d" { level shop discount 30 }')
    q = quote(rules, cart(line("n", "50.00", category="nuts")))
    assert [(a["promotion"], a["amount"], a["capped"]) for a in q["applied"]] == [("d", "20.00", True)]


# ---- hints ---------------------------------------------------------------------------------------

TIERS = 'tiers { amount >= 300: discount 60; amount >= 200: discount 30 }'

HINT_CASES = [
    # service.md's example: at 269.99 the 200 tier applies (−30); 300 − 269.99 = 30.01 more saves 60.00
    Case("hint-next-tier", ruleset(f'promotion "tiers-300" {{ level shop {TIERS} }}'), cart(line("a", "269.99")),
         payable="239.99", hints={"tiers-300": {"missing_amount": "30.01", "would_save": "60.00"}}),
    # at the top tier there is nothing to hint
    Case("hint-top-tier-none", ruleset(f'promotion "tiers-300" {{ level shop {TIERS} }}'), cart(line("a", "300.00")),
         payable="240.00", hints={}),
    # every-S: 50 every 300 at 650 → −100; next step at 900: 250.00 more saves 150.00 in all
    Case("hint-next-step", ruleset('promotion "e" { level platform discount 50 every 300 }'), cart(line("a", "650.00")),
         payable="550.00", hints={"e": {"missing_amount": "250.00", "would_save": "150.00"}}),
    # every-S at exactly a step: 600 → −100; next at 900: 300.00 more
    Case("hint-next-step-at-boundary", ruleset('promotion "e" { level platform discount 50 every 300 }'),
         cart(line("a", "600.00")), payable="500.00", hints={"e": {"missing_amount": "300.00", "would_save": "150.00"}}),
    # every-S whose cap is already reached: 50 every 300 max 100 at 650 → −100, no hint
    Case("hint-step-capped-none", ruleset('promotion "e" { level platform discount 50 every 300 max 100 }'),
         cart(line("a", "650.00")), payable="550.00", hints={}),
    # every-S below its cap: max 120 at 650 → −100; at 900 it would be 150 → capped at 120 → save 120.00
    Case("hint-step-up-to-cap", ruleset('promotion "e" { level platform discount 50 every 300 max 120 }'),
         cart(line("a", "650.00")), payable="550.00", hints={"e": {"missing_amount": "250.00", "would_save": "120.00"}}),
]


@pytest.mark.parametrize("case", params(HINT_CASES))
def test_hints(case: Case):
    check(case)


def test_explain_off_gives_applied_only():
    rules = ruleset('promotion "p" { level shop when amount >= 100 discount 10 }\ncoupon "c" { level shop discount 1 }')
    q = quote(rules, cart(line("a", "70.00"), explain="EXPLAIN_OFF"))
    assert (q["totals"]["payable"], q["not_applied"], q["hints"]) == ("70.00", [], [])


# ---- coupons: choice and selection (§4.5) ------------------------------------------------------------

TWO_PLATFORM = ruleset('coupon "ca" { level platform discount 10 }\ncoupon "cb" { level platform discount 10 }')

CHOICE_CASES = [
    # one coupon at platform level; equal savings → the earlier-expiring wallet entry (cb) is used
    Case("tie-earlier-expiry", TWO_PLATFORM,
         cart(line("a", "50.00"), wallet=[{"coupon": "ca", "expires": "2026-12-31T00:00:00+08:00"},
                                          {"coupon": "cb", "expires": "2026-11-20T00:00:00+08:00"}]),
         payable="40.00", applied={"cb": "10.00"}),
    # no expiry on either → by name: ca
    Case("tie-by-name", TWO_PLATFORM, cart(line("a", "50.00"), wallet=["cb", "ca"]), payable="40.00", applied={"ca": "10.00"}),
    # one coupon per line at item level: 5 each beats 3 each → 20 − 5 = 15
    Case("item-coupon-one-per-line", ruleset('coupon "i5" { level item scope category == "c" discount 5 each }\n'
                                             'coupon "i3" { level item scope category == "c" discount 3 each }'),
         cart(line("a", "20.00"), wallet=["i5", "i3"]), payable="15.00", applied={"i5": "5.00"}),
    # fewer coupons on a tie: a shop coupon that saves nothing (never raises a price) is not used
    Case("tie-fewer-coupons", ruleset('coupon "p10" { level platform discount 10 }\ncoupon "z" { level shop price 99 each }'),
         cart(line("a", "50.00"), wallet=["p10", "z"]), payable="40.00", applied={"p10": "10.00"}),
    # cart.amount is the whole cart after item level: 2 × (110 − 10) = 200 < 210 → gap 10.00
    Case("cart-amount-after-item-level", ruleset('promotion "i" { level item scope category == "c" discount 10 each }\n'
                                                 'promotion "p" { level platform when cart.amount >= 210 discount 20 }'),
         cart(line("a", "110.00", 2)), payable="200.00", reasons={"p": "THRESHOLD_NOT_MET"},
         hints={"p": {"missing_amount": "10.00", "would_save": "20.00"}}),
    # a selected coupon that fails says why: d needs 100, the cart is 50 → THRESHOLD_NOT_MET
    Case("selected-fails-says-why", ruleset('coupon "c" { level shop discount 5 }\ncoupon "d" { level platform when amount >= 100 discount 5 }'),
         cart(line("a", "50.00"), wallet=["c", "d"], selected=["d"]), payable="50.00", applied={},
         reasons={"d": "THRESHOLD_NOT_MET"}),
    # a selected coupon the buyer does not hold is not a coupon they can use: NOT_IN_WALLET (§4.1: a coupon
    # is a candidate only when it is in the wallet)
    Case("selected-not-held", ruleset('coupon "c" { level shop discount 5 }'),
         cart(line("a", "50.00"), selected=["c"]), payable="50.00", applied={}, reasons={"c": "NOT_IN_WALLET"}),
]


@pytest.mark.parametrize("case", params(CHOICE_CASES))
def test_coupon_choice(case: Case):
    check(case)


def test_a_hint_on_top_of_a_discount_says_what_comes_on_top():
    # at 130.00 the 100 tier takes 50.00 off; reaching 400 takes 100.00 in all: 50.00 more
    rules = ruleset('promotion "t" { level shop tiers { amount >= 400: discount 100; amount >= 100: discount 50 } }')
    [hint] = quote(rules, cart(line("a", "130.00")))["hints"]
    assert (hint["missing_amount"], hint["would_save"]) == ("270.00", "100.00")  # service.md: the whole discount
    assert hint["message"] == "spend 270.00 more to save 50.00 more"
    assert hint["message_zh"] == "再买270.00元可再减50.00元"
    # by units, and for a promotion that gives nothing yet the message names the whole discount
    rules = ruleset('promotion "q" { level shop tiers { quantity >= 3: discount 30; quantity >= 2: discount 10 } }')
    [hint] = quote(rules, cart(line("a", "50.00", 2)))["hints"]
    assert (hint["message"], hint["message_zh"]) == ("buy 1 more to save 20.00 more", "再买1件可再减20.00元")
    [hint] = quote(rules, cart(line("a", "50.00", 1)))["hints"]
    assert (hint["message"], hint["message_zh"]) == ("buy 1 more to save 10.00", "再买1件可减10.00元")
