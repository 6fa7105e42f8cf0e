"""Front-end bench: parse + check time for generated rulesets and for the bundled examples, and
for the largest generated ruleset the time of each checker pass and lint and of each compiler
stage (their named lists, engine/lang/checker.py PASSES and engine/plan/compiler.py STAGES).

Run: `make bench` (or `.venv/bin/python bench/parse_check.py`). Prints tables.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen import ruleset_text  # noqa: E402

from engine.lang.checker import check_ruleset  # noqa: E402
from engine.lang.load import load_ruleset, load_sources  # noqa: E402
from engine.lang.parser import grammar_parser  # noqa: E402
from engine.lang.source import SourceFile, ruleset_roots  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    start = time.perf_counter()
    grammar_parser()
    print(f"grammar load: {(time.perf_counter() - start) * 1000:.0f} ms (once per process)\n")
    print(f"{'ruleset':<28}{'lines':>9}{'parse+check':>14}{'per promotion':>16}")
    for n in (100, 1_000, 10_000):
        text = ruleset_text(n, shops=max(n // 10, 1))
        sources = [SourceFile("bench.promo", text)]
        loaded = load_sources(sources)
        errors = [d for d in loaded.diagnostics if d.is_error]
        assert not errors, errors[:3]
        seconds = timed(lambda sources=sources: load_sources(sources), repeat=3 if n < 10_000 else 1)
        print(f"{f'generated, {n} promotions':<28}{text.count(chr(10)):>9}{seconds:>13.3f}s"
              f"{seconds / n * 1e6:>13.0f} µs")
    examples = Path(__file__).resolve().parent.parent / "examples"
    roots = ruleset_roots(examples)
    seconds = timed(lambda: [load_ruleset(root) for root in roots], repeat=5)
    files = sum(len(load_ruleset(root).sources) for root in roots)
    print(f"{f'examples/ ({len(roots)} packs, {files} files)':<28}{'':>9}{seconds:>13.3f}s")
    stages(loaded)


def stages(loaded) -> None:
    """Seconds of each checker pass and lint, and of each compiler stage, on `loaded`."""
    checker: dict[str, float] = {}
    check_ruleset(loaded.files, checker)
    compiler: dict[str, float] = {}
    compile_plan(loaded, compiler)
    print(f"\n{'stage (largest ruleset)':<40}{'seconds':>10}")
    for part, metrics in (("check", checker), ("compile", compiler)):
        for name, seconds in metrics.items():
            print(f"{f'{part}: {name}':<40}{seconds:>10.3f}")
        print(f"{f'{part}, total':<40}{sum(metrics.values()):>10.3f}")


if __name__ == "__main__":
    main()
