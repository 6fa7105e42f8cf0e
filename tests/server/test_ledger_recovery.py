"""Crashes and retries, on both backends: a process killed between reserve and commit, or in the
middle of its writes; replays after the database is reopened; periods rolling over at midnight
in the ruleset's time zone."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ledger_support import Clock, clock, ledger, ledger_url, request, tables  # noqa: F401

from server.ledger.audit import verify
from server.ledger.clock import utc_now
from server.ledger.ledger import Ledger
from server.ledger.types import Budget, Hold, Limit, Period, State, UsageQuery

ROOT = Path(__file__).resolve().parents[2]
BUDGET = Budget(1_000)


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    prelude = "import sys\nfrom server.ledger.ledger import Ledger\nfrom server.ledger.types import *\n"
    return subprocess.Popen([sys.executable, "-c", prelude + textwrap.dedent(code), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)


def spent(ledger, promotion="p"):
    return ledger.get_usage(UsageQuery((promotion,))).spent(promotion, BUDGET)


def test_a_process_killed_between_reserve_and_commit_holds_nothing_after_the_ttl(ledger_url):
    child = spawn("""
        import os, signal
        with Ledger(sys.argv[1]) as ledger:
            hold = Hold("p", budgets=(Budget(1_000),), spend=700)
            r = ledger.reserve(ReserveRequest("o1", "k1", "u1", ttl_seconds=60, order=Order((hold,))))
            print(r.reservation_id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # before the commit
    """, ledger_url)
    reservation_id = child.stdout.readline().strip()
    assert child.wait() == -signal.SIGKILL
    clock = Clock(utc_now())
    with Ledger(ledger_url, clock=clock) as ledger:
        assert spent(ledger) == 700
        clock.advance(seconds=60)
        assert spent(ledger) == 0  # the budget is whole at once, before any sweep
        assert ledger.state(reservation_id) is State.HELD
        assert ledger.reserve(request("o2", Hold("p", budgets=(BUDGET,), spend=1_000))).outcomes[0].spend == 1_000
        assert ledger.state(reservation_id) is State.EXPIRED  # swept by the reserve that needed its units
        assert spent(ledger) == 1_000
    assert verify(ledger_url).ok


def test_a_process_killed_in_the_middle_of_its_writes_leaves_whole_transactions(ledger_url):
    child = spawn("""
        with Ledger(sys.argv[1]) as ledger:
            hold = Hold("p", limits=(Limit(10**6),), budgets=(Budget(10**9),), spend=3)
            for i in range(10**6):
                r = ledger.reserve(ReserveRequest(f"o{i}", f"k{i}", "u1", order=Order((hold,))))
                ledger.commit(r.reservation_id, f"c{i}")
                if i % 3 == 0:
                    ledger.cancel(r.reservation_id, f"x{i}")
                print(i, flush=True)
    """, ledger_url)
    for _ in range(30):  # let it run a while, then kill it wherever it is
        child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    child.wait()
    report = verify(ledger_url)
    assert report.ok and report.counters == 2
    with Ledger(ledger_url) as ledger:
        usage = ledger.get_usage(UsageQuery(("p",)))
        uses, money = usage.uses("p", Limit(10**6)), usage.spent("p", Budget(10**9))
        assert money == 3 * uses and uses >= 20  # a reserve's use and spend always together


def test_replays_after_reopening_answer_the_first_answers_and_write_nothing(ledger_url, clock):
    hold = Hold("p", limits=(Limit(5),), budgets=(BUDGET,), spend=100)
    with Ledger(ledger_url, clock=clock) as ledger:
        kept = ledger.reserve(request("o1", hold))
        committed = ledger.commit(kept.reservation_id, "commit-1")
        dropped = ledger.reserve(request("o2", hold))
        cancelled = ledger.cancel(dropped.reservation_id, "cancel-2")
    before = tables(ledger_url)
    clock.advance(days=2)
    with Ledger(ledger_url, clock=clock) as ledger:  # a restarted server
        assert ledger.reserve(request("o1", hold)) == kept
        assert ledger.commit(kept.reservation_id, "commit-1") == committed
        assert ledger.reserve(request("o2", hold)) == dropped
        assert ledger.cancel(dropped.reservation_id, "cancel-2") == cancelled
    assert tables(ledger_url) == before


def _reserve_in_process(url: str, barrier, order: int, queue) -> None:
    with Ledger(url) as ledger:
        barrier.wait()
        outcomes = [ledger.reserve(request(f"o{order}-{i}", Hold("p", limits=(Limit(10),)))).outcomes[0].granted
                    for i in range(5)]
    queue.put(sum(outcomes))


def test_processes_racing_on_one_database_never_exceed_a_limit(ledger_url):
    # no lock of this process helps here: SQLite's write lock and PostgreSQL's row locks do
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(8), context.Queue()
    workers = [context.Process(target=_reserve_in_process, args=(ledger_url, barrier, n, queue)) for n in range(8)]
    for worker in workers:
        worker.start()
    granted = sum(queue.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join()
    assert granted == 10
    assert verify(ledger_url).ok


SHANGHAI = "Asia/Shanghai"  # UTC+8: its midnight is 16:00 UTC


@pytest.mark.parametrize(("period", "last_second", "first_of_next"), [
    (Period.DAY, datetime(2024, 11, 11, 15, 59, 59, tzinfo=UTC), datetime(2024, 11, 11, 16, tzinfo=UTC)),
    # Monday 18 November 2024 starts ISO week 47 in Shanghai
    (Period.WEEK, datetime(2024, 11, 17, 15, 59, 59, tzinfo=UTC), datetime(2024, 11, 17, 16, tzinfo=UTC)),
    (Period.MONTH, datetime(2024, 11, 30, 15, 59, 59, tzinfo=UTC), datetime(2024, 11, 30, 16, tzinfo=UTC)),
])
def test_a_period_rolls_over_at_midnight_in_the_ruleset_time_zone(ledger_url, period, last_second, first_of_next):
    clock = Clock(last_second - timedelta(hours=7))  # 17:00 local, well inside the period
    limit = Limit(1, per_user=True, period=period)
    with Ledger(ledger_url, clock=clock) as ledger:
        def take(n):
            hold = Hold("p", limits=(limit,), budgets=(Budget(100, period),), spend=100)
            return ledger.reserve(request(f"o{n}", hold, timezone=SHANGHAI, ttl_seconds=86_400)).outcomes[0].granted

        assert take(0)
        clock.at = last_second - timedelta(seconds=1)
        assert not take(1)  # the same period to its last second
        clock.at = last_second
        assert not take(2)
        clock.at = first_of_next
        assert take(3)  # midnight in Shanghai: a new period, and a new budget
        usage = ledger.get_usage(UsageQuery(("p",), buyer="u1", timezone=SHANGHAI))
        assert usage.uses("p", limit) == 1 and usage.spent("p", Budget(100, period)) == 100
        earlier = ledger.get_usage(UsageQuery(("p",), buyer="u1", timezone=SHANGHAI, at=last_second))
        assert earlier.uses("p", limit) == 1


def test_an_order_time_names_the_period_not_the_clock(ledger, clock):
    daily = Limit(1, per_user=True, period=Period.DAY)
    at = datetime(2024, 11, 11, 16, 30, tzinfo=UTC)  # 00:30 on the 12th in Shanghai, still the 11th in UTC
    hold = Hold("p", limits=(daily,))
    assert ledger.reserve(request("o1", hold, at=at, timezone=SHANGHAI)).outcomes[0].granted
    assert ledger.reserve(request("o2", hold, at=at)).outcomes[0].granted  # the 11th in UTC: another day
    assert not ledger.reserve(request("o3", hold, at=at + timedelta(hours=7), timezone=SHANGHAI)).outcomes[0].granted
