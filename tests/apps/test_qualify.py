"""Qualify: per wallet coupon, usable now, its saving alone and inside the best set, or why not."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from engine.apps.qualify import qualify
from engine.lang.load import load_sources
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan
from engine.wire.decode import request_from_json
from engine.wire.encode import qualification_to_json
from server.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]

RULES = '''ruleset "q" { currency CNY timezone "Asia/Shanghai" stacking progressive }
promotion "direct" { level item scope sku == "SKU-110" discount 10 each }
coupon "s1-100-10" { level shop scope shop == "S1" when amount >= 100 discount 10 }
promotion "cross-200-20" { level platform when amount >= 200 discount 20 }
coupon "big-500-50" { level shop scope shop == "S1" when amount >= 500 discount 50 }
coupon "expired" { level platform active 2026-10-01 .. 2026-10-02 discount 5 }
coupon "plat-10" { level platform discount 10 }
'''


def run(wallet, rules=RULES, operator=False):
    plan = compile_plan(load_sources([SourceFile("q.promo", rules)]))
    cart = {"at": "2026-11-11T10:00:00+08:00", "wallet": wallet,
            "lines": [{"id": "l1", "sku": "SKU-110", "shop": "S1", "price": "110.00", "quantity": 2}]}
    result = qualification_to_json(qualify(plan, request_from_json(cart, plan.digits, plan.timezone)), operator)
    return result, {c["coupon"]: c for c in result["coupons"]}


def test_each_wallet_coupon_gets_its_status_in_wallet_order():
    result, by_name = run(["s1-100-10", "big-500-50", "expired", "plat-10", "nope"])
    assert [c["coupon"] for c in result["coupons"]] == ["s1-100-10", "big-500-50", "expired", "plat-10", "nope"]
    # 200 after the item discount; without coupons: 200 - 20 (cross) = 180
    assert result["payable_without_coupons"] == "180.00"
    # best: plat-10 alone (180 - 10 = 170); s1-100-10 would push the base under the cross-shop 200
    assert result["payable_best"] == "170.00"
    assert by_name["plat-10"] == {"coupon": "plat-10", "id": "", "usable": True, "in_best": True,
                                  "saving_alone": "10.00", "saving_in_best": "10.00"}


def test_a_usable_coupon_the_best_set_leaves_out_says_what_it_costs():
    _, by_name = run(["s1-100-10", "plat-10"])
    s1 = by_name["s1-100-10"]
    # alone it pays 190 (loses the cross-shop 20 for its own 10): 180 - 190 = -10
    assert (s1["usable"], s1["in_best"], s1["saving_alone"]) == (True, False, "-10.00")
    assert s1["reason"] == "NOT_BEST_COMBINATION"


def test_unusable_coupons_say_why_and_what_would_make_them_usable():
    _, by_name = run(["big-500-50", "expired", "nope"])
    big = by_name["big-500-50"]
    assert (big["usable"], big["reason"], big["missing_amount"], big["would_save"]) == (False, "THRESHOLD_NOT_MET", "300.00", "50.00")
    assert "还差300.00元" in big["message_zh"]
    assert by_name["expired"]["reason"] == "OUTSIDE_WINDOW"
    assert by_name["nope"]["reason"] == "UNKNOWN_COUPON"
    assert "detail" not in big  # customer disclosure: messages only


def test_operator_disclosure_adds_the_detail():
    _, by_name = run(["big-500-50"], operator=True)
    assert by_name["big-500-50"]["detail"]["needed"] == "500.00"
    assert by_name["big-500-50"]["detail"]["seen"] == "200.00"


def test_qualify_command_prints_the_same_json():
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["qualify", str(ROOT / "examples/seed/parallel-coupon"),
                         str(ROOT / "examples/seed/parallel-coupon/cart.json"), "--json"])
    assert code == 0
    result = json.loads(out.getvalue())
    assert result["payable_best"] == "170.00" and result["payable_without_coupons"] == "180.00"
    assert result["coupons"][0]["saving_in_best"] == "10.00"
