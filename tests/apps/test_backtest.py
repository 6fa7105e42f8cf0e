"""Backtest (engine/apps/backtest): hand-computed figures to the cent, the aggregate as a monoid
(any split, any merge order, the same result), partitions of JSON Lines and Parquet, bad rows by
row, order time against --at, budget burn."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from engine.apps.backtest.aggregate import Aggregate, merged
from engine.apps.backtest.orders import BadRow, Order, count_rows, partitions, read_partition
from engine.apps.backtest.price import Budget, Job, price_rows, use_plans
from engine.apps.backtest.result import result
from engine.apps.backtest.run import run_backtest
from engine.apps.cluster import plan_for
from engine.lang.source import SourceFile, read_sources
from engine.wire.decode import parse_datetime, request_from_json

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "examples" / "seed"
D11 = ROOT / "examples" / "double11"

SEED_ORDER = {"order_id": "o1", "at": "2026-11-11T10:00:00+08:00", "user": {"id": "u1"}, "channel": "app",
              "lines": [{"id": "l1", "sku": "SKU-110", "shop": "S1", "category": "shoes", "price": "110.00",
                         "quantity": 2}]}

# three orders whose figures are worked out by hand below
RULES = """ruleset "three" { currency CNY timezone "Asia/Shanghai" stacking parallel rounding half_up }
promotion "a-9zhe" { level item scope sku == "A" discount 10% }
promotion "s1-100-15" { level shop scope shop == "S1" when amount >= 100 discount 15 }
coupon "s2-coupon-5" { level shop scope shop == "S2" discount 5 }
promotion "cross-300-30" { level platform discount 30 every 300 }
"""
THREE = [
    # A 99.99 x 2 = 199.98; 10% per line = 19.998 -> 20.00; base 179.98 >= 100 -> 15.00; < 300: no cross
    {"order_id": "t1", "at": "2026-11-10T09:00:00+08:00", "user": {"id": "u1"},
     "lines": [{"id": "l1", "sku": "A", "shop": "S1", "price": "99.99", "quantity": 2}]},
    # A 99.99 -> 10.00 off -> 89.99 (< 100: no S1 discount); B 250.00; platform base 339.99 -> 30.00,
    # split 8999 : 25000 by largest remainder: A 794.05 -> 7.94, B 2205.94 -> 22.06 (the remainder cent)
    {"order_id": "t2", "at": "2026-11-11T09:00:00+08:00", "user": {"id": "u2"},
     "lines": [{"id": "l1", "sku": "A", "shop": "S1", "price": "99.99", "quantity": 1},
               {"id": "l2", "sku": "B", "shop": "S2", "price": "250.00", "quantity": 1}]},
    # B 100.00 x 4 = 400.00; the held S2 coupon 5.00; platform base 400.00 -> 30.00
    {"order_id": "t3", "at": "2026-11-11T21:00:00+08:00", "user": {"id": "u3"}, "wallet": ["s2-coupon-5"],
     "lines": [{"id": "l1", "sku": "B", "shop": "S2", "price": "100.00", "quantity": 4}]},
]


def _write(path: Path, orders: list, extra: str = "") -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in orders) + extra, encoding="utf-8")
    return path


def _job(rules, against=None, **kw) -> Job:
    return Job(tuple(read_sources(rules)), request_from_json,
               against=tuple(read_sources(against)) if against else None, **kw)


def _run(job: Job, path: Path, rows: int = 2000, processes: int = 1) -> dict:
    agg = run_backtest(job, partitions(path, rows), processes=processes)
    return result(agg, job, plan_for(job.rules), plan_for(job.against) if job.against else None, orders=str(path))


def _by(items: list, key: str) -> dict:
    return {i[key]: i for i in items}


def test_seed_cart_progressive_190_parallel_170_and_shop_s1(tmp_path):
    orders = _write(tmp_path / "seed.jsonl", [SEED_ORDER, {**SEED_ORDER, "order_id": "o2"}])
    data = _run(_job(SEED / "parallel", SEED / "progressive"), orders)
    t = data["totals"]
    assert (t["rules"]["payable"], t["against"]["payable"], t["change"]["payable"]) == ("340.00", "380.00", "-40.00")
    assert (t["rules"]["average_payable"], t["against"]["average_payable"]) == ("170.00", "190.00")
    s1 = _by(data["shops"], "shop")["S1"]
    # per order, S1 gives its own 满100减10 (10.00) and 单品直降 (20.00) under both; under parallel its
    # lines also carry the cross-shop 20.00 that progressive stacking never reached
    assert s1["rules"]["per_order"] == {"item": "20.00", "shop": "10.00", "platform": "20.00", "gives_up": "50.00",
                                        "final": "170.00"}
    assert s1["against"]["per_order"] == {"item": "20.00", "shop": "10.00", "platform": "0.00", "gives_up": "30.00",
                                          "final": "190.00"}
    assert s1["change"] == {"final": "-40.00", "gives_up": "40.00", "orders_final_down": 2, "orders_final_up": 0}
    promos = _by(data["promotions"], "promotion")
    assert promos["s1-100-10"]["rules"] == promos["s1-100-10"]["against"] == {
        "orders": 2, "spend": "20.00", "average": "10.00", "share_of_gmv": "4.55"}
    assert promos["cross-200-20"]["rules"]["spend"] == "40.00" and promos["cross-200-20"]["against"]["orders"] == 0
    assert data["changes"]["orders"] == {"lower": 2, "same": 0, "higher": 0}
    assert data["changes"]["distribution"] == [{"bucket": -5, "from": "-49.99", "to": "-20.00",
                                                "label": "-49.99 … -20.00", "orders": 2}]
    movers = data["movers"]
    assert [(m["row"], m["payable"], m["against"], m["change"]) for m in movers] == [
        (1, "170.00", "190.00", "-20.00"), (2, "170.00", "190.00", "-20.00")]
    # reasons only for the orders shown: the cross-shop one is 10.00 short under progressive
    assert {"promotion": "cross-200-20", "reason": "THRESHOLD_NOT_MET", "gap": "10.00"} in movers[0]["not_applied_against"]
    assert "order_id" not in movers[0]["order"]  # the order as an EvaluateRequest `promo eval` reads


def test_three_orders_per_promotion_and_per_shop_to_the_cent(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.promo").write_text(RULES, encoding="utf-8")
    data = _run(_job(tmp_path / "rules"), _write(tmp_path / "three.jsonl", THREE))
    assert data["totals"]["rules"] == {"orders": 3, "gmv": "949.97", "discount": "110.00", "shipping": "0.00",
                                       "payable": "839.97", "average_payable": "279.99"}
    assert [(p["promotion"], p["rules"]) for p in data["promotions"]] == [
        ("cross-300-30", {"orders": 2, "spend": "60.00", "average": "30.00", "share_of_gmv": "6.32"}),
        ("a-9zhe", {"orders": 2, "spend": "30.00", "average": "15.00", "share_of_gmv": "3.16"}),
        ("s1-100-15", {"orders": 1, "spend": "15.00", "average": "15.00", "share_of_gmv": "1.58"}),
        ("s2-coupon-5", {"orders": 1, "spend": "5.00", "average": "5.00", "share_of_gmv": "0.53"}),
    ]
    shops = {s["shop"]: {k: v for k, v in s["rules"].items() if k != "per_order"} for s in data["shops"]}
    assert shops == {
        "S1": {"orders": 2, "gmv": "299.97", "item": "30.00", "shop": "15.00", "platform": "7.94", "other": "0.00",
               "final": "247.03", "gives_up": "52.94"},
        "S2": {"orders": 2, "gmv": "650.00", "item": "0.00", "shop": "5.00", "platform": "52.06", "other": "0.00",
               "final": "592.94", "gives_up": "57.06"},
    }
    assert [s["shop"] for s in data["shops"]] == ["S2", "S1"]  # who gives up most first
    assert [(d["day"], d["rules"]["orders"], d["rules"]["discount"]) for d in data["days"]] == [
        ("2026-11-10", 1, "35.00"), ("2026-11-11", 2, "75.00")]
    assert data["changes"] is None and data["movers"] == []


def _minor(text: str) -> int:
    return int(text.replace(".", ""))


def test_sums_match_on_the_double11_orders():
    data = _run(_job(D11), D11 / "orders.jsonl")
    t = data["totals"]["rules"]
    assert t["orders"] == 3000 and data["orders"]["bad"] == 0
    shops = [s["rules"] for s in data["shops"]]
    assert sum(_minor(s["final"]) for s in shops) == _minor(t["gmv"]) - _minor(t["discount"])
    assert sum(_minor(s["gmv"]) for s in shops) == _minor(t["gmv"])
    for s in shops:
        assert _minor(s["gives_up"]) == sum(_minor(s[k]) for k in ("item", "shop", "platform", "other"))
        assert _minor(s["final"]) == _minor(s["gmv"]) - _minor(s["gives_up"])
    days = [d["rules"] for d in data["days"]]
    assert sum(d["orders"] for d in days) == 3000 and sum(_minor(d["payable"]) for d in days) == _minor(t["payable"])
    # what promotions took off the goods, plus what no promotion took (presale prices), is the discount
    goods = [p for p in data["promotions"] if p["level"] != "shipping"]
    other = sum(_minor(s["other"]) for s in shops)
    assert other > 0  # phone-x is a presale: its presale price is below its list price
    assert sum(_minor(p["rules"]["spend"]) for p in goods) + other == _minor(t["discount"])


def _double11_progressive(tmp_path: Path) -> Path:
    other = tmp_path / "double11-progressive"
    shutil.copytree(D11, other, ignore=shutil.ignore_patterns("*.jsonl", "*.csv", "*.json"))
    header = other / "00_ruleset.promo"
    header.write_text(header.read_text(encoding="utf-8").replace("stacking parallel", "stacking progressive")
                      .replace('ruleset "double11-2026"', 'ruleset "double11-progressive"'), encoding="utf-8")
    return other


def test_the_aggregate_is_a_monoid_any_split_any_order(tmp_path):
    job = _job(D11, _double11_progressive(tmp_path))
    rows = [r for p in partitions(D11 / "orders.jsonl") for r in read_partition(p)][:600]
    rows.insert(5, BadRow(6, "made up"))
    whole = price_rows(job, rows).canonical()
    assert whole["compare"]["orders"][0] + whole["compare"]["orders"][2] > 0  # the stacking mode moves payables
    rng = random.Random(3)
    for _ in range(4):
        cuts = sorted(rng.sample(range(1, len(rows)), rng.randint(1, 12)))
        pieces = [price_rows(job, rows[a:b]) for a, b in zip([0, *cuts], [*cuts, len(rows)])]
        rng.shuffle(pieces)
        assert merged(pieces, against=True).canonical() == whole
        # a tree of merges: ((a + b) + (c + d)) ...
        while len(pieces) > 1:
            pieces = [merged(pieces[i:i + 2], against=True) for i in range(0, len(pieces), 2)]
        assert pieces[0].canonical() == whole
    assert merged([Aggregate.empty(True), price_rows(job, rows), Aggregate.empty(True)], True).canonical() == whole


def test_movers_are_the_largest_changes_then_by_row(tmp_path):
    job = _job(D11, _double11_progressive(tmp_path))
    data = _run(job, D11 / "orders.jsonl")
    movers = data["movers"]
    assert len(movers) == 20
    keys = [(-abs(_minor(m["change"])), m["row"]) for m in movers]
    assert keys == sorted(keys)
    assert all(_minor(m["change"]) == _minor(m["payable"]) - _minor(m["against"]) for m in movers)
    c = data["changes"]
    assert sum(b["orders"] for b in c["distribution"]) == 3000
    assert c["orders"]["lower"] + c["orders"]["same"] + c["orders"]["higher"] == 3000
    assert _minor(c["payable"]) == _minor(data["totals"]["rules"]["payable"]) - _minor(data["totals"]["against"]["payable"])


@pytest.mark.parametrize("rows", [1, 7, 2000])
def test_jsonl_partitions_cover_every_line_once(tmp_path, rows):
    lines = ['{"a": 1}', "", '{"a": 2}', "[1]", "not json", '{"a": 3}']
    path = tmp_path / "o.jsonl"
    path.write_bytes(("\ufeff" + "\n".join(lines)).encode("utf-8"))  # a BOM, no newline at the end
    parts = list(partitions(path, rows))
    assert sum(p.rows for p in parts) == count_rows(path) == 6
    got = [r for p in parts for r in read_partition(p)]
    assert [(r.row, r.data) for r in got if isinstance(r, Order)] == [(1, {"a": 1}), (3, {"a": 2}), (6, {"a": 3})]
    assert [(r.row, r.message.split(" (")[0]) for r in got if isinstance(r, BadRow)] == [
        (4, "expected a JSON object"), (5, "not JSON: Expecting value")]


def test_bad_rows_are_reported_by_row_and_skipped(tmp_path):
    bad = [
        {"at": "2026-11-11T10:00:00+08:00", "lines": [{"id": "l1", "sku": "X", "shop": "S1", "price": "1.234",
                                                       "quantity": 1}]},
        {"lines": []},  # no order time
        {**SEED_ORDER, "coupons": []},  # an unknown field
        {**SEED_ORDER, "order_id": True},
    ]
    path = _write(tmp_path / "o.jsonl", [SEED_ORDER, *bad, SEED_ORDER], "{NaN}\n")
    data = _run(_job(SEED / "parallel"), path)
    assert data["orders"] == {"file": str(path), "rows": 7, "priced": 2, "bad": 5}
    errors = {e["row"]: e["error"] for e in data["errors"]}
    assert sorted(errors) == [2, 3, 4, 5, 7]
    assert errors[2].startswith("lines[0].price:") and errors[3].startswith("at:")
    assert errors[4].startswith("coupons") and errors[5].startswith("order_id:") and errors[7].startswith("not JSON")
    assert data["totals"]["rules"]["payable"] == "340.00"


def test_order_time_or_one_time(tmp_path):
    october = {**SEED_ORDER, "at": "2026-10-01T10:00:00+08:00"}  # before the seed promotions' window
    path = _write(tmp_path / "o.jsonl", [october])
    plan = plan_for(tuple(read_sources(SEED / "parallel")))
    assert _run(_job(SEED / "parallel"), path)["totals"]["rules"]["payable"] == "220.00"
    at = parse_datetime("2026-11-11T10:00", "--at", plan.timezone)
    data = _run(_job(SEED / "parallel", at=at), path)
    assert data["totals"]["rules"]["payable"] == "170.00"
    assert data["at"] == "2026-11-11T10:00:00+08:00"
    assert [d["day"] for d in data["days"]] == ["2026-10-01"]  # the day is the order's own
    no_time = _write(tmp_path / "n.jsonl", [{k: v for k, v in SEED_ORDER.items() if k != "at"}])
    assert _run(_job(SEED / "parallel", at=at), no_time)["totals"]["rules"]["payable"] == "170.00"
    assert _run(_job(SEED / "parallel"), no_time)["orders"]["bad"] == 1


def test_budget_burn_per_day_and_in_total(tmp_path):
    orders = [{**SEED_ORDER, "order_id": f"o{i}", "at": f"2026-11-{day:02d}T10:00:00+08:00"}
              for i, day in enumerate([9, 10, 10, 11, 11, 11])]
    path = _write(tmp_path / "o.jsonl", orders)
    job = _job(SEED / "parallel", budgets=(Budget("cross-200-20", 10_000), Budget("s1-100-10", 2_500, "day")))
    total, per_day = _run(job, path)["budgets"]
    assert (total["spend"], total["exhausted"], total["period"]) == ("120.00", "2026-11-11", "total")
    assert [(d["day"], d["spend"], d["cumulative"], d["left"]) for d in total["days"]] == [
        ("2026-11-09", "20.00", "20.00", "80.00"), ("2026-11-10", "40.00", "60.00", "40.00"),
        ("2026-11-11", "60.00", "120.00", "-20.00")]
    assert total["over"] == [{"period": "total", "spend": "120.00", "over_by": "20.00"}]
    assert (per_day["budget"], per_day["spend"], per_day["exhausted"]) == ("25.00", "60.00", "2026-11-11")
    assert per_day["over"] == [{"period": "2026-11-11", "spend": "30.00", "over_by": "5.00"}]


def _parquet(path: Path, table_rows: list[dict], group: int) -> Path:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(table_rows), path, row_group_size=group)
    return path


def test_parquet_in_both_forms_gives_the_jsonl_result(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.promo").write_text(RULES, encoding="utf-8")
    job = _job(tmp_path / "rules")
    want = _run(job, _write(tmp_path / "three.jsonl", THREE))
    as_text = _parquet(tmp_path / "text.parquet", [{"order_id": o["order_id"], "request": json.dumps(
        {k: v for k, v in o.items() if k != "order_id"})} for o in THREE], group=2)
    nested = _parquet(tmp_path / "nested.parquet", [{**o, "wallet": o.get("wallet", [])} for o in THREE], group=1)
    assert [p.rows for p in partitions(nested)] == [1, 1, 1] and count_rows(as_text) == 3
    for path in (as_text, nested):
        got = _run(job, path)
        assert {k: v for k, v in got.items() if k != "orders"} == {k: v for k, v in want.items() if k != "orders"}
    broken = _parquet(tmp_path / "broken.parquet", [{"request": "{not json"}, {"request": json.dumps(THREE[0])}],
                      group=5)
    data = _run(job, broken)
    assert data["orders"]["bad"] == 1 and data["errors"][0]["row"] == 1 and data["orders"]["priced"] == 1


def test_local_pool_and_in_process_are_the_same(tmp_path):
    job = _job(D11, _double11_progressive(tmp_path))
    path = D11 / "orders.jsonl"
    one = run_backtest(job, partitions(path, 500), processes=1)
    two = run_backtest(job, partitions(path, 500), processes=2)
    assert one.canonical() == two.canonical()
    assert len(two.workers) == 2 and all(rss > 0 for rss in two.workers.values())


def test_plans_are_compiled_once_per_process(monkeypatch, tmp_path):
    from engine.apps import cluster

    job = _job(SEED / "parallel")
    compiled = []
    real = cluster.compile_sources
    monkeypatch.setattr(cluster, "compile_sources", lambda sources: compiled.append(1) or real(sources))
    cluster.clear_plans()
    path = _write(tmp_path / "o.jsonl", [SEED_ORDER] * 10)
    run_backtest(job, partitions(path, 2), processes=1)
    assert len(compiled) == 1
    use_plans(job, plan_for(job.rules), None)
    run_backtest(job, partitions(path, 2), processes=1)
    assert len(compiled) == 1


def test_job_sources_are_text_not_paths():
    job = _job(SEED / "parallel")
    assert all(isinstance(s, SourceFile) and s.text for s in job.rules)
    assert job.keys[0] and job.keys[1] == ""
