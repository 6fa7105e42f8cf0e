"""`Ledger`: the operations, each one transaction on its database (SQLite or PostgreSQL). Every
write takes an idempotency key: the first answer is stored with the request's hash, in the same
transaction as the write."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, select

from server.ledger import issue, lifecycle, presale, stats, usage, validate
from server.ledger import reserve as reserving
from server.ledger.clock import to_us, utc_now
from server.ledger.database import connect, reading, write
from server.ledger.errors import FailedPrecondition, InvalidArgument, NotFound
from server.ledger.idempotency import claim, store
from server.ledger.migrate import current, head
from server.ledger.schema import reservations
from server.ledger.types import (
    Budget,
    Pricer,
    Refund,
    Reservation,
    ReserveRequest,
    ReturnLine,
    State,
    StateChange,
    Usage,
    UsageQuery,
)

A = TypeVar("A", Reservation, StateChange, Refund)
_RESERVE_FIELDS = tuple(f for f in dataclasses.fields(ReserveRequest) if f.name != "idempotency_key")


class Ledger:
    """Open with a URL (`sqlite:///path.db`, `postgresql://…`) of a migrated database. Thread
    safe: each call takes a connection of the pool (`pool_size`, as many again in overflow).
    `clock` gives the aware time expiry and default order times are measured by."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] = utc_now, pool_size: int = 10) -> None:
        self.url = url
        self._clock = clock
        self._engine = connect(url, pool_size)
        with self._engine.connect() as conn:
            found = current(conn)
        if found != head():
            self._engine.dispose()
            raise FailedPrecondition("ledger", f"the database is at revision {found}, not {head()}: "
                                               "run `promo ledger migrate URL`")

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def now(self) -> datetime:
        return self._clock()

    @property
    def prices_first(self) -> bool:
        """Whether a Reserve's pricer should price once before the write transaction (with a
        snapshot read of its own: `QuotePricer.prime`), leaving the transaction to price again
        only if the ledger moved. On SQLite yes: a write transaction holds the database's one
        write lock from its first statement, for every process, so the engine runs outside it.
        On PostgreSQL no: the transaction takes no lock while it prices (its first guarded
        update comes after), and the snapshot read before it would cost round trips of its own."""
        return self._engine.dialect.name == "sqlite"

    # ---- reads ----

    def get_usage(self, query: UsageQuery) -> Usage:
        validate.instant(query.at)
        validate.name(query.buyer, "buyer", optional=True)
        now = self.now()
        with reading(self._engine) as conn:
            return usage.read(conn, query, now, to_us(now))

    def state(self, reservation_id: str) -> State:
        with reading(self._engine) as conn:
            found = conn.execute(select(reservations.c.state).where(reservations.c.id == reservation_id)).scalar()
        if found is None:
            raise NotFound("reservation_id", "no such reservation")
        return State(found)

    # ---- writes ----

    def reserve(self, request: ReserveRequest, price: Pricer | None = None) -> Reservation:
        """Hold what the order takes (`request.order`, or what `price` answers inside the
        transaction). Refused and cut promotions are in the answer's outcomes."""
        validate.reserve(request)
        if (request.order is None) == (price is None):
            raise InvalidArgument("order", "give an order or a pricer, not both")
        if request.order is not None:
            validate.order(request.order)
        # what dataclasses.asdict gives (the same hash), without its deep copy of every value
        fields = {f.name: getattr(request, f.name) for f in _RESERVE_FIELDS}
        if request.order is not None:
            fields["order"] = dataclasses.asdict(request.order)
        return self._once("reserve", request.idempotency_key, fields, Reservation,
                          lambda conn, now: reserving.reserve(conn, request, price, now))

    def commit(self, reservation_id: str, idempotency_key: str) -> StateChange:
        return self._change("commit", reservation_id, idempotency_key, lifecycle.commit)

    def cancel(self, reservation_id: str, idempotency_key: str) -> StateChange:
        return self._change("cancel", reservation_id, idempotency_key, lifecycle.cancel)

    def return_(self, order_id: str, idempotency_key: str, lines: Sequence[ReturnLine]) -> Refund:
        validate.name(order_id, "order_id")
        validate.name(idempotency_key, "idempotency_key")
        validate.returns(lines)
        fields = {"order_id": order_id, "lines": [dataclasses.asdict(x) for x in lines]}
        return self._once("return", idempotency_key, fields, Refund,
                          lambda conn, now: lifecycle.return_(conn, order_id, lines, to_us(now)))

    def issue_codes(self, coupon: str, count: int, idempotency_key: str, *, prefix: str = "", length: int = 12,
                    **options: Any) -> Iterator[str]:
        """Stream `count` new codes for `coupon`, committed batch by batch."""
        return issue.issue(self._engine, coupon, count, prefix, length, idempotency_key,
                           lambda: to_us(self.now()), **options)

    def sweep(self, limit: int = 1_000) -> int:
        """Mark up to `limit` held reservations past their expiry `expired` and release their
        holds (queries already count them as released); returns how many."""
        def sweep(conn: Connection) -> int:
            now_us = to_us(self.now())
            return lifecycle.expire_due(conn, now_us, limit=limit) + presale.expire_balances(conn, now_us, limit)

        return write(self._engine, sweep)

    def presale_stats(self, name: str, from_us: int | None = None, to_us: int | None = None,
                      stock: int | None = None, *, timezone: str | None = None) -> stats.PresaleStats:
        """The figures of a presale (ledger.md §6), its parents opened in [from, to), its days in
        `timezone` (None: the one recorded on its latest order, else UTC)."""
        validate.name(name, "presale")
        with reading(self._engine) as conn:
            return stats.presale_stats(conn, name, from_us, to_us, stock, timezone=timezone)

    def promotion_stats(self, name: str, from_us: int | None = None, to_us: int | None = None, *,
                        timezone: str | None = None, budgets: Sequence[Budget] | None = None) -> stats.PromotionStats:
        """The figures of a promotion (ledger.md §6) over its orders with `at` in [from, to), its
        days in `timezone`; `budgets`: the ruleset's budget clauses (None: the ledger's counters)."""
        validate.name(name, "promotion")
        now = self.now()
        with reading(self._engine) as conn:
            return stats.promotion_stats(conn, name, from_us, to_us, timezone=timezone, budgets=budgets, now=now)

    def get_order(self, order_id: str) -> presale.ParentOrder:
        """A presale parent order with its deposit and balance orders (ledger.md §5)."""
        validate.name(order_id, "order_id")
        with reading(self._engine) as conn:
            return presale.get_order(conn, order_id)

    # ----

    def _change(self, operation: str, reservation_id: str, key: str,
                change: Callable[[Connection, str, int], StateChange]) -> StateChange:
        validate.name(reservation_id, "reservation_id")
        validate.name(key, "idempotency_key")
        return self._once(operation, key, {"reservation_id": reservation_id}, StateChange,
                          lambda conn, now: change(conn, reservation_id, to_us(now)))

    def _once(self, operation: str, key: str, request: Any, answer: type[A],
              run: Callable[[Connection, datetime], A]) -> A:
        def work(conn: Connection) -> A:
            now = self.now()
            first = claim(conn, key, operation, request, to_us(now))
            if first is not None:
                return answer.from_json(first)
            result = run(conn, now)
            store(conn, key, result.to_json())
            return result

        return write(self._engine, work)
