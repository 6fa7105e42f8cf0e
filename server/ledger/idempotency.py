"""Idempotency keys: the first transaction that uses a key claims it (a row with the request's
hash) and stores its answer before it commits; a later request with that key and the same hash
gets that answer and writes nothing, with another hash it is an IdempotencyConflict.

On PostgreSQL a second request racing the first waits on the key's unique index until the first
commits (then replays its answer) or rolls back (then claims the key itself)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, bindparam, select

from server.ledger.database import insert_new, run
from server.ledger.errors import IdempotencyConflict
from server.ledger.schema import idempotency


def request_hash(operation: str, request: Any) -> str:
    text = json.dumps([operation, request], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def claim(conn: Connection, key: str, operation: str, request: Any, now_us: int) -> Any | None:
    """None if the key is now this transaction's; else the first answer (JSON) to replay."""
    digest = request_hash(operation, request)
    won = run(conn, "idempotency.claim", lambda: insert_new(conn, idempotency).returning(idempotency.c.key),
              {"key": key, "operation": operation, "request_hash": digest, "created_us": now_us}, _CLAIM_KEYS).first()
    if won is not None:
        return None
    stored_hash, answer = run(conn, "idempotency.first", lambda: _FIRST, {"k": key}).one()
    if stored_hash != digest:
        raise IdempotencyConflict(operation)
    return json.loads(answer)


def store(conn: Connection, key: str, answer: Any) -> None:
    run(conn, "idempotency.store", lambda: _STORE, {"k": key, "new_answer": json.dumps(answer)})


_CLAIM_KEYS = ("key", "operation", "request_hash", "created_us")
_FIRST = select(idempotency.c.request_hash, idempotency.c.answer).where(idempotency.c.key == bindparam("k"))
_STORE = idempotency.update().where(idempotency.c.key == bindparam("k")).values(answer=bindparam("new_answer"))
