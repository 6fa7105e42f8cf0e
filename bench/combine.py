"""Combination bench: time to the optimal coupon set for growing wallets.

Wallets of 10, 20, 30 and 50 shop coupons over 10 shops, plus 5 platform coupons, on a cart of
20 lines in those 10 shops, in both stacking modes. Prints the median time, how many choices
the search priced, and how many feasible choices there are (what brute force would price).

Run: `make bench` or `.venv/bin/python bench/combine.py`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from math import prod
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine.combine import choose  # noqa: E402
from engine.compiler import compile_plan  # noqa: E402
from engine.evaluate import prepare  # noqa: E402
from engine.load import load_sources  # noqa: E402
from engine.request import request_from_json  # noqa: E402
from engine.source import SourceFile  # noqa: E402

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


def main() -> None:
    print(f"{'stacking':<12}{'wallet':>8}{'median':>10}{'p90':>10}{'choices priced':>16}{'feasible choices':>18}")
    for stacking in ("parallel", "progressive"):
        for coupons in (10, 20, 30, 50):
            plan, request, _ = instance(coupons, stacking)
            runs, priced = [], 0
            for _ in range(30):
                start = time.perf_counter()
                choice = choose(prepare(plan, request), explain=False)
                runs.append((time.perf_counter() - start) * 1000)
                priced = choice.evaluations
            runs.sort()
            per_shop = [sum(1 for i in range(coupons) if i % SHOPS == s) + 1 for s in range(SHOPS)]
            feasible = prod(per_shop) * 6  # one coupon or none per shop, times one of 5 platform coupons or none
            print(f"{stacking:<12}{coupons + 5:>8}{statistics.median(runs):>8.2f}ms{runs[int(len(runs) * 0.9)]:>8.2f}ms"
                  f"{priced:>16}{feasible:>18,}")


if __name__ == "__main__":
    main()
