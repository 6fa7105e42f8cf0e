"""Commit, cancel, return and expiry: state changes of a reservation, each a guarded update of
its row (`WHERE state = …`), and the counters given back through counters.py."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, case, exists, func, select

from server.ledger import counters, presale
from server.ledger.database import in_list, numbered, run
from server.ledger.errors import FailedPrecondition, InvalidArgument, NotFound, ReservationExpired
from server.ledger.schema import allocations, entries, lines, reservations
from server.ledger.schema import counters as counter_rows
from server.ledger.shares import units_share
from server.ledger.types import OPEN_STATES, LineRefund, Refund, ReturnLine, State, StateChange

r = reservations.c
_CAUSE = {State.RELEASED: "release", State.EXPIRED: "expire", State.CANCELLED: "cancel"}


def expire_due(conn: Connection, now_us: int, *, order_id: str | None = None, promotions: Sequence[str] = (),
               limit: int | None = None) -> int:
    """Mark held reservations past their expiry `expired` and give back what they hold: those of
    `order_id`, or those holding a counter of `promotions`, or (neither given) any."""
    if order_id is not None:
        due = run(conn, "reservations.due_of_order", lambda: _DUE_OF_ORDER, {"order_id": order_id, "now_us": now_us})
        return expire(conn, [row[0] for row in due.rows], now_us)
    if promotions:
        return expire(conn, due_on_promotions(conn, now_us, promotions), now_us)
    query = select(r.id).where(r.state == State.HELD, r.expires_us <= now_us)
    return expire(conn, conn.execute(query.order_by(r.id).limit(limit)).scalars().all(), now_us)


def due_on_promotions(conn: Connection, now_us: int, promotions: Sequence[str]) -> list[str]:
    """The held reservations past their expiry that hold a counter of `promotions` (read only)."""
    names = sorted(set(promotions))
    rows = run(conn, f"reservations.due_on_promotions.{len(names)}", lambda: _due_on_promotions(len(names)),
               {**numbered("p", names), "now_us": now_us})
    return [row[0] for row in rows.rows]


_DUE = (r.state == str(State.HELD), r.expires_us <= bindparam("now_us", type_=BigInteger))
_DUE_OF_ORDER = select(r.id).where(*_DUE, r.order_id == bindparam("order_id")).order_by(r.id)


def _due_on_promotions(size: int) -> Any:
    """Held reservations past expiry with an entry on a counter of `size` promotions (p0…)."""
    return select(r.id).where(*_DUE, exists(
        select(entries.c.id).join(counter_rows, counter_rows.c.id == entries.c.counter_id)
        .where(entries.c.reservation_id == r.id, counter_rows.c.promotion.in_(in_list("p", size))))).order_by(r.id)


def expire(conn: Connection, due: Sequence[str], now_us: int) -> int:
    """Mark these reservations `expired` if they are still held past their expiry, and give back what they hold."""
    swept = 0
    for reservation_id in due:
        moved = conn.execute(reservations.update()
                             .where(r.id == reservation_id, r.state == State.HELD, r.expires_us <= now_us)
                             .values(state=State.EXPIRED, ended_us=now_us).returning(r.id)).first()
        if moved is not None:
            counters.release(conn, reservation_id, "expire", now_us)
            presale.on_end(conn, reservation_id, State.EXPIRED, now_us)
            swept += 1
    return swept


_NOW = bindparam("now_us", type_=BigInteger)
_COMMIT = (reservations.update().where(r.id == bindparam("rid"), r.state == str(State.HELD), r.expires_us > _NOW)
           .values(state=str(State.COMMITTED), committed_us=_NOW).returning(r.order_id, r.parent_order_id))


def commit(conn: Connection, reservation_id: str, now_us: int) -> StateChange:
    row = run(conn, "reservations.commit", lambda: _COMMIT, {"rid": reservation_id, "now_us": now_us}).first()
    if row is not None:
        order_id, parent_order_id = row
        presale.on_commit(conn, reservation_id, order_id, parent_order_id, now_us)
        return StateChange(reservation_id, order_id, State.COMMITTED)
    order_id, state = _current(conn, reservation_id)
    if state is State.COMMITTED:
        return StateChange(reservation_id, order_id, state)
    if state is State.HELD:
        raise ReservationExpired("reservation_id", "the reservation expired: reserve again")
    raise FailedPrecondition("reservation_id", f"the reservation is {state}: reserve again")


def cancel(conn: Connection, reservation_id: str, now_us: int) -> StateChange:
    """Release a held reservation (`expired` if its ttl has passed), cancel a committed order;
    a reservation already ended answers its state."""
    after = case((r.state == State.COMMITTED, State.CANCELLED.value),
                 (r.expires_us <= now_us, State.EXPIRED.value), else_=State.RELEASED.value)
    row = conn.execute(reservations.update().where(r.id == reservation_id, r.state.in_(OPEN_STATES))
                       .values(state=after, ended_us=now_us).returning(r.order_id, r.state)).first()
    if row is None:
        order_id, state = _current(conn, reservation_id)
        return StateChange(reservation_id, order_id, state)
    state = State(row.state)
    counters.release(conn, reservation_id, _CAUSE[state], now_us)
    presale.on_end(conn, reservation_id, state, now_us)
    return StateChange(reservation_id, row.order_id, state)


def return_(conn: Connection, order_id: str, returned: Sequence[ReturnLine], now_us: int) -> Refund:
    """Give back the returned units' share of each promotion's spend; uses and codes once every
    unit of the order is back. The refund is what the order was paid for those units (a line's
    `final`: what it charged for the line, by largest remainder over its units). A presale order
    takes the units back from both its children, deposit and balance, each refunding its share."""
    children = presale.return_children(conn, order_id, now_us)
    reservation_ids = children if children is not None else (_committed(conn, order_id),)
    back: dict[tuple[str, str], int] = defaultdict(int)
    refunds: dict[str, int] = {}
    for i, line in sorted(enumerate(returned), key=lambda x: x[1].id):  # rows locked in one order
        refunds[line.id] = 0
        found = False
        for reservation_id in reservation_ids:
            taken = _take_back(conn, reservation_id, i, line)
            if taken is None:
                continue
            found = True
            quantity, before, final = taken
            refunds[line.id] += units_share(final, quantity, before, line.quantity)
            for promotion, amount in conn.execute(select(allocations.c.promotion, allocations.c.amount).where(
                    allocations.c.reservation_id == reservation_id, allocations.c.line_id == line.id)):
                back[reservation_id, promotion] += units_share(amount, quantity, before, line.quantity)
        if not found:
            raise InvalidArgument(f"lines[{i}].id", f"`{line.id[:64]}` is not a line of the order")
    for reservation_id, promotion in sorted(back):
        if back[reservation_id, promotion]:
            for counter_id, _held in counters.holdings(conn, reservation_id, promotion, "spend"):
                counters.give(conn, counter_id, back[reservation_id, promotion], reservation_id=reservation_id,
                              cause="return", now_us=now_us)
    ended = [_returned_if_all_back(conn, reservation_id, now_us) for reservation_id in reservation_ids]
    state = State.RETURNED if all(ended) else State.COMMITTED
    answer = tuple(LineRefund(x.id, x.quantity, refunds[x.id]) for x in returned)
    return Refund(order_id, sum(refunds.values()), answer, state)


def _returned_if_all_back(conn: Connection, reservation_id: str, now_us: int) -> bool:
    """Once every unit of the reservation is back: `returned`, its uses and codes released."""
    left = conn.execute(select(func.sum(lines.c.quantity - lines.c.returned))
                        .where(lines.c.reservation_id == reservation_id)).scalar_one()
    if left != 0:
        return False
    conn.execute(reservations.update().where(r.id == reservation_id, r.state == State.COMMITTED)
                 .values(state=State.RETURNED, ended_us=now_us))
    counters.release(conn, reservation_id, "return", now_us)
    return True


def _take_back(conn: Connection, reservation_id: str, i: int, line: ReturnLine) -> tuple[int, int, int] | None:
    """Mark `line.quantity` more units of the line returned (guarded: never more than it has);
    returns the line's quantity, how many were returned before, and its final; None when the
    reservation has no such line."""
    row = conn.execute(lines.update().where(
        lines.c.reservation_id == reservation_id, lines.c.line_id == line.id,
        lines.c.returned + line.quantity <= lines.c.quantity)
        .values(returned=lines.c.returned + line.quantity)
        .returning(lines.c.quantity, lines.c.returned, lines.c.final)).first()
    if row is not None:
        return row.quantity, row.returned - line.quantity, row.final
    stored = conn.execute(select(lines.c.quantity - lines.c.returned).where(
        lines.c.reservation_id == reservation_id, lines.c.line_id == line.id)).scalar()
    if stored is None:
        return None
    raise InvalidArgument(f"lines[{i}].quantity", f"{stored} units of the line are left to return")


def _committed(conn: Connection, order_id: str) -> str:
    row = conn.execute(select(r.id, r.state).where(r.order_id == order_id, r.state.in_(OPEN_STATES))
                       .with_for_update()).first()
    if row is not None and row.state == State.COMMITTED:
        return str(row.id)
    if row is not None:
        raise FailedPrecondition("order_id", "the order is not committed")
    last = conn.execute(select(r.state).where(r.order_id == order_id).order_by(r.created_us.desc())).first()
    if last is None:
        raise NotFound("order_id", "no such order")
    raise FailedPrecondition("order_id", f"the order is {last.state}")


def _current(conn: Connection, reservation_id: str) -> tuple[str, State]:
    row = conn.execute(select(r.order_id, r.state).where(r.id == reservation_id)).first()
    if row is None:
        raise NotFound("reservation_id", "no such reservation")
    return row.order_id, State(row.state)
