"""The orders a backtest replays: JSON Lines or Parquet, cut into partitions that a worker reads
on its own, so that no order travels from the reading process to the one that prices it.

One order is the EvaluateRequest JSON (docs/service.md) with its order time in `at`, plus an
optional `order_id`. A JSON Lines file is one object a line; its **row** is the line number (1
for the first line; blank lines count and are skipped). A Parquet file holds either a `request`
column of that JSON as text (and optionally an `order_id` column), or the request's fields as
columns (`at`, `lines`, `user`, ...: nested lists and structs as Arrow reads them); its row is the
row's 1-based position in the file.

A JSON Lines partition is a byte range that starts at a line and ends after one, with the number
of its first line, found by one pass over the file that only counts newlines (a few hundred MB a
second); a Parquet partition is one row group.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

BLOCK = 1 << 20  # bytes read at a time
PARTITION_ROWS = 2_000  # lines per JSON Lines partition, by default
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")


class OrdersFormatError(ValueError):
    """The file as a whole cannot be read (unknown format, unreadable Parquet, pyarrow missing)."""


@dataclass(frozen=True)
class Partition:
    path: str
    kind: str  # "jsonl" | "parquet"
    start: int  # byte offset (jsonl) or row group (parquet)
    stop: int  # byte offset after its last line (jsonl) or the row group + 1 (parquet)
    first_row: int  # the row of its first line / row
    rows: int  # lines (blank ones included) / rows


@dataclass(frozen=True)
class Order:
    row: int
    data: dict[str, Any]  # the request JSON object; `order_id` still in it


@dataclass(frozen=True)
class BadRow:
    row: int
    message: str


def kind_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise OrdersFormatError(f"`{path}`: orders are a .jsonl (JSON Lines) or .parquet file")


def partitions(path: str | Path, rows: int = PARTITION_ROWS) -> Iterator[Partition]:
    """The file's partitions in file order, lazily (the next one is found when it is asked for)."""
    kind = kind_of(path)
    if kind == "parquet":
        yield from _parquet_partitions(str(path))
    else:
        yield from _jsonl_partitions(str(path), max(1, rows))


def _jsonl_partitions(path: str, rows: int) -> Iterator[Partition]:
    start, first_row, lines, offset = 0, 1, 0, 0
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            newlines = block.count(b"\n")
            if lines + newlines < rows:
                lines += newlines
                offset += len(block)
                continue
            at = 0
            while (found := block.find(b"\n", at)) >= 0:
                lines += 1
                at = found + 1
                if lines == rows:
                    stop = offset + at
                    yield Partition(path, "jsonl", start, stop, first_row, lines)
                    start, first_row, lines = stop, first_row + lines, 0
            offset += len(block)
    if offset > start:  # the last lines (the file may not end with a newline)
        yield Partition(path, "jsonl", start, offset, first_row, lines + 1 if _ends_open(path, offset) else lines)


def _ends_open(path: str, size: int) -> bool:
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) != b"\n"


def _parquet_file(path: str) -> Any:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise OrdersFormatError("reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        return pq.ParquetFile(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types for a file it cannot read
        raise OrdersFormatError(f"`{path}`: not a Parquet file ({err})") from None


def _parquet_partitions(path: str) -> Iterator[Partition]:
    meta = _parquet_file(path).metadata
    first = 1
    for group in range(meta.num_row_groups):
        n = meta.row_group(group).num_rows
        yield Partition(path, "parquet", group, group + 1, first, n)
        first += n


def count_rows(path: str | Path) -> int:
    """Rows (lines of a JSON Lines file, blank ones included): a progress bar's total."""
    if kind_of(path) == "parquet":
        return int(_parquet_file(str(path)).metadata.num_rows)
    total, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            total += block.count(b"\n")
            last = block[-1:]
    return total + (last != b"\n")


def read_partition(part: Partition) -> Iterator[Order | BadRow]:
    """The partition's orders and bad rows, one at a time."""
    if part.kind == "parquet":
        yield from _read_parquet(part)
    else:
        yield from _read_jsonl(part)


def _not_json(constant: str) -> Any:
    raise ValueError(f"`{constant}` is not a JSON value")


def _read_jsonl(part: Partition) -> Iterator[Order | BadRow]:
    with open(part.path, "rb") as f:
        f.seek(part.start)
        remaining = part.stop - part.start
        row = part.first_row
        while remaining > 0:
            raw = f.readline(remaining)
            if not raw:
                break
            remaining -= len(raw)
            yield from _parse_line(raw, row)
            row += 1


def _parse_line(raw: bytes, row: int) -> Iterator[Order | BadRow]:
    if row == 1 and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if not raw.strip():
        return
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
    except UnicodeDecodeError:
        yield BadRow(row, "not UTF-8 text")
        return
    except json.JSONDecodeError as err:
        yield BadRow(row, f"not JSON: {err.msg} (column {err.colno})")
        return
    except (ValueError, RecursionError) as err:  # NaN/Infinity, an integer past 4,300 digits, nested too deep
        yield BadRow(row, f"not JSON: {err}")
        return
    if not isinstance(data, dict):
        yield BadRow(row, "expected a JSON object (an EvaluateRequest)")
        return
    yield Order(row, data)


def _plain(value: Any) -> Any:
    """An Arrow value as the JSON a request holds: no nulls (a field left out), date-times as
    ISO-8601, decimals as decimal strings, maps (lists of pairs) as objects."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return {str(k): _plain(v) for k, v in value}
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _read_parquet(part: Partition) -> Iterator[Order | BadRow]:
    file = _parquet_file(part.path)
    row = part.first_row
    for batch in file.iter_batches(batch_size=1024, row_groups=list(range(part.start, part.stop))):
        for record in batch.to_pylist():
            request = record.get("request")
            if isinstance(request, str | bytes):
                text = request.decode("utf-8", "replace") if isinstance(request, bytes) else request
                parsed = list(_parse_line(text.encode("utf-8"), row))
                if parsed and isinstance(parsed[0], Order) and record.get("order_id") is not None:
                    parsed[0].data.setdefault("order_id", record["order_id"])
                yield from parsed or [BadRow(row, "empty `request`")]
            elif "request" in record and request is None and len(record) <= 2:
                yield BadRow(row, "`request` is null")
            else:
                yield Order(row, _plain(record))
            row += 1
