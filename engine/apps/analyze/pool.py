"""Analyzing a whole catalog: chunks of rows priced on every core, each worker compiling the rules
once; findings come back in catalog order with a bounded number in flight, each already written by
the caller's `encode` (engine/wire/encode.py `row_to_json`: the workers send JSON objects, cheaper to
send back than findings; apps do not import the wire format).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from engine.apps.analyze.scenarios import Options
from engine.apps.analyze.search import Finding, analyze_item
from engine.apps.catalog import CatalogError, CatalogItem
from engine.plan.plan import Plan

# a finding or a bad row, as the caller writes it (a module-level function: workers get it pickled)
Encode = Callable[[Finding | CatalogError, Plan], dict[str, Any]]

_WORKER: dict[str, Any] = {}


def _init_worker(rules: str, encode: Encode) -> None:
    from engine.lang.load import load_ruleset
    from engine.plan.compiler import compile_plan

    _WORKER["plan"] = compile_plan(load_ruleset(rules))  # once per worker process
    _WORKER["encode"] = encode


def _work(chunk: list[CatalogItem | CatalogError], options: Options) -> list[dict[str, Any]]:
    plan, encode = _WORKER["plan"], _WORKER["encode"]
    return [encode(x if isinstance(x, CatalogError) else analyze_item(plan, x, options), plan) for x in chunk]


def chunks(rows: Iterable[CatalogItem | CatalogError], size: int) -> Iterator[list[CatalogItem | CatalogError]]:
    """The catalog rows in lists of `size` (the last one shorter), for the local pool and the cluster."""
    chunk: list[CatalogItem | CatalogError] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def analyze_catalog(rules: str, plan: Plan, rows: Iterable[CatalogItem | CatalogError], options: Options,
                    encode: Encode, processes: int | None = None, chunk_size: int = 32) -> Iterator[dict[str, Any]]:
    """Finding (or bad-row) JSON objects in catalog order. With several processes each worker
    compiles `rules` once and prices chunks of rows; at most a few chunks per worker are in
    flight, so memory stays flat however long the catalog is."""
    import multiprocessing
    import os
    from collections import deque

    processes = processes or os.cpu_count() or 1
    if processes <= 1:
        for chunk in chunks(rows, chunk_size):
            _WORKER["plan"], _WORKER["encode"] = plan, encode
            yield from _work(chunk, options)
        return
    ctx = multiprocessing.get_context("spawn")  # clean interpreters: nothing inherited but the arguments
    with ctx.Pool(processes, initializer=_init_worker, initargs=(str(rules), encode)) as pool:
        pending: deque[Any] = deque()
        for chunk in chunks(rows, chunk_size):
            pending.append(pool.apply_async(_work, (chunk, options)))
            if len(pending) >= processes * 4:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
