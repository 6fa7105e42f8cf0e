"""Front-end bench: parse + check time for generated rulesets and for the bundled examples.

Run: `make bench` (or `.venv/bin/python bench/parse_check.py`). Prints a table.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen import ruleset_text  # noqa: E402

from engine.lang.load import load_ruleset, load_sources  # noqa: E402
from engine.lang.parser import _lark  # noqa: E402
from engine.lang.source import SourceFile, ruleset_roots  # noqa: E402


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    start = time.perf_counter()
    _lark()
    print(f"grammar load: {(time.perf_counter() - start) * 1000:.0f} ms (once per process)\n")
    print(f"{'ruleset':<28}{'lines':>9}{'parse+check':>14}{'per promotion':>16}")
    for n in (100, 1_000, 10_000):
        text = ruleset_text(n, shops=max(n // 10, 1))
        sources = [SourceFile("bench.promo", text)]
        loaded = load_sources(sources)
        errors = [d for d in loaded.diagnostics if d.is_error]
        assert not errors, errors[:3]
        seconds = timed(lambda: load_sources(sources), repeat=3 if n < 10_000 else 1)
        print(f"{f'generated, {n} promotions':<28}{text.count(chr(10)):>9}{seconds:>13.3f}s{seconds / n * 1e6:>13.0f} µs")
    examples = Path(__file__).resolve().parent.parent / "examples"
    roots = ruleset_roots(examples)
    seconds = timed(lambda: [load_ruleset(root) for root in roots], repeat=5)
    files = sum(len(load_ruleset(root).sources) for root in roots)
    print(f"{f'examples/ ({len(roots)} packs, {files} files)':<28}{'':>9}{seconds:>13.3f}s")


if __name__ == "__main__":
    main()
