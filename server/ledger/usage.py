"""The read-only snapshot (`Usage`) the engine prices with, and GetUsage answers from.

A hold of a reservation past its expiry counts as released here at once, swept or not: its
entries are taken off `used`, so a crash between reserve and commit holds nothing past the ttl.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Connection, Select, and_, bindparam, case, func, or_, select

from server.ledger.codes import normalize
from server.ledger.database import in_list, numbered, run
from server.ledger.periods import local_date, period_key, period_keys
from server.ledger.schema import codes, counters, entries, reservations
from server.ledger.types import CodeRef, CodeState, Count, CounterKey, Metric, Period, State, Usage, UsageQuery


class _Counter(NamedTuple):
    id: int
    promotion: str
    metric: str
    subject: str
    period: str
    used: int
    cap: int


def _counters(promotions: int, subjects: int, periods: int) -> Any:
    """The uses and spend counters of `promotions` names, `subjects` and `periods` (their bind
    parameters p0…, s0…, q0…: one compiled statement per count, run by `database.run`)."""
    c = counters.c
    return select(c.id, c.promotion, c.metric, c.subject, c.period, c.used, c.cap).where(
        c.promotion.in_(in_list("p", promotions)), or_(c.metric == str(Metric.USES), c.metric == str(Metric.SPEND)),
        c.subject.in_(in_list("s", subjects)), c.period.in_(in_list("q", periods)))


def read(conn: Connection, query: UsageQuery, now: datetime, now_us: int) -> Usage:
    day = local_date(query.at or now, query.timezone)
    c = counters.c
    subjects = ["", query.buyer] if query.buyer else [""]
    periods = list(period_keys(day))
    shape = (len(query.promotions), len(subjects), len(periods))
    rows = [_Counter(*row) for row in run(conn, f"usage.counters.{shape}", lambda: _counters(*shape), {
        **numbered("p", query.promotions), **numbered("s", subjects), **numbered("q", periods)}).rows
            ] if query.promotions else []
    wanted = {CodeRef(ref.coupon, normalize(ref.code)) for ref in query.codes}
    issued = _issued(conn, {ref.code for ref in wanted})
    pairs = [and_(c.promotion == ref.coupon, c.subject == ref.code) for ref in wanted if ref.code in issued]
    code_rows = list(conn.execute(select(c.id, c.promotion, c.metric, c.subject, c.period, c.used, c.cap).where(
        c.metric == Metric.CODE, c.period == "", or_(*pairs)))) if pairs else []
    held, due = holds_of(conn, (row.id for row in rows + code_rows), now_us)
    counts = {CounterKey(r.promotion, Metric(r.metric), r.subject, r.period):
              Count(r.used - due.get(r.id, 0), held.get(r.id, 0), r.cap) for r in rows + code_rows}
    return Usage(
        buyer=query.buyer,
        period_keys={None: "", **{p: period_key(p, day) for p in Period}},
        counters={k: v for k, v in counts.items() if k.metric is not Metric.CODE},
        codes={ref: _code_state(ref, issued, counts) for ref in sorted(wanted, key=lambda r: (r.coupon, r.code))},
        sold={name: sold(conn, name, closed, now_us) for name, closed in query.presales},
    )


def sold(conn: Connection, presale: str, closed_us: int | None, now_us: int) -> int:
    """A presale's units sold: held (not past expiry) and committed deposits. After its deposit
    window closed (`closed_us`, passed), the units sold at the close, the same for every buyer:
    the sum of the stock counter's entries up to then, without the reservations that were neither
    committed nor alive at the close (an unswept expired hold)."""
    c, e, r = counters.c, entries.c, reservations.c
    counter = conn.execute(select(c.id, c.used).where(
        c.promotion == presale, c.metric == str(Metric.UNITS), c.subject == "", c.period == "")).first()
    if counter is None:
        return 0
    if closed_us is None or closed_us > now_us:
        _held, due = holds_of(conn, (counter.id,), now_us)
        return int(counter.used - due.get(counter.id, 0))
    dead = and_(r.expires_us <= closed_us, or_(r.committed_us.is_(None), r.committed_us > closed_us))
    total = conn.execute(select(func.coalesce(func.sum(e.delta), 0))
                         .select_from(entries.join(reservations, r.id == e.reservation_id))
                         .where(e.counter_id == counter.id, e.at_us <= closed_us, ~dead)).scalar_one()
    return int(total)


def _issued(conn: Connection, texts: set[str]) -> dict[str, str]:
    if not texts:
        return {}
    rows = conn.execute(select(codes.c.code, codes.c.coupon).where(codes.c.code.in_(sorted(texts))))
    return {row.code: row.coupon for row in rows}


def _code_state(ref: CodeRef, issued: dict[str, str], counts: dict[CounterKey, Count]) -> CodeState:
    if issued.get(ref.code) != ref.coupon:
        return CodeState.UNKNOWN
    count = counts.get(CounterKey(ref.coupon, Metric.CODE, ref.code, ""))
    if count is None or count.used == 0:
        return CodeState.FREE
    return CodeState.HELD if count.held else CodeState.REDEEMED


def _held(ids: int) -> Select:
    """Per counter of `ids` ones (bind parameters i0…), what held reservations hold on it, live and past expiry."""
    r, e = reservations.c, entries.c
    expired = r.expires_us <= bindparam("now_us", type_=BigInteger)
    return (select(e.counter_id,
                   func.sum(case((expired, 0), else_=e.delta)).label("live"),
                   func.sum(case((expired, e.delta), else_=0)).label("due"))
            .select_from(reservations.join(entries, e.reservation_id == r.id))
            .where(r.state == str(State.HELD), e.counter_id.in_(in_list("i", ids)))
            .group_by(e.counter_id))


def holds_of(conn: Connection, counter_ids: Iterable[int], now_us: int) -> tuple[dict[int, int], dict[int, int]]:
    """Per counter: what held reservations still hold, and the part of it past expiry. Driven
    by the held reservations (few), never by a counter's whole history."""
    ids = sorted(set(counter_ids))
    if not ids:
        return {}, {}
    rows = run(conn, f"usage.held.{len(ids)}", lambda: _held(len(ids)), {"now_us": now_us, **numbered("i", ids)})
    held, due = {}, {}
    for counter_id, live, past in rows.rows:
        held[counter_id], due[counter_id] = int(live), int(past)
    return held, due
