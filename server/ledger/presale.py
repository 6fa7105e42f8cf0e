"""Presale orders (ledger.md §5): the parent order of a presale line and its two children, the
deposit order and the balance order, each a reservation.

    deposit_held ──Commit──► deposit_paid ──Reserve(parent_order_id)──► balance_held ──Commit──► completed
         │                       │   ▲                                      │
         │                       │   └──── balance released / expired ──────┘
         │                       └── balance window closed unpaid (sweep) ──► balance_expired
         └── released / expired / Cancel of an unpaid parent ──► cancelled

A deposit's units are held on the presale's stock counter (metric `units`) by its reservation,
from the moment it is held; `balance_expired` gives them back to the stock and keeps the deposit
(the deposit reservation stays committed); `cancelled` gives everything back. Every change of a
parent is one guarded update (`WHERE state IN …`), in the transaction of the reservation's own
change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from server.ledger import counters
from server.ledger.database import insert_new, run
from server.ledger.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from server.ledger.schema import parent_orders, reservations
from server.ledger.types import Metric, Order, ReserveRequest, State

p = parent_orders.c
r = reservations.c

DEPOSIT_HELD, DEPOSIT_PAID, BALANCE_HELD = "deposit_held", "deposit_paid", "balance_held"
COMPLETED, BALANCE_EXPIRED, CANCELLED = "completed", "balance_expired", "cancelled"
UNPAID = (DEPOSIT_HELD, DEPOSIT_PAID, BALANCE_HELD)


def on_reserve(conn: Connection, request: ReserveRequest, reservation_id: str, order: Order, now_us: int) -> None:
    """A deposit-stage reservation opens its parent order (id: the order id); a reservation with
    `parent_order_id` is the parent's balance order."""
    if request.parent_order_id is not None:
        _balance(conn, request.parent_order_id, reservation_id, order, now_us)
        return
    deposits = [x for x in order.presales if x.stage == "deposit"]
    if not deposits:
        return
    if len(deposits) > 1:
        raise InvalidArgument("cart.lines", "a deposit order has one presale line (one parent order each)")
    line = deposits[0]
    values = {"presale": line.presale, "line_id": line.line_id, "units": line.units, "state": DEPOSIT_HELD,
              "deposit_reservation_id": reservation_id, "balance_reservation_id": None, "ship_us": line.ship_us,
              "balance_closes_us": line.balance_closes_us, "updated_us": now_us}
    created = conn.execute(insert_new(conn, parent_orders).returning(p.order_id),
                           {"order_id": request.order_id, "created_us": now_us, **values}).first()
    if created is not None:
        return
    # a parent whose deposit was never paid (released, expired, cancelled) opens again
    reopened = conn.execute(parent_orders.update().where(p.order_id == request.order_id, p.state == CANCELLED)
                            .values(**values).returning(p.order_id)).first()
    if reopened is None:
        raise AlreadyExists("order_id", "the presale order exists (pay its balance with parent_order_id)")


def _balance(conn: Connection, parent_id: str, reservation_id: str, order: Order, now_us: int) -> None:
    row = conn.execute(select(p.state, p.balance_closes_us, p.presale, p.units).where(p.order_id == parent_id)
                       .with_for_update()).first()
    if row is None:
        raise NotFound("parent_order_id", "no such presale order")
    if row.state != DEPOSIT_PAID:
        raise FailedPrecondition("parent_order_id", f"the presale order is {row.state}: its balance cannot be reserved")
    if row.balance_closes_us is not None and row.balance_closes_us <= now_us:
        raise FailedPrecondition("parent_order_id", "the balance window has closed")
    lines = [x for x in order.presales if x.presale == row.presale and x.stage == "balance"]
    if not lines:
        raise FailedPrecondition("parent_order_id", "the cart is not at the balance stage of the order's presale")
    # the balance pays for the units the deposit held: a Return later takes back both children's shares
    if [x.units for x in lines] != [row.units]:
        raise FailedPrecondition("parent_order_id", f"the balance order must carry the deposit's {row.units} "
                                 f"unit(s) of the presale on one line")
    conn.execute(parent_orders.update().where(p.order_id == parent_id, p.state == DEPOSIT_PAID)
                 .values(state=BALANCE_HELD, balance_reservation_id=reservation_id, updated_us=now_us))


def on_commit(conn: Connection, reservation_id: str, order_id: str, parent_order_id: str | None, now_us: int) -> None:
    """A committed deposit pays its parent (the parent's id is the deposit's order id), a committed
    balance completes its own (`parent_order_id`): each one update by the parent's primary key."""
    run(conn, "parent_orders.deposit_paid", lambda: _PAID, {"oid": order_id, "rid": reservation_id, "now_us": now_us})
    if parent_order_id is not None:
        run(conn, "parent_orders.completed", lambda: _COMPLETED,
            {"oid": parent_order_id, "rid": reservation_id, "now_us": now_us})


def _moved(column: Any, before: str, after: str) -> Any:
    return (parent_orders.update()
            .where(p.order_id == bindparam("oid"), column == bindparam("rid"), p.state == before)
            .values(state=after, updated_us=bindparam("now_us")))


_PAID = _moved(p.deposit_reservation_id, DEPOSIT_HELD, DEPOSIT_PAID)
_COMPLETED = _moved(p.balance_reservation_id, BALANCE_HELD, COMPLETED)


def on_end(conn: Connection, reservation_id: str, state: State, now_us: int) -> None:
    """A reservation released, expired or cancelled: a deposit's parent is cancelled (its balance,
    if held, released with it); a held balance's parent waits for its balance again."""
    parent = conn.execute(select(p.order_id, p.balance_reservation_id).where(
        p.deposit_reservation_id == reservation_id, p.state.in_(UNPAID))).first()
    if parent is not None:
        conn.execute(parent_orders.update().where(p.order_id == parent.order_id, p.state.in_(UNPAID))
                     .values(state=CANCELLED, updated_us=now_us))
        if parent.balance_reservation_id is not None:
            _end_held(conn, parent.balance_reservation_id, State.RELEASED, now_us)
        return
    conn.execute(parent_orders.update().where(p.balance_reservation_id == reservation_id, p.state == BALANCE_HELD)
                 .values(state=DEPOSIT_PAID, updated_us=now_us))
    del state


def _end_held(conn: Connection, reservation_id: str, state: State, now_us: int) -> None:
    moved = conn.execute(reservations.update().where(r.id == reservation_id, r.state == State.HELD)
                         .values(state=state, ended_us=now_us).returning(r.id)).first()
    if moved is not None:
        counters.release(conn, reservation_id, "release" if state is State.RELEASED else "expire", now_us)


def expire_balances(conn: Connection, now_us: int, limit: int = 1_000) -> int:
    """Parents whose balance window closed unpaid: `balance_expired`, the deposit kept (its
    reservation stays committed), the units back to the stock, a held balance released."""
    due = conn.execute(select(p.order_id, p.deposit_reservation_id, p.balance_reservation_id, p.presale)
                       .where(p.state.in_((DEPOSIT_PAID, BALANCE_HELD)), p.balance_closes_us <= now_us)
                       .order_by(p.order_id).limit(limit)).all()
    expired = 0
    for row in due:
        moved = conn.execute(parent_orders.update()
                             .where(p.order_id == row.order_id, p.state.in_((DEPOSIT_PAID, BALANCE_HELD)))
                             .values(state=BALANCE_EXPIRED, updated_us=now_us).returning(p.order_id)).first()
        if moved is None:
            continue
        expired += 1
        for counter_id, amount in counters.holdings(conn, row.deposit_reservation_id, row.presale, str(Metric.UNITS)):
            counters.give(conn, counter_id, amount, reservation_id=row.deposit_reservation_id, cause="expire",
                          now_us=now_us)
        if row.balance_reservation_id is not None:
            _end_held(conn, row.balance_reservation_id, State.EXPIRED, now_us)
    return expired


def return_children(conn: Connection, order_id: str, now_us: int) -> tuple[str, ...] | None:
    """The reservations a Return of `order_id` takes units back from when it names a presale
    order, the parent's id (its deposit order's) or its balance order's: the committed children,
    deposit then balance (docs/ledger.md "Return"). None: `order_id` is no presale order. Not
    before the ship date (ledger.md §3), and only once the parent is completed: before that its
    balance is unpaid (Cancel refunds the deposit), after `balance_expired` the deposit is kept."""
    found = select(p.state, p.ship_us, p.deposit_reservation_id, p.balance_reservation_id)
    row = conn.execute(found.where(p.order_id == order_id).with_for_update()).first()
    if row is None:  # a balance order's id: its parent, by the parent's key
        parent = conn.execute(select(r.parent_order_id).where(r.order_id == order_id, r.parent_order_id.is_not(None))
                              .order_by(r.created_us.desc())).first()
        if parent is None:
            return None
        balance = select(r.id).where(r.order_id == order_id).scalar_subquery()
        row = conn.execute(found.where(p.order_id == parent.parent_order_id, p.balance_reservation_id.in_(balance))
                           .with_for_update()).first()
    if row is None:
        return None
    if row.ship_us is not None and now_us < row.ship_us:
        raise FailedPrecondition("order_id", "a presale order cannot be returned before its ship date")
    if row.state != COMPLETED:
        why = {BALANCE_EXPIRED: "its balance was never paid and its deposit is kept",
               CANCELLED: "it was cancelled"}.get(row.state, "its balance is not paid: Cancel refunds the deposit")
        raise FailedPrecondition("order_id", f"the presale order is {row.state}: {why}")
    children = (row.deposit_reservation_id, row.balance_reservation_id)
    committed = set(conn.execute(select(r.id).where(r.id.in_(children), r.state == State.COMMITTED)
                                 .order_by(r.id).with_for_update()).scalars())
    if not committed:
        raise FailedPrecondition("order_id", "the order is returned")
    return tuple(x for x in children if x in committed)


@dataclass(frozen=True)
class Child:
    kind: str  # deposit | balance
    reservation_id: str
    order_id: str
    state: str
    payable: int
    answer: Any


@dataclass(frozen=True)
class ParentOrder:
    order_id: str
    presale: str
    line_id: str
    units: int
    state: str
    ship_us: int | None
    balance_closes_us: int | None
    children: tuple[Child, ...]


def get_order(conn: Connection, order_id: str) -> ParentOrder:
    """The parent order `order_id` with its children (the parent of a balance order's id too)."""
    row = conn.execute(select(parent_orders).where(p.order_id == order_id)).first()
    if row is None:
        balance = select(r.id).where(r.order_id == order_id).scalar_subquery()
        row = conn.execute(select(parent_orders).where(p.balance_reservation_id.in_(balance))).first()
    if row is None:
        raise NotFound("order_id", "no such presale order")
    children = []
    for kind, rid in (("deposit", row.deposit_reservation_id), ("balance", row.balance_reservation_id)):
        if rid is None:
            continue
        child = conn.execute(select(r.id, r.order_id, r.state, r.payable, r.answer).where(r.id == rid)).first()
        if child is not None:
            children.append(Child(kind, child.id, child.order_id, child.state, child.payable, child.answer))
    return ParentOrder(row.order_id, row.presale, row.line_id, row.units, row.state, row.ship_us,
                       row.balance_closes_us, tuple(children))
