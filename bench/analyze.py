"""Analyze bench (促销预警): SKUs per second of `promo analyze` on a generated 100,000-SKU catalog
against a 5,000-promotion ruleset (bench/gen.py), on every core, and peak memory.

The catalog is streamed: the first rows of the same 100,000-row file are analyzed at growing
counts, so a flat peak RSS across the rows shows that memory does not follow the catalog.
`--full` analyzes all of it (about SKUs / rate seconds).

Run: `make bench` (or `.venv/bin/python bench/analyze.py [--rows 500,2000] [--full] [--processes N]
[--what-ifs none,below]`).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gen import CATEGORIES, ruleset_text  # noqa: E402

from engine.apps.analyze.pool import analyze_catalog  # noqa: E402
from engine.apps.analyze.scenarios import Options  # noqa: E402
from engine.apps.catalog import read_catalog  # noqa: E402
from engine.base.request import User  # noqa: E402
from engine.lang.load import load_ruleset  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.wire.encode import row_to_json  # noqa: E402

PROMOTIONS, SHOPS, SKUS = 5_000, 500, 100_000


def write_catalog(path: Path, skus: int, shops: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        f.write("sku,shop,category,brand,tags,price,warning_price,cost,ad_cost\n")
        for i in range(skus):
            price = rng.randint(500, 50000)
            warning = str(price * rng.choice([60, 70, 80]) // 100) if rng.random() < 0.5 else ""
            f.write(f"SKU-{i},S{i % shops},{rng.choice(CATEGORIES)},b{i % 50},{'hot' if i % 7 == 0 else ''},"
                    f"{price // 100}.{price % 100:02d},{warning and f'{int(warning) // 100}.{int(warning) % 100:02d}'},"
                    f"{price * 55 // 10000}.00,{rng.randint(0, 9)}.00\n")


def peak_mib() -> tuple[float, float]:
    """Peak RSS of this process and of its largest finished child (worker), MiB (Linux: KiB)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="100,400", help="catalog prefixes to analyze, comma separated")
    parser.add_argument("--full", action="store_true", help="also analyze all 100,000 SKUs")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--what-ifs", default="none,below", help="what-if modes to run, comma separated")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-analyze-"))
    rules = tmp / "rules.promo"
    rules.write_text(ruleset_text(PROMOTIONS, SHOPS), encoding="utf-8")
    catalog = tmp / "catalog.csv"
    start = time.perf_counter()
    write_catalog(catalog, SKUS, SHOPS)
    plan = compile_plan(load_ruleset(rules))
    print(f"ruleset: {PROMOTIONS:,} promotions over {SHOPS} shops; catalog: {SKUS:,} SKUs "
          f"({catalog.stat().st_size / 1e6:.1f} MB); set-up {time.perf_counter() - start:.1f}s; {args.processes} processes")
    options = Options(at=datetime.fromisoformat("2026-11-11T10:00:00+08:00"), user=User(id="bench", level=3))
    counts = [int(x) for x in args.rows.split(",")] + ([SKUS] if args.full else [])

    print(f"{'rows':>8}{'what-ifs':>10}{'seconds':>10}{'SKUs/s':>9}{'below':>8}{'scenarios/SKU':>15}"
          f"{'peak RSS main':>15}{'peak RSS worker':>17}{'traced peak main':>18}")
    for what_ifs in args.what_ifs.split(","):
        for rows in counts:
            opts = Options(**{**options.__dict__, "what_ifs": what_ifs})
            tracemalloc.start()
            start = time.perf_counter()
            below = scenarios = n = 0
            stream = itertools.islice(read_catalog(catalog, plan.digits), rows)
            for finding in analyze_catalog(str(rules), plan, stream, opts, row_to_json, processes=args.processes):
                n += 1
                below += finding.get("below_warning", False)
                scenarios += finding.get("scenarios", 0)
            elapsed = time.perf_counter() - start
            _, traced = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            main_rss, child_rss = peak_mib()
            print(f"{n:>8,}{what_ifs:>10}{elapsed:>10.1f}{n / elapsed:>9.1f}{below:>8,}"
                  f"{scenarios / max(n, 1):>15.1f}{main_rss:>12.0f}MiB{child_rss:>14.0f}MiB{traced / 2**20:>15.1f}MiB",
                  flush=True)


if __name__ == "__main__":
    main()
