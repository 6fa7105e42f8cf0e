"""Issuing codes: batches of fresh codes inserted under the unique index (a collision is drawn
again), each batch its own transaction, streamed as it commits. The idempotency key names the
issue: the same key again streams the codes it issued and, if a crash cut the first call
short, issues the rest."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from sqlalchemy import Connection, Engine, literal, select, true

from server.ledger import codes, validate
from server.ledger.database import insert_new, reading, texts, write
from server.ledger.errors import InvalidArgument
from server.ledger.idempotency import claim, store
from server.ledger.schema import codes as issued

MAX_COUNT = 1_000_000
BATCH = 5_000
MAX_PREFIX = 16
LENGTHS = range(6, 33)  # random characters and the check character, after the prefix
_DRAWS = 10  # attempts at a batch's collisions: with the space checked below, one is enough


def check(coupon: str, count: int, prefix: str, length: int, key: str) -> str:
    validate.name(coupon, "coupon")
    validate.name(key, "idempotency_key")
    validate.count(count, "count", most=MAX_COUNT)
    validate.count(length, "length", least=LENGTHS.start, most=LENGTHS.stop - 1)
    prefix = codes.normalize(prefix)
    if len(prefix) > MAX_PREFIX or any(c not in codes.VALUE for c in prefix):
        raise InvalidArgument("prefix", f"at most {MAX_PREFIX} characters of {codes.ALPHABET}")
    if codes.BASE ** (length - 1) < 10_000 * count:  # hard to guess, and collisions stay rare
        raise InvalidArgument("length", f"too short for {count} codes that cannot be guessed")
    return prefix


def issue(engine: Engine, coupon: str, count: int, prefix: str, length: int, key: str, now_us: Callable[[], int],
          randbytes: Callable[[int], bytes] = os.urandom, batch: int = BATCH) -> Iterator[str]:
    prefix = check(coupon, count, prefix, length, key)
    request = {"coupon": coupon, "count": count, "prefix": prefix, "length": length}

    def start(conn: Connection) -> None:
        if claim(conn, key, "issue_codes", request, now_us()) is None:
            store(conn, key, request)

    write(engine, start)  # before the first code is asked for: a bad request fails at the call
    return _stream(engine, coupon, count, prefix, length, key, now_us, randbytes, batch)


def _stream(engine: Engine, coupon: str, count: int, prefix: str, length: int, key: str, now_us: Callable[[], int],
            randbytes: Callable[[int], bytes], batch: int) -> Iterator[str]:
    done = 0
    for code in _issued(engine, key, batch):  # a replay, or what a cut-short first call issued
        done += 1
        yield code
    while done < count:
        size = min(batch, count - done)
        def batch_of(conn: Connection, size: int = size) -> list[str]:
            return _insert(conn, coupon, key, size, prefix, length, now_us(), randbytes)

        fresh = write(engine, batch_of)
        done += len(fresh)
        yield from fresh


def _issued(engine: Engine, key: str, batch: int) -> Iterator[str]:
    last = 0
    while True:
        with reading(engine) as conn:
            rows = conn.execute(select(issued.c.id, issued.c.code).where(issued.c.batch == key, issued.c.id > last)
                                .order_by(issued.c.id).limit(batch)).all()
        yield from (row.code for row in rows)
        if len(rows) < batch:
            return
        last = rows[-1].id


def _insert(conn: Connection, coupon: str, key: str, size: int, prefix: str, length: int, now_us: int,
            randbytes: Callable[[int], bytes]) -> list[str]:
    kept: list[str] = []
    for _ in range(_DRAWS):
        drawn = list(dict.fromkeys(codes.make(prefix, length, size - len(kept), randbytes)))
        rows = texts(conn, drawn)
        fresh = (insert_new(conn, issued)
                 .from_select(["code", "coupon", "batch", "issued_us"],
                              # WHERE true: SQLite reads `SELECT … ON CONFLICT` as a join without it
                              select(rows.c.value, literal(coupon), literal(key), literal(now_us)).where(true()))
                 .returning(issued.c.code))
        new = set(conn.execute(fresh).scalars())
        kept.extend(c for c in drawn if c in new)
        if len(kept) == size:
            return kept
    raise InvalidArgument("length", "codes of this length keep colliding with issued ones: issue longer codes")
