"""Where the partitions are priced: in this process, on every local core (spawned workers, as
`promo analyze` does), or on a Dask cluster. All three give the same aggregate: it is a monoid
and partitions are priced the same wherever they run.

Locally each worker gets the job once (its initializer compiles the rules) and then only
partition descriptors (a path and a byte range); at most four partitions per worker are in
flight. On Dask the job is scattered to every worker once and partitions are submitted with a
bounded window (engine/apps/cluster.py). Only aggregates come back.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from engine.apps import cluster
from engine.apps.backtest.aggregate import Aggregate
from engine.apps.backtest.orders import Partition
from engine.apps.backtest.price import Job, price_partition, use_plans
from engine.plan.plan import Plan

Progress = Callable[[Aggregate], None]  # called with each partition's aggregate as it is merged

_JOB: dict[str, Job] = {}


def _init_worker(job: Job) -> None:
    from engine.apps.backtest.price import plans

    _JOB["job"] = job
    plans(job)  # compiled once per worker process, before the first partition


def _price(part: Partition) -> Aggregate:
    return price_partition(_JOB["job"], part)


def run_backtest(job: Job, parts: Iterable[Partition], processes: int | None = None, scheduler: str | None = None,
                 progress: Progress | None = None, compiled: tuple[Plan, Plan | None] | None = None) -> Aggregate:
    """The merged aggregate of every partition. `processes` 1 prices in this process (with the
    plans in `compiled` when given); `scheduler` (tcp://host:8786) on that Dask cluster."""
    total = Aggregate.empty(job.against is not None, job.top)

    def add(agg: Aggregate) -> None:
        total.merge(agg)
        if progress is not None:
            progress(agg)

    if scheduler:
        with cluster.client(scheduler) as c:
            window = 4 * cluster.workers(c)
            for agg in cluster.submit_all(c, price_partition, parts, job, window, ordered=False):
                add(agg)
        return total
    processes = processes or os.cpu_count() or 1
    if processes <= 1:
        if compiled is not None:
            use_plans(job, *compiled)
        for part in parts:
            add(price_partition(job, part))
        return total
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # clean interpreters: nothing inherited but the job
    with ctx.Pool(processes, initializer=_init_worker, initargs=(job,)) as pool:
        pending: deque[Any] = deque()
        for part in parts:
            pending.append(pool.apply_async(_price, (part,)))
            if len(pending) >= processes * 4:
                add(pending.popleft().get())
        while pending:
            add(pending.popleft().get())
    return total
