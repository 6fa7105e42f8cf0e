"""The decision log of `promo serve --decision-log PATH` (docs/service.md "Decision log"): one
JSON line per Evaluate and Reserve answered, so that an operator can tell afterwards why an order
got its price: the request id (as in the call's log line and the `x-request-id` trailer), the
ruleset revision, the payable, the promotions applied (name, amount) and, when the request asked
for reasons, the ones that did not apply and why; for Reserve the order, the reservation and the
promotions the ledger refused.

Off the request path: the handler takes the few fields it needs from its answer and queues them;
a thread of the process encodes and writes them. The file is bounded: past `max_bytes` it is
renamed PATH.1 (PATH.1 to PATH.2, ...; `keep` rotated files, the oldest dropped). With `--workers
N` each worker writes its own file, PATH.worker-1 ... PATH.worker-N, each rotated alone: no lock
between processes, and a line is never interleaved with another's. `close()` (a graceful stop)
writes every queued line before it returns.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.service.interceptors import current_request_id

MAX_BYTES = 100 * 1024 * 1024
KEEP = 5
QUEUE = 100_000  # lines waiting for the writer; past this a call waits (never a line lost)


def file_for(path: str, worker: int) -> Path:
    """The file of one process: PATH for a server alone, PATH.worker-N for worker N."""
    return Path(path if worker == 0 else f"{path}.worker-{worker}")


class RotatingFile:
    """Lines appended to `path`; past `max_bytes` the file is rotated (`keep` old files)."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")
        self._size = self._file.tell()

    def write(self, line: bytes) -> None:
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._file.write(line)
        self._size += len(line)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def _rotate(self) -> None:
        self._file.close()
        if self.keep > 0:
            for n in range(self.keep - 1, 0, -1):
                older = Path(f"{self.path}.{n}")
                if older.exists():
                    os.replace(older, f"{self.path}.{n + 1}")
            os.replace(self.path, f"{self.path}.1")
        self._file = open(self.path, "wb")
        self._size = 0


_STOP = object()


class DecisionLog:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> None:
        self.file = RotatingFile(path, max_bytes, keep)
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE)
        self.failed = 0  # batches that could not be written (a full disk): lost, the writer goes on
        self._thread = threading.Thread(target=self._run, name="decision-log", daemon=True)
        self._thread.start()

    def put(self, entry: dict[str, Any]) -> None:
        self._queue.put(entry)

    def close(self) -> None:
        """Write what is queued, then close the file."""
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            stop = False
            batch = [entry]
            while True:  # what else is queued goes out in the same write and flush
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for item in batch:
                    if item is _STOP:
                        stop = True
                        continue
                    self.file.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                self.file.flush()
            except Exception:  # noqa: BLE001 - a full disk must not stop the writer (the calls would wait on it)
                self.failed += 1
            if stop:
                self.file.close()
                return


_log: DecisionLog | None = None


def open_log(path: str, worker: int = 0, max_bytes: int = MAX_BYTES, keep: int = KEEP) -> Path:
    """Start this process's decision log; returns its file."""
    global _log
    target = file_for(path, worker)
    _log = DecisionLog(target, max_bytes, keep)
    return target


def close() -> None:
    """Write every queued line and stop (no-op when off)."""
    global _log
    log, _log = _log, None
    if log is not None:
        log.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _quote(answer: Any) -> dict[str, Any]:
    """The fields of an EvaluateResponse the log keeps (read now, in the handler's thread)."""
    out: dict[str, Any] = {
        "revision": answer.ruleset.revision, "currency": answer.currency,
        "payable": answer.totals.payable, "list": answer.totals.list, "discount": answer.totals.discount,
        "shipping": answer.totals.shipping,
        "applied": [_applied(a) for a in answer.applied],
        # empty unless the request asked for reasons (explain EXPLAIN_REASONS or EXPLAIN_TRACE)
        "not_applied": [{"promotion": n.promotion, "reason": n.reason} for n in answer.not_applied],
    }
    return out


def _applied(a: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"promotion": a.promotion, "amount": a.amount}
    if a.coupon_id:
        out["coupon_id"] = a.coupon_id
    if a.capped:
        out["capped"] = True
    return out


def evaluated(request_id: str, answer: Any) -> None:
    """An Evaluate answered (an EvaluateResponse)."""
    if _log is not None:
        _log.put({"time": _now(), "method": "Evaluate", "request_id": request_id, **_quote(answer)})


def reserved(request_id: str, answer: Any) -> None:
    """A Reserve answered (a ReserveResponse: its quote, and what the ledger refused)."""
    if _log is not None:
        entry = {"time": _now(), "method": "Reserve", "request_id": request_id, "order_id": answer.order_id,
                 "reservation_id": answer.reservation_id, "state": answer.state, **_quote(answer.quote)}
        refused = [{"promotion": p.promotion, "reason": p.reason} for p in answer.promotions if not p.granted]
        if refused:
            entry["refused"] = refused
        _log.put(entry)


def enabled() -> bool:
    return _log is not None


def _logged(handler: Callable[..., Any], record: Callable[[str, Any], None]) -> Callable[..., Any]:
    def logged(request: Any, context: Any) -> Any:
        answer = handler(request, context)
        record(current_request_id(), answer)  # inside the call: the interceptor's request id
        return answer
    return logged


def instrument(servicer: Any) -> Any:
    """PromotionService's servicer with each Evaluate answered logged (untouched when the log is off)."""
    if _log is not None:
        servicer.Evaluate = _logged(servicer.Evaluate, evaluated)
    return servicer


def instrument_ledger(servicer: Any) -> Any:
    """LedgerService's servicer with each Reserve answered logged (untouched when the log is off)."""
    if _log is not None:
        servicer.Reserve = _logged(servicer.Reserve, reserved)
    return servicer
