"""Evaluate bench: median in-process evaluate time of one realistic cart against rulesets of
growing size. Cost should follow the cart, not the ruleset.

Run: `make bench` (or `.venv/bin/python bench/evaluate.py`). Prints a table.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen import cart_json, ruleset_text  # noqa: E402

from engine.compiler import compile_plan  # noqa: E402
from engine.load import load_sources  # noqa: E402
from engine.quote import evaluate  # noqa: E402
from engine.request import request_from_json  # noqa: E402
from engine.source import SourceFile  # noqa: E402


def median_ms(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return statistics.median(runs), runs[int(len(runs) * 0.99) - 1]


def plan_of(promotions: int, shops: int):
    loaded = load_sources([SourceFile("bench.promo", ruleset_text(promotions, shops))])
    assert loaded.ok
    return compile_plan(loaded)


WALLET = ["platform-coupon-0", "platform-coupon-2"]


def main() -> None:
    """A marketplace grows by adding shops, each with about ten promotions; a cart still
    touches five shops. The first rows are the issue's headline: 10,000 over 1,000 shops."""
    print(f"{'promotions':>11}{'shops':>8}  {'cart':<18}{'explain':<17}{'median':>9}{'p99':>9}{'candidates':>12}")
    for promotions, shops in ((10_000, 1_000), (100, 10), (100_000, 10_000)):
        plan = plan_of(promotions, shops)
        cart = cart_json(lines=30, shops=5, ruleset_shops=shops, wallet=WALLET)
        for explain in ("EXPLAIN_OFF", "EXPLAIN_REASONS", "EXPLAIN_TRACE"):
            request = request_from_json({**cart, "explain": explain}, plan.digits, plan.timezone)
            median, p99 = median_ms(lambda: evaluate(plan, request), repeat=200)
            candidates = len(plan.candidates_for(request.lines))
            print(f"{promotions:>11,}{shops:>8,}  {'30 lines, 5 shops':<18}{explain:<17}{median:>7.2f}ms{p99:>7.2f}ms{candidates:>12}")


if __name__ == "__main__":
    main()
