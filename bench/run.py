"""The benchmark report: every bench in one run, written to docs/benchmarks.md.

Run: `make bench` (installs the peers with the `bench` extra, then runs this file), or
`.venv/bin/python bench/run.py [--out docs/benchmarks.md] [--tiny]`. `--tiny` runs every
section on toy sizes (seconds, for checking that the report still builds; its figures mean
nothing). Each figure is given with its ratio to an anchor (a peer, the smallest size, explain
off, brute force, the empty-handler RPC): on a shared machine absolute times drift from run to
run, ratios measured in the same run much less.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import combine  # noqa: E402
import evaluate as evaluate_bench  # noqa: E402
import hostile  # noqa: E402
import peers  # noqa: E402
from gen import ruleset_files  # noqa: E402

from engine.lang.load import load_sources  # noqa: E402
from engine.lang.source import SourceFile  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.pricing.limits import BUDGET  # noqa: E402
from engine.pricing.prepare import candidates_for  # noqa: E402
from engine.pricing.quote import evaluate  # noqa: E402

# Every section's heading, in order (tests/cli/test_bench_smoke.py checks the report has them all).
HEADINGS = (
    "## Machine",
    "## Condition evaluation: ours vs rule-engine, cel-python, zen-engine",
    "## Evaluate latency vs ruleset size",
    "## Evaluate latency vs cart size",
    "## Explain modes",
    "## Combination search vs brute force",
    "## Combination search vs wallet size",
    "## Combination search on mixed-level wallets",
    "## Hostile inputs",
    "## gRPC: the service's own cost per call",
    "## Compile time and plan memory vs ruleset size",
    "## Analyze throughput",
    "## Language server: from an edit to its diagnostics",
    "## Backtest throughput and memory",
    "## Ledger: Reserve and Commit on SQLite and PostgreSQL",
    "## Headline ratios",
)


@dataclass
class Config:
    peer_inputs: int = 1000
    peer_repeat: int = 5
    sizes: tuple[int, ...] = (100, 1_000, 10_000, 100_000)  # promotions; shops = promotions / 10
    eval_repeat: dict[int, int] = field(default_factory=lambda: {100: 300, 1_000: 300, 10_000: 200, 100_000: 100})
    cart_size: int = 10_000  # the ruleset the cart-size table runs on
    cart_lines: tuple[int, ...] = (1, 10, 30, 50, 100, 200)
    cart_repeat: int = 100
    reload_edits: int = 5  # bench/reload.py on the largest of `sizes`, in files of reload_per_file promotions
    reload_per_file: int = 100
    wallets: tuple[int, ...] = (10, 20, 30, 50)  # shop coupons (+5 platform coupons)
    combine_repeat: int = 30
    brute_wallets: tuple[int, ...] = (2, 4, 6, 8, 10)
    mixed_wallets: tuple[int, ...] = (20, 50, 100, 200)  # item, shop and platform coupons (bench/combine.py)
    mixed_seeds: int = 5
    mixed_repeat: int = 3
    hostile_repeat: int = 3
    grpc_calls: int = 1000
    grpc_clients: int = 4
    grpc_workers: tuple[int, ...] = (1, 2)
    analyze: bool = True  # run bench/analyze.py (issue 7) if it exists
    analyze_args: tuple[str, ...] = ()  # its own defaults
    analyze_timeout: int = 300
    lsp_promotions: int = 10_000  # bench/lsp.py: the ruleset, in files of lsp_per_file promotions
    lsp_per_file: int = 100
    lsp_edits: int = 40
    backtest: bool = True  # bench/backtest.py (issue 19), its short defaults (--full: 100,000 orders, 1,000,000)
    backtest_args: tuple[str, ...] = ()
    backtest_timeout: int = 900
    ledger_orders: int = 400  # bench/ledger.py: Reserve+Commit pairs per measurement
    ledger_clients: tuple[int, ...] = (1, 8, 32)
    ledger_backends: tuple[str, ...] = ("sqlite", "postgresql")
    ledger_deposit_clients: tuple[int, ...] = (1, 32)  # bench/ledger.py: presale deposits on one stock counter
    ledger_timeout: int = 1800


TINY = Config(peer_inputs=20, peer_repeat=1, sizes=(100, 200), eval_repeat={}, cart_size=200, cart_lines=(1, 5),
              cart_repeat=3, wallets=(2, 4), combine_repeat=2, brute_wallets=(1, 2), mixed_wallets=(20,), mixed_seeds=1,
              mixed_repeat=1, hostile_repeat=1, grpc_calls=20, grpc_clients=1,
              grpc_workers=(1,), analyze=False, lsp_promotions=1_000, lsp_edits=4,
              backtest=False, ledger_orders=10, ledger_clients=(1,), ledger_backends=("sqlite",),
              ledger_deposit_clients=(1,))


def repeat_for(config: Config, size: int) -> int:
    return config.eval_repeat.get(size, 5)


# ---- formatting ------------------------------------------------------------------------------------


def table(header: list[str], rows: list[list], left: int = 1) -> str:
    """A markdown table; the first `left` columns are text (left-aligned), the others numbers."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i < left else "--:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def ms(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def ratio(x: float) -> str:
    """Two significant digits below 10 (0.0031, 0.27, 3.1), fewer decimals above."""
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x <= 0:
        return "0"
    decimals = max(2, 1 - math.floor(math.log10(x)))
    return f"{x:.{decimals}f}"


def shown(expression: str) -> str:
    """An expression for a table cell: long lists shortened to their first and last items."""
    def shorten(match: re.Match) -> str:
        items = [i.strip() for i in match.group(1).split(",")]
        return f"[{items[0]}, {items[1]}, … {items[-1]}] ({len(items)} items)" if len(items) > 4 else match.group(0)

    return re.sub(r"\[([^\]]*)\]", shorten, expression)


# ---- the machine ------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for dist in ("promo", "lark", "grpcio", "protobuf", "rule-engine", "cel-python", "zen-engine"):
        try:
            packages[dist] = version(dist)
        except PackageNotFoundError:
            packages[dist] = "not installed"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "usable": len(os.sched_getaffinity(0)), "memory_gib": mem / 2**20,
            "python": f"{platform.python_implementation()} {platform.python_version()}", "os": platform.platform(),
            "packages": packages, "commit": commit, "load_start": os.getloadavg()}


# ---- sections ---------------------------------------------------------------------------------------


def sizes_section(config: Config, log) -> dict:
    """Per ruleset size, generated once: parse+check and compile time, plan memory, evaluate p50/p99
    per explain mode; on `config.cart_size` also the cart-size rows."""
    sizes, cart_rows = [], []
    for n in config.sizes:
        shops = max(n // 10, 1)
        files = [SourceFile(name, text) for name, text in ruleset_files(n, shops)]
        start = time.perf_counter()
        loaded = load_sources(files)
        load_s = time.perf_counter() - start
        assert loaded.ok
        gc.collect()
        start = time.perf_counter()
        plan = compile_plan(loaded)
        compile_s = time.perf_counter() - start
        # the plan's memory: what a second, traced compile allocates and keeps (closures, index, data)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        traced = compile_plan(loaded)
        gc.collect()
        plan_bytes = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        del traced
        explain = evaluate_bench.rows(plan, shops, repeat=repeat_for(config, n))
        sizes.append({"promotions": n, "shops": shops, "lines": sum(f.text.count("\n") for f in files), "load_s": load_s,
                      "compile_s": compile_s, "plan_bytes": plan_bytes, "explain": explain})
        log(f"  {n:,} promotions: parse+check {load_s:.1f}s, compile {compile_s:.1f}s, "
            f"plan {plan_bytes / 2**20:.1f} MiB, evaluate p50 {explain[0]['p50']:.2f} ms")
        if n == config.cart_size:
            for lines in config.cart_lines:
                request = evaluate_bench.request_for(plan, lines, min(5, lines), shops)
                p50, p99 = evaluate_bench.latency_ms(lambda p=plan, r=request: evaluate(p, r), repeat=config.cart_repeat)
                cart_rows.append({"lines": lines, "shops": min(5, lines), "p50": p50, "p99": p99,
                                  "candidates": len(candidates_for(plan, request.lines))})
        del plan, loaded, files
        gc.collect()
    return {"sizes": sizes, "cart": cart_rows}


def grpc_section(config: Config) -> dict:
    """bench/grpc.py's `measure`, in its own process (its client pool spawns processes that import
    it by file, and it keeps bench/ off sys.path so that `import grpc` is the library)."""
    done = subprocess.run([sys.executable, str(BENCH / "grpc.py"), "--json", "--calls", str(config.grpc_calls),
                           "--clients", str(config.grpc_clients), "--workers", ",".join(map(str, config.grpc_workers))],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"bench/grpc.py failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["rows"] = [tuple(r) for r in result["rows"]]
    result["offered"] = [tuple(r) for r in result["offered"]]
    return result


def analyze_section(config: Config) -> str:
    script = BENCH / "analyze.py"
    if not script.exists():
        return "_Pending: `bench/analyze.py` (issue 7) is not in the tree yet; this section fills in when it lands._"
    if not config.analyze:
        return "_Skipped in this configuration (`--tiny`)._"
    command = [sys.executable, str(script), *config.analyze_args]
    shown_command = " ".join(["bench/analyze.py", *config.analyze_args])
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=config.analyze_timeout)
    except subprocess.TimeoutExpired:
        return f"_`{shown_command}` (issue 7) did not finish within {config.analyze_timeout} s._"
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return f"_`bench/analyze.py` failed (exit {done.returncode}):_\n\n```\n{tail}\n```"
    return (f"Output of `{shown_command}` (issue 7's bench, run as is with its defaults; "
            f"{time.perf_counter() - start:.0f} s):\n\n```\n{done.stdout.rstrip()}\n```")


def run_bench(command: list[str], shown_command: str, timeout: float) -> tuple[str | None, str]:
    """Run a bench in its own process: (a markdown note if it timed out or failed, else None; its stdout)."""
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"_`{shown_command}` did not finish within {timeout} s._", ""
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return f"_`{shown_command}` failed (exit {done.returncode}):_\n\n```\n{tail}\n```", ""
    return None, done.stdout


def backtest_section(config: Config) -> str:
    if not config.backtest:
        return "_Skipped in this configuration (`--tiny`)._"
    shown_command = " ".join(["bench/backtest.py", *config.backtest_args])
    failed, out = run_bench([sys.executable, str(BENCH / "backtest.py"), *config.backtest_args], shown_command,
                            config.backtest_timeout)
    if failed:
        return failed
    return out.rstrip() + ("\n\nThe full run (100,000 orders; memory up to 1,000,000) is `bench/backtest.py "
                                   "--full`, about a quarter of an hour on 2 cores; docs/backtest.md has its figures.")


def ledger_section(config: Config) -> str:
    """bench/ledger.py in its own process (it keeps bench/ off sys.path, as bench/grpc.py does)."""
    args = ["--orders", str(config.ledger_orders), "--clients", ",".join(map(str, config.ledger_clients)),
            "--backends", ",".join(config.ledger_backends),
            "--deposit-clients", ",".join(map(str, config.ledger_deposit_clients))]
    shown_command = " ".join(["bench/ledger.py", *args])
    failed, out = run_bench([sys.executable, str(BENCH / "ledger.py"), *args], shown_command, config.ledger_timeout)
    if failed:
        return failed
    return (f"`{shown_command}`: Reserve+Commit as LedgerService runs them below gRPC (on SQLite the cart priced "
            "before the transaction and again inside it only if the ledger moved, on PostgreSQL priced inside it), "
            "on the double11 cart with a new buyer per "
            "order and one more promotion with `limit` and `budget`: a hot coupon (every client on one counter) or "
            "spread ones (one per client); SQLite in WAL with synchronous=FULL (an fsync per commit), PostgreSQL "
            "with fsync on. The ledger's cost is the p50 against Evaluate alone at the same concurrency; the "
            "throughput ratio is Reserve+Commit /s over Evaluate /s.\n\n"
            + out.rstrip())


LEDGER_NOTE = "_This section was measured alone (`bench/run.py --only ledger`"


def splice_ledger(path: Path, config: Config) -> None:
    """Run bench/ledger.py alone and write the ledger section (with its presale deposits) into the
    report at `path`, before the headline ratios (the rest is left as it was measured)."""
    m = machine()
    body = ledger_section(config)
    end = os.getloadavg()
    section = "\n".join([HEADINGS[14], "", body, "",
                          f"{LEDGER_NOTE}, commit {m['commit']}, {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
                          f"load average {' / '.join(f'{x:.2f}' for x in m['load_start'])} at start, "
                          f"{' / '.join(f'{x:.2f}' for x in end)} at end, on {m['usable']} cores shared with other "
                          "work: absolute times are inflated by the load, the ratios measured in the same run much "
                          "less); the next `make bench` writes it with the rest._", ""])
    text = path.read_text(encoding="utf-8")
    if HEADINGS[14] in text:
        start = text.index(HEADINGS[14])
        text = text[:start] + text[text.index("\n## ", start + 1) + 1:]
    at = text.index(HEADINGS[-1])
    path.write_text(text[:at] + section + "\n" + text[at:], encoding="utf-8")


def lsp_section(config: Config) -> str:
    import asyncio

    import lsp as lsp_bench

    rows = asyncio.run(lsp_bench.measure(config.lsp_promotions, config.lsp_per_file, config.lsp_edits))
    return (f"`promo lsp` as a real server over stdio, driven by a pygls client (`bench/lsp.py`): the bench ruleset of "
            f"{config.lsp_promotions:,} promotions as a directory, its header in one file and the promotions in files "
            f"of {config.lsp_per_file}; a file is opened, then edited {config.lsp_edits} times, each edit breaking or "
            "mending a promotion (every text new), and the time is from the `didChange` to the `publishDiagnostics` "
            "for it. An edit re-parses only the blocks whose text changed and re-checks only the chunks (runs of about "
            "64 blocks) they are in and those they affect (engine/lang/incremental.py, server/lsp/workspace.py); a "
            "header edit checks the whole ruleset; the last two rows are the same ruleset in one file (its header in "
            "it), edited in a line and by an edit that adds a line, so every later line moves. Goal: 200 ms.\n\n"
            + lsp_bench.table(rows))


def reload_section(config: Config, log) -> dict:
    """bench/reload.py on the largest ruleset size: a one-file edit, from the write to its plan served."""
    import reload as reload_bench

    return reload_bench.measure(max(config.sizes), config.reload_per_file, config.reload_edits, log=log)


def reload_lines(reloaded: dict) -> list[str]:
    """The reload part of the compile section (its own `###` heading, so `--only reload` can replace it)."""
    import reload as reload_bench

    return [RELOAD_HEADING, "",
            "`bench/reload.py`: the bench ruleset as a directory, the service's `RulesetWatcher` in-process (its "
            "default poll), one file edited at a time (a promotion added) while a client prices a cart against the "
            "served plan. Only the edited file is parsed, checked and compiled; the plan is assembled from the "
            "other files' cached parts (server/service/incremental.py, engine/plan/parts.py). Issue 17: served "
            "≤ 3 s after the write, with no failed call.", "",
            *reload_bench.lines(reloaded), ""]


RELOAD_HEADING = "### Reload: one file of a large ruleset directory edited"


def splice_reload(path: Path, config: Config) -> None:
    """Run bench/reload.py alone and write its part of the compile section into the report at `path`."""
    m = machine()
    lines = reload_lines(reload_section(config, print))
    lines[-1:] = ["", f"_Measured alone (`bench/run.py --only reload`, commit {m['commit']}, "
                  f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, load average "
                  f"{' / '.join(f'{x:.2f}' for x in m['load_start'])} at start); the next `make bench` writes it "
                  "with the rest._", ""]
    text = path.read_text(encoding="utf-8")
    if RELOAD_HEADING in text:
        start = text.index(RELOAD_HEADING)
        text = text[:start] + text[text.index("\n## ", start) + 1:]
    at = text.index("\n## ", text.index(HEADINGS[10]) + 1) + 1
    path.write_text(text[:at] + "\n".join(lines) + "\n" + text[at:], encoding="utf-8")


# ---- the report -------------------------------------------------------------------------------------


def build_report(config: Config | None = None, log=lambda message: None) -> str:
    config = config or Config()
    started = time.perf_counter()
    m = machine()
    # analyze first, while this process is small: Linux carries a process's peak RSS across exec,
    # and bench/analyze.py reports its own peak RSS
    log("analyze (bench/analyze.py)")
    analyze = analyze_section(config)
    log("backtest (bench/backtest.py)")
    backtest = backtest_section(config)
    log("conditions: ours vs peers")
    conditions = peers.rows(config.peer_inputs, config.peer_repeat)
    log("rulesets: parse, compile, memory, evaluate")
    sized = sizes_section(config, log)
    log("reload: one file of the largest ruleset edited (bench/reload.py)")
    reloaded = reload_section(config, log)
    log("combination search")
    brute = combine.versus_brute_force(config.brute_wallets, repeat=5)
    wallets = combine.rows(config.wallets, repeat=config.combine_repeat)
    mixed = combine.mixed_rows(config.mixed_wallets, seeds=range(config.mixed_seeds), repeat=config.mixed_repeat)
    log("hostile inputs")
    hostile_rows = hostile.rows(config.hostile_repeat)
    log("gRPC")
    transport = grpc_section(config)
    load_end = os.getloadavg()

    out = ["# Benchmarks", "",
           "Generated by `make bench` (`bench/run.py`); do not edit by hand. Every figure comes with its ratio to "
           "an anchor measured in the same run: absolute times on a shared machine drift from run to run, the "
           "ratios much less. Medians and nearest-rank percentiles; seeded inputs (`bench/gen.py`).", ""]
    if config != Config():
        out += ["**Toy configuration (`--tiny`): the figures below check that the report builds and mean nothing.**", ""]

    # machine
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    out += [HEADINGS[0], "", table(["", ""], left=2, rows=[
        ["date", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")],
        ["CPU", f"{m['cpu']}, {m['cores']} logical cores ({m['usable']} usable)"],
        ["memory", f"{m['memory_gib']:.1f} GiB"],
        ["Python", m["python"]],
        ["OS", m["os"]],
        ["packages", packages],
        ["commit", m["commit"]],
        ["load average (1, 5, 15 min)", f"{' / '.join(f'{x:.2f}' for x in m['load_start'])} at start, "
                                         f"{' / '.join(f'{x:.2f}' for x in load_end)} at end"],
        ["run time", f"{time.perf_counter() - started:.0f} s"],
    ]), "", "A load average above the core count means other work shared the machine during the run: "
        "absolute times are inflated, same-run ratios less so.", ""]

    # conditions
    missing = sorted({r["engine"] for r in conditions if r["error"]})
    out += [HEADINGS[1], "",
            "The same conditions on the same seeded inputs "
            f"({config.peer_inputs} per condition, median of {config.peer_repeat} passes). Ours: the closures of a "
            "compiled `Plan` (`Clause.test` on `OrderFacts` for `when`, `Promotion.scope` on `Line`). Peers get "
            "the condition in their own syntax and the same values as plain data, money as integer minor "
            "units (as the engine holds it); inputs are converted to each engine's form before timing "
            "(cel-python's `json_to_cel` activation included), so only evaluation is timed. zen-engine: "
            "`zen.compile_expression(...).evaluate(dict)`; rule-engine: `Rule(...).matches(dict)`; cel-python: "
            "`Environment(runner_class=CompiledRunner)` (its transpiler) and its default `InterpretedRunner`. "
            "*agree*: inputs on which the peer's answer equals ours. "
            "*ours ÷ peer* below 1 means ours is faster.", ""]
    if missing:
        out += [f"Not installed, so not measured: {', '.join(missing)} (install with `pip install -e '.[bench]'`).", ""]
    crows = []
    for r in conditions:
        if r["error"]:
            crows.append([r["condition"], r["engine"], f"`{shown(r['expression'])}`", r["error"], "", "", ""])
        else:
            crows.append([r["condition"], r["engine"], f"`{shown(r['expression'])}`", f"{r['ns']:,.0f}",
                          ratio(r["ratio"]), f"{ratio(r['ns'] / conditions_ours(conditions, r)['ns'])}×",
                          f"{r['agree']}/{r['of']}"])
    out += [table(["condition", "engine", "expression", "ns / evaluation", "ours ÷ peer", "peer is slower by",
                   "agree"], crows, left=3), ""]

    # evaluate vs ruleset size
    sizes = sized["sizes"]
    base = sizes[0]
    base_off = base["explain"][0]
    out += [HEADINGS[2], "",
            "One seeded cart (30 lines over 5 shops, 2 wallet coupons, explain off) against generated rulesets: "
            "mostly shop coupons and item discounts, some shop promotions, 10 cross-shop promotions and coupons; "
            "shops grow with promotions (10 promotions per shop). Anchor: the smallest ruleset.", ""]
    out += [table(["promotions", "shops", "candidates", "calls", "p50 ms", "p99 ms", "p50 ÷ smallest",
                   "p99 ÷ smallest"],
                  [[f"{s['promotions']:,}", f"{s['shops']:,}", s["explain"][0]["candidates"],
                    repeat_for(config, s["promotions"]), ms(s["explain"][0]["p50"]), ms(s["explain"][0]["p99"]),
                    ratio(s["explain"][0]["p50"] / base_off["p50"]), ratio(s["explain"][0]["p99"] / base_off["p99"])]
                   for s in sizes]), ""]

    # cart size
    cart = sized["cart"]
    out += [HEADINGS[3], "",
            f"Carts of growing size (over up to 5 shops, explain off) against the {config.cart_size:,}-promotion "
            f"ruleset; {config.cart_repeat} calls each. Anchor: the 1-line cart.", ""]
    out += [table(["lines", "shops", "candidates", "p50 ms", "p99 ms", "p50 ÷ 1 line", "p50 per line µs"],
                  [[r["lines"], r["shops"], r["candidates"], ms(r["p50"]), ms(r["p99"]), ratio(r["p50"] / cart[0]["p50"]),
                    f"{r['p50'] * 1000 / r['lines']:,.0f}"] for r in cart]), ""]

    # explain
    erows = []
    for s in sizes:
        off = s["explain"][0]
        for r in s["explain"]:
            erows.append([f"{s['promotions']:,}", r["explain"], ms(r["p50"]), ms(r["p99"]), ratio(r["p50"] / off["p50"]),
                          ratio(r["p99"] / off["p99"])])
    out += [HEADINGS[4], "", "The same cart (30 lines, 5 shops) per explain mode. Anchor: EXPLAIN_OFF on the same ruleset.", "",
            table(["promotions", "explain", "p50 ms", "p99 ms", "p50 ÷ OFF", "p99 ÷ OFF"], erows, left=2), ""]

    # combination
    out += [HEADINGS[5], "",
            "`bench/combine.py` instances (a 20-line cart over 10 shops, one shop coupon per shop at most, 5 "
            "platform coupons, a cross-shop promotion) with wallets small enough for brute force: every subset "
            "of the candidates priced with the engine's `run` and judged by what applies in it, as "
            "`tests/pricing/test_combine.py`'s reference does. Both include "
            "`prepare`. *same*: both found the same payable. Anchor: brute force.", "",
            table(["stacking", "wallet", "search ms", "brute force ms", "search ÷ brute", "choices priced (search)",
                   "choices priced (brute)", "same"],
                  [[r["stacking"], r["wallet"], ms(r["search"]), ms(r["brute"]), ratio(r["search"] / r["brute"]),
                    r["search_priced"], f"{r['brute_priced']:,}", "yes" if r["same"] else "**no**"] for r in brute]), ""]
    first = {}
    wrows = []
    for r in wallets:
        anchor = first.setdefault(r["stacking"], r)
        wrows.append([r["stacking"], r["wallet"], ms(r["p50"]), ms(r["p90"]), ratio(r["p50"] / anchor["p50"]),
                      r["priced"], f"{r['feasible']:,}"])
    out += [HEADINGS[6], "",
            f"`bench/combine.py`'s table: wallets of shop coupons over 10 shops plus 5 platform coupons "
            f"({config.combine_repeat} runs each). *feasible choices* is what brute force would have to price. "
            "Anchor: the smallest wallet of the same stacking mode.", "",
            table(["stacking", "wallet", "p50 ms", "p90 ms", "p50 ÷ smallest wallet", "choices priced",
                   "feasible choices"], wrows), ""]
    out += search_lines(config, mixed, hostile_rows)

    # gRPC
    out += [HEADINGS[9], "", *grpc_lines(transport, m["cores"]), ""]

    # compile
    out += [HEADINGS[10], "",
            "Per generated ruleset (generated once per size): parse + check (`load_sources`), `compile_plan`, "
            "and the plan's memory: what a second compile under `tracemalloc` allocates and keeps. "
            "Anchor: the smallest ruleset (a ratio equal to the size ratio is linear).", "",
            table(["promotions", "lines", "parse+check s", "compile s", "compile µs / promotion", "compile ÷ smallest",
                   "plan MiB", "plan KiB / promotion", "memory ÷ smallest"],
                  [[f"{s['promotions']:,}", f"{s['lines']:,}", f"{s['load_s']:.2f}", f"{s['compile_s']:.3f}",
                    f"{s['compile_s'] / s['promotions'] * 1e6:,.0f}", ratio(s["compile_s"] / base["compile_s"]),
                    f"{s['plan_bytes'] / 2**20:.1f}", f"{s['plan_bytes'] / 1024 / s['promotions']:.2f}",
                    ratio(s["plan_bytes"] / base["plan_bytes"])] for s in sizes]), ""]
    out += reload_lines(reloaded)

    # analyze
    out += [HEADINGS[11], "", analyze, ""]
    log("language server (bench/lsp.py)")
    out += [HEADINGS[12], "", lsp_section(config), ""]
    out += [HEADINGS[13], "", backtest, ""]
    log("ledger (bench/ledger.py)")
    out += [HEADINGS[14], "", ledger_section(config), ""]

    # headline
    out += [HEADINGS[-1], ""] + headlines(conditions, sizes, transport, brute) + [""]
    return "\n".join(out)


def conditions_ours(conditions: list[dict], row: dict) -> dict:
    return next(r for r in conditions if r["condition"] == row["condition"] and r["engine"] == "promo (ours)")


def headlines(conditions: list[dict], sizes: list[dict], transport: dict, brute: list[dict]) -> list[str]:
    lines = []
    for name in dict.fromkeys(r["condition"] for r in conditions):
        mine = next(r for r in conditions if r["condition"] == name and r["engine"] == "promo (ours)")
        parts = [f"{r['engine']} {ratio(r['ratio'])}" if not r["error"] else f"{r['engine']} not installed"
                 for r in conditions if r["condition"] == name and r["engine"] != "promo (ours)"]
        lines.append(f"- Condition *{name}* (`{shown(mine['expression'])}`),"
                     f" ours ÷ peer: " + ", ".join(parts) + f" (ours {mine['ns']:,.0f} ns).")
    small, large = sizes[0], sizes[-1]
    lines.append(f"- Evaluate at {large['promotions']:,} vs {small['promotions']:,} promotions: p50 "
                 f"{ratio(large['explain'][0]['p50'] / small['explain'][0]['p50'])}× "
                 f"({ms(large['explain'][0]['p50'])} vs {ms(small['explain'][0]['p50'])} ms), p99 "
                 f"{ratio(large['explain'][0]['p99'] / small['explain'][0]['p99'])}×, for "
                 f"{large['promotions'] // small['promotions']:,}× the promotions.")
    modes = ", ".join(f"{r['explain'].removeprefix('EXPLAIN_')} {ratio(r['p50'] / large['explain'][0]['p50'])}×"
                      for r in large["explain"][1:])
    lines.append(f"- Explain at {large['promotions']:,} promotions, p50 ÷ OFF: {modes}.")
    for r in brute:
        if r["wallet"] == max(b["wallet"] for b in brute):
            lines.append(f"- Combination search vs brute force, {r['stacking']}, wallet of {r['wallet']}: "
                         f"{ratio(r['search'] / r['brute'])}× its time ({r['search_priced']} vs {r['brute_priced']:,} "
                         f"choices priced), {'same' if r['same'] else '**different**'} payable.")
    return lines + headlines_grpc(transport)


def headlines_grpc(transport: dict) -> list[str]:
    lines = []
    for w, g in grpc_summary(transport).items():
        lines.append(f"- gRPC, {w} worker{'s' if w > 1 else ''}: the service's own CPU per Evaluate call "
                     f"{ms(g['own_cpu_ms'])} ms = {ratio(g['own_ratio'])}× the engine's {ms(g['engine_cpu_ms'])} ms "
                     f"(goal ≤ 0.25); {g['per_s_per_worker']:,.0f} calls/s per worker = {ratio(g['of_best'])}× "
                     f"1 / (empty handler + engine CPU).")
    for w, r in transport["offered"]:
        lines.append(f"- gRPC, {w} worker{'s' if w > 1 else ''}, at {r['rate']:,.0f} calls/s offered (half the most "
                     f"served): p99 {ratio(r['p99'] / r['p50'])}× p50 ({ms(r['p99'])} vs {ms(r['p50'])} ms).")
    return lines


def grpc_summary(transport: dict) -> dict:
    """bench/grpc.py's `summary` of its result, by worker count."""
    return {int(w): figures for w, figures in transport["summary"].items()}


def grpc_lines(transport: dict, cores: int) -> list[str]:
    """The gRPC section from bench/grpc.py's result: the CPU split of one call, calls/s and
    latency per worker count, latency at half the most served."""
    by = {(name, w): r for name, w, r in transport["rows"]}
    summary = grpc_summary(transport)
    cpu_rows = [[f"{w}", ms(g["engine_alone_cpu_ms"]), ms(g["engine_cpu_ms"]), ms(g["empty_cpu_ms"]),
                 ms(g["empty_aio_cpu_ms"]) if g["empty_aio_cpu_ms"] is not None else "–", ms(g["evaluate_cpu_ms"]),
                 ms(g["own_cpu_ms"]), ratio(g["own_ratio"]), ms(g["own_beyond_empty_ms"])] for w, g in summary.items()]
    rows = []
    for name, w, r in transport["rows"]:
        echo = by[("empty handler", w)]
        rows.append([name, w, r["calls"], r["failed"], f"{r['per_s']:,.0f}", f"{r['per_s'] / w:,.0f}", ms(r["p50"]),
                     ms(r["p99"]), ms(r["cpu_ms"]), ratio(r["per_s"] / echo["per_s"])])
    best = [[f"{w}", f"{g['per_s_per_worker']:,.0f}", f"{g['best_per_s']:,.0f}", ratio(g["of_best"])]
            for w, g in summary.items()]
    offered = [[f"{w}", f"{r['rate']:,.0f}", r["calls"], r["failed"], ms(r["p50"]), ms(r["p99"]), ratio(r["p99"] / r["p50"])]
               for w, r in transport["offered"]]
    return [
        f"`bench/grpc.py` on `examples/double11/cart.json` (request {transport['request']} B, answer "
        f"{transport['response']} B): `promo serve examples/double11 --workers N`, and an empty handler (a server "
        "that takes the same bytes and answers as many, as many processes on one port); "
        f"{transport['clients']} client process{'es send' if transport['clients'] > 1 else ' sends'} "
        f"{transport['calls']} pre-serialized calls per row over "
        f"loopback, sharing the {cores} cores with the servers. CPU per call is the server processes' (with their "
        "children) user + system time from /proc over the run, less what they use idle. The engine's is measured "
        "twice: `evaluate` in a loop in the bench's own process, and inside the server on the same calls (each "
        "call's log line carries `engine_ms`, the handler thread's CPU time in `evaluate`), which is more: there "
        "its caches are shared with the transport, the clients and the other work on the cores. The service's own "
        "CPU per call is the server's less the engine's in the server: the transport, conversion both ways, the "
        "interceptor and the log line. Anchor: the engine's CPU per call in the server.", "",
        table(["workers", "engine in a loop ms", "engine in the server ms", "empty handler ms",
               "empty handler, grpc.aio ms", "Evaluate (server) ms", "service's own ms",
               "own ÷ engine (goal ≤ 0.25)", "own beyond the empty handler ms"], cpu_rows), "",
        "Calls back to back (closed loop: the most served). Anchor: the empty handler with the same workers.", "",
        table(["target", "workers", "calls", "failed", "calls/s", "calls/s per worker", "p50 ms", "p99 ms",
               "server CPU ms / call", "calls/s ÷ empty"], rows), "",
        "Evaluate calls/s per worker against the best a Python server can do, 1 / (empty handler CPU + engine CPU) "
        "per call (issue 17: ≥ 0.75).", "",
        table(["workers", "calls/s per worker", "1 / (empty + engine) per s", "ratio"], best), "",
        "Evaluate at half the most served (open loop: each call sent when due, latency from when it was due; "
        "issue 17: p99 ≤ 3 × p50).", "",
        table(["workers", "offered calls/s", "calls", "failed", "p50 ms", "p99 ms", "p99 ÷ p50"], offered), "",
        "Where one call's time goes in-process (median ms): " + ", ".join(
            f"{step} {ms(v)}" for step, v in transport["split"].items()) + ".",
    ]


def search_lines(config: Config, mixed: list[dict], hostile_rows: list[dict]) -> list[str]:
    """The sections on mixed-level wallets and hostile inputs (bench/combine.py, bench/hostile.py)."""
    out: list[str] = []
    first = {}
    mrows = []
    for r in mixed:
        anchor = first.setdefault(r["stacking"], r)
        mrows.append([r["stacking"], r["wallet"], ms(r["p50"]), ms(r["max"]), ratio(r["p50"] / anchor["p50"]),
                      r["priced"], "yes" if r["optimal"] else "**no** (budget)"])
    out += [HEADINGS[7], "",
            f"`bench/combine.py` `mixed_instance`: a 200-coupon ruleset of item coupons (by sku or shop), shop coupons "
            f"with thresholds (some in a cross-shop group of 2, some `exclusive`), platform coupons in a group of 1, "
            f"and automatic promotions (a cross-shop every-300, a shop 满减, a 单品直降, a two-shop 5% in a group); a "
            f"20-line cart over 10 shops; the wallet holds the first N coupons. {config.mixed_seeds} instances "
            f"(seeds) x {config.mixed_repeat} runs per row, `prepare` included; *choices priced*: the most of any "
            f"instance; *proven optimal*: every answer (otherwise the budget of {BUDGET:,} choices stopped one). "
            "Anchor: the smallest wallet of the same stacking mode.", "",
            table(["stacking", "wallet", "p50 ms", "max ms", "p50 ÷ smallest", "choices priced", "proven optimal"],
                  mrows), ""]
    out += [HEADINGS[8], "",
            f"`bench/hostile.py`: requests built to make one call compute for long, in-process, best and worst of "
            f"{config.hostile_repeat}. Anchor: the half second a checkout call may take.", "",
            table(["request", "best s", "worst s", "worst ÷ 0.5 s"],
                  [[r["what"], f"{r['best_s']:.3f}", f"{r['max_s']:.3f}", ratio(r["max_s"] / 0.5)] for r in hostile_rows]),
            ""]
    return out


def splice_grpc(path: Path, config: Config) -> None:
    """Run bench/grpc.py alone and write its section and its headline lines into the report at
    `path` (the rest of the report is left as it was measured)."""
    m = machine()
    transport = grpc_section(config)
    text = path.read_text(encoding="utf-8")
    start = text.index("## gRPC")
    end = text.index("\n## ", start + 1)
    section = "\n".join([HEADINGS[9], "", *grpc_lines(transport, m["cores"]),
                          "", f"_This section was measured alone (`bench/run.py --only grpc`, commit {m['commit']}, "
                          f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, load average "
                          f"{' / '.join(f'{x:.2f}' for x in m['load_start'])} at start); the next `make bench` writes "
                          "it with the rest._"])
    text = text[:start] + section + "\n" + text[end:]
    kept = [line for line in text.splitlines() if not line.startswith("- gRPC")]
    heads = headlines_grpc(transport)
    at = kept.index(HEADINGS[-1]) + 2
    while at < len(kept) and kept[at].startswith("- "):
        at += 1
    kept[at:at] = heads
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")


def splice_search(path: Path, config: Config) -> None:
    """Run the mixed-wallet and hostile-input benches alone and write their two sections into
    the report at `path` (the rest is left as it was measured)."""
    m = machine()
    mixed = combine.mixed_rows(config.mixed_wallets, seeds=range(config.mixed_seeds), repeat=config.mixed_repeat)
    lines = search_lines(config, mixed, hostile.rows(config.hostile_repeat))
    lines[-1:] = ["", f"_These two sections were measured alone (`bench/run.py --only search`, commit {m['commit']}, "
                  f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, load average "
                  f"{' / '.join(f'{x:.2f}' for x in m['load_start'])} at start); the next `make bench` writes them "
                  "with the rest._", ""]
    text = path.read_text(encoding="utf-8")
    for heading in HEADINGS[7:9]:  # an earlier splice's sections go first
        if heading in text:
            start = text.index(heading)
            text = text[:start] + text[text.index("\n## ", start + 1) + 1:]
    at = text.index(HEADINGS[9])
    path.write_text(text[:at] + "\n".join(lines) + "\n" + text[at:], encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="run every bench and write the report")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--tiny", action="store_true", help="toy sizes, to check the report builds")
    parser.add_argument("--only", choices=["grpc", "search", "reload", "ledger"],
                        help="run one part (gRPC; mixed wallets and hostile inputs; reload; the ledger and its "
                             "presale deposits) and write it into the existing report")
    args = parser.parse_args()
    if args.only:
        splice = {"grpc": splice_grpc, "search": splice_search, "reload": splice_reload,
                  "ledger": splice_ledger}[args.only]
        splice(Path(args.out), TINY if args.tiny else Config())
        return
    start = time.perf_counter()
    log = lambda message: print(f"[{time.perf_counter() - start:6.0f}s] {message}", flush=True)  # noqa: E731
    report = build_report(TINY if args.tiny else Config(), log)
    Path(args.out).write_text(report, encoding="utf-8")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
