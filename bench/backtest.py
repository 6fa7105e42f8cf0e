"""Backtest throughput and memory: orders per second on 1 and 2 local processes and on a 2-worker
Dask LocalCluster, against bench/gen.py's ruleset (10,000 promotions, 1,000 shops by default),
and the peak RSS of each worker as the order file grows (it must stay flat: partitions are
streamed and only aggregates come back).

    .venv/bin/python bench/backtest.py            # short: 2,000 orders; memory at 2,000 and 10,000
    .venv/bin/python bench/backtest.py --full     # 100,000 orders; memory at 10,000, 100,000, 1,000,000

Each run is one `run_backtest` call, wall time from the call to the merged aggregate, including
what the workers spend compiling the ruleset (once each, in parallel; the table gives the
compile time of one process too). Orders are generated once per size (bench/orders.py, seeded).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from gen import ruleset_text  # noqa: E402

from engine.apps.backtest.orders import partitions  # noqa: E402
from engine.apps.backtest.price import Job, peak_rss_kib  # noqa: E402
from engine.apps.backtest.run import run_backtest  # noqa: E402
from engine.apps.cluster import compile_sources  # noqa: E402
from engine.lang.source import read_sources  # noqa: E402
from engine.wire.decode import request_from_json  # noqa: E402

PARTITION = 500  # orders per partition (a task): small enough that 2,000 orders keep two workers busy


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


def measure(promotions: int, throughput: int, memory: tuple[int, ...], dask: bool = True, log=print) -> dict:
    shops = max(promotions // 10, 1)
    work = Path(tempfile.mkdtemp(prefix="promo-bench-backtest-"))
    (work / "rules").mkdir()
    text = ruleset_text(promotions, shops)
    (work / "rules" / "rules.promo").write_text(text, encoding="utf-8")
    job = Job(tuple(read_sources(work / "rules")), request_from_json)
    start = time.perf_counter()
    compile_sources(job.rules)
    compile_s = time.perf_counter() - start
    files: dict[int, Path] = {}

    def orders(n: int) -> Path:
        if n not in files:
            files[n] = work / f"orders-{n}.jsonl"
            # in a process of its own: the generator's memory is not this one's
            subprocess.run([sys.executable, str(BENCH / "orders.py"), "--bench", str(promotions), "--orders", str(n),
                            "--seed", "5", "--out", str(files[n])], check=True, capture_output=True)
        return files[n]

    def timed(label: str, n: int, **kw) -> dict:
        start = time.perf_counter()
        agg = run_backtest(job, partitions(orders(n), PARTITION), **kw)
        wall = time.perf_counter() - start
        assert agg.priced == n and agg.bad == 0, (agg.priced, agg.bad)
        row = {"mode": label, "orders": n, "wall_s": wall, "per_s": n / wall,
               "workers": len(agg.workers), "rss_kib": sorted(agg.workers.values())}
        log(f"  {label}, {n:,} orders: {wall:.1f} s, {n / wall:,.0f} orders/s, "
            f"peak RSS per worker {', '.join(_mib(r) for r in row['rss_kib'])} MiB")
        return row

    rows = []
    orders(throughput)
    rows.append(timed("1 process", throughput, processes=1))
    rows.append(timed("2 processes", throughput, processes=2))
    if dask:
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster:
            rows.append(timed("Dask LocalCluster, 2 workers", throughput, scheduler=cluster.scheduler_address))
    memory_rows = [timed("2 processes", n, processes=2) for n in memory]
    main_rss = peak_rss_kib()
    for path in files.values():
        path.unlink()
    return {"promotions": promotions, "shops": shops, "compile_s": compile_s, "throughput": rows,
            "memory": memory_rows, "main_rss_kib": main_rss, "cores": os.cpu_count(),
            "load": os.getloadavg()}


def report(result: dict, command: str) -> str:
    base = result["throughput"][0]
    lines = [f"`{command}`: bench/gen.py's ruleset of {result['promotions']:,} promotions over {result['shops']:,} "
             f"shops (one process compiles it in {result['compile_s']:.1f} s; every worker compiles it once, included "
             f"in the wall time), orders from bench/orders.py (1..8 lines over 1..4 shops, wallets of 0..4 coupons), "
             f"{result['cores']} cores, load average {result['load'][0]:.2f} at the end. Anchor: 1 process.", "",
             "| mode | orders | wall s | orders/s | ÷ 1 process | peak RSS per worker MiB |",
             "|---|--:|--:|--:|--:|--:|"]
    for r in result["throughput"]:
        lines.append(f"| {r['mode']} | {r['orders']:,} | {r['wall_s']:.1f} | {r['per_s']:,.0f} | "
                     f"{r['per_s'] / base['per_s']:.2f} | {' / '.join(_mib(x) for x in r['rss_kib'])} |")
    lines += ["", f"Memory as the order file grows (2 local processes; partitions of {PARTITION} orders, four per worker in "
              "flight): peak RSS of each worker. Anchor: the smallest file.", "",
              "| orders | wall s | orders/s | peak RSS per worker MiB | RSS ÷ smallest |", "|--:|--:|--:|--:|--:|"]
    first = max(result["memory"][0]["rss_kib"]) if result["memory"] else 1
    for r in result["memory"]:
        lines.append(f"| {r['orders']:,} | {r['wall_s']:.1f} | {r['per_s']:,.0f} | "
                     f"{' / '.join(_mib(x) for x in r['rss_kib'])} | {max(r['rss_kib']) / first:.2f} |")
    lines += ["", f"Peak RSS of the process that reads the partitions and merges the aggregates: "
              f"{_mib(result['main_rss_kib'])} MiB (it also compiled the ruleset once)."]
    return "\n".join(lines)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="backtest orders/s and memory per worker")
    parser.add_argument("--full", action="store_true", help="100,000 orders; memory up to 1,000,000")
    parser.add_argument("--promotions", type=int, default=10_000)
    parser.add_argument("--orders", type=int, help="orders of the throughput rows")
    parser.add_argument("--memory", help="order counts of the memory rows, comma separated")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the result as JSON (for bench/run.py)")
    args = parser.parse_args()
    throughput = args.orders or (100_000 if args.full else 2_000)
    memory = tuple(int(x) for x in args.memory.split(",")) if args.memory else (
        (10_000, 100_000, 1_000_000) if args.full else (2_000, 10_000))
    result = measure(args.promotions, throughput, memory, dask=not args.no_dask, log=_log)
    if args.json:
        print(json.dumps(result))
    else:
        print(report(result, "bench/backtest.py" + (" --full" if args.full else "")))


if __name__ == "__main__":
    main()
