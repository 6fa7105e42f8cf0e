"""Figures (ledger.md §6) of a presale, from its parent orders (server/ledger/presale.py) and its
stock counter: deposits paid (orders, units, amount), balances paid, conversion (balances paid ÷
deposits paid), forfeited deposits (`balance_expired`: kept by the merchant), stock left.
`from_us` / `to_us` bound the parents by when they were opened ([from, to); None: unbounded).
Amounts are minor units."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sqlalchemy import Connection, and_, func, select

from server.ledger.presale import BALANCE_EXPIRED, BALANCE_HELD, COMPLETED, DEPOSIT_HELD, DEPOSIT_PAID
from server.ledger.schema import counters, parent_orders, reservations
from server.ledger.types import Metric

PAID = (DEPOSIT_PAID, BALANCE_HELD, COMPLETED, BALANCE_EXPIRED)  # parents whose deposit was paid and kept


@dataclass(frozen=True)
class PresaleStats:
    presale: str
    deposits_held: int     # deposit orders reserved, not paid yet
    deposit_orders: int    # deposits paid (and not refunded)
    deposit_units: int
    deposit_amount: int    # what the paid deposits came to
    balances_paid: int     # parents completed
    balance_amount: int    # what the paid balances came to
    forfeited_orders: int  # balance window closed unpaid
    forfeited_deposits: int
    cancelled: int
    stock: int | None      # the stock the ledger last applied (None: never held)
    sold: int              # units held and committed now
    stock_left: int | None

    @property
    def conversion(self) -> Fraction | None:
        """Balances paid ÷ deposits paid; None without a paid deposit."""
        return Fraction(self.balances_paid, self.deposit_orders) if self.deposit_orders else None


def presale_stats(conn: Connection, presale: str, from_us: int | None = None, to_us: int | None = None,
                  stock: int | None = None) -> PresaleStats:
    p = parent_orders.c
    where = [p.presale == presale]
    if from_us is not None:
        where.append(p.created_us >= from_us)
    if to_us is not None:
        where.append(p.created_us < to_us)
    deposit = reservations.alias("deposit")
    balance = reservations.alias("balance")
    rows = conn.execute(
        select(p.state, func.count(), func.coalesce(func.sum(p.units), 0),
               func.coalesce(func.sum(deposit.c.payable), 0), func.coalesce(func.sum(balance.c.payable), 0))
        .select_from(parent_orders.outerjoin(deposit, deposit.c.id == p.deposit_reservation_id)
                     .outerjoin(balance, and_(balance.c.id == p.balance_reservation_id,
                                              balance.c.state == "committed")))
        .where(*where).group_by(p.state)).all()
    by_state = {row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4])) for row in rows}

    def of(*states: str, at: int = 0) -> int:
        return sum(by_state.get(s, (0, 0, 0, 0))[at] for s in states)

    c = counters.c
    counter = conn.execute(select(c.used, c.cap).where(c.promotion == presale, c.metric == str(Metric.UNITS),
                                                       c.subject == "", c.period == "")).first()
    sold = int(counter.used) if counter is not None else 0
    known = stock if stock is not None else (int(counter.cap) if counter is not None and counter.cap < 2**62 else None)
    return PresaleStats(
        presale=presale, deposits_held=of(DEPOSIT_HELD), deposit_orders=of(*PAID), deposit_units=of(*PAID, at=1),
        deposit_amount=of(*PAID, at=2), balances_paid=of(COMPLETED), balance_amount=of(COMPLETED, at=3),
        forfeited_orders=of(BALANCE_EXPIRED), forfeited_deposits=of(BALANCE_EXPIRED, at=2),
        cancelled=of("cancelled"), stock=known, sold=sold,
        stock_left=None if known is None else max(0, known - sold))


def stats_json(stats: PresaleStats, digits: int) -> dict:
    """The figures as `promo stats --json` and GetStats answer them (money as decimal strings)."""
    from engine.base.money import format_money

    money = lambda v: format_money(v, digits)  # noqa: E731
    conversion = stats.conversion
    return {
        "presale": stats.presale,
        "deposits": {"orders": stats.deposit_orders, "units": stats.deposit_units,
                     "amount": money(stats.deposit_amount), "held": stats.deposits_held},
        "balances_paid": {"orders": stats.balances_paid, "amount": money(stats.balance_amount)},
        "conversion": None if conversion is None else f"{float(conversion):.4f}",
        "forfeited": {"orders": stats.forfeited_orders, "deposits": money(stats.forfeited_deposits)},
        "cancelled": stats.cancelled,
        "stock": stats.stock, "sold": stats.sold, "stock_left": stats.stock_left,
    }
