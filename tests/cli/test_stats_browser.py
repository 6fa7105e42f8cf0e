"""The `promo stats --out stats.html` page in a real browser (headless Chromium over the DevTools
protocol, tests/browser.py): it renders without a page error and without fetching anything, the
chart has one point per day (per series), and neither a 420 px phone nor a desktop scrolls
sideways. `PROMO_UPDATE_SCREENSHOTS=1` writes the screenshots shown in docs/ledger.md."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ledger_support import Clock, sqlite_url
from stats_support import orders, presale

from server.cli.main import main
from server.ledger.ledger import Ledger
from server.ledger.types import Budget, Hold, Line, Order, ReserveRequest
from tests.browser import Browser

ROOT = Path(__file__).absolute().parent.parent.parent
CAMPAIGN = "double11: 30 off 300 <shop> & co"  # a name to escape
DAYS = 14


def campaign(ledger: Ledger) -> None:
    """Two weeks of a campaign: 3, 5, 2, 0, … orders a day (a day without any among them), one 30.00
    discount each on a 300.00-or-so payable, under a budget of 2000.00."""
    start = datetime(2024, 11, 1, 2, 0, tzinfo=UTC)
    n = 0
    for day in range(DAYS):
        for k in range((day * 7 + 3) % 6):
            n += 1
            payable = 30_000 + 137 * n
            hold = Hold(CAMPAIGN, budgets=(Budget(200_000),), spend=3_000, allocation={"l1": 3_000})
            held = ledger.reserve(ReserveRequest(f"c{n}", f"r-c{n}", f"u{n}", timezone="Asia/Shanghai",
                                                 at=start + timedelta(days=day, hours=k),
                                                 order=Order((hold,), (Line("l1", 1, payable),), payable)))
            ledger.commit(held.reservation_id, f"c-c{n}")


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The pages (and the JSON) of the campaign, of the promotion `p` and of the presale `dj`."""
    tmp = tmp_path_factory.mktemp("stats-pages")
    url = sqlite_url(tmp)
    clock = Clock()
    with Ledger(url, clock=clock) as ledger:
        orders(ledger)
        presale(ledger, clock)
        campaign(ledger)
    out = {}
    for kind, name in (("campaign", CAMPAIGN), ("promotion", "p"), ("presale", "dj")):
        page = tmp / f"{kind}.html"
        flag = "--presale" if kind == "presale" else "--promotion"
        data = tmp / f"{kind}.json"
        with data.open("w", encoding="utf-8") as printed, contextlib.redirect_stdout(printed):
            assert main(["stats", "--ledger", url, flag, name, "--out", str(page), "--json"]) == 0
        out[kind] = (page, json.loads(data.read_text(encoding="utf-8")))
    return out


POINTS = "document.querySelectorAll('#chart circle.point').length"


@pytest.mark.parametrize("kind", ["campaign", "promotion", "presale"])
@pytest.mark.parametrize("width", [420, 1280])
def test_the_page_renders_one_point_per_day_and_never_scrolls_sideways(browser: Browser, pages, kind, width,
                                                                        tmp_path):
    page, data = pages[kind]
    days = [d["day"] for d in data["days"]]
    assert len(days) == {"campaign": DAYS, "promotion": 4, "presale": 2}[kind]
    phone = width < 600
    browser.open(page.as_uri(), width, height=900, mobile=phone)
    assert browser.errors() == []
    # offline: the page fetched nothing (no font, script, style or image)
    assert browser.js("performance.getEntriesByType('resource').length") == 0
    assert browser.js("document.querySelector('meta[name=viewport]').content").startswith("width=device-width")
    # one point per day, in day order, for each series (a presale: deposits paid and balances paid)
    series = ["deposits", "balances"] if kind == "presale" else ["orders"]
    assert browser.js(POINTS) == len(days) * len(series)
    for name in series:
        shown = browser.js(f"Array.from(document.querySelectorAll('#chart circle.point.{name}'))"
                           ".map(c => c.dataset.day)")
        assert shown == days
        xs = browser.js(f"Array.from(document.querySelectorAll('#chart circle.point.{name}'))"
                        ".map(c => c.getBoundingClientRect().x)")
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
    if kind != "presale":
        values = browser.js("Array.from(document.querySelectorAll('#chart circle.point')).map(c => +c.dataset.value)")
        assert values == [d["orders"] for d in data["days"]]
    # the chart fits its box and is drawn at a readable size
    box = browser.js("(r => [r.width, r.height])(document.querySelector('#chart').getBoundingClientRect())")
    assert 300 <= box[0] <= width and box[1] > 120
    # no horizontal scroll: the page, the tables and the chart within the window
    assert browser.js("document.documentElement.scrollWidth") <= browser.js("window.innerWidth") == width
    assert browser.js("Math.max(...Array.from(document.querySelectorAll('table, svg, .card'))"
                      ".map(e => e.getBoundingClientRect().right))") <= width
    # the name as text (escaped in the HTML, shown as it is)
    name = data["promotion"] if kind != "presale" else data["presale"]
    assert browser.js("document.querySelector('#name').textContent") == name
    # on a phone a card per day, each figure on its line under its label (td:before: data-label)
    row = "document.querySelector('table.days tbody tr')"
    assert browser.js(f"getComputedStyle({row}).display") == ("grid" if phone else "table-row")
    assert browser.js(f"Array.from({row}.cells).map(c => c.dataset.label)")[0] == "day"
    assert browser.js(f"{row}.cells[0].textContent") == days[0]
    shot = tmp_path / f"{kind}-{width}.png"
    browser.screenshot(shot, full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PROMO_UPDATE_SCREENSHOTS") and kind != "promotion":
        target = {("campaign", False): "stats-desktop.png", ("campaign", True): "stats-phone.png",
                  ("presale", False): "stats-presale-desktop.png", ("presale", True): "stats-presale-phone.png"}
        shutil.copy(shot, ROOT / "docs" / target[(kind, phone)])
