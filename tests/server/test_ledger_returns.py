"""What a Return refunds (docs/ledger.md "Return"), on both backends: what each order was paid for
the returned units, never a line's price at another stage. A normal order's line refunds its
final (its share of the payable, order-level discounts included, shipping not), a presale
order's line its deposit order's share and its balance order's share; returning the units in
several partial returns refunds exactly what was paid, and the counters move as before: the
spend back unit by unit, uses, codes and stock once a child order is returned in full."""

from __future__ import annotations

from datetime import timedelta

import pytest
from ledger_support import clock, ledger, ledger_url  # noqa: F401
from pricing_helpers import plan_of

from engine.pricing.limits import Limits
from engine.wire.decode import request_from_json
from server.ledger.audit import verify
from server.ledger.clock import to_us
from server.ledger.errors import FailedPrecondition
from server.ledger.types import (
    Budget,
    Hold,
    Limit,
    Line,
    Order,
    PresaleOrder,
    ReserveRequest,
    ReturnLine,
    State,
    UsageQuery,
)
from server.service.ledger_pricer import QuotePricer

BUDGET = Budget(100_000)
TOTAL = Limit(100)


def spent(ledger, promotion: str) -> int:
    return ledger.get_usage(UsageQuery((promotion,))).spent(promotion, BUDGET)


def uses(ledger, promotion: str) -> int:
    return ledger.get_usage(UsageQuery((promotion,))).uses(promotion, TOTAL)


def sold(ledger) -> int:
    return ledger.get_usage(UsageQuery((), presales=(("dj", None),))).sold["dj"]


def checkout(ledger, plan, cart: dict, order_id: str, parent: str | None = None) -> QuotePricer:
    """Reserve and commit `cart` priced by the engine, as the service's Reserve prices it."""
    request = request_from_json(cart, plan.digits, plan.timezone)
    pricer = QuotePricer(plan, request, Limits(), cart["user"]["id"], lambda quote: None)
    held = ledger.reserve(ReserveRequest(order_id, f"r-{order_id}", cart["user"]["id"], timezone=str(plan.timezone),
                                         at=request.at, parent_order_id=parent), pricer)
    ledger.commit(held.reservation_id, f"c-{order_id}")
    return pricer


def refunds(ledger, order_id: str, *units: int, line: str = "a") -> list[int]:
    return [ledger.return_(order_id, f"ret-{order_id}-{line}-{i}", [ReturnLine(line, n)]).refund
            for i, n in enumerate(units)]


# ---- a normal order ------------------------------------------------------------------------------

NORMAL = """\
ruleset "returns" { currency CNY  timezone "UTC"  stacking parallel }
promotion "a-off" { level item  scope sku == "A"  discount 1.01 each }
coupon "shop-7" { level shop  discount 7  limit 100 total  budget 1000 }
coupon "plat-5" { level platform  when amount >= 50  discount 5 }
"""


def test_a_normal_order_refunds_each_lines_share_of_the_payable_and_never_the_shipping(ledger):
    plan = plan_of(NORMAL)
    cart = {"at": "2024-11-11T04:00:00Z", "user": {"id": "u1"},
            "lines": [{"id": "a", "sku": "A", "shop": "S1", "price": "33.33", "quantity": 3},
                      {"id": "b", "sku": "B", "shop": "S1", "price": "10.01", "quantity": 2}],
            "shipping": {"S1": "8.00"},
            "wallet": [{"coupon": "shop-7", "id": "w1"}, {"coupon": "plat-5", "id": "w2"}]}
    quote = checkout(ledger, plan, cart, "o1").quote
    assert quote is not None
    finals = {x.id: x.final for x in quote.lines}
    # by hand: a 3 × (33.33 − 1.01) = 96.96, b 20.02: 116.98; each coupon over the lines by their
    # amount (stacking parallel: both on 116.98): shop-7 a 5.80, b 1.20; plat-5 a 4.14, b 0.86;
    # so a 96.96 − 9.94 = 87.02, b 20.02 − 2.06 = 17.96; payable 104.98 + 8.00 shipping = 112.98
    assert (finals, quote.payable, quote.shipping) == ({"a": 8_702, "b": 1_796}, 11_298, 800)
    # a's 87.02 over 3 units by largest remainder: 29.01, 29.01, 29.00
    assert refunds(ledger, "o1", 1, 2) == [2_901, 5_801]
    assert spent(ledger, "shop-7") == 700 - 580 and uses(ledger, "shop-7") == 1  # a's part of 7.00 back
    last = ledger.return_("o1", "ret-o1-b", [ReturnLine("b", 2)])
    assert (last.refund, last.state) == (1_796, State.RETURNED)
    # every unit back: the goods' whole payable, the shipping not (it is not the lines')
    assert 2_901 + 5_801 + 1_796 == quote.payable - quote.shipping
    assert spent(ledger, "shop-7") == 0 and uses(ledger, "shop-7") == 0
    assert verify(ledger.url).ok


# ---- presale orders, hand-built ------------------------------------------------------------------


def presale_orders(ledger, clock, units: int = 3, deposit: int = 10_001, balance: int = 400_001):
    """A completed presale order `p1`: its deposit order (`units` units of line `d`, paid
    `deposit`) and its balance order `p1-b` (paid `balance`, a coupon's 30.00 on the line, with a
    budget and a total limit); the clock then past the ship date."""
    ships = to_us(clock.at + timedelta(days=5))
    closes = to_us(clock.at + timedelta(hours=2))
    first = Order((Hold("dj", units=units, stock=10),), (Line("d", units, deposit),), deposit,
                  presales=(PresaleOrder("d", "dj", "deposit", units, ship_us=ships, balance_closes_us=closes),))
    held = ledger.reserve(ReserveRequest("p1", "dep-p1", "u1", order=first))
    ledger.commit(held.reservation_id, "pay-p1")
    coupon = Hold("cpn", limits=(TOTAL,), budgets=(BUDGET,), spend=3_000, allocation={"d": 3_000})
    second = Order((coupon,), (Line("d", units, balance),), balance,
                   presales=(PresaleOrder("d", "dj", "balance", units),))
    tail = ledger.reserve(ReserveRequest("p1-b", "bal-p1", "u1", parent_order_id="p1", order=second))
    ledger.commit(tail.reservation_id, "pay-p1-b")
    assert ledger.get_order("p1").state == "completed"
    clock.advance(days=6)


def test_a_presale_line_returned_unit_by_unit_refunds_exactly_what_both_orders_were_paid(ledger, clock):
    presale_orders(ledger, clock)
    # per unit, largest remainder in each child: the deposit 100.01 → 33.34, 33.34, 33.33; the
    # balance 4000.01 → 1333.34, 1333.34, 1333.33; the coupon's 30.00 → 10.00 each
    answers = [ledger.return_("p1", f"ret-{i}", [ReturnLine("d", 1)]) for i in range(2)]
    assert [a.refund for a in answers] == [3_334 + 133_334] * 2
    assert [a.lines[0].refund for a in answers] == [136_668] * 2 and {a.state for a in answers} == {State.COMMITTED}
    assert spent(ledger, "cpn") == 1_000 and uses(ledger, "cpn") == 1 and sold(ledger) == 3
    last = ledger.return_("p1-b", "ret-2", [ReturnLine("d", 1)])  # the balance order's id: the same order
    assert (last.order_id, last.refund, last.state) == ("p1-b", 3_333 + 133_333, State.RETURNED)
    assert 2 * 136_668 + last.refund == 10_001 + 400_001  # exactly what was paid, to the cent
    assert spent(ledger, "cpn") == 0 and uses(ledger, "cpn") == 0 and sold(ledger) == 0
    order = ledger.get_order("p1")
    assert [(c.kind, c.state) for c in order.children] == [("deposit", "returned"), ("balance", "returned")]
    with pytest.raises(FailedPrecondition) as err:
        ledger.return_("p1", "ret-3", [ReturnLine("d", 1)])
    assert err.value.field == "order_id"
    assert verify(ledger.url).ok


def test_partial_presale_returns_of_two_and_one_sum_to_the_paid_total(ledger, clock):
    presale_orders(ledger, clock, units=3, deposit=30_000, balance=23_297)
    # the deposit 300.00 → 100.00 a unit; the balance 232.97 → 77.66, 77.66, 77.65
    assert refunds(ledger, "p1", 2, 1, line="d") == [20_000 + 15_532, 10_000 + 7_765]
    assert 20_000 + 15_532 + 10_000 + 7_765 == 30_000 + 23_297
    with pytest.raises(FailedPrecondition) as err:  # every unit back: both children returned
        ledger.return_("p1", "ret-more", [ReturnLine("d", 1)])
    assert err.value.field == "order_id"


def test_a_presale_order_is_returned_only_once_completed(ledger, clock):
    closes = clock.at + timedelta(hours=2)
    ships = to_us(clock.at + timedelta(hours=1))  # ships before its balance window closes
    presales = (PresaleOrder("d", "dj", "deposit", 1, ship_us=ships, balance_closes_us=to_us(closes)),)
    for order_id in ("p1", "p2"):
        held = ledger.reserve(ReserveRequest(order_id, f"dep-{order_id}", "u1", order=Order(
            (Hold("dj", units=1, stock=10),), (Line("d", 1, 10_000),), 10_000, presales=presales)))
        ledger.commit(held.reservation_id, f"pay-{order_id}")
    clock.advance(hours=1, seconds=1)  # shipped, the balance not paid: Cancel refunds the deposit
    with pytest.raises(FailedPrecondition) as err:
        ledger.return_("p1", "ret-p1", [ReturnLine("d", 1)])
    assert err.value.field == "order_id" and "deposit_paid" in err.value.message
    clock.advance(hours=2)  # the balance window closed unpaid: the deposit is kept
    assert ledger.sweep() == 2 and ledger.get_order("p2").state == "balance_expired"
    with pytest.raises(FailedPrecondition) as err:
        ledger.return_("p2", "ret-p2", [ReturnLine("d", 1)])
    assert "balance_expired" in err.value.message
    assert sold(ledger) == 0  # the sweep gave the units back; the refused returns moved nothing


# ---- a presale order priced by the engine ------------------------------------------------------------

PRESALE = """\
ruleset "presale-returns" {{ currency CNY  timezone "UTC" }}
presale "dj" {{
    scope sku == "dj"
    price 99.99
    deposit 10 worth 20
    deposit_window {opens} .. {closes}
    balance_window {closes} .. {balance_closes}
    ships {ships}
}}
coupon "shop-7" {{ level shop  discount 7 }}
"""


def test_a_priced_presale_order_records_what_each_child_charges_and_refunds_it(ledger, clock):
    start = clock.at
    stamp = lambda at: at.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    plan = plan_of(PRESALE.format(opens=stamp(start - timedelta(days=1)), closes=stamp(start + timedelta(hours=1)),
                                  balance_closes=stamp(start + timedelta(hours=2)),
                                  ships=stamp(start + timedelta(days=1))))

    def cart(at, wallet=()) -> dict:
        return {"at": stamp(at), "user": {"id": "u1"}, "wallet": list(wallet),
                "lines": [{"id": "d", "sku": "dj", "shop": "S1", "price": "99.99", "quantity": 3}]}

    deposit = checkout(ledger, plan, cart(start), "p1").quote
    assert deposit is not None and deposit.payable == 3_000  # 3 deposits of 10.00
    # the line's final at the deposit stage is the whole price over both orders, not what this one charged
    assert deposit.lines[0].final > deposit.payable
    clock.advance(hours=1, seconds=1)
    tail = checkout(ledger, plan, cart(clock.at, [{"coupon": "shop-7", "id": "w"}]), "p1-b", parent="p1").quote
    # due: 3 × 99.99 − 3 × 20 (the deposits' worth) − 7 (the coupon) = 232.97
    assert tail is not None and tail.payable == 23_297 and tail.presale[0].balance_due == 23_297
    clock.advance(days=1)
    # deposit 10.00 a unit; the balance 232.97 → 77.66, 77.66, 77.65
    assert refunds(ledger, "p1", 1, 1, 1, line="d") == [1_000 + 7_766, 1_000 + 7_766, 1_000 + 7_765]
    assert ledger.get_order("p1").state == "completed"  # the parent keeps its state; its children are returned
    assert [c.state for c in ledger.get_order("p1").children] == ["returned", "returned"]
    assert verify(ledger.url).ok
