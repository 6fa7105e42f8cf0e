"""Reload of a large ruleset directory: from the write of one edited file to its plan being served.

The bench ruleset (bench/gen.py) of `--promotions` promotions is written as a directory: its header
in `00_header.promo` and the promotions in files of `--per-file` (100,000 in 1,000 files of 100 by
default). The service's `RulesetWatcher` runs in-process with its default poll interval (0.5 s; a
change is loaded once the files stayed the same for one more poll), while a client thread prices a
30-line cart against whatever plan is served, one call every 5 ms. Measured:

- a full load as every reload did before issue 17 (`load_ruleset` + `compile_plan`);
- the watcher's first load (everything parsed, checked and compiled, its caches filled);
- `--edits` edits of one file (a promotion added to it, a new text each time), each from
  the `os.replace` of the file to `watcher.current` holding the new revision, and the watcher's
  own time to load it (the `seconds` of its `ruleset_loaded` line); and the client's calls,
  failures and slowest call while the edits were swapped in.

Run: `.venv/bin/python bench/reload.py [--promotions 100000] [--per-file 100] [--edits 5]`.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

import evaluate as evaluate_bench  # noqa: E402
from gen import ruleset_text  # noqa: E402

from engine.lang.load import load_ruleset  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.pricing.quote import evaluate  # noqa: E402
from server.service.reload import RulesetWatcher  # noqa: E402

PACE = 0.005  # the client's pause between two calls (a busy loop would take half the watcher's CPU)


def split_ruleset(promotions: int, per_file: int, into: Path) -> list[Path]:
    """The generated ruleset as a directory: `00_header.promo` and `rules-NNNN.promo` files."""
    text = ruleset_text(promotions, shops=max(promotions // 10, 1))
    blocks = text.split("\n\n") if "\n\n" in text else text.replace("\n}\n", "\n}\n\x00").split("\x00")
    blocks = [b for b in blocks if b.strip()]
    header, rest = blocks[0], blocks[1:]
    into.mkdir(parents=True, exist_ok=True)
    (into / "00_header.promo").write_text(header.rstrip("\n") + "\n")
    paths = []
    for i in range(0, len(rest), per_file):
        path = into / f"rules-{i // per_file:04d}.promo"
        path.write_text("".join(b.rstrip("\n") + "\n" for b in rest[i:i + per_file]))
        paths.append(path)
    return paths


class Log:
    """The watcher's logger: keeps the events."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def info(self, event: str, **fields) -> None:
        self.events.append((event, fields))

    error = info


def measure(promotions: int = 100_000, per_file: int = 100, edits: int = 5, log=print) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rules"
        files = split_ruleset(promotions, per_file, root)
        gc.collect()
        start = time.perf_counter()
        plan = compile_plan(load_ruleset(root))
        full_s = time.perf_counter() - start
        log(f"  full load (before): {full_s:.1f} s")
        shops = max(promotions // 10, 1)
        request = evaluate_bench.request_for(plan, 30, 5, shops)
        del plan
        gc.collect()
        events = Log()
        watcher = RulesetWatcher(root, events)
        start = time.perf_counter()
        watcher.start()
        cold_s = time.perf_counter() - start
        assert watcher.current is not None, events.events
        log(f"  watcher first load: {cold_s:.1f} s")
        calls, failures, worst = [0], [0], [0.0]
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                served = watcher.current
                try:
                    assert served is not None
                    began = time.perf_counter()
                    evaluate(served.plan, request)
                    worst[0] = max(worst[0], time.perf_counter() - began)
                    calls[0] += 1
                except Exception:
                    failures[0] += 1
                time.sleep(PACE)

        thread = threading.Thread(target=client, daemon=True)
        thread.start()
        served_s, loads = [], []
        target = files[len(files) // 2]
        try:
            for k in range(edits):
                time.sleep(1.0)  # the watcher idle, as between two deploys
                old = watcher.current.plan.revision
                edited = target.read_text() + (f'promotion "bench-edit-{k}" {{\n    level shop\n    scope shop == "S1"\n'
                                               f"    when amount >= {100 + k}\n    discount 1\n}}\n")
                tmp_path = target.with_suffix(".tmp")
                tmp_path.write_text(edited)
                before = len(events.events)
                start = time.perf_counter()
                os.replace(tmp_path, target)
                while watcher.current.plan.revision == old:
                    time.sleep(0.005)
                served_s.append(time.perf_counter() - start)
                while not (loaded := [f for e, f in events.events[before:] if e == "ruleset_loaded"]):
                    time.sleep(0.005)  # logged just after the swap
                assert loaded and loaded[-1]["parsed_files"] == 1, events.events[before:]
                loads.append(loaded[-1]["seconds"])
                log(f"  edit {k + 1}: served after {served_s[-1]:.2f} s (load {loads[-1]:.2f} s)")
        finally:
            stop.set()
            thread.join(30)
            watcher.stop()
        return {"promotions": promotions, "files": len(files) + 1, "per_file": per_file, "full_s": full_s,
                "cold_s": cold_s, "served_s": served_s, "load_s": loads, "calls": calls[0], "failures": failures[0],
                "worst_call_s": worst[0],
                "interval": watcher.interval}


def lines(r: dict) -> list[str]:
    served, loads = r["served_s"], r["load_s"]
    return [
        "| what | seconds |",
        "|---|--:|",
        f"| full load, as every reload did before (`load_ruleset` + `compile_plan`) | {r['full_s']:.1f} |",
        f"| the watcher's first load (everything parsed, checked, compiled; caches filled) | {r['cold_s']:.1f} |",
        f"| one-file edit: write → new revision served, median of {len(served)} | {statistics.median(served):.2f} |",
        f"| one-file edit: write → served, worst | {max(served):.2f} |",
        f"| one-file edit: the watcher's load (parse, check, compile, assemble), median | {statistics.median(loads):.2f} |",
        "",
        f"{r['promotions']:,} promotions in {r['files']:,} files ({r['per_file']} a file, the header alone); "
        f"poll interval {r['interval']} s (a change is loaded once the files stayed the same for one more poll, "
        f"so up to two intervals of the served time are waiting). Calls priced in-process during the edits "
        f"(a 30-line cart, one every {PACE * 1000:.0f} ms): "
        f"{r['calls']:,}, failed: {r['failures']}; the slowest took {r['worst_call_s'] * 1000:.0f} ms (a call waits "
        "while the watcher holds the interpreter lock, and for the collection after each swap).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promotions", type=int, default=100_000)
    parser.add_argument("--per-file", type=int, default=100)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    print("\n".join(lines(measure(args.promotions, args.per_file, args.edits))))


if __name__ == "__main__":
    main()
