"""`promo analyze --scheduler ADDRESS`: the catalog analyzed on a Dask cluster, for catalogs larger
than one machine. Chunks of rows go to the workers (each compiles the rules once, from their
source text: engine/apps/cluster.py) and findings come back in catalog order, with a bounded
number of chunks in flight. The JSON conversion is the caller's `encode` (engine/wire/encode.py
`row_to_json`, as for the local pool: the apps layer does not import the wire format).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.apps import cluster
from engine.apps.analyze.pool import chunks
from engine.apps.analyze.scenarios import Options
from engine.apps.analyze.search import analyze_item
from engine.apps.catalog import CatalogError, CatalogItem
from engine.lang.source import SourceFile


@dataclass(frozen=True)
class Task:
    sources: tuple[SourceFile, ...]
    options: Options
    encode: Callable[..., dict[str, Any]]  # (Finding | CatalogError, Plan) -> JSON
    key: str = ""


def _work(task: Task, chunk: list[CatalogItem | CatalogError]) -> list[dict[str, Any]]:
    plan = cluster.plan_for(task.sources, task.key)  # once per worker process
    return [task.encode(x if isinstance(x, CatalogError) else analyze_item(plan, x, task.options), plan) for x in chunk]


def analyze_on_cluster(scheduler: str, sources: tuple[SourceFile, ...], rows: Iterable[CatalogItem | CatalogError],
                       options: Options, encode: Callable[..., dict[str, Any]], chunk_size: int = 32) -> Iterator[dict[str, Any]]:
    """Finding (or bad-row) JSON objects in catalog order, priced on the cluster at `scheduler`."""
    task = Task(sources, options, encode, cluster.digest(sources))
    with cluster.client(scheduler) as c:
        window = 4 * cluster.workers(c)
        for findings in cluster.submit_all(c, _work, chunks(rows, chunk_size), task, window, ordered=True):
            yield from findings
