"""Evaluate bench: median in-process evaluate time of one realistic cart against rulesets of
growing size. Cost should follow the cart, not the ruleset.

Run: `make bench` (or `.venv/bin/python bench/evaluate.py`). Prints a table.
`bench/run.py` reuses `plan_of`, `request_for` and `latency_ms` for docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gen import cart_json, ruleset_files  # noqa: E402

from engine.lang.load import load_sources  # noqa: E402
from engine.lang.source import SourceFile  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.pricing.prepare import candidates_for  # noqa: E402
from engine.pricing.quote import evaluate  # noqa: E402
from engine.wire.decode import request_from_json  # noqa: E402

EXPLAIN_MODES = ("EXPLAIN_OFF", "EXPLAIN_REASONS", "EXPLAIN_TRACE")
WALLET = ["platform-coupon-0", "platform-coupon-2"]


def percentile(sorted_runs: list[float], q: float) -> float:
    """The q-quantile of an ascending list (nearest rank)."""
    return sorted_runs[max(0, min(len(sorted_runs) - 1, int(len(sorted_runs) * q + 0.5) - 1))]


def median_ms(fn, repeat: int) -> tuple[float, float]:
    """(p50, p99) of `repeat` timed calls of `fn` after one warm-up call, in ms."""
    fn()  # warm up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    runs.sort()
    return statistics.median(runs), percentile(runs, 0.99)


latency_ms = median_ms


def plan_of(promotions: int, shops: int):
    loaded = load_sources([SourceFile(name, text) for name, text in ruleset_files(promotions, shops)])
    assert loaded.ok
    return compile_plan(loaded)


def request_for(plan, lines: int, shops: int, ruleset_shops: int, explain: str = "EXPLAIN_OFF"):
    """The seeded cart of `lines` lines over `shops` shops, as the engine's Request."""
    cart = cart_json(lines=lines, shops=shops, ruleset_shops=ruleset_shops, wallet=WALLET)
    return request_from_json({**cart, "explain": explain}, plan.digits, plan.timezone)


def rows(plan, ruleset_shops: int, lines: int = 30, shops: int = 5, repeat: int = 200,
         modes=EXPLAIN_MODES) -> list[dict]:
    """One row per explain mode: p50/p99 ms of evaluate and the candidates the index found. The
    modes take turns call by call, so a burst of load elsewhere on the machine hits them alike."""
    requests = [request_for(plan, lines, shops, ruleset_shops, explain) for explain in modes]
    for request in requests:
        evaluate(plan, request)  # warm up
    runs: list[list[float]] = [[] for _ in modes]
    for _ in range(repeat):
        for request, times in zip(requests, runs):
            start = time.perf_counter()
            evaluate(plan, request)
            times.append((time.perf_counter() - start) * 1000)
    out = []
    for explain, request, times in zip(modes, requests, runs):
        times.sort()
        out.append({"explain": explain, "p50": statistics.median(times), "p99": percentile(times, 0.99),
                    "candidates": len(candidates_for(plan, request.lines))})
    return out


def main() -> None:
    """A marketplace grows by adding shops, each with about ten promotions; a cart still
    touches five shops. The first rows are the issue's headline: 10,000 over 1,000 shops."""
    print(f"{'promotions':>11}{'shops':>8}  {'cart':<18}{'explain':<17}{'median':>9}{'p99':>9}{'candidates':>12}")
    for promotions, shops in ((10_000, 1_000), (100, 10), (100_000, 10_000)):
        plan = plan_of(promotions, shops)
        for r in rows(plan, shops):
            print(f"{promotions:>11,}{shops:>8,}  {'30 lines, 5 shops':<18}{r['explain']:<17}{r['p50']:>7.2f}ms"
                  f"{r['p99']:>7.2f}ms{r['candidates']:>12}")


if __name__ == "__main__":
    main()
