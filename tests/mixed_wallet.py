"""A 200-coupon 双11 wallet of every level, the slow case of the exact combination search (issue
13): item coupons on skus and shops, shop coupons with thresholds (some exclusive, some in
shop-coupon groups) and platform coupons of which one may apply, over a 20-line cart in 10 shops.
Written as a rules folder, for a server process to load."""

from __future__ import annotations

from pathlib import Path

from server.gen.promo.v1 import promo_pb2 as pb

SHOPS = 10
LINES = 20
COUPONS = 200


def _coupon(i: int) -> str:
    shop = f"S{i % SHOPS}"
    if i % 4 == 0:  # item coupons, on one sku or on a shop's items
        scope = f'sku == "K{i % LINES}"' if i % 8 == 0 else f'shop == "{shop}"'
        return f"level item scope {scope} discount {3 + i % 5} each"
    if i % 4 == 3:  # platform coupons: one per order
        return f'level platform when amount >= {300 + 100 * (i % 7)} discount {20 + 10 * (i % 6)} group "platform-coupon"'
    extra = ' exclusive' if i % 13 == 1 else f' group "{shop}-extra"' if i % 5 == 2 else ""
    return f'level shop scope shop == "{shop}" when amount >= {99 + 50 * (i % 4)} discount {10 + 5 * (i % 5)}{extra}'


def write_rules(folder: Path) -> Path:
    """The ruleset of the wallet's coupons in `folder`; returns the folder."""
    groups = "".join(f'  group "S{s}-extra" max 2\n' for s in range(SHOPS))
    text = (f'ruleset "mixed" {{\n  currency CNY\n  stacking parallel\n  group "platform-coupon" max 1\n{groups}}}\n'
            'promotion "cross" { level platform discount 30 every 300 max 300 }\n'
            + "".join(f'coupon "c{i:03d}" {{ {_coupon(i)} }}\n' for i in range(COUPONS)))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.promo").write_text(text, encoding="utf-8")
    return folder


def request(coupons: int = COUPONS, lines: int = LINES) -> pb.EvaluateRequest:
    """The cart with the first `coupons` coupons in its wallet."""
    return pb.EvaluateRequest(
        at="2026-11-11T10:00:00+08:00",
        lines=[pb.Line(id=f"l{k:02d}", sku=f"K{k}", shop=f"S{k % SHOPS}", price=f"{60 + 37 * k % 200}.00",
                       quantity=1 + k % 2) for k in range(lines)],
        wallet=[pb.WalletCoupon(coupon=f"c{i:03d}", id=f"w{i}") for i in range(coupons)],
    )
