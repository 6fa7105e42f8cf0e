"""Presale parent orders on the ledger itself (server/ledger/presale.py), both backends, with a
clock the test moves: the states of ledger.md §5 through cancel, release, balance expiry and the
sweep; the stock counter given back exactly once; sold at the deposit window's close."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_support import clock, ledger, ledger_url  # noqa: F401

from server.ledger.audit import verify
from server.ledger.clock import to_us
from server.ledger.errors import FailedPrecondition, NotFound, OutOfStock
from server.ledger.types import Hold, Line, Order, PresaleOrder, ReserveRequest, ReturnLine, UsageQuery


def deposit(ledger, clock, order_id: str, units: int = 1, stock: int = 2, key: str | None = None):
    closes = to_us(clock.at + timedelta(hours=2))
    presales = (PresaleOrder("d", "dj", "deposit", units, ship_us=to_us(clock.at + timedelta(days=5)),
                             balance_closes_us=closes),)
    order = Order((Hold("dj", units=units, stock=stock),), (Line("d", units, 10_000 * units),), 10_000 * units,
                  presales=presales)
    return ledger.reserve(ReserveRequest(order_id, key or f"dep-{order_id}", "u1", order=order))


def balance(ledger, order_id: str, parent: str, units: int = 1):
    presales = (PresaleOrder("d", "dj", "balance", units),)
    order = Order((), (Line("d", units, 140_000 * units),), 140_000 * units, presales=presales)
    return ledger.reserve(ReserveRequest(order_id, f"bal-{order_id}", "u1", parent_order_id=parent, order=order))


def units(ledger) -> int:
    return ledger.get_usage(UsageQuery((), presales=(("dj", None),))).sold["dj"]


def test_stock_is_never_oversold_and_a_refusal_holds_nothing(ledger, clock):
    deposit(ledger, clock, "p1")
    with pytest.raises(OutOfStock) as err:
        deposit(ledger, clock, "p2", units=2)  # one unit left, two asked: none taken
    assert err.value.field == "cart.lines[0]" and err.value.left == 1
    deposit(ledger, clock, "p2", key="dep-p2-again")  # the one left; the refused key was not spent
    assert units(ledger) == 2
    with pytest.raises(OutOfStock):
        deposit(ledger, clock, "p3")
    assert verify(ledger.url).ok


def test_the_states_of_a_parent_order(ledger, clock):
    held = deposit(ledger, clock, "p1")
    assert ledger.get_order("p1").state == "deposit_held"
    ledger.commit(held.reservation_id, "pay-p1")
    assert ledger.get_order("p1").state == "deposit_paid"
    with pytest.raises(FailedPrecondition) as err:  # before the ship date
        ledger.return_("p1", "ret-p1", [ReturnLine("d", 1)])
    assert err.value.field == "order_id"
    tail = balance(ledger, "p1-b", "p1")
    assert ledger.get_order("p1-b").state == "balance_held"
    ledger.cancel(tail.reservation_id, "drop-p1-b")  # a released balance: the parent waits again
    assert ledger.get_order("p1").state == "deposit_paid"
    tail = balance(ledger, "p1-b2", "p1")
    ledger.commit(tail.reservation_id, "pay-p1-b2")
    order = ledger.get_order("p1")
    assert order.state == "completed" and [(c.kind, c.state) for c in order.children] == [
        ("deposit", "committed"), ("balance", "committed")]
    with pytest.raises(FailedPrecondition):  # completed: no second balance
        balance(ledger, "p1-c", "p1")
    with pytest.raises(NotFound):
        balance(ledger, "p9-b", "p9")
    assert units(ledger) == 1
    assert verify(ledger.url).ok


def test_a_balance_pays_for_exactly_the_units_of_its_deposit(ledger, clock):
    ledger.commit(deposit(ledger, clock, "p1", units=2).reservation_id, "pay-p1")
    for other in (1, 3):  # fewer or more units than the deposit held
        with pytest.raises(FailedPrecondition) as err:
            balance(ledger, f"p1-b{other}", "p1", units=other)
        assert err.value.field == "parent_order_id" and "2 unit(s)" in str(err.value)
    assert ledger.get_order("p1").state == "deposit_paid"  # a refused balance holds nothing
    ledger.commit(balance(ledger, "p1-b", "p1", units=2).reservation_id, "pay-p1-b")
    assert ledger.get_order("p1").state == "completed"
    assert verify(ledger.url).ok


def test_cancel_of_an_unpaid_parent_refunds_the_deposit_and_gives_the_units_back(ledger, clock):
    held = deposit(ledger, clock, "p1")
    ledger.commit(held.reservation_id, "pay-p1")
    tail = balance(ledger, "p1-b", "p1")
    assert units(ledger) == 1
    assert str(ledger.cancel(held.reservation_id, "cancel-p1").state) == "cancelled"
    order = ledger.get_order("p1")
    assert order.state == "cancelled"
    assert [(c.kind, c.state) for c in order.children] == [("deposit", "cancelled"), ("balance", "released")]
    assert str(ledger.state(tail.reservation_id)) == "released"
    assert units(ledger) == 0
    # an expired deposit hold cancels its parent, and the order may place a deposit again
    deposit(ledger, clock, "p2")
    clock.advance(seconds=901)
    assert ledger.sweep() == 1 and ledger.get_order("p2").state == "cancelled"
    deposit(ledger, clock, "p2", key="dep-p2-again")
    assert ledger.get_order("p2").state == "deposit_held"
    assert verify(ledger.url).ok


def test_the_balance_window_closed_unpaid_keeps_the_deposit_and_gives_the_units_back(ledger, clock):
    paid = deposit(ledger, clock, "p1")
    ledger.commit(paid.reservation_id, "pay-p1")
    other = deposit(ledger, clock, "p2")
    ledger.commit(other.reservation_id, "pay-p2")
    ledger.commit(balance(ledger, "p2-b", "p2").reservation_id, "pay-p2-b")
    assert units(ledger) == 2
    closed = clock.at + timedelta(hours=1)
    clock.advance(hours=3)  # past the balance window
    assert ledger.sweep() == 1
    order = ledger.get_order("p1")
    assert order.state == "balance_expired" and [(c.kind, c.state) for c in order.children] == [
        ("deposit", "committed")]
    assert ledger.get_order("p2").state == "completed"
    assert units(ledger) == 1 and ledger.sweep() == 0  # given back once
    # the units sold at the deposit window's close are what they were then
    at_close = ledger.get_usage(UsageQuery((), presales=(("dj", to_us(closed)),))).sold["dj"]
    assert at_close == 2
    with pytest.raises(FailedPrecondition) as err:
        balance(ledger, "p1-late", "p1")
    assert err.value.field == "parent_order_id"
    assert verify(ledger.url).ok
