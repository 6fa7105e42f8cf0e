"""Ledger bench: Reserve+Commit per second and its p50/p99 on SQLite and PostgreSQL with 1, 8 and
32 concurrent clients, against Evaluate alone on the same cart at the same concurrency.

Each Reserve is what LedgerService does below gRPC: the cart priced by the server's pricer
(server/service/ledger_pricer.py: priced once before the transaction, read again inside it),
the holds taken by guarded updates, the quote stored for replay, then a Commit. The cart is
examples/double11/cart.json, each order a new buyer. Besides the promotions it applies, every
order holds one more promotion with a `limit N total` and a `budget M` (the language gets
them next): a **hot** coupon that every client's order takes (one counter row, every writer
on it) or **spread** coupons, one per client (no two writers on one row).

A row more per backend: Reserve alone (no Commit) with 1 client, each Reserve followed by an
Evaluate alone of the same cart and an fsync, so that `Reserve - Evaluate` p50 (issue 17's goal:
at most 1 ms on SQLite) and the fsync floor under it are measured together.

SQLite is a file in a temporary folder (WAL, synchronous=FULL: an fsync per commit);
PostgreSQL a throwaway server (tests/ledger_support.py) with fsync on, on a Unix socket.

Run: `.venv/bin/python bench/ledger.py [--orders 400] [--clients 1,8,32] [--backends sqlite,postgresql]
[--json]`; `--tiny` for a smoke run. `section()` gives the markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# not bench/ itself: bench/grpc.py would stand for the grpc library
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from engine.lang.load import load_ruleset  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.pricing.limits import Limits  # noqa: E402
from engine.pricing.quote import evaluate  # noqa: E402
from engine.wire.decode import request_from_json  # noqa: E402
from server.ledger.ledger import Ledger  # noqa: E402
from server.ledger.migrate import migrate  # noqa: E402
from server.ledger.types import Budget, Hold, Limit, Order, Outcome, Reader, ReserveRequest  # noqa: E402
from server.service.ledger import stored_answer  # noqa: E402
from server.service.ledger_pricer import QuotePricer  # noqa: E402

RULES = ROOT / "examples" / "double11"
CART = RULES / "cart.json"
HOT = "hot-coupon"


@dataclass(frozen=True)
class Row:
    backend: str
    mode: str  # "hot" | "spread" | "evaluate"
    clients: int
    orders: int
    seconds: float
    p50_ms: float
    p99_ms: float
    repriced: int = 0  # reserves whose pricer ran more than once
    evaluate_p50_ms: float = 0.0  # mode "reserve": Evaluate alone, timed between the Reserves
    fsync_p50_ms: float = 0.0  # mode "reserve": one fsync of a 4 KiB write in the database's folder

    @property
    def per_second(self) -> float:
        return self.orders / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict:
        return {"backend": self.backend, "mode": self.mode, "clients": self.clients, "orders": self.orders,
                "per_second": round(self.per_second, 1), "p50_ms": round(self.p50_ms, 3),
                "p99_ms": round(self.p99_ms, 3), "repriced": self.repriced,
                **({"evaluate_p50_ms": round(self.evaluate_p50_ms, 3), "fsync_p50_ms": round(self.fsync_p50_ms, 3)}
                   if self.mode == "reserve" else {})}


def percentile(runs: list[float], q: float) -> float:
    ordered = sorted(runs)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * q + 0.5) - 1))]


class WithCoupon:
    """The server's pricer, and on each order one more hold: the hot coupon, or the client's own."""

    def __init__(self, pricer: QuotePricer, promotion: str, spend: int) -> None:
        self.pricer = pricer
        self.promotion = promotion
        self.spend = spend

    def __call__(self, read: Reader, outcomes: Mapping[str, Outcome]) -> Order:
        order = self.pricer(read, outcomes)
        extra = Hold(self.promotion, limits=(Limit(10**12),), budgets=(Budget(10**14),), spend=self.spend)
        return replace(order, holds=(*order.holds, extra))


def run_clients(clients: int, orders: int, one: Callable[[int, int], None]) -> tuple[float, list[float]]:
    """`orders` calls of `one(client, n)` spread over `clients` threads released together;
    (wall seconds, latency of each call in ms)."""
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    counter = itertools.count()

    def work(client: int) -> None:
        barrier.wait()
        try:
            while (n := next(counter)) < orders:
                start = time.perf_counter()
                one(client, n)
                latencies[client].append((time.perf_counter() - start) * 1000)
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    return seconds, [x for runs in latencies for x in runs]


class Bench:
    def __init__(self) -> None:
        self.plan = compile_plan(load_ruleset(RULES))
        data = json.loads(CART.read_text(encoding="utf-8"))
        data["explain"] = "EXPLAIN_REASONS"
        self.request = request_from_json(data, self.plan.digits, self.plan.timezone)
        self.runs = itertools.count()

    def cart_for(self, n: int):
        return replace(self.request, user=replace(self.request.user, id=f"buyer-{n}"))

    def evaluate(self, clients: int, orders: int) -> Row:
        run_clients(1, min(orders, 20), lambda c, n: evaluate(self.plan, self.cart_for(n)))  # warm up
        seconds, lat = run_clients(clients, orders, lambda c, n: evaluate(self.plan, self.cart_for(n)))
        return Row("-", "evaluate", clients, orders, seconds, statistics.median(lat), percentile(lat, 0.99))

    def reserve_alone(self, backend: str, url: str, folder: Path, orders: int) -> Row:
        """One client: a Reserve as the service runs it (the cart priced with a snapshot read
        before the transaction, then the transaction: priced again only if the ledger moved,
        the holds taken, the quote stored), without Commit; each Reserve followed by an Evaluate
        alone of the same cart and an fsync in the database's folder, so the three medians are
        measured under the same load and `Reserve - Evaluate` is the ledger's cost to a call."""
        run = next(self.runs)
        probe = folder / f"fsync-{run}"
        reserve_ms: list[float] = []
        evaluate_ms: list[float] = []
        fsync_ms: list[float] = []
        repriced = 0
        with Ledger(url, pool_size=2) as ledger, probe.open("wb") as handle:
            for n in range(-min(orders, 20), orders):  # the first ones warm up
                cart = self.cart_for(n)
                start = time.perf_counter()
                pricer = QuotePricer(self.plan, cart, Limits(), cart.user.id, stored_answer)
                priced = WithCoupon(pricer, HOT, 100)
                pricer.prime(ledger.get_usage)
                order_id = f"alone{run}-{n}"
                ledger.reserve(ReserveRequest(order_id=order_id, idempotency_key=f"r-{order_id}", buyer=cart.user.id,
                                              timezone=str(self.plan.timezone), at=cart.at, fingerprint=order_id),
                               priced)
                took = time.perf_counter() - start
                start = time.perf_counter()
                evaluate(self.plan, cart)
                alone = time.perf_counter() - start
                handle.write(b"x" * 4096)
                handle.flush()
                start = time.perf_counter()
                os.fsync(handle.fileno())
                synced = time.perf_counter() - start
                if n >= 0:
                    reserve_ms.append(took * 1000)
                    evaluate_ms.append(alone * 1000)
                    fsync_ms.append(synced * 1000)
                    repriced += pricer.pricings > 1
        return Row(backend, "reserve", 1, orders, sum(reserve_ms) / 1000, statistics.median(reserve_ms),
                   percentile(reserve_ms, 0.99), repriced, statistics.median(evaluate_ms), statistics.median(fsync_ms))

    def ledger(self, backend: str, url: str, mode: str, clients: int, orders: int) -> Row:
        run = next(self.runs)
        repriced = [0]
        with Ledger(url, pool_size=clients + 2) as ledger:
            def one(client: int, n: int, prefix: str = f"run{run}") -> None:
                cart = self.cart_for(n)
                pricer = QuotePricer(self.plan, cart, Limits(), cart.user.id, stored_answer)
                priced = WithCoupon(pricer, HOT if mode == "hot" else f"spread-{run}-{client}", 100)
                pricer.prime(ledger.get_usage)
                order_id = f"{prefix}-{n}"
                held = ledger.reserve(ReserveRequest(order_id=order_id, idempotency_key=f"r-{order_id}",
                                                     buyer=cart.user.id, timezone=str(self.plan.timezone),
                                                     at=cart.at, fingerprint=order_id), priced)
                if pricer.pricings > 1:
                    repriced[0] += 1
                ledger.commit(held.reservation_id, f"c-{order_id}")

            run_clients(1, min(orders, 20), lambda c, n: one(c, n, f"warm{run}"))
            seconds, lat = run_clients(clients, orders, one)
        return Row(backend, mode, clients, orders, seconds, statistics.median(lat), percentile(lat, 0.99),
                   repriced[0])


def backends(names: list[str], folder: Path, log) -> tuple[dict[str, str], list[Callable[[], None]], dict[str, str]]:
    urls, stops, missing = {}, [], {}
    for name in names:
        if name == "sqlite":
            urls[name] = f"sqlite:///{folder}/bench-ledger.db"
        elif name == "postgresql":
            try:
                from ledger_support import Postgres

                server = Postgres(durable=True)
            except Exception as error:  # noqa: BLE001 - reported in the table
                missing[name] = f"no PostgreSQL server ({type(error).__name__})"
                log(f"postgresql: {missing[name]}")
                continue
            stops.append(server.stop)
            urls[name] = server.create()
        else:
            raise SystemExit(f"unknown backend {name}")
        migrate(urls[name])
    return urls, stops, missing


def measure(orders: int = 400, clients: tuple[int, ...] = (1, 8, 32), names: tuple[str, ...] = ("sqlite", "postgresql"),
            log=lambda message: None) -> dict:
    bench = Bench()
    folder = Path(tempfile.mkdtemp(prefix="promo-bench-ledger-"))
    urls, stops, missing = backends(list(names), folder, log)
    rows: list[Row] = []
    try:
        for n in clients:
            rows.append(bench.evaluate(n, orders))
            log(f"evaluate x{n}: {rows[-1].to_json()}")
        for backend, url in urls.items():
            rows.append(bench.reserve_alone(backend, url, folder, orders))
            log(f"{backend} reserve alone x1: {rows[-1].to_json()}")
            for mode in ("hot", "spread"):
                for n in clients:
                    rows.append(bench.ledger(backend, url, mode, n, orders))
                    log(f"{backend} {mode} x{n}: {rows[-1].to_json()}")
    finally:
        for stop in stops:
            stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {"orders": orders, "rows": [r.to_json() for r in rows], "missing": missing}


def section(result: dict) -> str:
    """The markdown table: per backend, mode and clients, Reserve+Commit against Evaluate alone."""
    rows = result["rows"]
    alone = {r["clients"]: r for r in rows if r["mode"] == "evaluate"}
    lines = ["| backend | coupon | clients | Reserve+Commit /s | p50 ms | p99 ms | Evaluate alone /s | "
             "Evaluate p50 ms | ledger's cost (p50) | throughput ratio | repriced |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        if r["mode"] in ("evaluate", "reserve"):
            continue
        e = alone[r["clients"]]
        cost, throughput = r["p50_ms"] - e["p50_ms"], r["per_second"] / e["per_second"]
        lines.append(f"| {r['backend']} | {r['mode']} | {r['clients']} | {r['per_second']:,.0f} | {r['p50_ms']:.2f} | "
                     f"{r['p99_ms']:.2f} | {e['per_second']:,.0f} | {e['p50_ms']:.2f} | "
                     f"+{cost:.2f} ms | {throughput:.2f} | {r['repriced']} |")
    for backend, why in result.get("missing", {}).items():
        lines.append(f"| {backend} | – | – | {why} | | | | | | | |")
    alone_rows = [r for r in rows if r["mode"] == "reserve"]
    if alone_rows:
        lines += ["", "Reserve alone (no Commit), 1 client, each Reserve followed by an Evaluate alone of the same cart "
                  "and an fsync in the database's folder (the three timed under the same load). Goal: Reserve − "
                  "Evaluate ≤ 1 ms p50 on SQLite; SQLite commits with one fsync (WAL, synchronous=FULL), so what "
                  "the ledger itself spends is Reserve − Evaluate − fsync.", "",
                  "| backend | Reserve p50 ms | p99 ms | Evaluate p50 ms | Reserve − Evaluate p50 | fsync p50 ms | "
                  "Reserve − Evaluate − fsync | repriced |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|"]
        for r in alone_rows:
            cost = r["p50_ms"] - r["evaluate_p50_ms"]
            lines.append(f"| {r['backend']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['evaluate_p50_ms']:.2f} | "
                         f"+{cost:.2f} ms | {r['fsync_p50_ms']:.2f} | {cost - r['fsync_p50_ms']:+.2f} ms | "
                         f"{r['repriced']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400, help="Reserve+Commit pairs per measurement")
    parser.add_argument("--clients", default="1,8,32", help="concurrent clients (threads), comma-separated")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--tiny", action="store_true", help="a smoke run: 20 orders, 1 and 2 clients")
    args = parser.parse_args()
    orders, clients = (20, (1, 2)) if args.tiny else (args.orders, tuple(int(c) for c in args.clients.split(",")))
    result = measure(orders, clients, tuple(args.backends.split(",")), log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(result, indent=2) if args.json else section(result))


if __name__ == "__main__":
    main()
