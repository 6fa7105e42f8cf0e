"""`promo stats --out stats.html`: the figures (ledger.md §6) of a promotion or a presale as one
self-contained page — inline CSS, an inline SVG chart drawn here, no script, font or anything
else fetched — that opens offline and reads on a phone (viewport, tables that become one card per
row on a narrow screen). It is drawn from the JSON `promo stats --json` prints (server/ledger/
stats.py `promotion_json` / `stats_json`); every name in it is escaped."""

from __future__ import annotations

import html
from typing import Any

_STYLE = """
*{box-sizing:border-box}
body{font:15px/1.45 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;padding:16px;
max-width:1100px;color:#222}
h1{font-size:20px;margin:0 0 4px;overflow-wrap:anywhere}h2{font-size:16px;margin:24px 0 8px}.muted{color:#666}
p{overflow-wrap:anywhere}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{flex:1 1 150px;border:1px solid #ddd;border-radius:6px;padding:8px 12px;background:#fafafa;min-width:0}
.card b{display:block;font-size:20px;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.card span{color:#555;font-size:13px}
table{border-collapse:collapse;width:100%}table.figures{max-width:640px}
th,td{border-bottom:1px solid #ddd;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td{overflow-wrap:anywhere}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.zero td{color:#999}
svg{display:block;width:100%;max-width:720px;height:auto;background:#fafafa;border:1px solid #ddd;border-radius:4px}
.legend{font-size:13px;margin:4px 0 0}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;
margin:0 4px 0 10px}
@media (max-width:640px){
 body{padding:10px}
 table.days,table.days tbody,table.days tr,table.days td{display:block;width:100%}
 table.days thead{display:none}
 table.days tr{display:grid;grid-template-columns:1fr 1fr;border:1px solid #ddd;border-radius:6px;
  margin-bottom:8px;padding:4px 0}
 table.days td{border:0;padding:1px 10px;min-width:0}table.days td.num{text-align:left}
 table.days td:first-child{grid-column:1 / -1;font-weight:600}
 table.days td:before{content:attr(data-label) ": ";color:#666;font-weight:400}
 table.figures th{width:55%}
}
"""

SERIES = {"promotion": (("orders", "orders", "#1976d2"),),
          "presale": (("deposits", "deposits paid", "#1976d2"), ("balances", "balances paid", "#2e7d32"))}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _or_dash(value: Any) -> str:
    return "–" if value is None else str(value)


def _counts(kind: str, day: dict) -> dict[str, int]:
    if kind == "promotion":
        return {"orders": day["orders"]}
    return {"deposits": day["deposits"]["orders"], "balances": day["balances_paid"]["orders"]}


def chart(kind: str, days: list[dict]) -> str:
    """Orders per day (a presale: deposits paid and balances paid per day): one point per day and
    series, on a line, the y axis from 0 with whole-number ticks."""
    series = SERIES[kind]
    width, height, left, right, top, bottom = 480, 250, 40, 14, 14, 54
    counts = [_counts(kind, d) for d in days]
    peak = max([1] + [c[name] for c in counts for name, _, _ in series])
    step = max(1, -(-peak // 5))
    hi = -(-peak // step) * step
    n = len(days)
    x = lambda i: left + (width - left - right) * ((i + 0.5) / max(n, 1))  # noqa: E731
    y = lambda v: top + (height - top - bottom) * (1 - v / hi)  # noqa: E731
    what = " and ".join(label for _, label, _ in series)
    parts = [f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{_e(what)} per day, one point per day">']
    for tick in range(0, hi + 1, step):
        ty = y(tick)
        parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 6}" y="{ty + 4:.1f}" font-size="13" text-anchor="end">{tick}</text>')
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#333"/>')
    every = max(1, -(-n // 6))  # at most 6 day labels
    for i, d in enumerate(days):
        if i % every == 0:
            parts.append(f'<text class="day" x="{x(i):.1f}" y="{height - bottom + 18}" font-size="13" '
                         f'text-anchor="middle">{_e(d["day"][5:])}</text>')
    span = f'{_e(days[0]["day"])}{" – " + _e(days[-1]["day"]) if n > 1 else ""}' if days else "no day"
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 10}" font-size="13" text-anchor="middle">'
                 f'{n} day{"s" if n != 1 else ""}: {span}</text>')
    for name, label, colour in series:
        line = " ".join(f"{x(i):.1f},{y(c[name]):.1f}" for i, c in enumerate(counts))
        if n > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>')
        for i, (c, d) in enumerate(zip(counts, days)):
            parts.append(f'<circle class="point {name}" cx="{x(i):.1f}" cy="{y(c[name]):.1f}" r="4" '
                         f'fill="{colour}" data-day="{_e(d["day"])}" data-value="{c[name]}">'
                         f'<title>{_e(d["day"])}: {c[name]} {_e(label)}</title></circle>')
    parts.append("</svg>")
    legend = "".join(f'<i style="background:{colour}"></i>{_e(label)}' for _, label, colour in series)
    return "".join(parts) + f'\n<p class="legend">{legend}</p>\n'


def _table(rows: list[tuple[str, Any]], css: str = "figures") -> str:
    body = "".join(f'<tr><th scope="row">{_e(name)}</th><td class="num">{_e(_or_dash(value))}</td></tr>'
                   for name, value in rows)
    return f'<table class="{css}"><tbody>{body}</tbody></table>\n'


def _days_table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f'<th{" class=num" if i else ""}>{_e(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        zero = ' class="zero"' if not any(row[1:2]) else ""
        cells = "".join(f'<td{" class=num" if i else ""} data-label="{_e(h)}">{_e(_or_dash(v))}</td>'
                        for i, (h, v) in enumerate(zip(headers, row)))
        body.append(f"<tr{zero}>{cells}</tr>")
    return (f'<table class="days"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>\n')


def _cards(cards: list[tuple[Any, str]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{_e(_or_dash(value))}</b><span>{_e(label)}</span></div>' for value, label in cards
    ) + "</div>\n"


def _promotion(data: dict) -> tuple[str, str]:
    cards = [(data["orders"], "orders (uses)"), (data["spend"], "spend (discount granted)"), (data["gmv"], "GMV"),
             (data["average_order_value"], "average order value")]
    total = next((b for b in data["budgets"] if b["period"] == "total"), None)
    if total is not None:
        cards.append((total["left"], f"budget left of {total['budget']}"))
    rows = [("uses", data["uses"]), ("orders", data["orders"]), ("spend", data["spend"]), ("GMV", data["gmv"]),
            ("average order value", data["average_order_value"]),
            ("orders returned in full (not counted)", data["returned"]),
            ("orders cancelled (not counted)", data["cancelled"])]
    for b in data["budgets"]:
        which = "budget" if b["period"] == "total" else f"budget per {b['period']} ({b['key']})"
        rows.append((which, f"{b['used']} used of {b['budget']} ({b['held']} held), {b['left']} left"))
    days = _days_table(["day", "orders", "spend", "GMV", "average order value"],
                       [[d["day"], d["orders"], d["spend"], d["gmv"], d["average_order_value"]] for d in data["days"]])
    return _cards(cards), _table(rows) + "<h2>Per day</h2>\n" + days


def _presale(data: dict) -> tuple[str, str]:
    deposits, balances, forfeited = data["deposits"], data["balances_paid"], data["forfeited"]
    cards = [(deposits["orders"], "deposits paid"), (balances["orders"], "balances paid"),
             (data["conversion"], "conversion (balances ÷ deposits)"), (forfeited["deposits"], "forfeited deposits"),
             (data["gmv"], "GMV"), (data["average_order_value"], "average order value")]
    if data["stock_left"] is not None:
        cards.append((data["stock_left"], f"stock left of {data['stock']}"))
    rows = [("deposits paid (orders)", deposits["orders"]), ("deposits paid (units)", deposits["units"]),
            ("deposits paid (amount)", deposits["amount"]), ("deposits held (not paid yet)", deposits["held"]),
            ("balances paid", balances["orders"]), ("balances (amount)", balances["amount"]),
            ("conversion", data["conversion"]), ("forfeited (orders)", forfeited["orders"]),
            ("forfeited deposits", forfeited["deposits"]), ("cancelled", data["cancelled"]),
            ("returned in full (not counted)", data["returned"]), ("GMV", data["gmv"]),
            ("average order value", data["average_order_value"]),
            ("stock", data["stock"]), ("sold", data["sold"]), ("stock left", data["stock_left"])]
    days = _days_table(["day", "deposits paid", "units", "deposits (amount)", "balances paid", "balances (amount)"],
                       [[d["day"], d["deposits"]["orders"], d["deposits"]["units"], d["deposits"]["amount"],
                         d["balances_paid"]["orders"], d["balances_paid"]["amount"]] for d in data["days"]])
    return _cards(cards), _table(rows) + "<h2>Per day</h2>\n" + days


def page(data: dict, meta: dict[str, Any]) -> str:
    """The page of `data` (promotion_json or stats_json); `meta`: ledger (its URL, password
    hidden), from, to (as given, or None), generated (an instant)."""
    kind = "promotion" if "promotion" in data else "presale"
    name = data[kind]
    cards, tables = (_promotion if kind == "promotion" else _presale)(data)
    start, end = meta.get("from"), meta.get("to")
    if start or end:
        bounds = ("orders whose time is" if kind == "promotion" else "parent orders opened") + (
            f" at or after {_e(start)}" if start else "") + (" and" if start and end else "") + (
            f" before {_e(end)}" if end else "")
    else:
        bounds = "every order" if kind == "promotion" else "every parent order"
    what = "orders per day" if kind == "promotion" else "deposits paid and balances paid per day"
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(kind)} {_e(name)} · figures</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f'<h1>{_e(kind)} <span id="name">{_e(name)}</span></h1>\n'
        f'<p class="muted">Figures from the ledger {_e(meta.get("ledger", ""))}: {bounds}; days in '
        f'{_e(data["timezone"])}. Generated {_e(meta.get("generated", ""))}.</p>\n'
        f"{cards}<h2>{_e(what[0].upper() + what[1:])}</h2>\n{chart(kind, data['days'])}"
        f"<h2>Figures</h2>\n{tables}"
        f'<p class="muted">{_NOTE[kind]} (docs/ledger.md, Figures).</p>\n</body>\n</html>\n')


_NOTE = {
    "promotion": "Orders count when committed (paid), less what returns gave back; an order returned in full or "
                 "cancelled is not counted. Average order value: GMV ÷ orders, half-up on the minor unit",
    "presale": "GMV: the paid deposits (a forfeited one too) and the paid balances; average order value: GMV ÷ "
               "deposits paid, half-up on the minor unit. Deposits count on the day of the deposit order, balances "
               "on the day of the balance order",
}
