"""Analyzing a whole catalog: chunks of rows priced on every core, each worker compiling the rules
once; findings come back in catalog order with a bounded number in flight.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from engine.apps.analyze.scenarios import Options
from engine.apps.analyze.search import analyze_item
from engine.apps.catalog import CatalogError, CatalogItem
from engine.plan.plan import Plan
from engine.wire.encode import error_to_json, finding_to_json

_WORKER: dict[str, Any] = {}


def _init_worker(rules: str) -> None:
    from engine.lang.load import load_ruleset
    from engine.plan.compiler import compile_plan

    _WORKER["plan"] = compile_plan(load_ruleset(rules))  # once per worker process


def _work(chunk: list, options: Options) -> list[dict[str, Any]]:
    plan = _WORKER["plan"]
    return [error_to_json(x) if isinstance(x, CatalogError) else finding_to_json(analyze_item(plan, x, options), plan)
            for x in chunk]


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def analyze_catalog(rules: str, plan: Plan, rows: Iterable[CatalogItem | CatalogError], options: Options,
                    processes: int | None = None, chunk_size: int = 32) -> Iterator[dict[str, Any]]:
    """Finding (or bad-row) JSON objects in catalog order. With several processes each worker
    compiles `rules` once and prices chunks of rows; at most a few chunks per worker are in
    flight, so memory stays flat however long the catalog is."""
    import multiprocessing
    import os
    from collections import deque

    processes = processes or os.cpu_count() or 1
    if processes <= 1:
        for chunk in _chunks(rows, chunk_size):
            _WORKER["plan"] = plan
            yield from _work(chunk, options)
        return
    ctx = multiprocessing.get_context("spawn")  # clean interpreters: nothing inherited but the arguments
    with ctx.Pool(processes, initializer=_init_worker, initargs=(str(rules),)) as pool:
        pending: deque = deque()
        for chunk in _chunks(rows, chunk_size):
            pending.append(pool.apply_async(_work, (chunk, options)))
            if len(pending) >= processes * 4:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
