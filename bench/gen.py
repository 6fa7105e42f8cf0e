"""Seeded generators of realistic rule packs and carts for the benchmarks.

The mix follows a marketplace at 双11: mostly shop coupons and item discounts, some shop
promotions, a few cross-shop (platform) promotions and coupons.
"""

from __future__ import annotations

import random

CATEGORIES = ["shoes", "nuts", "phones", "tea", "toys", "books", "beauty", "kitchen"]


PLATFORM_PROMOTIONS = 5  # a marketplace runs a handful of cross-shop promotions, whatever its size
PLATFORM_COUPONS = 5


def ruleset_text(promotions: int, shops: int, seed: int = 1, stacking: str = "parallel") -> str:
    return "\n".join(ruleset_blocks(promotions, shops, seed, stacking))


def ruleset_files(promotions: int, shops: int, per_file: int = 10_000, **options) -> list[tuple[str, str]]:
    """The same ruleset as (name, text) files: the header and up to `per_file` blocks in each
    (one file of 100,000 promotions is past the checker's limit on a file's size)."""
    blocks = ruleset_blocks(promotions, shops, **options)
    return [(f"bench-{k // per_file:03d}.promo", "\n".join(blocks[k:k + per_file]))
            for k in range(0, len(blocks), per_file)]


def ruleset_blocks(promotions: int, shops: int, seed: int = 1, stacking: str = "parallel") -> list[str]:
    """The header, then one block per promotion."""
    rng = random.Random(seed)
    out = [
        'ruleset "bench" {\n    currency CNY\n    timezone "Asia/Shanghai"\n'
        f'    stacking {stacking}\n    group "platform-coupon" max 1\n}}\n'
    ]
    for i in range(PLATFORM_PROMOTIONS):  # 跨店每满减
        out.append(
            f'promotion "cross-{i}" {{\n    level platform\n    active 2026-11-01 .. 2026-11-12\n'
            f'    scope not (category in ["books"])\n    discount {10 * (i + 1)} every {100 * (i + 2)} max 500\n}}\n'
        )
    for i in range(PLATFORM_COUPONS):  # 平台券
        out.append(
            f'coupon "platform-coupon-{i}" {{\n    level platform\n    group "platform-coupon"\n'
            f"    when amount >= {199 + 100 * i} and user.level >= 2\n    discount {20 + 10 * i}\n}}\n"
        )
    for i in range(max(0, promotions - PLATFORM_PROMOTIONS - PLATFORM_COUPONS)):
        roll = rng.random()
        shop = f"S{rng.randrange(shops)}"
        if roll < 0.35:  # 单品直降 / 限时价
            sku = f"SKU-{rng.randrange(shops * 20)}"
            benefit = rng.choice([f"discount {rng.randint(1, 20)} each", f"price {rng.randint(5, 80)}.90 each"])
            out.append(f'promotion "item-{i}" {{\n    level item\n    scope sku == "{sku}"\n    {benefit}\n}}\n')
        elif roll < 0.75:  # 店铺券
            threshold = rng.choice([99, 100, 150, 199, 200, 299, 300])
            off = rng.choice([5, 10, 20, 30, 50])
            out.append(
                f'coupon "shop-coupon-{i}" {{\n    level shop\n    scope shop == "{shop}"\n'
                f"    when amount >= {threshold}\n    discount {off}\n}}\n"
            )
        else:  # 店铺满减 / 阶梯 / 折
            body = rng.choice(
                [
                    f"when amount >= {rng.choice([100, 200])}\n    discount {rng.choice([10, 20])}",
                    "tiers { amount >= 300: discount 60; amount >= 200: discount 30 }",
                    'when quantity >= 2 or user.level >= 3\n    discount 8.8折 max 100',
                    "nth 2 discount 50%",
                ]
            )
            out.append(f'promotion "shop-promo-{i}" {{\n    level shop\n    scope shop == "{shop}"\n    {body}\n}}\n')
    return out


def cart_json(lines: int, shops: int, ruleset_shops: int, seed: int = 7, wallet: list[str] | None = None) -> dict:
    """A cart of `lines` lines over `shops` of the ruleset's shops, in service.md's JSON form."""
    rng = random.Random(seed)
    chosen = rng.sample(range(ruleset_shops), shops)
    return {
        "at": "2026-11-11T10:00:00+08:00",
        "user": {"id": "u1", "level": 3},
        "lines": [
            {
                "id": f"l{i:03d}",
                "sku": f"SKU-{rng.randrange(ruleset_shops * 20)}",
                "shop": f"S{chosen[i % shops]}",
                "category": rng.choice(CATEGORIES),
                "price": f"{rng.randint(5, 500)}.{rng.randint(0, 99):02d}",
                "quantity": rng.randint(1, 3),
            }
            for i in range(lines)
        ],
        "shipping": {f"S{s}": "8.00" for s in chosen},
        "wallet": wallet or [],
    }
