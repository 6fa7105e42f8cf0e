"""Hostile-input bench: requests built to make one call compute for long (issue 13), each timed
in-process. Every one should answer in well under half a second.

- a 10,000-line cart through Qualify, with the seed's coupon held;
- a 50-shop cart against a shop-level promotion with 100 percentage tiers (the checker's limit
  per clause) and ten such promotions, 1,000 tiers in all;
- `nth 2` over a 10,000-line cart.

Run: `make bench` or `.venv/bin/python bench/hostile.py`. `bench/run.py` reuses `rows`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.apps.qualify import qualify  # noqa: E402
from engine.lang.load import load_sources  # noqa: E402
from engine.lang.source import SourceFile  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.pricing.quote import evaluate  # noqa: E402
from engine.wire.decode import request_from_json  # noqa: E402

HEADER = 'ruleset "h" { currency CNY timezone "Asia/Shanghai" stacking parallel }\n'


def _plan(text: str):
    loaded = load_sources([SourceFile("h.promo", HEADER + text)])
    assert loaded.ok, [d.message for d in loaded.diagnostics if d.is_error][:3]
    return compile_plan(loaded)


def _lines(count: int, shops: int) -> list[dict]:
    return [{"id": f"l{k:05d}", "sku": f"K{k % 97}", "shop": f"S{k % shops}", "price": f"{20 + k % 180}.{k % 100:02d}",
             "quantity": 1 + k % 3} for k in range(count)]


def _cart(lines: list[dict], wallet=()) -> dict:
    return {"at": "2026-11-11T10:00:00+08:00", "lines": lines, "wallet": list(wallet)}


def cases() -> list[tuple[str, object]]:
    """(what, a call to time)."""
    seed = _plan('promotion "k3-direct" { level item scope sku == "K3" discount 1 each }\n'
                 'coupon "s1-100-10" { level shop scope shop == "S1" when amount >= 100 discount 10 }\n'
                 'coupon "plat-300-30" { level platform when amount >= 300 discount 30 }\n'
                 'promotion "cross" { level platform discount 30 every 300 max 300 }\n')
    big = request_from_json(_cart(_lines(10_000, 20), ["s1-100-10", "plat-300-30"]), seed.digits, seed.timezone)
    tiers = "; ".join(f"amount >= {100 + 10 * t}: discount {1 + t % 60}%" for t in range(100))
    tiered = _plan("".join(f'promotion "tiers-{p}" {{ level shop tiers {{ {tiers} }} }}\n' for p in range(10)))
    shops = request_from_json(_cart(_lines(100, 50)), tiered.digits, tiered.timezone)
    nth = _plan('promotion "half" { level shop nth 2 discount 50% }\n')
    many = request_from_json(_cart([dict(line, quantity=1 + k % 97) for k, line in enumerate(_lines(10_000, 5))]),
                             nth.digits, nth.timezone)  # many distinct quantities: unit prices over their lcm
    return [
        ("Qualify, 10,000 lines, 2 coupons held", lambda: qualify(seed, big)),
        ("Evaluate, 50 shops x 10 promotions x 100 percent tiers", lambda: evaluate(tiered, shops)),
        ("Evaluate, `nth 2` over 10,000 lines of 1-97 units", lambda: evaluate(nth, many)),
    ]


def rows(repeat: int = 3) -> list[dict]:
    out = []
    for what, call in cases():
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            call()
            runs.append(time.perf_counter() - start)
        out.append({"what": what, "best_s": min(runs), "max_s": max(runs)})
    return out


def main() -> None:
    for r in rows():
        print(f"{r['what']:<60}{r['best_s']:>8.3f} s{r['max_s']:>8.3f} s")


if __name__ == "__main__":
    main()
