"""Combination bench: time to the optimal coupon set for growing wallets.

Wallets of 10, 20, 30 and 50 shop coupons over 10 shops, plus 5 platform coupons, on a cart of
20 lines in those 10 shops, in both stacking modes. Prints the median time, how many choices
the search priced, and how many feasible choices there are (what brute force would price).

Also: the search against brute force (every subset of the candidates priced, as tests/pricing/test_combine.py's
reference does) on wallets small enough for brute force to finish.

Run: `make bench` or `.venv/bin/python bench/combine.py`. `bench/run.py` reuses `rows` and
`versus_brute_force` for docs/benchmarks.md.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from math import prod
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.lang.load import load_sources  # noqa: E402
from engine.lang.source import SourceFile  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.pricing.choose import choose, exhaustive  # noqa: E402
from engine.pricing.prepare import prepare  # noqa: E402
from engine.wire.decode import request_from_json  # noqa: E402

SHOPS = 10


def instance(coupons: int, stacking: str, seed: int = 3):
    rng = random.Random(seed)
    text = f'ruleset "b" {{\n currency CNY\n stacking {stacking}\n}}\n'
    text += 'promotion "cross" {\n level platform\n discount 30 every 300 max 300\n}\n'
    wallet = []
    for i in range(coupons):
        shop = i % SHOPS
        threshold = rng.choice([99, 149, 199, 299])
        text += (f'coupon "s{i}" {{\n level shop\n scope shop == "S{shop}"\n when amount >= {threshold}\n'
                 f" discount {rng.choice([10, 15, 20, 30, 40])}\n}}\n")
        wallet.append(f"s{i}")
    for i in range(5):
        text += f'coupon "p{i}" {{\n level platform\n when amount >= {800 + 400 * i}\n discount {60 + 40 * i}\n}}\n'
        wallet.append(f"p{i}")
    lines = [{"id": f"l{k:02d}", "sku": f"K{k}", "shop": f"S{k % SHOPS}", "price": f"{rng.randint(60, 260)}.00",
              "quantity": 1} for k in range(2 * SHOPS)]
    plan = compile_plan(load_sources([SourceFile("b.promo", text)]))
    cart = {"at": "2026-11-11T10:00:00+08:00", "lines": lines, "wallet": wallet, "explain": "EXPLAIN_OFF"}
    return plan, request_from_json(cart, plan.digits, plan.timezone), coupons


def mixed_instance(coupons: int, stacking: str, seed: int = 11):
    """A 双11 wallet as buyers hold it (and as an attacker would send it): item, shop and
    platform coupons in the same shops, in groups and exclusive, beside automatic promotions, on
    a 20-line cart over 10 shops. The ruleset has 200 coupons; the wallet holds the first
    `coupons` of them."""
    rng = random.Random(seed)
    text = (f'ruleset "m" {{\n currency CNY\n stacking {stacking}\n group "platform-coupon" max 1\n'
            f' group "shop-extra" max 2\n group "brand-day" max 1\n}}\n'
            'promotion "cross" { level platform discount 30 every 300 max 300 }\n'
            'promotion "s0-auto" { level shop scope shop == "S0" when amount >= 200 discount 20 }\n'
            'promotion "k3-direct" { level item scope sku == "K3" discount 10 each }\n'
            'promotion "brand-a" { level shop scope shop in ["S1", "S2"] discount 5% group "brand-day" }\n')
    for i in range(200):
        kind = rng.choices(["item", "shop", "platform"], weights=[5, 10, 3])[0]
        clauses = [f"level {kind}"]
        if kind == "item":
            clauses.append(rng.choice([f'scope sku == "K{rng.randrange(20)}"', f'scope shop == "S{rng.randrange(10)}"']))
            clauses.append(rng.choice([f"discount {rng.choice([3, 5, 8, 10, 15])}", f"discount {rng.choice([5, 10, 12])}%"]))
        elif kind == "shop":
            clauses.append(f'scope shop == "S{rng.randrange(10)}"')
            clauses.append(f"when amount >= {rng.choice([99, 149, 199, 299])}")
            clauses.append(f"discount {rng.choice([10, 15, 20, 30, 40])}")
            extra = rng.random()
            clauses += ['group "shop-extra"'] if extra < 0.15 else ["exclusive"] if extra < 0.2 else []
        else:
            clauses.append(f"when amount >= {rng.choice([300, 600, 1000, 1500, 2000])}")
            clauses.append(f"discount {rng.choice([20, 40, 60, 100, 150])}")
            clauses.append('group "platform-coupon"')
        text += f'coupon "c{i:03d}" {{ {" ".join(clauses)} }}\n'
    lines = [{"id": f"l{k:02d}", "sku": f"K{k}", "shop": f"S{k % SHOPS}", "price": f"{rng.randint(60, 260)}.00",
              "quantity": rng.choice([1, 1, 2])} for k in range(2 * SHOPS)]
    plan = compile_plan(load_sources([SourceFile("m.promo", text)]))
    cart = {"at": "2026-11-11T10:00:00+08:00", "lines": lines, "wallet": [f"c{i:03d}" for i in range(coupons)],
            "explain": "EXPLAIN_OFF"}
    return plan, request_from_json(cart, plan.digits, plan.timezone), coupons


def feasible_choices(coupons: int) -> int:
    per_shop = [sum(1 for i in range(coupons) if i % SHOPS == s) + 1 for s in range(SHOPS)]
    return prod(per_shop) * 6  # one coupon or none per shop, times one of 5 platform coupons or none


def rows(wallets=(10, 20, 30, 50), stackings=("parallel", "progressive"), repeat: int = 30) -> list[dict]:
    """Per stacking mode and wallet size: p50/p90 ms of the search, choices it priced, feasible choices."""
    out = []
    for stacking in stackings:
        for coupons in wallets:
            plan, request, _ = instance(coupons, stacking)
            runs, priced = [], 0
            for _ in range(repeat):
                start = time.perf_counter()
                choice = choose(prepare(plan, request), explain=False)
                runs.append((time.perf_counter() - start) * 1000)
                priced = choice.evaluations
            runs.sort()
            out.append({"stacking": stacking, "wallet": coupons + 5, "p50": statistics.median(runs),
                        "p90": runs[int(len(runs) * 0.9)], "priced": priced, "feasible": feasible_choices(coupons)})
    return out


def mixed_rows(wallets=(20, 50, 100, 200), stackings=("parallel", "progressive"), seeds=range(5),
               repeat: int = 3) -> list[dict]:
    """Per stacking mode and wallet size, over `seeds` mixed-level instances (`mixed_instance`),
    each searched `repeat` times: p50 and max ms (prepare included), the most choices priced,
    and whether every answer is proven optimal."""
    out = []
    for stacking in stackings:
        for coupons in wallets:
            runs, priced, optimal = [], 0, True
            for seed in seeds:
                plan, request, _ = mixed_instance(coupons, stacking, seed=11 + seed)
                for _ in range(repeat):
                    start = time.perf_counter()
                    choice = choose(prepare(plan, request), explain=False)
                    runs.append((time.perf_counter() - start) * 1000)
                    priced, optimal = max(priced, choice.evaluations), optimal and choice.stopped is None
            out.append({"stacking": stacking, "wallet": coupons, "p50": statistics.median(runs), "max": max(runs),
                        "priced": priced, "optimal": optimal, "instances": len(seeds)})
    return out


def versus_brute_force(wallets=(2, 4, 6, 8), stackings=("parallel", "progressive"), repeat: int = 5,
                       brute_repeat: int = 1) -> list[dict]:
    """The search and brute force on the same small instances: p50 ms of each (prepare included),
    choices each priced, and whether they found the same payable."""
    out = []
    for stacking in stackings:
        for coupons in wallets:
            plan, request, _ = instance(coupons, stacking)
            search, brute = [], []
            for _ in range(repeat):
                start = time.perf_counter()
                choice = choose(prepare(plan, request), explain=False)
                search.append((time.perf_counter() - start) * 1000)
            for _ in range(brute_repeat):
                start = time.perf_counter()
                _, _, best, priced = exhaustive(prepare(plan, request))
                payable = best.payable
                brute.append((time.perf_counter() - start) * 1000)
            out.append({"stacking": stacking, "wallet": coupons + 5, "search": statistics.median(search),
                        "brute": statistics.median(brute), "search_priced": choice.evaluations,
                        "brute_priced": priced, "same": choice.pricing.payable == payable})
    return out


def main() -> None:
    print(f"{'stacking':<12}{'wallet':>8}{'median':>10}{'p90':>10}{'choices priced':>16}{'feasible choices':>18}")
    for r in rows():
        print(f"{r['stacking']:<12}{r['wallet']:>8}{r['p50']:>8.2f}ms{r['p90']:>8.2f}ms{r['priced']:>16}{r['feasible']:>18,}")
    print(f"\nmixed-level wallets\n{'stacking':<12}{'wallet':>8}{'p50':>10}{'max':>10}{'priced':>8}{'optimal':>9}")
    for r in mixed_rows():
        print(f"{r['stacking']:<12}{r['wallet']:>8}{r['p50']:>8.2f}ms{r['max']:>8.2f}ms{r['priced']:>8}"
              f"{'yes' if r['optimal'] else 'no':>9}")
    print(f"\n{'stacking':<12}{'wallet':>8}{'search':>10}{'brute':>11}{'priced':>8}{'brute priced':>14}{'same':>6}")
    for r in versus_brute_force():
        print(f"{r['stacking']:<12}{r['wallet']:>8}{r['search']:>8.2f}ms{r['brute']:>9.1f}ms{r['search_priced']:>8}"
              f"{r['brute_priced']:>14,}{'yes' if r['same'] else 'NO':>6}")


if __name__ == "__main__":
    main()
