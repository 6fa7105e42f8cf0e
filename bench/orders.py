"""Seeded generators of historical orders (JSON Lines of EvaluateRequests with their order time)
for `promo backtest`: from a catalog (the double11 example's), or for the generated bench
rulesets of bench/gen.py (any number of orders, streamed to the file).

    .venv/bin/python bench/orders.py --rules examples/double11 --catalog examples/double11/catalog.csv \\
        --orders 3000 --seed 11 --out examples/double11/orders.jsonl
    .venv/bin/python bench/orders.py --bench 10000 --orders 100000 --out /tmp/orders.jsonl

The same arguments always write the same bytes. Order times fall between 2026-11-01 and the end
of 2026-11-11 (Asia/Shanghai), a third of them on 11-11 itself, in time order; buyers are of every
level, some new, some 88VIP; a wallet holds a few of the ruleset's coupons.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from gen import CATEGORIES  # noqa: E402

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 1, tzinfo=CST)
MAIN_DAY = datetime(2026, 11, 11, tzinfo=CST)
CHANNELS = ("app", "app", "app", "mini", "pc")


def coupon_names(rules_text: str) -> list[str]:
    return sorted(set(re.findall(r'^\s*coupon\s+"([^"]+)"', rules_text, re.M)))


def _times(rng: random.Random, n: int) -> list[datetime]:
    """n order times, sorted: two thirds over 11-01..11-10, a third on 11-11."""
    out = []
    for _ in range(n):
        if rng.random() < 1 / 3:
            out.append(MAIN_DAY + timedelta(seconds=rng.randrange(86_400)))
        else:
            out.append(START + timedelta(seconds=rng.randrange(10 * 86_400)))
    return sorted(out)


def _user(rng: random.Random, i: int) -> dict:
    user: dict = {"id": f"u-{rng.randrange(max(10, i // 3 + 10))}", "level": rng.choice((0, 1, 2, 3, 3, 4, 5, 6, 7))}
    tags = ["88vip"] if rng.random() < 0.15 else []
    if tags:
        user["tags"] = tags
    if rng.random() < 0.1:
        user["new"] = True
    return user


def _wallet(rng: random.Random, coupons: list[str]) -> list[str]:
    if not coupons:
        return []
    return sorted(rng.sample(coupons, min(len(coupons), rng.choice((0, 1, 2, 2, 3, 4)))))


def catalog_orders(catalog: list[dict], coupons: list[str], n: int, seed: int) -> Iterator[dict]:
    """Orders of 1..3 shops of the catalog, 1..2 of a shop's SKUs each, 1..3 units a line."""
    rng = random.Random(seed)
    by_shop: dict[str, list[dict]] = {}
    for item in catalog:
        by_shop.setdefault(item["shop"], []).append(item)
    shops = sorted(by_shop)
    for i, at in enumerate(_times(rng, n), start=1):
        lines = []
        for shop in rng.sample(shops, rng.choice((1, 1, 2, 2, 3))):
            for item in rng.sample(by_shop[shop], min(len(by_shop[shop]), rng.choice((1, 1, 2)))):
                line = {"id": f"l{len(lines) + 1}", "sku": item["sku"], "shop": shop, "category": item["category"],
                        "price": item["price"], "quantity": rng.choice((1, 1, 1, 2, 2, 3))}
                if item.get("brand"):
                    line["brand"] = item["brand"]
                if item.get("tags"):
                    line["tags"] = item["tags"]
                lines.append(line)
        yield {"order_id": f"D11-{i:06d}", "at": at.isoformat(), "user": _user(rng, i),
               "channel": rng.choice(CHANNELS), "lines": lines,
               "shipping": {shop: rng.choice(("0.00", "0.00", "6.00", "8.00")) for shop in sorted({x["shop"] for x in lines})},
               "wallet": _wallet(rng, coupons)}


def bench_orders(shops: int, coupons: list[str], n: int, seed: int) -> Iterator[dict]:
    """Orders for bench/gen.py's ruleset of `shops` shops: 1..8 lines over 1..4 shops, the SKUs,
    categories and prices drawn as gen.cart_json draws them."""
    rng = random.Random(seed)
    for i, at in enumerate(_times(rng, n), start=1):
        chosen = rng.sample(range(shops), rng.choice((1, 1, 2, 2, 3, 4)))
        count = rng.randint(len(chosen), min(8, 2 * len(chosen) + 1))
        lines = [{"id": f"l{k + 1}", "sku": f"SKU-{rng.randrange(shops * 20)}", "shop": f"S{chosen[k % len(chosen)]}",
                  "category": rng.choice(CATEGORIES), "price": f"{rng.randint(5, 500)}.{rng.randint(0, 99):02d}",
                  "quantity": rng.randint(1, 3)} for k in range(count)]
        yield {"order_id": f"B-{i:08d}", "at": at.isoformat(), "user": _user(rng, i), "channel": rng.choice(CHANNELS),
               "lines": lines, "shipping": {f"S{s}": "8.00" for s in sorted(chosen)},
               "wallet": _wallet(rng, coupons)}


def write(orders: Iterator[dict], path: str | Path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for order in orders:
            out.write(json.dumps(order, ensure_ascii=False, separators=(",", ":")) + "\n")
            n += 1
    return n


def read_catalog_items(path: str) -> list[dict]:
    from engine.apps.catalog import CatalogItem, read_catalog
    from engine.base.money import format_money

    items = []
    for row in read_catalog(path, 2):
        if isinstance(row, CatalogItem):
            items.append({"sku": row.sku, "shop": row.shop, "category": row.category, "brand": row.brand,
                          "tags": sorted(row.tags), "price": format_money(row.price, 2)})
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description="write seeded historical orders as JSON Lines")
    parser.add_argument("--out", required=True)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rules", help="a ruleset directory: its coupons go into wallets")
    parser.add_argument("--catalog", help="CSV or JSON Lines catalog the orders buy from")
    parser.add_argument("--bench", type=int, metavar="PROMOTIONS",
                        help="orders for bench/gen.py's ruleset of this many promotions (shops = promotions / 10)")
    args = parser.parse_args()
    if args.bench:
        from gen import ruleset_text

        shops = max(args.bench // 10, 1)
        n = write(bench_orders(shops, coupon_names(ruleset_text(args.bench, shops)), args.orders, args.seed), args.out)
    else:
        if not args.catalog:
            parser.error("--catalog (with --rules) or --bench")
        text = "".join(p.read_text(encoding="utf-8") for p in sorted(Path(args.rules).glob("*.promo"))
                       if not p.name.endswith("_test.promo")) if args.rules else ""
        n = write(catalog_orders(read_catalog_items(args.catalog), coupon_names(text), args.orders, args.seed),
                  args.out)
    print(f"{n} orders -> {args.out}")


if __name__ == "__main__":
    main()
