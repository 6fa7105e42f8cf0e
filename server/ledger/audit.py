"""What an operator asks of a ledger: `verify` recomputes every counter from its entries and
reports any drift; `show` summarizes what is held, used and issued. Both only read."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from server.ledger.clock import to_us, utc_now
from server.ledger.database import connect, reading
from server.ledger.schema import codes, counters, entries, reservations
from server.ledger.types import CounterKey, Metric, State
from server.ledger.usage import holds_of

_ENDED = [State.RELEASED, State.EXPIRED, State.CANCELLED, State.RETURNED]


@dataclass(frozen=True)
class Drift:
    key: CounterKey
    stored: int
    entries: int


@dataclass(frozen=True)
class Report:
    counters: int
    entries: int
    drift: tuple[Drift, ...] = ()
    problems: tuple[str, ...] = ()  # holds that should not be: negative, or of an ended reservation

    @property
    def ok(self) -> bool:
        return not self.drift and not self.problems


def verify(url: str) -> Report:
    engine = connect(url, pool_size=1)
    try:
        with reading(engine) as conn:
            c, e = counters.c, entries.c
            summed = func.coalesce(func.sum(e.delta), 0)
            drift = tuple(
                Drift(CounterKey(row.promotion, Metric(row.metric), row.subject, row.period), row.used, int(row.summed))
                for row in conn.execute(
                    select(c.promotion, c.metric, c.subject, c.period, c.used, summed.label("summed"))
                    .select_from(counters.outerjoin(entries, e.counter_id == c.id))
                    .group_by(c.id, c.promotion, c.metric, c.subject, c.period, c.used)
                    .having(c.used != summed).order_by(c.promotion, c.metric, c.subject, c.period)))
            held = func.sum(e.delta)
            per_hold = (select(e.reservation_id, e.counter_id, reservations.c.state, held.label("held"))
                        .join(reservations, reservations.c.id == e.reservation_id)
                        .group_by(e.reservation_id, e.counter_id, reservations.c.state)
                        .having((held < 0) | (reservations.c.state.in_(_ENDED) & (held != 0)))
                        .order_by(e.reservation_id, e.counter_id))
            problems = tuple(f"reservation {row.reservation_id} ({row.state}) holds {row.held} on counter "
                             f"{row.counter_id}" for row in conn.execute(per_hold))
            return Report(conn.execute(select(func.count()).select_from(counters)).scalar_one(),
                          conn.execute(select(func.count()).select_from(entries)).scalar_one(), drift, problems)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class CounterRow:
    key: CounterKey
    used: int   # held and committed, expired holds left out
    held: int
    cap: int


@dataclass(frozen=True)
class Summary:
    reservations: dict[str, int]          # by state
    counters: tuple[CounterRow, ...]
    codes: dict[str, tuple[int, int]] = field(default_factory=dict)  # coupon -> (issued, used)


def show(url: str, promotion: str | None = None) -> Summary:
    """Every counter (of `promotion`, or all) and the reservations by state; per coupon, the
    codes issued and used."""
    engine = connect(url, pool_size=1)
    try:
        with reading(engine) as conn:
            r, c = reservations.c, counters.c
            by_state: dict[str, int] = dict(conn.execute(select(r.state, func.count()).group_by(r.state).order_by(r.state)).all())
            query = select(c.id, c.promotion, c.metric, c.subject, c.period, c.used, c.cap).where(
                c.metric != Metric.CODE).order_by(c.promotion, c.metric, c.subject, c.period)
            code_query = select(c.promotion, func.count()).where(c.metric == Metric.CODE, c.used > 0)
            issued_query = select(codes.c.coupon, func.count())
            if promotion is not None:
                query, code_query = query.where(c.promotion == promotion), code_query.where(c.promotion == promotion)
                issued_query = issued_query.where(codes.c.coupon == promotion)
            rows = conn.execute(query).all()
            held, due = holds_of(conn, (row.id for row in rows), to_us(utc_now()))
            used: dict[str, int] = dict(conn.execute(code_query.group_by(c.promotion)).all())
            issued: dict[str, int] = dict(conn.execute(issued_query.group_by(codes.c.coupon)).all())
            return Summary(
                reservations={str(k): int(v) for k, v in by_state.items()},
                counters=tuple(CounterRow(CounterKey(x.promotion, Metric(x.metric), x.subject, x.period),
                                          x.used - due.get(x.id, 0), held.get(x.id, 0), x.cap) for x in rows),
                codes={coupon: (int(n), int(used.get(coupon, 0))) for coupon, n in sorted(issued.items())})
    finally:
        engine.dispose()
