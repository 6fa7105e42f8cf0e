"""Pricing with a ledger's snapshot (engine/pricing/ledger.py, ledger.md §2): limits per user and
in total read from the view, budgets cut the discount inside the pricing run (so the combination
search compares cut values), codes, what the ledger's guarded writes found overriding the
snapshot, and nothing changing without a view. Figures by hand in each test's comment."""

from __future__ import annotations

import pytest
from pricing_helpers import applied, capped, cart, line, plan_of, quote, reasons, ruleset

from engine.apps.qualify import qualify
from engine.plan.plan import BudgetClause, LimitClause
from engine.pricing.ledger import FixedLedger
from engine.wire.decode import request_from_json


class View:
    """A LedgerView of its own (the protocol, not FixedLedger: a compiled class has no
    interpreted subclasses): `uses` by clause, `spent` by budget period, `code` by a function."""

    def __init__(self, by_clause=None, spent_by_period=None, codes=None) -> None:
        self.by_clause = by_clause or {}
        self.spent_by_period = spent_by_period or {}
        self.codes = codes or (lambda coupon, code: "free")
        self.asked: list[LimitClause] = []
        self.unavailable: dict[str, str] = {}
        self.capped: dict[str, int] = {}

    def uses(self, promotion: str, limit: LimitClause) -> int:
        self.asked.append(limit)
        return self.by_clause.get((limit.per_user, limit.period), 0)

    def spent(self, promotion: str, budget: BudgetClause) -> int:
        return self.spent_by_period.get(budget.period, 0)

    def code(self, coupon: str, code: str) -> str:
        return self.codes(coupon, code)


def Periodic(by_clause):  # noqa: N802 - reads as the view it makes
    return View(by_clause)


def detail(q: dict, name: str) -> dict:
    return next(n["detail"] for n in q["not_applied"] if n["promotion"] == name)


def test_the_plan_carries_the_ledger_clauses():
    plan = plan_of(ruleset('coupon "c" { level shop limit 1 per user limit 2 per user per day limit 100 total '
                           'budget 500.50 budget 50 per week codes discount 5 }\n'
                           'promotion "p" { level shop discount 1 }'))
    c = plan.by_name["c"]
    assert c.limits == (LimitClause(1, True), LimitClause(2, True, "day"), LimitClause(100, False))
    assert c.budgets == (BudgetClause(50050), BudgetClause(5000, "week")) and c.codes
    p = plan.by_name["p"]
    assert (p.limits, p.budgets, p.codes) == ((), (), False)


# ---- without a view nothing changes -----------------------------------------------------------

LEDGERED = ruleset('coupon "c" { level shop limit 1 total budget 1 codes discount 5 }\n'
                   'promotion "u" { level platform limit 1 per user discount 2 }')


def test_without_a_view_total_limits_budgets_and_codes_are_not_reached():
    # 50 − 5 − 2 = 43: no ledger, nothing counted; the per-user limit reads user.usage (0)
    q = quote(LEDGERED, cart(line("a", "50.00"), wallet=["c"]))
    assert q["totals"]["payable"] == "43.00" and applied(q) == {"c": "5.00", "u": "2.00"}


def test_without_a_view_the_per_user_limit_reads_user_usage():
    q = quote(LEDGERED, cart(line("a", "50.00"), wallet=["c"], user={"usage": {"u": 1}}))
    assert reasons(q) == {"u": "LIMIT_REACHED"}
    assert detail(q, "u")["used"] == 1 and detail(q, "u")["limit"] == 1 and detail(q, "u")["clause"] == "limit 1 per user"


def test_with_a_view_user_usage_is_ignored():
    # the request says used once, the ledger says never: the ledger counts
    q = quote(LEDGERED, cart(line("a", "50.00"), wallet=[{"coupon": "c", "code": "K1"}], user={"usage": {"u": 1}}),
              FixedLedger())
    assert applied(q) == {"c": "1.00", "u": "2.00"}  # budget 1: the 5.00 is cut to 1.00


# ---- limits -----------------------------------------------------------------------------------

def test_a_total_limit_reached_is_limit_reached_with_the_clause():
    rules = ruleset('promotion "p" { level shop limit 2 total discount 5 }')
    assert applied(quote(rules, cart(line("a", "50.00")), FixedLedger({"p": 1}))) == {"p": "5.00"}
    q = quote(rules, cart(line("a", "50.00")), FixedLedger({"p": 2}))
    assert reasons(q) == {"p": "LIMIT_REACHED"} and q["totals"]["payable"] == "50.00"
    assert detail(q, "p") | {"at": None} == {"at": None, "limit": 2, "used": 2, "clause": "limit 2 total",
                                               "per": "total", "period": ""}


def test_per_user_per_day_reads_the_days_count_and_each_limit_holds_on_its_own():
    rules = ruleset('promotion "p" { level shop limit 5 per user limit 1 per user per day discount 5 }')
    # used 3 times ever (< 5) but once today (= 1): the daily limit stops it
    view = Periodic({(True, None): 3, (True, "day"): 1})
    q = quote(rules, cart(line("a", "50.00")), view)
    assert reasons(q) == {"p": "LIMIT_REACHED"} and detail(q, "p")["clause"] == "limit 1 per user per day"
    assert LimitClause(1, True, "day") in view.asked
    # a new day: 0 today, still 3 < 5 ever
    assert applied(quote(rules, cart(line("a", "50.00")), Periodic({(True, None): 3}))) == {"p": "5.00"}
    # 5 ever: the lifetime limit stops it whatever the day
    q = quote(rules, cart(line("a", "50.00")), Periodic({(True, None): 5}))
    assert detail(q, "p")["clause"] == "limit 5 per user"


# ---- budgets ----------------------------------------------------------------------------------

def test_no_budget_left_is_budget_exhausted():
    rules = ruleset('promotion "p" { level shop budget 25 per day discount 10 }')
    q = quote(rules, cart(line("a", "50.00")), FixedLedger(spend={"p": 2500}))
    assert reasons(q) == {"p": "BUDGET_EXHAUSTED"} and q["totals"]["payable"] == "50.00"
    assert detail(q, "p")["budget"] == "25.00" and detail(q, "p")["spent"] == "25.00"
    assert detail(q, "p")["clause"] == "budget per day"
    n = next(n for n in q["not_applied"] if n["promotion"] == "p")
    assert n["message"] == "this offer has run out" and n["message_zh"]


@pytest.mark.parametrize("level,scope", [("shop", ""), ("platform", ""), ("item", 'scope category == "c"')])
def test_less_left_than_the_discount_cuts_it_and_says_desired_and_granted(level, scope):
    # 10.00 off each of two lines' orders; 25 − 18 = 7.00 left: the discount is 7.00
    each = " each" if level == "item" else ""
    rules = ruleset(f'promotion "p" {{ level {level} {scope} budget 25 discount 10{each} }}')
    q = quote(rules, cart(line("a", "50.00"), line("b", "30.00")), FixedLedger(spend={"p": 1800}))
    assert applied(q)["p"] == "7.00" and capped(q) == {"p"}
    a = next(a for a in q["applied"] if a["promotion"] == "p")
    assert a["detail"] == {"desired": "20.00" if level == "item" else "10.00", "granted": "7.00"}
    assert q["totals"]["payable"] == "73.00"
    parts = sum(int(d["amount"].replace(".", "")) for ln in q["lines"] for d in ln["discounts"])
    assert parts == 700  # the lines' parts sum to the cut discount


def test_the_item_level_cut_gives_back_in_line_id_order():
    # 5.00 off each unit of a (2 units) and b (1 unit) = 15.00; 4.00 left: a gives back all its 10.00, b 1.00
    rules = ruleset('promotion "p" { level item scope category == "c" budget 10 discount 5 each }')
    q = quote(rules, cart(line("b", "20.00"), line("a", "20.00", 2)), FixedLedger(spend={"p": 600}))
    finals = {ln["id"]: ln["final"] for ln in q["lines"]}
    assert finals == {"a": "40.00", "b": "16.00"} and applied(q) == {"p": "4.00"}


def test_free_shipping_waives_at_most_what_is_left():
    rules = ruleset('promotion "fs" { level shipping budget 100 free_shipping }')
    q = quote(rules, cart(line("a", "50.00"), shipping={"S1": "8.00"}), FixedLedger(spend={"fs": 9700}))
    assert q["totals"]["shipping"] == "5.00" and applied(q) == {"fs": "3.00"} and capped(q) == {"fs"}


def test_the_search_prices_the_cut_value():
    # one platform coupon per order: c10 gives 10 but only 3.00 is left of its budget, c5 gives 5:
    # the best set is c5 (95.00), not c10 (97.00); without the ledger c10 wins (90.00)
    rules = ruleset('coupon "c10" { level platform budget 100 discount 10 }\n'
                    'coupon "c5" { level platform discount 5 }')
    request = cart(line("a", "100.00"), wallet=["c10", "c5"])
    assert applied(quote(rules, request)) == {"c10": "10.00"}
    q = quote(rules, request, FixedLedger(spend={"c10": 9700}))
    assert applied(q) == {"c5": "5.00"} and q["totals"]["payable"] == "95.00"
    assert reasons(q)["c10"] in ("GROUP_LIMIT", "NOT_BEST_COMBINATION")


def test_the_tightest_budget_decides():
    rules = ruleset('promotion "p" { level shop budget 1000 budget 30 per day discount 10 }')

    two = View(spent_by_period={None: 995_00})  # 5.00 left in all, 30.00 today
    assert applied(quote(rules, cart(line("a", "50.00")), two)) == {"p": "5.00"}


# ---- codes ------------------------------------------------------------------------------------

CODED = ruleset('coupon "c" { level shop codes discount 5 }')


@pytest.mark.parametrize("wallet,codes,reason,state", [
    ([{"coupon": "c"}], {}, "CODE_UNKNOWN", "missing"),
    ([{"coupon": "c", "code": "NOPE"}], {("c", "NOPE"): "unknown"}, "CODE_UNKNOWN", "unknown"),
    ([{"coupon": "c", "code": "K1"}], {("c", "K1"): "held"}, "CODE_USED", "held"),
    ([{"coupon": "c", "code": "K1"}], {("c", "K1"): "redeemed"}, "CODE_USED", "redeemed"),
])
def test_a_code_that_cannot_be_used_says_the_same_to_the_buyer(wallet, codes, reason, state):
    q = quote(CODED, cart(line("a", "50.00"), wallet=wallet), FixedLedger(codes=codes))
    assert reasons(q) == {"c": reason} and q["totals"]["payable"] == "50.00"
    n = next(n for n in q["not_applied"] if n["promotion"] == "c")
    assert (n["message"], n["message_zh"]) == ("this code cannot be used", "该券码无法使用")
    assert n["detail"]["state"] == state  # the operator tells them apart


def test_a_free_code_applies_and_a_code_of_another_coupon_is_unknown():
    rules = ruleset('coupon "c" { level shop codes discount 5 }\ncoupon "d" { level platform codes discount 1 }')

    issued = View(codes=lambda coupon, code: "free" if (coupon, code) == ("c", "K1") else "unknown")  # K1 is c's
    q = quote(rules, cart(line("a", "50.00"), wallet=[{"coupon": "c", "code": "K1"}, {"coupon": "d", "code": "K1"}]),
              issued)
    assert applied(q) == {"c": "5.00"} and reasons(q) == {"d": "CODE_UNKNOWN"}


# ---- what the guarded writes found overrides the snapshot --------------------------------------

def test_unavailable_and_capped_override_the_view():
    rules = ruleset('promotion "p" { level shop limit 10 total discount 5 }\n'
                    'promotion "b" { level platform budget 100 discount 10 }')
    view = FixedLedger(unavailable={"p": "LIMIT_REACHED"}, capped={"b": 250})
    q = quote(rules, cart(line("a", "50.00")), view)
    assert reasons(q) == {"p": "LIMIT_REACHED"} and applied(q) == {"b": "2.50"} and capped(q) == {"b"}
    assert quote(rules, cart(line("a", "50.00")), FixedLedger(capped={"b": 0}))["not_applied"][0]["reason"] \
        == "BUDGET_EXHAUSTED"


def test_quote_json_without_a_cut_has_no_applied_detail():
    rules = ruleset('promotion "p" { level shop budget 100 discount 5 }')
    q = quote(rules, cart(line("a", "50.00")), FixedLedger())
    assert "detail" not in q["applied"][0] and q["applied"][0]["capped"] is False


# ---- qualify reads the same view ----------------------------------------------------------------

def test_qualify_with_a_view_says_why_a_coupon_cannot_be_used():
    rules = ruleset('coupon "c" { level shop codes discount 5 }\ncoupon "t" { level platform limit 1 total discount 3 }')
    plan = plan_of(rules)
    request = request_from_json(cart(line("a", "50.00"), wallet=[{"coupon": "c", "code": "K1", "id": "w1"},
                                                                 {"coupon": "t", "id": "w2"}]),
                                plan.digits, plan.timezone)
    q = qualify(plan, request, ledger=FixedLedger({"t": 1}, codes={("c", "K1"): "redeemed"}))
    assert {s.entry.coupon: (s.usable, s.reason.code if s.reason else None) for s in q.coupons} == {
        "c": (False, "CODE_USED"), "t": (False, "LIMIT_REACHED")}
    free = qualify(plan, request, ledger=FixedLedger())
    assert all(s.usable for s in free.coupons)
