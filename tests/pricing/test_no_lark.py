"""Pricing needs no parser: a fresh interpreter that builds a plan by hand (plan objects, no rule
text) and prices a cart with `engine.pricing` never imports Lark or the language (engine.lang).
The same promotions compiled from rule text in this process give the same quote.

A plan cannot be pickled to hand it over (its predicates are closures), so the child builds one:
a shop promotion 满100减10 and an item price.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pricing_helpers import cart, line, plan_of, ruleset

from engine.pricing.quote import evaluate
from engine.wire.decode import request_from_json

ROOT = Path(__file__).resolve().parent.parent.parent

RULES = ruleset("""
promotion "s1-100-10" { level shop  when amount >= 100  discount 10 }
promotion "tee-9" { level item  scope sku == "tee"  discount 2 each }
""")

CHILD = r"""
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.base.request import Line, Request
from engine.base.span import Span
from engine.plan import benefits as b
from engine.plan.plan import Clause, Plan, Promotion
from engine.pricing.quote import evaluate

span = Span("rules.promo", 1, 1, 1, 2)
threshold = b.Threshold("amount", False, 10000)
shop = Promotion("s1-100-10", "promotion", "shop", "", 0, None, lambda line: True, "", (
    Clause(lambda facts: facts.amount >= 10000, "amount >= 100", span, threshold, ("amount",)),),
    b.AmountOff(1000), None, False, (), span)
tee = Promotion("tee-9", "promotion", "item", "", 0, None, lambda line: line.sku == "tee", 'sku == "tee"', (),
                b.AmountOff(200, each=True), None, False, (), span)
tz = ZoneInfo("Asia/Shanghai")
plan = Plan("t", "r1", "CNY", 2, tz, "parallel", "half_up", 0, {}, (tee, shop), {"tee-9": tee, "s1-100-10": shop},
            (), (), (), {}, (tee, shop))
lines = (Line("a", "tee", "S1", "c", "", frozenset(), 3000, 3), Line("b", "mug", "S1", "c", "", frozenset(), 5000, 1))
quote = evaluate(plan, Request(at=datetime(2026, 11, 11, 10, tzinfo=tz), lines=lines))
loaded = sorted(m for m in sys.modules if m == "lark" or m.startswith(("lark.", "engine.lang")))
print(json.dumps({"payable": quote.payable, "applied": [[a.promotion, a.amount] for a in quote.applied],
                  "finals": [[q.id, q.final] for q in quote.lines], "loaded": loaded}))
"""


def test_pricing_a_cart_imports_neither_lark_nor_the_language():
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    child = json.loads(done.stdout)
    assert child["loaded"] == []
    # the same promotions from rule text, compiled here, price the cart the same
    quote = evaluate(plan_of(RULES), request_from_json(
        cart(line("a", "30.00", 3, sku="tee"), line("b", "50.00", 1, sku="mug")), 2))
    assert child["payable"] == quote.payable == 12400  # 90 + 50 = 140 - 6 (tees) = 134 - 10 = 124.00
    assert child["applied"] == [[a.promotion, a.amount] for a in quote.applied]
    assert child["finals"] == [[q.id, q.final] for q in quote.lines]
