"""Seeded generators of realistic rule packs and carts for the benchmarks.

The mix follows a marketplace at 双11: mostly shop coupons and item discounts, some shop
promotions, a few cross-shop (platform) promotions and coupons.
"""

from __future__ import annotations

import random

CATEGORIES = ["shoes", "nuts", "phones", "tea", "toys", "books", "beauty", "kitchen"]


def ruleset_text(promotions: int, shops: int, seed: int = 1, stacking: str = "parallel") -> str:
    rng = random.Random(seed)
    out = [
        'ruleset "bench" {\n    currency CNY\n    timezone "Asia/Shanghai"\n'
        f'    stacking {stacking}\n    group "platform-coupon" max 1\n}}\n'
    ]
    for i in range(promotions):
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
        elif roll < 0.93:  # 店铺满减 / 阶梯 / 折
            body = rng.choice(
                [
                    f"when amount >= {rng.choice([100, 200])}\n    discount {rng.choice([10, 20])}",
                    "tiers { amount >= 300: discount 60; amount >= 200: discount 30 }",
                    f'when category == "{rng.choice(CATEGORIES)}" or quantity >= 2\n    discount 8.8折 max 100',
                    "nth 2 discount 50%",
                ]
            )
            out.append(f'promotion "shop-promo-{i}" {{\n    level shop\n    scope shop == "{shop}"\n    {body}\n}}\n')
        elif roll < 0.98:  # 跨店每满减
            out.append(
                f'promotion "cross-{i}" {{\n    level platform\n    active 2026-11-01 .. 2026-11-12\n'
                f'    scope not (category in ["books"])\n    discount 50 every 300 max 500\n}}\n'
            )
        else:  # 平台券
            out.append(
                f'coupon "platform-coupon-{i}" {{\n    level platform\n    group "platform-coupon"\n'
                f"    when amount >= 399 and user.level >= 2\n    discount 40\n}}\n"
            )
    return "\n".join(out)
