"""Figures (ledger.md §6), read-only, amounts in minor units.

**A promotion** (`promotion_stats`) over its orders whose `at` (the order's time: the one its
limit and budget periods count) is in [from, to):
- an order counts when its reservation is `committed` — paid and not returned in full. Held,
  released, expired and cancelled reservations are not orders; an order returned in full (state
  `returned`) leaves the figures (it is counted in `returned` only). A partly returned order
  stays, less what its return gave back: the returned units' share of the promotion's discount
  (what went back to its budgets) and of the line finals (what was refunded), exactly as Return
  computed them (shares.units_share);
- uses: the orders in which the promotion applied, its amount > 0 (a use is one order, §2, so
  uses = orders);
  spend: the discount it granted; GMV: the payable of those orders; average order value: GMV ÷
  orders rounded half-up on the minor unit (None without an order);
- budgets: each budget of the promotion as the ledger holds it now (held and committed spend,
  never an expired hold), in the current period for a per-day/week/month budget; the served
  ruleset's clauses when known, else the counters the ledger has (their cap the last budget
  applied);
- days: one row per calendar day in `timezone` (the ruleset's), from the first day to the last
  (the days of `from` / `to` when given), days without an order as zero rows.

**A presale** (`presale_stats`) over its parent orders opened in [from, to): deposits paid
(orders, units, amount), balances paid, conversion (balances paid ÷ deposits paid), forfeited
deposits (`balance_expired`: kept by the merchant), stock left; GMV (the paid deposits that were
kept and the paid balances) and average order value (GMV ÷ deposits paid, half-up); per day the
deposits paid (on the day of the deposit order) and the balances paid (on the day of the balance
order), so that the days add up to the totals. As for a promotion, a parent whose deposit or
balance order was returned in full leaves the figures (counted in `returned` only), and a partly
returned one's amounts are less what its returns refunded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction

from sqlalchemy import Connection, and_, or_, select

from server.ledger import usage
from server.ledger.clock import from_us as instant
from server.ledger.clock import to_us
from server.ledger.periods import local_date, zone
from server.ledger.presale import BALANCE_EXPIRED, BALANCE_HELD, CANCELLED, COMPLETED, DEPOSIT_HELD, DEPOSIT_PAID
from server.ledger.schema import allocations, counters, lines, parent_orders, redemptions, reservations
from server.ledger.shares import units_share
from server.ledger.types import Budget, CounterKey, Metric, Period, State, UsageQuery

PAID = (DEPOSIT_PAID, BALANCE_HELD, COMPLETED, BALANCE_EXPIRED)  # parents whose deposit was paid and kept
MAX_DAYS = 1_000  # a wider from..to gives the days that have orders only
DEFAULT_TIMEZONE = "UTC"


def average(total: int, orders: int) -> int | None:
    """total ÷ orders, half-up on the minor unit (total ≥ 0); None without an order."""
    return (2 * total + orders) // (2 * orders) if orders else None


def day_span(found: Iterable[date], timezone: str, from_us: int | None, to_us_: int | None) -> list[date]:
    """The calendar days of the figures: every day from the first to the last (the day of `from`,
    and the day of the last instant before `to`, when given), or only the days in `found` when
    that is more than MAX_DAYS days or there is neither data nor both bounds."""
    found = set(found)
    first = local_date(instant(from_us), timezone) if from_us is not None else min(found, default=None)
    last = local_date(instant(to_us_ - 1), timezone) if to_us_ is not None else max(found, default=None)
    if first is None or last is None or last < first or (last - first).days >= MAX_DAYS:
        return sorted(found)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _day(at_us: int, timezone: str) -> date:
    return local_date(instant(at_us), timezone)


def recorded_timezone(conn: Connection, *, promotion: str | None = None, presale: str | None = None) -> str | None:
    """The time zone the ledger recorded on the latest order of a promotion or presale (the
    ruleset's when it was reserved), None when it has none."""
    r = reservations.c
    if promotion is not None:
        query = select(r.timezone).select_from(redemptions.join(reservations, r.id == redemptions.c.reservation_id)
                                              ).where(redemptions.c.promotion == promotion)
    else:
        query = select(r.timezone).select_from(parent_orders.join(
            reservations, r.id == parent_orders.c.deposit_reservation_id)).where(parent_orders.c.presale == presale)
    return conn.execute(query.order_by(r.created_us.desc()).limit(1)).scalar()


def _timezone(conn: Connection, given: str | None, **whose: str) -> str:
    name = given or recorded_timezone(conn, **whose) or DEFAULT_TIMEZONE
    zone(name)  # InvalidArgument naming `timezone`
    return name


# ---- a promotion ---------------------------------------------------------------------------------


class _Orders:
    """What a promotion's orders (of a day or of the whole span) come to: a use is one order."""
    orders: int
    gmv: int

    @property
    def uses(self) -> int:
        return self.orders

    @property
    def average_order_value(self) -> int | None:
        return average(self.gmv, self.orders)


@dataclass(frozen=True)
class PromotionDay(_Orders):
    day: date
    orders: int
    spend: int
    gmv: int


@dataclass(frozen=True)
class BudgetFigure:
    period: Period | None  # None: the all-time budget
    key: str               # the period's key (`2024-11-11`, `2024-W46`, `2024-11`); '' all time
    budget: int
    used: int              # held and committed now
    held: int

    @property
    def left(self) -> int:
        return max(0, self.budget - self.used)


@dataclass(frozen=True)
class PromotionStats(_Orders):
    promotion: str
    timezone: str
    orders: int     # committed, not returned in full
    spend: int      # the discount granted on them, less what returns gave back
    gmv: int        # their payable, less what returns refunded
    returned: int   # orders returned in full (not in the figures)
    cancelled: int  # orders cancelled after commit (not in the figures)
    budgets: tuple[BudgetFigure, ...]
    days: tuple[PromotionDay, ...]


def promotion_stats(conn: Connection, promotion: str, from_us: int | None = None, to_us_: int | None = None, *,
                    timezone: str | None = None, budgets: Sequence[Budget] | None = None,
                    now: datetime) -> PromotionStats:
    """The figures of `promotion` over its orders with `at` in [from, to). `timezone`: the days'
    (None: the one the ledger recorded on its latest order, else UTC); `budgets`: the served
    ruleset's budget clauses (None: unknown, the ledger's spend counters say)."""
    tz = _timezone(conn, timezone, promotion=promotion)
    r, red = reservations.c, redemptions.c
    where = [red.promotion == promotion, red.granted > 0]  # a use: the promotion gave something (§2)
    if from_us is not None:
        where.append(r.at_us >= from_us)
    if to_us_ is not None:
        where.append(r.at_us < to_us_)
    orders = conn.execute(select(r.id, r.order_id, r.state, r.at_us, r.payable, red.granted)
                          .select_from(redemptions.join(reservations, r.id == red.reservation_id))
                          .where(*where)).all()
    refunded, given_back = _returns(conn, promotion, where)
    by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0])
    states: dict[str, set[str]] = defaultdict(set)
    for row in orders:
        states[row.state].add(row.order_id)
        if row.state != State.COMMITTED:
            continue
        figures = by_day[_day(row.at_us, tz)]
        figures[0] += 1
        figures[1] += row.granted - given_back.get(row.id, 0)
        figures[2] += max(0, row.payable - refunded.get(row.id, 0))
    days = tuple(PromotionDay(d, *by_day.get(d, (0, 0, 0))) for d in day_span(by_day, tz, from_us, to_us_))
    return PromotionStats(
        promotion=promotion, timezone=tz, orders=sum(d.orders for d in days), spend=sum(d.spend for d in days),
        gmv=sum(d.gmv for d in days), returned=len(states[State.RETURNED]),
        cancelled=len(states[State.CANCELLED]), budgets=budget_figures(conn, promotion, budgets, tz, now),
        days=days)


def _returns(conn: Connection, promotion: str, where: list) -> tuple[dict[str, int], dict[str, int]]:
    """Per committed reservation of the promotion with units returned: what the returns refunded
    (the returned units' share of each line's final) and gave back of the promotion's spend (their
    share of its allocation on the line)."""
    r, red, li, a = reservations.c, redemptions.c, lines.c, allocations.c
    rows = conn.execute(
        select(li.reservation_id, li.quantity, li.returned, li.final, a.amount)
        .select_from(lines.join(redemptions, red.reservation_id == li.reservation_id)
                     .join(reservations, r.id == li.reservation_id)
                     .outerjoin(allocations, and_(a.reservation_id == li.reservation_id, a.line_id == li.line_id,
                                                  a.promotion == promotion)))
        .where(*where, li.returned > 0, r.state == str(State.COMMITTED))).all()
    refunded: dict[str, int] = defaultdict(int)
    given_back: dict[str, int] = defaultdict(int)
    for row in rows:
        refunded[row.reservation_id] += units_share(row.final, row.quantity, 0, row.returned)
        given_back[row.reservation_id] += units_share(row.amount or 0, row.quantity, 0, row.returned)
    return refunded, given_back


_PERIODS: tuple[Period | None, ...] = (None, Period.DAY, Period.WEEK, Period.MONTH)


def budget_figures(conn: Connection, promotion: str, budgets: Sequence[Budget] | None, timezone: str,
                   now: datetime) -> tuple[BudgetFigure, ...]:
    """Each budget of the promotion now: the all-time one, and a per-period one in the period of
    `now` (in `timezone`). `budgets` None: whatever spend counters the ledger has for those periods."""
    read = usage.read(conn, UsageQuery((promotion,), at=now, timezone=timezone), now, to_us(now))
    keys = read.period_keys
    amounts: dict[Period | None, int] = {}
    if budgets is None:
        for key, count in read.counters.items():
            if key.metric is Metric.SPEND and key.subject == "":
                period = next(p for p in _PERIODS if keys[p] == key.period)
                amounts[period] = count.cap
    else:
        for clause in budgets:  # two budgets of one period: the tighter holds
            amounts[clause.period] = min(clause.amount, amounts.get(clause.period, clause.amount))
    out = []
    for period in _PERIODS:
        if period not in amounts:
            continue
        spent = read.counters.get(CounterKey(promotion, Metric.SPEND, "", keys[period]))
        out.append(BudgetFigure(period, keys[period].partition(":")[2], amounts[period],
                                spent.used if spent else 0, spent.held if spent else 0))
    return tuple(out)


# ---- a presale -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PresaleDay:
    day: date
    deposit_orders: int = 0
    deposit_units: int = 0
    deposit_amount: int = 0
    balances_paid: int = 0
    balance_amount: int = 0


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
    timezone: str = DEFAULT_TIMEZONE
    days: tuple[PresaleDay, ...] = ()
    returned: int = 0      # paid parents whose deposit or balance order was returned in full (not counted)

    @property
    def conversion(self) -> Fraction | None:
        """Balances paid ÷ deposits paid; None without a paid deposit."""
        return Fraction(self.balances_paid, self.deposit_orders) if self.deposit_orders else None

    @property
    def gmv(self) -> int:
        """What the buyers paid and the merchant keeps: the paid deposits (a forfeited one too)
        and the paid balances."""
        return self.deposit_amount + self.balance_amount

    @property
    def average_order_value(self) -> int | None:
        """GMV ÷ the parent orders with a paid deposit, half-up."""
        return average(self.gmv, self.deposit_orders)


def presale_stats(conn: Connection, presale: str, from_us: int | None = None, to_us: int | None = None,
                  stock: int | None = None, *, timezone: str | None = None) -> PresaleStats:
    p = parent_orders.c
    where = [p.presale == presale]
    if from_us is not None:
        where.append(p.created_us >= from_us)
    if to_us is not None:
        where.append(p.created_us < to_us)
    deposit = reservations.alias("deposit")
    balance = reservations.alias("balance")
    d, b = deposit.c, balance.c
    rows = conn.execute(
        select(p.state, p.units, d.id, d.state, d.at_us, d.payable, b.id, b.state, b.at_us, b.payable)
        .select_from(parent_orders.outerjoin(deposit, d.id == p.deposit_reservation_id)
                     .outerjoin(balance, b.id == p.balance_reservation_id))
        .where(*where)).all()
    refunded = _refunded(conn, where)
    tz = _timezone(conn, timezone, presale=presale)
    counts: dict[str, int] = defaultdict(int)
    by_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for state, units, d_id, d_state, d_at, d_paid, b_id, b_state, b_at, b_paid in rows:
        if state not in PAID:
            counts[state] += 1  # deposit_held, cancelled
            continue
        if State.RETURNED in (d_state, b_state):  # returned in full: out of the figures
            counts[str(State.RETURNED)] += 1
            continue
        paid = max(0, d_paid - refunded.get(d_id, 0))
        day = by_day[_day(d_at, tz)]
        day[0] += 1
        day[1] += units
        day[2] += paid
        if state == BALANCE_EXPIRED:
            counts["forfeited"] += 1
            counts["forfeited_amount"] += paid
        if state == COMPLETED and b_state == State.COMMITTED:
            day = by_day[_day(b_at, tz)]
            day[3] += 1
            day[4] += max(0, b_paid - refunded.get(b_id, 0))
    days = tuple(PresaleDay(x, *by_day.get(x, (0, 0, 0, 0, 0))) for x in day_span(by_day, tz, from_us, to_us))

    c = counters.c
    counter = conn.execute(select(c.used, c.cap).where(c.promotion == presale, c.metric == str(Metric.UNITS),
                                                       c.subject == "", c.period == "")).first()
    sold = int(counter.used) if counter is not None else 0
    known = stock if stock is not None else (int(counter.cap) if counter is not None and counter.cap < 2**62 else None)
    return PresaleStats(
        presale=presale, deposits_held=counts[DEPOSIT_HELD], deposit_orders=sum(x.deposit_orders for x in days),
        deposit_units=sum(x.deposit_units for x in days), deposit_amount=sum(x.deposit_amount for x in days),
        balances_paid=sum(x.balances_paid for x in days), balance_amount=sum(x.balance_amount for x in days),
        forfeited_orders=counts["forfeited"], forfeited_deposits=counts["forfeited_amount"],
        cancelled=counts[CANCELLED], returned=counts[str(State.RETURNED)], stock=known, sold=sold,
        stock_left=None if known is None else max(0, known - sold), timezone=tz, days=days)


def _refunded(conn: Connection, where: list) -> dict[str, int]:
    """Per deposit or balance order of the parents `where` selects with units returned: what the
    returns refunded (the returned units' share of each line's final, as Return computed it)."""
    p, li = parent_orders.c, lines.c
    rows = conn.execute(
        select(li.reservation_id, li.quantity, li.returned, li.final)
        .select_from(lines.join(parent_orders, or_(li.reservation_id == p.deposit_reservation_id,
                                                   li.reservation_id == p.balance_reservation_id)))
        .where(*where, li.returned > 0)).all()
    refunded: dict[str, int] = defaultdict(int)
    for row in rows:
        refunded[row.reservation_id] += units_share(row.final, row.quantity, 0, row.returned)
    return refunded


# ---- as JSON (promo stats --json; GetStats answers the same figures) ----------------------------


def _money(digits: int):
    from engine.base.money import format_money

    return lambda v: None if v is None else format_money(v, digits)


def stats_json(stats: PresaleStats, digits: int) -> dict:
    """A presale's figures as `promo stats --json` prints them (money as decimal strings)."""
    money = _money(digits)
    conversion = stats.conversion
    return {
        "presale": stats.presale,
        "deposits": {"orders": stats.deposit_orders, "units": stats.deposit_units,
                     "amount": money(stats.deposit_amount), "held": stats.deposits_held},
        "balances_paid": {"orders": stats.balances_paid, "amount": money(stats.balance_amount)},
        "conversion": None if conversion is None else f"{float(conversion):.4f}",
        "forfeited": {"orders": stats.forfeited_orders, "deposits": money(stats.forfeited_deposits)},
        "cancelled": stats.cancelled, "returned": stats.returned,
        "stock": stats.stock, "sold": stats.sold, "stock_left": stats.stock_left,
        "gmv": money(stats.gmv), "average_order_value": money(stats.average_order_value),
        "timezone": stats.timezone,
        "days": [{"day": d.day.isoformat(),
                  "deposits": {"orders": d.deposit_orders, "units": d.deposit_units, "amount": money(d.deposit_amount)},
                  "balances_paid": {"orders": d.balances_paid, "amount": money(d.balance_amount)}}
                 for d in stats.days],
    }


def promotion_json(stats: PromotionStats, digits: int) -> dict:
    """A promotion's figures as `promo stats --json` prints them (money as decimal strings)."""
    money = _money(digits)
    return {
        "promotion": stats.promotion,
        "uses": stats.uses, "orders": stats.orders, "spend": money(stats.spend), "gmv": money(stats.gmv),
        "average_order_value": money(stats.average_order_value),
        "returned": stats.returned, "cancelled": stats.cancelled,
        "budgets": [{"period": str(b.period) if b.period else "total", "key": b.key, "budget": money(b.budget),
                     "used": money(b.used), "held": money(b.held), "left": money(b.left)} for b in stats.budgets],
        "timezone": stats.timezone,
        "days": [{"day": d.day.isoformat(), "uses": d.uses, "orders": d.orders, "spend": money(d.spend),
                  "gmv": money(d.gmv), "average_order_value": money(d.average_order_value)} for d in stats.days],
    }
