"""The only code that changes a counter. Each change is one guarded conditional UPDATE and its
entry, in the caller's transaction:

    UPDATE counters SET used = used + <grant>, … WHERE <key> AND used + :at_least <= :cap RETURNING …

The database evaluates the condition on the row it locks (PostgreSQL re-checks it on the newest
version in READ COMMITTED; SQLite holds the write lock), so no two transactions can both take
the last unit, whatever the interleaving. Nothing here reads a counter and then writes it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, and_, bindparam, case, func, select

from server.ledger.database import insert_new, run
from server.ledger.schema import counters, entries
from server.ledger.types import CounterKey

ENTRY_KEYS = ("reservation_id", "counter_id", "delta", "cause", "at_us")  # an entry's columns, for entries.insert
_NEW_KEYS = ("promotion", "metric", "subject", "period", "used", "cap", "moved")


class Drift(RuntimeError):
    """A release larger than the counter: the counters and their entries disagree (never expected;
    `verify` says where)."""


def _where(key: CounterKey) -> ColumnElement[bool]:
    c = counters.c
    return and_(c.promotion == key.promotion, c.metric == str(key.metric), c.subject == key.subject,
                c.period == key.period)


def take(conn: Connection, key: CounterKey, want: int, cap: int, at_least: int, *,
         reservation_id: str, now_us: int, changes: list[dict[str, Any]] | None = None) -> tuple[int, int] | None:
    """Add `want` to the counter, or as much as is left under `cap` if that is at least
    `at_least`; returns (counter id, amount added), or None when less than `at_least` is left.
    The entry is written at once, or appended to `changes` for the caller to write (in this
    transaction, before it commits: `entries.insert` with ENTRY_KEYS)."""
    values = {**_key(key), "want": want, "new_cap": cap, "at_least": at_least}
    row = run(conn, "counters.take", _guarded, values).first()
    if row is None:
        # a counter nobody has touched yet: create it at 0 and try once more (a concurrent
        # creator makes the insert a no-op, and the second update then sees its row)
        run(conn, "counters.new", lambda: insert_new(conn, counters),
            {"promotion": key.promotion, "metric": str(key.metric), "subject": key.subject,
             "period": key.period, "used": 0, "cap": cap, "moved": 0}, _NEW_KEYS)
        row = run(conn, "counters.take", _guarded, values).first()
        if row is None:
            return None
    counter_id, moved = int(row[0]), int(row[1])
    _entry(conn, reservation_id, counter_id, moved, "reserve", now_us, changes)
    return counter_id, moved


def _guarded() -> Any:
    """UPDATE counters SET used = used + grant … WHERE <key> AND used + :at_least <= :cap, where
    grant is :want, or what is left under the cap when that is less."""
    c = counters.c
    cap, want = bindparam("new_cap", type_=BigInteger), bindparam("want", type_=BigInteger)
    left = cap - c.used
    grant = case((left < want, left), else_=want)
    return (counters.update()
            .where(c.promotion == bindparam("k_promotion"), c.metric == bindparam("k_metric"),
                   c.subject == bindparam("k_subject"), c.period == bindparam("k_period"),
                   c.used + bindparam("at_least", type_=BigInteger) <= cap)
            .values(used=c.used + grant, moved=grant, cap=cap)
            .returning(c.id, c.moved))


def _key(key: CounterKey) -> dict[str, str]:
    return {"k_promotion": key.promotion, "k_metric": str(key.metric), "k_subject": key.subject,
            "k_period": key.period}


def _giving() -> Any:
    c = counters.c
    amount = bindparam("amount", type_=BigInteger)
    return (counters.update().where(c.id == bindparam("counter_id"), c.used >= amount)
            .values(used=c.used - amount, moved=-amount).returning(c.id))


def give(conn: Connection, counter_id: int, amount: int, *, reservation_id: str, cause: str, now_us: int,
         changes: list[dict[str, Any]] | None = None) -> None:
    """Give back `amount` that this reservation holds on the counter (its entry as `take`'s)."""
    if run(conn, "counters.give", _giving, {"counter_id": counter_id, "amount": amount}).first() is None:
        raise Drift(f"counter {counter_id} holds less than the {amount} reservation {reservation_id} gives back")
    _entry(conn, reservation_id, counter_id, -amount, cause, now_us, changes)


def used(conn: Connection, key: CounterKey) -> int:
    """For an answer's detail only (which limit, used, limit); never for a decision."""
    return conn.execute(select(counters.c.used).where(_where(key))).scalar() or 0


def _entry(conn: Connection, reservation_id: str, counter_id: int, delta: int, cause: str, now_us: int,
           changes: list[dict[str, Any]] | None) -> None:
    entry = {"reservation_id": reservation_id, "counter_id": counter_id, "delta": delta, "cause": cause, "at_us": now_us}
    if changes is not None:
        changes.append(entry)
    else:
        run(conn, "entries.new", entries.insert, entry, ENTRY_KEYS)


def holdings(conn: Connection, reservation_id: str, promotion: str | None = None,
             metric: str | None = None) -> list[tuple[int, int]]:
    """(counter id, amount held) of a reservation, in the order every writer locks counters."""
    e, c = entries.c, counters.c
    held = func.sum(e.delta)
    query = (select(e.counter_id, held).join(counters, c.id == e.counter_id)
             .where(e.reservation_id == reservation_id)
             .group_by(e.counter_id, c.promotion, c.metric, c.subject, c.period)
             .having(held > 0).order_by(c.promotion, c.metric, c.subject, c.period))
    if promotion is not None:
        query = query.where(c.promotion == promotion)
    if metric is not None:
        query = query.where(c.metric == metric)
    return [(row[0], row[1]) for row in conn.execute(query)]


def release(conn: Connection, reservation_id: str, cause: str, now_us: int) -> None:
    """Give back everything the reservation still holds."""
    for counter_id, amount in holdings(conn, reservation_id):
        give(conn, counter_id, amount, reservation_id=reservation_id, cause=cause, now_us=now_us)
