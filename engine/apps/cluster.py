"""Running an app's work on a Dask cluster (distributed): `promo backtest` and `promo analyze`
with `--scheduler tcp://host:8786`.

Tasks get their rules as source text (`SourceFile`s, scattered to every worker once), so a
worker on another machine needs no copy of the rule files; each worker process compiles a
ruleset once (`plan_for`, kept per process by the sources' digest) and reuses it for every later
task. At most `window` tasks are in flight at a time, so neither the scheduler nor this process
holds more than that many inputs or results whatever the size of the input.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from engine.lang.load import load_sources
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan
from engine.plan.plan import Plan


class RulesError(ValueError):
    """A ruleset does not compile (the caller checked it; a worker says so again)."""


def digest(sources: Iterable[SourceFile]) -> str:
    h = hashlib.sha256()
    for source in sources:
        h.update(source.path.encode() + b"\0" + source.text.encode() + b"\0")
    return h.hexdigest()


def compile_sources(sources: Iterable[SourceFile]) -> Plan:
    loaded = load_sources(list(sources))
    if not loaded.ok:
        raise RulesError(f"the ruleset has errors: {next(d for d in loaded.diagnostics if d.is_error).message}")
    return compile_plan(loaded)


_PLANS: dict[str, Plan] = {}
_LOCK = threading.Lock()
KEEP = 4  # plans a long-lived worker keeps (the last ones used)


def plan_for(sources: tuple[SourceFile, ...], key: str = "") -> Plan:
    """The compiled plan of these sources: compiled once per process, then reused."""
    key = key or digest(sources)
    with _LOCK:
        plan = _PLANS.get(key)
        if plan is None:
            while len(_PLANS) >= KEEP:
                _PLANS.pop(next(iter(_PLANS)))
            plan = _PLANS[key] = compile_sources(sources)
        return plan


def keep_plan(sources: tuple[SourceFile, ...], plan: Plan, key: str = "") -> None:
    """Hands this process a plan compiled already (the in-process path compiles only once)."""
    with _LOCK:
        _PLANS[key or digest(sources)] = plan


def clear_plans() -> None:
    """Forgets the plans this process compiled (the next `plan_for` compiles again)."""
    with _LOCK:
        _PLANS.clear()


@contextmanager
def client(scheduler: str) -> Iterator[Any]:
    """A Dask client of the scheduler at `scheduler` (tcp://host:8786)."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise RuntimeError("--scheduler needs dask[distributed] (pip install 'dask[distributed]')") from None
    c = Client(scheduler, set_as_default=False, timeout=30)
    try:
        yield c
    finally:
        c.close()


def workers(c: Any) -> int:
    """Threads the cluster offers (at least 1)."""
    return max(1, sum(w.get("nthreads", 1) for w in c.scheduler_info(n_workers=-1)["workers"].values()))


def submit_all(c: Any, fn: Callable[..., Any], items: Iterable[Any], shared: Any, window: int,
               ordered: bool) -> Iterator[Any]:
    """`fn(shared, item)` for every item, on the cluster, with at most `window` in flight.
    `shared` goes to every worker once. Results in item order when `ordered`, else as they finish."""
    from distributed import as_completed

    big = c.scatter(shared, broadcast=True, hash=False)
    pending: deque[Any] = deque()
    done: Any = None  # as_completed of the futures in flight (made with the first one: it takes their client)
    for item in items:
        future = c.submit(fn, big, item, pure=False)
        pending.append(future)
        if not ordered:
            if done is None:
                done = as_completed([future], loop=c.loop)
            else:
                done.add(future)
        if len(pending) >= window:
            if ordered:
                yield pending.popleft().result()
            else:
                finished = next(done)
                pending.remove(finished)
                yield finished.result()
                finished.release()
    if ordered:
        while pending:
            yield pending.popleft().result()
    elif done is not None:
        for finished in done:
            yield finished.result()
            finished.release()
