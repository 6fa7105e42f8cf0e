"""Prometheus metrics of `promo serve --metrics-port P` (docs/service.md "Metrics").

Off by default: every hook (`observe`, `reloaded`, `rejected`, ...) is then one global read and
a return. `enable()` creates the metrics; `start_exporter` serves `/metrics`. With `--workers N`
prometheus_client's multiprocess mode counts every worker: the supervisor makes a fresh
directory, sets PROMETHEUS_MULTIPROC_DIR before it spawns the workers (each worker's metrics
write their own files there), and serves `/metrics` itself, summing the files
(MultiProcessCollector); a worker that ends is marked dead (its live gauges leave the sum, its
counts stay). prometheus_client is imported only when metrics are on, after that variable is set.

No label takes an unbounded value: `method` is a method the server registered, `code` a gRPC
status name, `operation` and `outcome` fixed words, `revision` the ruleset's (one a reload), and
`promotion` (on `promo_budget_remaining` only) a promotion of the served ruleset that declares a
budget. Never a buyer, order, cart, reservation or request id.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

# call latency buckets, seconds: an Evaluate is tens of microseconds to a few milliseconds, a
# search or a ledger write up to the server's limit on one call (10 s by default)
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REFRESH = 5.0  # seconds between reads of the ledger gauges (held reservations, budgets left) at most
SPACING = 0.5  # seconds at least between two such reads (a write asks for one sooner)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WRITES = frozenset({"reserve", "commit", "cancel", "return"})  # ledger operations that move the gauges


class _Metrics:
    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        registry = REGISTRY if registry is None else registry
        self.calls = Counter("promo_calls", "gRPC calls handled, by method and status code",
                             ["method", "code"], registry=registry)
        self.duration = Histogram("promo_call_duration_seconds", "gRPC call latency (received to answered)",
                                  ["method"], buckets=BUCKETS, registry=registry)
        self.ruleset = Gauge("promo_ruleset_info", "the ruleset revision served (1; 0 for one no longer served)",
                             ["revision"], multiprocess_mode="livemax", registry=registry)
        self.reloads = Counter("promo_ruleset_reloads", "ruleset compilations: loaded (swapped in) or rejected",
                               ["outcome"], registry=registry)
        self.ledger = Counter("promo_ledger_operations", "ledger operations by kind and outcome (ok or the status)",
                              ["operation", "outcome"], registry=registry)
        self._registry = registry
        self.held: Any = None  # made with the ledger (`with_ledger`): no ledger, no such series
        self.budget = Gauge("promo_budget_remaining", "budget left of a promotion that declares one, currency units",
                            ["promotion"], multiprocess_mode="livemostrecent", registry=registry)
        for outcome in ("loaded", "rejected"):
            self.reloads.labels(outcome)  # both series from the start (a rate over a missing series is empty)
        self.revision: str | None = None
        self.budgets: set[str] = set()
        self._children: dict[tuple[str, Any], tuple[Any, Any]] = {}
        self._poke = threading.Event()

    def with_ledger(self) -> None:
        if self.held is None:
            from prometheus_client import Gauge

            self.held = Gauge("promo_ledger_reservations_held", "reservations held now (not committed, not expired)",
                              multiprocess_mode="livemostrecent", registry=self._registry)

    def observe(self, method: str, code: Any, seconds: float) -> None:
        key = (method, code)
        children = self._children.get(key)
        if children is None:  # a race here makes the same children twice: harmless
            name = method[1:] if method.startswith("/") else method
            children = self._children[key] = (self.calls.labels(name, getattr(code, "name", str(code))),
                                               self.duration.labels(name))
        children[0].inc()
        children[1].observe(seconds)


_on: _Metrics | None = None


def enable(registry: Any = None) -> None:
    """Create the metrics (on prometheus_client's default registry unless given one)."""
    global _on
    _on = _Metrics(registry)


def disable() -> None:
    global _on
    _on = None


def enabled() -> bool:
    return _on is not None


# ---- hooks (each a no-op when metrics are off) -------------------------------------------------


def observe(method: str, code: Any, seconds: float) -> None:
    """One call ended (the call interceptor): `code` a grpc.StatusCode."""
    if _on is not None:
        _on.observe(method, code, seconds)


def reloaded(revision: str) -> None:
    """A ruleset was swapped in (the reload watcher), the first included."""
    if _on is not None:
        if _on.revision is not None and _on.revision != revision:
            _on.ruleset.labels(_on.revision).set(0)
        _on.ruleset.labels(revision).set(1)
        _on.revision = revision
        _on.reloads.labels("loaded").inc()
        _on._poke.set()  # a new ruleset may declare other budgets


def rejected() -> None:
    """A ruleset did not compile; the served one stays (the reload watcher)."""
    if _on is not None:
        _on.reloads.labels("rejected").inc()


def ledger_operation(operation: str, outcome: str) -> None:
    if _on is not None:
        _on.ledger.labels(operation, outcome).inc()
        if operation in WRITES:
            _on._poke.set()


def outcome_of(error: BaseException) -> str:
    """A failed ledger operation's outcome: its gRPC status in lower case (the ledger's errors
    carry it), `invalid_argument` for a request the conversion refused, else `error`."""
    status = getattr(error, "status", None)
    if isinstance(status, str):
        return status.lower()
    from engine.wire.decode import RequestError
    from server.service.convert import LimitExceeded

    if isinstance(error, RequestError):
        return "invalid_argument"
    if isinstance(error, LimitExceeded):
        return "resource_exhausted"
    if type(error).__name__ == "NoRuleset":
        return "failed_precondition"
    return "error"


OPERATIONS = {"Reserve": "reserve", "Commit": "commit", "Cancel": "cancel", "Return": "return",
              "IssueCodes": "issue_codes", "GetUsage": "get_usage", "GetOrder": "get_order", "GetStats": "get_stats"}


def instrument_ledger(servicer: Any) -> Any:
    """The LedgerService servicer with each operation counted by outcome (the servicer itself,
    untouched, when metrics are off)."""
    if _on is None:
        return servicer
    for method, operation in OPERATIONS.items():
        handler = getattr(servicer, method, None)
        if handler is not None:
            setattr(servicer, method, (_counted_stream if method == "IssueCodes" else _counted)(handler, operation))
    return servicer


def _counted(handler: Callable[..., Any], operation: str) -> Callable[..., Any]:
    def counted(request: Any, context: Any) -> Any:
        try:
            answer = handler(request, context)
        except Exception as error:
            ledger_operation(operation, outcome_of(error))
            raise
        ledger_operation(operation, "ok")
        return answer
    return counted


def _counted_stream(handler: Callable[..., Any], operation: str) -> Callable[..., Any]:
    def counted(request: Any, context: Any) -> Any:
        try:
            yield from handler(request, context)
        except Exception as error:
            ledger_operation(operation, outcome_of(error))
            raise
        ledger_operation(operation, "ok")
    return counted


# ---- the ledger's gauges -------------------------------------------------------------------------


def held_reservations(ledger: Any) -> int:
    """Reservations held now: state `held` and not past their expiry (an expired hold counts as
    released at once, swept or not)."""
    from sqlalchemy import func, select

    from server.ledger.clock import to_us
    from server.ledger.database import reading
    from server.ledger.schema import reservations

    now = to_us(ledger.now())
    query = select(func.count()).select_from(reservations).where(reservations.c.state == "held",
                                                                 reservations.c.expires_us > now)
    with reading(ledger._engine) as conn:  # the ledger's own pool (a read-only transaction)
        return int(conn.execute(query).scalar() or 0)


def budgets_remaining(plan: Any, read: Callable[[Any], Any]) -> dict[str, float]:
    """Per promotion of `plan` that declares a budget: what is left of it now, in currency units
    (the tightest of its budgets: `budget M` for the whole run, `budget M per P` for the current
    period), read with `read` (Ledger.get_usage). Held spend counts as spent."""
    from server.ledger.types import UsageQuery
    from server.service.ledger_pricer import cached_clauses

    found = {name: c.budgets for name, c in cached_clauses(plan).items() if c.budgets}
    if not found:
        return {}
    usage = read(UsageQuery(tuple(sorted(found)), timezone=str(plan.timezone)))
    unit = 10 ** plan.digits
    return {name: max(0, min(b.amount - usage.spent(name, b) for b in budgets)) / unit
            for name, budgets in found.items()}


def _set_gauges(held: int | None, budgets: Mapping[str, float] | None) -> None:
    on = _on
    if on is None:
        return
    if held is not None and on.held is not None:
        on.held.set(held)
    if budgets is not None:
        for gone in on.budgets - budgets.keys():  # a reload dropped the promotion or its budget
            try:
                on.budget.remove(gone)
            except KeyError:
                pass
        for name, left in budgets.items():
            on.budget.labels(name).set(left)
        on.budgets = set(budgets)


class LedgerGauges:
    """Keeps `promo_ledger_reservations_held` and `promo_budget_remaining` in step with the
    ledger: read every REFRESH seconds, and soon (at most every SPACING seconds) after a write of
    this process, on a thread of its own (never on a call's path). `served()` is the served
    ruleset (it raises before one loads)."""

    def __init__(self, ledger: Any, served: Callable[[], Any], log: Any) -> None:
        self.ledger = ledger
        self.served = served
        self.log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-ledger", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if _on is not None:
            _on._poke.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            if self._stop.wait(SPACING):
                return
            if _on is not None:
                _on._poke.wait(REFRESH)
                _on._poke.clear()

    def refresh(self) -> None:
        try:
            held = held_reservations(self.ledger)
        except Exception as error:  # noqa: BLE001 - the database may be away a moment: the next read retries
            self.log.warning("metrics_ledger_failed", error=f"{type(error).__name__}: {str(error)[:300]}")
            return
        try:
            plan = self.served().plan
        except Exception:  # noqa: BLE001 - no ruleset yet: no budgets to show
            _set_gauges(held, None)
            return
        try:
            budgets = budgets_remaining(plan, self.ledger.get_usage)
        except Exception as error:  # noqa: BLE001
            self.log.warning("metrics_ledger_failed", error=f"{type(error).__name__}: {str(error)[:300]}")
            budgets = None
        _set_gauges(held, budgets)


def watch_ledger(ledger: Any, served: Callable[[], Any], log: Any) -> LedgerGauges | None:
    """Start keeping the ledger's gauges (None when metrics are off)."""
    if _on is None:
        return None
    _on.with_ledger()
    gauges = LedgerGauges(ledger, served, log)
    gauges.start()
    return gauges


# ---- /metrics --------------------------------------------------------------------------------------


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def start_exporter(host: str, port: int, directory: str | None = None) -> Any:
    """Serve `/metrics` on host:port (0: a free port) on a thread; with `directory`, the sum of
    the multiprocess files there. Returns the HTTP server (`server_port`, `shutdown()`).
    OSError if the port cannot be bound."""
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server

    registry: Any = REGISTRY
    if directory is not None:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    httpd, _thread = start_http_server(port, addr=host.strip("[]"), registry=registry)
    return httpd


def process_dead(pid: int, directory: str) -> None:
    """A worker ended: its live gauges leave the sum (its counts stay)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)

