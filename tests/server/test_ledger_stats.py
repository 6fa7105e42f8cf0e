"""The figures (ledger.md §6, server/ledger/stats.py) on the ledger itself, both backends, every
value computed by hand: a promotion's orders committed, partly returned, returned in full,
cancelled, held and released, on days either side of midnight in Asia/Shanghai (and the same
orders on other days in UTC), its budgets now, average order value rounded half-up; a presale's
deposits and balances per day, conversion, forfeited deposits, GMV."""

from __future__ import annotations

from datetime import date

import pytest
from ledger_support import clock, ledger, ledger_url  # noqa: F401
from stats_support import BUDGETS, TZ, orders, presale, utc

from server.ledger.clock import to_us
from server.ledger.errors import InvalidArgument
from server.ledger.stats import average, day_span, promotion_json, stats_json
from server.ledger.types import ReturnLine


def test_a_promotions_figures_by_hand(ledger):
    orders(ledger)
    figures = ledger.promotion_stats("p", timezone=TZ, budgets=BUDGETS)
    # counted: o1 100.00, o2 100.01, o3 300.00 − 100.00 returned, o8 33.33 (o4 returned, o5 cancelled,
    # o6 held, o7 released are not); spend 10.00 + 20.00 + (30.00 − 10.00) + 3.33 = 53.33
    assert (figures.uses, figures.orders, figures.spend, figures.gmv) == (4, 4, 5_333, 43_334)
    assert figures.average_order_value == 10_834  # 433.34 / 4 = 108.335: half-up 108.34
    assert (figures.returned, figures.cancelled, figures.timezone) == (1, 1, TZ)
    assert [(d.day, d.orders, d.spend, d.gmv, d.average_order_value) for d in figures.days] == [
        (date(2024, 11, 10), 2, 3_000, 20_001, 10_001),  # 200.01 / 2 = 100.005: half-up 100.01
        (date(2024, 11, 11), 1, 2_000, 20_000, 20_000),  # o3 at local midnight
        (date(2024, 11, 12), 0, 0, 0, None),             # no order: a zero row, one point on the chart
        (date(2024, 11, 13), 1, 333, 3_333, 3_333)]
    # the budgets now (the clock: 2024-11-11T04:00Z, local 11-11 12:00), held and committed: all time
    # 10.00 + 20.00 + 20.00 + 7.00 held + 3.33 = 60.33 of 500.00; today (local 11-11) 20.00 + 7.00 of 300.00
    assert [(str(b.period), b.key, b.budget, b.used, b.held, b.left) for b in figures.budgets] == [
        ("None", "", 50_000, 6_033, 700, 43_967), ("day", "2024-11-11", 30_000, 2_700, 700, 27_300)]
    # the ledger's counters say the same without the ruleset's clauses; the days' zone is the one
    # the orders recorded
    recorded = ledger.promotion_stats("p")
    assert recorded.budgets == figures.budgets and recorded.timezone == TZ and recorded.days == figures.days
    data = promotion_json(figures, 2)
    assert (data["spend"], data["gmv"], data["average_order_value"]) == ("53.33", "433.34", "108.34")
    assert data["budgets"][0] == {"period": "total", "key": "", "budget": "500.00", "used": "60.33",
                                  "held": "7.00", "left": "439.67"}
    assert data["days"][0] == {"day": "2024-11-10", "uses": 2, "orders": 2, "spend": "30.00", "gmv": "200.01",
                               "average_order_value": "100.01"}
    assert data["days"][2]["average_order_value"] is None
    # `q`: o1 and o9 only (GMV 100.00 + 90.00), no budget clause and no spend counter
    q = ledger.promotion_stats("q", timezone=TZ, budgets=())
    assert (q.orders, q.spend, q.gmv, q.average_order_value, q.budgets) == (2, 1_400, 19_000, 9_500, ())


def test_the_days_are_the_timezones_and_from_to_bound_the_orders_at(ledger):
    orders(ledger)
    in_utc = ledger.promotion_stats("p", timezone="UTC")
    # o1, o2 and o3 all fall on 11-10 in UTC; o8 on 11-12
    assert [(d.day.isoformat(), d.orders, d.gmv) for d in in_utc.days] == [
        ("2024-11-10", 3, 40_001), ("2024-11-11", 0, 0), ("2024-11-12", 1, 3_333)]
    assert in_utc.gmv == 43_334
    # [local 11-11 00:00, local 11-13 00:00): o3 only (o8 is one second late); the days of the bounds
    bounded = ledger.promotion_stats("p", to_us(utc("2024-11-10T16:00:00")), to_us(utc("2024-11-12T16:00:00")),
                                     timezone=TZ)
    assert (bounded.orders, bounded.gmv, bounded.spend, bounded.returned, bounded.cancelled) == (1, 20_000, 2_000, 1, 1)
    assert [(d.day.isoformat(), d.orders) for d in bounded.days] == [("2024-11-11", 1), ("2024-11-12", 0)]
    nothing = ledger.promotion_stats("nobody", timezone=TZ)
    assert (nothing.orders, nothing.gmv, nothing.average_order_value, nothing.days, nothing.budgets) == (
        0, 0, None, (), ())
    assert nothing.timezone == TZ
    assert ledger.promotion_stats("nobody").timezone == "UTC"  # no order recorded one
    with pytest.raises(InvalidArgument) as err:
        ledger.promotion_stats("p", timezone="Mars/Olympus")
    assert err.value.field == "timezone"


def test_a_presales_figures_per_day_by_hand(ledger, clock):
    presale(ledger, clock)
    figures = ledger.presale_stats("dj")
    # deposits paid: p1, p2, p3 (4 units, 100.00 + 100.00 + 200.00); balances: p1, p3 (2 × 1400.00);
    # conversion 2/3; p2's 100.00 forfeited; GMV 400.00 + 2800.00 = 3200.00, ÷ 3 = 1066.666…: 1066.67
    assert (figures.deposit_orders, figures.deposit_units, figures.deposit_amount) == (3, 4, 40_000)
    assert (figures.balances_paid, figures.balance_amount, figures.deposits_held) == (2, 280_000, 1)
    assert (figures.forfeited_orders, figures.forfeited_deposits, figures.cancelled) == (1, 10_000, 1)
    assert (figures.gmv, figures.average_order_value) == (320_000, 106_667)
    assert (figures.stock, figures.sold, figures.stock_left) == (10, 4, 6)  # p1 1 + p3 2 + p4 1 held
    assert figures.timezone == TZ  # recorded on the deposit orders
    assert [(d.day.isoformat(), d.deposit_orders, d.deposit_units, d.deposit_amount, d.balances_paid,
             d.balance_amount) for d in figures.days] == [
        ("2024-11-10", 2, 2, 20_000, 0, 0), ("2024-11-11", 1, 2, 20_000, 2, 280_000)]
    data = stats_json(figures, 2)
    assert (data["conversion"], data["forfeited"]["deposits"], data["gmv"], data["average_order_value"]) == (
        "0.6667", "100.00", "3200.00", "1066.67")
    assert data["days"][1] == {"day": "2024-11-11", "deposits": {"orders": 1, "units": 2, "amount": "200.00"},
                               "balances_paid": {"orders": 2, "amount": "2800.00"}}
    # in UTC every order is on 11-10; from..to bounds the parents by when they were opened
    assert [d.day.isoformat() for d in ledger.presale_stats("dj", timezone="UTC").days] == ["2024-11-10"]
    later = ledger.presale_stats("dj", to_us(utc("2024-11-10T16:00:00")), None, timezone=TZ)
    assert (later.deposit_orders, later.balances_paid, later.gmv) == (1, 1, 160_000)  # p3 (p4 held, p5 cancelled)
    assert [(d.day.isoformat(), d.deposit_orders, d.balances_paid) for d in later.days] == [("2024-11-11", 1, 1)]


def test_a_presale_order_returned_in_full_leaves_the_presales_figures(ledger, clock):
    presale(ledger, clock)
    clock.at = utc("2024-11-16T00:00:00")  # past the ship date (5 days after the deposits)
    ledger.return_("p1-b", "ret-p1", [ReturnLine("d", 1)])  # p1's balance order, returned in full
    figures = ledger.presale_stats("dj")
    # p1 is out: deposits p2, p3 (3 units, 300.00), the balance of p3 (1400.00), conversion 1/2, p2
    # forfeited; GMV 300.00 + 1400.00 = 1700.00 over 2: 850.00
    assert (figures.deposit_orders, figures.deposit_units, figures.deposit_amount) == (2, 3, 30_000)
    assert (figures.balances_paid, figures.balance_amount, figures.returned) == (1, 140_000, 1)
    assert (figures.forfeited_orders, figures.forfeited_deposits) == (1, 10_000)
    assert (figures.gmv, figures.average_order_value, str(figures.conversion)) == (170_000, 85_000, "1/2")
    assert [(d.day.isoformat(), d.deposit_orders, d.deposit_amount, d.balances_paid, d.balance_amount)
            for d in figures.days] == [("2024-11-10", 1, 10_000, 0, 0), ("2024-11-11", 1, 20_000, 1, 140_000)]
    assert stats_json(figures, 2)["returned"] == 1


def test_average_rounds_half_up_and_the_span_fills_the_gaps():
    assert [average(t, n) for t, n in ((20_001, 2), (20_003, 2), (10, 3), (11, 3), (0, 5), (7, 0))] == [
        10_001, 10_002, 3, 4, 0, None]
    days = [date(2024, 11, 10), date(2024, 11, 13)]
    assert len(day_span(days, "UTC", None, None)) == 4
    # the bounds' days in the zone: [11-10T16:00Z, 11-12T16:00Z) is local 11-11 and 11-12
    span = day_span([], TZ, to_us(utc("2024-11-10T16:00:00")), to_us(utc("2024-11-12T16:00:00")))
    assert span == [date(2024, 11, 11), date(2024, 11, 12)]
    # ten years asked for: the days with orders only
    assert day_span(days, "UTC", to_us(utc("2020-01-01T00:00:00")), to_us(utc("2030-01-01T00:00:00"))) == days
