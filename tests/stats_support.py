"""The ledger states the figures' tests share (ledger.md §6; tests/server/test_ledger_stats.py
computes their figures by hand, tests/cli/test_stats_cli.py and test_stats_browser.py print and
draw them): a promotion `p` on orders either side of midnight in Asia/Shanghai, committed, partly
returned, returned in full, cancelled, held and released; a presale `dj` whose deposits and
balances fall on two days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.ledger.clock import to_us
from server.ledger.types import Budget, Hold, Line, Order, Period, PresaleOrder, ReserveRequest, ReturnLine

TZ = "Asia/Shanghai"  # UTC+8, no daylight saving
BUDGETS = (Budget(50_000), Budget(30_000, Period.DAY))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def order(ledger, order_id: str, at: str, payable: int, spend: int, quantity: int = 1, commit: bool = True,
          other: int = 0):
    holds = [Hold("p", budgets=BUDGETS, spend=spend, allocation={"l1": spend})]
    if other:
        holds.append(Hold("q", spend=other, allocation={"l1": other}))
    request = ReserveRequest(order_id, f"r-{order_id}", "u1", timezone=TZ, at=utc(at),
                             order=Order(tuple(holds), (Line("l1", quantity, payable),), payable))
    reserved = ledger.reserve(request)
    if commit:
        ledger.commit(reserved.reservation_id, f"c-{order_id}")
    return reserved


def orders(ledger) -> None:
    """The promotion `p` (budget 500.00, and 300.00 per day) on these orders; local = Asia/Shanghai."""
    order(ledger, "o1", "2024-11-10T15:30:00", 10_000, 1_000, other=500)  # local 11-10 23:30
    order(ledger, "o2", "2024-11-10T15:59:59", 10_001, 2_000)  # local 11-10 23:59:59
    order(ledger, "o3", "2024-11-10T16:00:00", 30_000, 3_000, quantity=3)  # local 11-11 00:00
    ledger.return_("o3", "ret-o3", [ReturnLine("l1", 1)])  # a third back: refund 100.00, spend back 10.00
    order(ledger, "o4", "2024-11-11T02:00:00", 5_000, 500)  # local 11-11 10:00, returned in full
    ledger.return_("o4", "ret-o4", [ReturnLine("l1", 1)])
    five = order(ledger, "o5", "2024-11-11T03:00:00", 8_000, 800)  # cancelled after commit
    ledger.cancel(five.reservation_id, "cancel-o5")
    order(ledger, "o6", "2024-11-11T03:30:00", 7_000, 700, commit=False)  # held: in the budget, not an order
    seven = order(ledger, "o7", "2024-11-11T03:40:00", 6_000, 600, commit=False)  # released
    ledger.cancel(seven.reservation_id, "release-o7")
    order(ledger, "o8", "2024-11-12T16:00:01", 3_333, 333)  # local 11-13 00:00:01 (11-12: no order)
    order(ledger, "o9", "2024-11-11T01:00:00", 9_000, 0, other=900)  # p gave 0.00: no use of p (§2)


def deposit(ledger, clock, order_id: str, units: int = 1, commit: bool = True):
    presales = (PresaleOrder("d", "dj", "deposit", units, ship_us=to_us(clock.at + timedelta(days=5)),
                             balance_closes_us=to_us(clock.at + timedelta(hours=2))),)
    order = Order((Hold("dj", units=units, stock=10),), (Line("d", units, 10_000 * units),), 10_000 * units,
                  presales=presales)
    held = ledger.reserve(ReserveRequest(order_id, f"dep-{order_id}", "u1", timezone=TZ, order=order))
    if commit:
        ledger.commit(held.reservation_id, f"pay-{order_id}")
    return held


def balance(ledger, order_id: str, parent: str, units: int = 1) -> None:
    """The balance order of `parent` (its deposit's units): 1400.00, whatever the units."""
    order = Order((), (Line("d", units, 140_000),), 140_000, presales=(PresaleOrder("d", "dj", "balance", units),))
    held = ledger.reserve(ReserveRequest(order_id, f"bal-{order_id}", "u1", timezone=TZ, parent_order_id=parent,
                                         order=order))
    ledger.commit(held.reservation_id, f"pay-{order_id}")


def presale(ledger, clock) -> None:
    """Deposits p1, p2 at local 11-10 23:00, the balance of p1, deposit p3 (2 units) and p5 (refunded)
    at 11-11 00:30, the balance of p3 at 01:00, p2's balance window closed unpaid (swept), p4 held."""
    clock.at = utc("2024-11-10T15:00:00")  # local 11-10 23:00
    deposit(ledger, clock, "p1")
    deposit(ledger, clock, "p2")  # never pays: forfeited
    clock.at = utc("2024-11-10T16:30:00")  # local 11-11 00:30
    balance(ledger, "p1-b", "p1")
    deposit(ledger, clock, "p3", units=2)
    ledger.cancel(deposit(ledger, clock, "p5").reservation_id, "refund-p5")  # refunded: cancelled
    clock.at = utc("2024-11-10T17:00:00")
    balance(ledger, "p3-b", "p3", units=2)
    clock.at = utc("2024-11-10T19:00:00")  # p2's balance window closed at 17:00
    assert ledger.sweep() == 1  # p2: balance_expired
    deposit(ledger, clock, "p4", commit=False)  # held, not paid
