"""The HTML price-warning report in a real browser (headless Chromium over the DevTools protocol):
sorted by risk when it opens, a click on a header sorts by that column, no JavaScript error, and no
horizontal scroll on a 420 px wide phone. `PROMO_UPDATE_SCREENSHOTS=1` writes the screenshots shown
in docs/analyze.md."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from server.cli.main import main
from server.cli.report import risk_key
from tests.browser import Browser

ROOT = Path(__file__).absolute().parent.parent.parent
DOUBLE11 = ROOT / "examples" / "double11"
AT = "2026-11-11T10:00"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[dict]]:
    tmp = tmp_path_factory.mktemp("report")
    html, data = tmp / "report.html", tmp / "report.json"
    cwd = os.getcwd()
    os.chdir(ROOT)  # relative paths, as a merchant types them: the page shows them in its commands
    try:
        for out in (html, data):
            assert main(["analyze", "examples/double11", "examples/double11/catalog.csv", "--at", AT,
                         "--out", str(out), "--processes", "1", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return html, json.loads(data.read_text(encoding="utf-8"))["findings"]


ROWS = "Array.from(document.querySelectorAll('#below tbody tr')).map(r => r.dataset.sku)"


def click(browser: Browser, header: str) -> list[str]:
    browser.js(f"Array.from(document.querySelectorAll('#below th')).find(h => h.textContent === {json.dumps(header)})"
               ".click()")
    return browser.js(ROWS)


def test_sorted_by_risk_and_a_header_click_sorts(browser: Browser, report):
    html, findings = report
    browser.open(html.as_uri(), 1280)
    rows = browser.js(ROWS)
    assert rows == [f["sku"] for f in sorted(findings, key=risk_key)]
    assert rows[0] == "socks-cotton"  # 1.00 against a line of 20.30: the worst share of its line
    below = [f["sku"] for f in findings if f["below_warning"]]
    assert set(rows[: len(below)]) == set(below)
    price = {f["sku"]: float(f["price"]) for f in findings}
    by_price = click(browser, "price")
    assert [price[s] for s in by_price] == sorted(price[s] for s in by_price)
    by_price = click(browser, "price")  # again: the other way
    assert [price[s] for s in by_price] == sorted((price[s] for s in by_price), reverse=True)
    assert browser.js("document.querySelector('#below th.desc').textContent") == "price"
    by_sku = click(browser, "SKU")
    assert by_sku == sorted(by_sku, key=lambda s: s.lower()) or by_sku == sorted(by_sku)
    assert click(browser, "risk") == rows  # back to the order it opened in
    assert browser.errors() == []


@pytest.mark.parametrize("width", [420, 1280])
def test_no_horizontal_scroll_and_no_error(browser: Browser, report, width, tmp_path):
    html, findings = report
    browser.open(html.as_uri(), width, height=1600 if width < 600 else 900, mobile=width < 600)
    assert browser.js("document.documentElement.scrollWidth") <= browser.js("window.innerWidth")
    # nor inside the table's box: on a phone a card per SKU, on a desktop the table fits
    assert browser.js("document.querySelector('#below').scrollWidth <= document.querySelector('.wide').clientWidth")
    assert browser.js("document.querySelector('meta[name=viewport]').content").startswith("width=device-width")
    # the summary comes first, and says what a merchant acts on
    summary = browser.js("document.querySelector('#summary').innerText")
    assert "7 of 9" in summary and "socks-cotton" in summary and "tee-shop-second-half" in summary
    assert browser.js("document.querySelector('#summary').getBoundingClientRect().top") < browser.js(
        "document.querySelector('#chart').getBoundingClientRect().top")
    # negative margins and profits in red, a guard that holds the price named, plain-word scenarios
    colour = browser.js("getComputedStyle(document.querySelector('tr[data-sku=\"socks-cotton\"] td.neg')).color")
    assert colour == "rgb(176, 0, 32)"
    walnut = browser.js("document.querySelector('tr[data-sku=\"walnut-2jin\"]').innerText")
    assert "held by guard `nuts-floor`" in walnut
    hoodie = browser.js("document.querySelector('tr[data-sku=\"hoodie-grey\"]').innerText")
    assert "1 unit with 801.00 of other goods from the same shop" in hoodie
    assert ("promo exclude examples/double11 --promotion tee-shop-second-half --sku hoodie-grey --catalog "
            "examples/double11/catalog.csv --at 2026-11-11T10:00:00+08:00") in hoodie.replace("\n", " ")
    # the chart is on the lowest ÷ line scale, with ticks and labels
    ticks = browser.js("Array.from(document.querySelectorAll('#chart text')).map(t => t.textContent)")
    assert {"0%", "50%", "100%"} <= set(ticks) and "lowest price ÷ warning line" in ticks
    assert browser.errors() == []
    shot = tmp_path / f"report-{width}.png"
    browser.screenshot(shot, full_page=width > 600)  # a phone: its first 1,600 px
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PROMO_UPDATE_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / ("analyze-report.png" if width > 600 else "analyze-report-phone.png"))
