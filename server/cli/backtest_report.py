"""Report writers of `promo backtest`: JSON (the result as it is), CSV (one figure a row) and one
self-contained HTML page (inline CSS and SVG charts, a few lines of inline script to sort the
tables, no external resource: it works offline, and on a 420 px phone screen).

The result is small whatever the number of orders (engine/apps/backtest/aggregate.py), so each
writer gets it whole.
"""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from server.cli.report import csv_cell

KINDS = (".json", ".csv", ".html", ".htm")
TABLE_ROWS = 500  # rows of the promotion and shop tables in the HTML page (all are in JSON and CSV)
CHART_BARS = 15


def check_path(path: str) -> None:
    if Path(path).suffix.lower() not in KINDS:
        raise ValueError(f"`{path}`: the report is a .html, .csv or .json file")


def write_report(path: str, data: dict[str, Any], meta: dict[str, str]) -> None:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        Path(path).write_text(json_text(data), encoding="utf-8")
    elif suffix == ".csv":
        write_csv(path, data)
    else:
        Path(path).write_text(html_page(data, meta), encoding="utf-8")


def json_text(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


# ---- CSV: section, key, metric, rules, against, change -------------------------------------------

CSV_COLUMNS = ["section", "key", "metric", "rules", "against", "change"]


def csv_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = []
    against = data["against"] is not None
    t = data["totals"]
    for metric in ("orders", "gmv", "discount", "shipping", "payable", "average_payable"):
        rows.append(["total", "", metric, t["rules"][metric], t["against"][metric] if against else "",
                     t.get("change", {}).get(metric, "")])
    for p in data["promotions"]:
        for metric in ("orders", "spend", "average", "share_of_gmv"):
            rows.append(["promotion", p["promotion"], metric, p["rules"][metric],
                         p["against"][metric] if against else "", p["change"] if against and metric == "spend" else ""])
    for s in data["shops"]:
        for metric in ("orders", "gmv", "item", "shop", "platform", "other", "gives_up", "final"):
            rows.append(["shop", s["shop"], metric, s["rules"][metric], s["against"][metric] if against else "",
                         s["change"].get(metric, "") if against else ""])
        if against:
            rows.append(["shop", s["shop"], "orders_final_down", "", "", s["change"]["orders_final_down"]])
            rows.append(["shop", s["shop"], "orders_final_up", "", "", s["change"]["orders_final_up"]])
    if data["changes"]:
        for d in data["changes"]["distribution"]:
            rows.append(["distribution", d["label"], "orders", d["orders"], "", ""])
    for m in data["movers"]:
        rows.append(["mover", m["row"], "payable", m["payable"], m["against"], m["change"]])
    for d in data["days"]:
        for metric in ("orders", "gmv", "discount", "payable"):
            rows.append(["day", d["day"], metric, d["rules"][metric], d["against"][metric] if against else "", ""])
    for b in data["budgets"]:
        for d in b["days"]:
            rows.append(["budget", f"{b['promotion']} {d['day']}", "spend", d["spend"], "", ""])
            rows.append(["budget", f"{b['promotion']} {d['day']}", "left", d["left"], "", ""])
    for e in data["errors"]:
        rows.append(["bad_row", e["row"], "error", e["error"], "", ""])
    return rows


def write_csv(path: str, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in csv_rows(data):
            writer.writerow([csv_cell(v) for v in row])


# ---- HTML --------------------------------------------------------------------------------------

_STYLE = """
*{box-sizing:border-box}
body{font:15px/1.5 -apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0 auto;padding:16px;
max-width:1100px;color:#222}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px}.muted{color:#666}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:8px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 10px}.card b{display:block;font-size:18px}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%}
table{border-collapse:collapse;min-width:100%}th,td{border-bottom:1px solid #e4e4e4;padding:4px 8px;text-align:left;
vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap}th.asc:after{content:" \\25B2"}
th.desc:after{content:" \\25BC"}
.scroll td{white-space:nowrap}.scroll td.wrap div{white-space:normal;width:22em}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.down{color:#b00020}.up{color:#1b5e20}code{font-size:13px;word-break:break-all}
svg.chart{width:100%;max-width:640px;height:auto;display:block;background:#fafafa;border:1px solid #ddd}
svg text{font-size:11px;fill:#333}rect.rules{fill:#1976d2}rect.against{fill:#9e9e9e}rect.lower{fill:#2e7d32}
rect.higher{fill:#d32f2f}rect.same{fill:#757575}polyline.spend{fill:none;stroke:#1976d2;stroke-width:2}
line.budget{stroke:#d32f2f;stroke-dasharray:4 3}
"""

_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(function(table) {
  table.querySelectorAll('th').forEach(function(th, col) {
    th.addEventListener('click', function() {
      var body = table.tBodies[0], rows = Array.from(body.rows), asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function(h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(asc ? 'asc' : 'desc');
      var num = th.dataset.type === 'num';
      rows.sort(function(a, b) {
        var x = a.cells[col].textContent, y = b.cells[col].textContent;
        var r = num ? parseFloat(x.replace(/,/g, '')) - parseFloat(y.replace(/,/g, '')) : x.localeCompare(y);
        return asc ? r : -r;
      });
      rows.forEach(function(r) { body.appendChild(r); });
    });
  });
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _minor(text: str) -> int:
    negative = text.startswith("-")
    whole, _, frac = text.lstrip("-").partition(".")
    value = int(whole) * 10 ** len(frac) + int(frac or 0)
    return -value if negative else value


def _short(label: str, n: int = 22) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def bars(chart_id: str, title: str, rows: list[tuple[str, list[tuple[int, str, str]]]]) -> str:
    """Horizontal bars: per row a label and one or more (value, class, text) bars. 400 units wide,
    so that on a 420 px screen it is drawn at about its own size."""
    width, label_w, row_h, bar_h = 400, 130, 12, 10
    per_row = max((len(b) for _, b in rows), default=1)
    step = per_row * row_h + 8
    height = 24 + step * max(1, len(rows))
    top = max((v for _, b in rows for v, _, _ in b), default=0) or 1
    room = width - label_w - 70
    parts = [f'<svg class="chart" id="{_e(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="{_e(title)}"><title>{_e(title)}</title>']
    for i, (label, values) in enumerate(rows):
        y = 16 + i * step
        parts.append(f'<text x="4" y="{y + per_row * row_h / 2 + 4:.0f}">{_e(_short(label))}</text>')
        for j, (value, cls, text) in enumerate(values):
            w = max(1.0, room * abs(value) / top) if value else 0
            by = y + j * row_h
            parts.append(f'<rect class="{_e(cls)}" x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h}">'
                         f"<title>{_e(label)}: {_e(text)}</title></rect>"
                         f'<text x="{label_w + w + 4:.1f}" y="{by + 9}">{_e(text)}</text>')
    if not rows:
        parts.append('<text x="8" y="20">nothing to draw</text>')
    parts.append("</svg>")
    return "".join(parts)


def burn_chart(chart_id: str, budget: dict[str, Any]) -> str:
    """Cumulative spend per day (the line) against the budget (dashed: a whole-run budget) or
    each period's spend against it."""
    width, height, pad = 400, 200, 36
    days = budget["days"]
    key = "cumulative" if budget["period"] == "total" else "period_spend"
    values = [_minor(d[key]) for d in days]
    limit = _minor(budget["budget"])
    top = max(values + [limit, 1])
    n = max(1, len(values) - 1)
    x = lambda i: pad + (width - 2 * pad) * i / n  # noqa: E731
    y = lambda v: height - pad - (height - 2 * pad) * v / top  # noqa: E731
    points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts = [f'<svg class="chart" id="{_e(chart_id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="budget burn of {_e(budget["promotion"])}">'
             f'<title>budget burn of {_e(budget["promotion"])}</title>',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>',
             f'<line class="budget" x1="{pad}" y1="{y(limit):.1f}" x2="{width - pad}" y2="{y(limit):.1f}"/>',
             f'<text x="{width - pad}" y="{y(limit) - 4:.1f}" text-anchor="end">budget {_e(budget["budget"])}</text>',
             f'<text x="{pad}" y="16">{"cumulative spend" if key == "cumulative" else "spend per " + budget["period"]}'
             f' (line) against the budget (dashed)</text>']
    if len(values) == 1:
        parts.append(f'<circle cx="{x(0):.1f}" cy="{y(values[0]):.1f}" r="3" fill="#1976d2"/>')
    elif values:
        parts.append(f'<polyline class="spend" points="{points}"/>')
    if days:
        parts.append(f'<text x="{pad}" y="{height - pad + 14}">{_e(days[0]["day"])}</text>')
        parts.append(f'<text x="{width - pad}" y="{height - pad + 14}" text-anchor="end">{_e(days[-1]["day"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(table_id: str, headers: list[tuple[str, str]], rows: list[list[str]]) -> str:
    head = "".join(f'<th data-type="{t}">{_e(h)}</th>' for h, t in headers)
    body = "".join("<tr>" + "".join(rows_cell(c, t) for c, (_, t) in zip(r, headers)) + "</tr>\n" for r in rows)
    return (f'<div class="scroll"><table id="{_e(table_id)}" class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}</tbody></table></div>\n")


def rows_cell(value: str, kind: str) -> str:
    if kind == "num":
        cls = "num down" if value.startswith("-") else "num"
        return f'<td class="{cls}">{_e(value)}</td>'
    if kind == "html":
        return f"<td>{value}</td>"
    if kind == "wrap":
        return f'<td class="wrap"><div>{_e(value)}</div></td>'
    return f"<td>{_e(value)}</td>"


def _cards(data: dict[str, Any]) -> str:
    t = data["totals"]
    against = data["against"] is not None
    out = ['<div class="cards" id="totals">']
    labels = (("orders", "orders priced"), ("gmv", "GMV (list)"), ("discount", "discount"), ("payable", "payable"))
    for key, label in labels:
        value = t["rules"][key]
        extra = ""
        if against:
            change = t["change"].get(key)
            extra = (f'<span class="muted">against {_e(t["against"][key])}'
                     + (f', change {_e(change)}' if change is not None else "") + "</span>")
        out.append(f'<div class="card">{_e(label)}<b>{_e(value)}</b>{extra}</div>')
    out.append("</div>")
    return "".join(out)


def _eval_link(m: dict[str, Any]) -> str:
    name = f"order-{m['row']}.json"
    body = quote(json.dumps(m["order"], ensure_ascii=False, indent=1), safe="")
    return f'<a class="eval" download="{_e(name)}" href="data:application/json;charset=utf-8,{body}">{_e(name)}</a>'


def _applied(items: list[dict[str, str]]) -> str:
    return ", ".join(f"{i['promotion']} −{i['amount']}" for i in items)


def _why(m: dict[str, Any]) -> str:
    """Why the promotions that applied under one ruleset only did not apply under the other."""
    here = {a["promotion"] for a in m["applied"]}
    there = {a["promotion"] for a in m["applied_against"]}
    parts = [f"{i['promotion']}: {i['reason']}" + (f" (short {i['gap']})" if "gap" in i else "")
             for i in m.get("not_applied", []) if i["promotion"] in there - here]
    parts += [f"{i['promotion']}: {i['reason']} under the other" + (f" (short {i['gap']})" if "gap" in i else "")
              for i in m.get("not_applied_against", []) if i["promotion"] in here - there]
    return ", ".join(parts)


def html_page(data: dict[str, Any], meta: dict[str, str]) -> str:
    against = data["against"] is not None
    rules = data["rules"]
    title = f"Backtest · {rules['name']}" + (f" vs {data['against']['name']}" if against else "")
    o = data["orders"]
    out = ['<!doctype html>\n<html lang="zh">\n<head>\n<meta charset="utf-8">\n'
           '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
           f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{_e(title)}</h1>\n"]
    out.append(f'<p class="muted" id="summary">ruleset <b>{_e(rules["name"])}</b> ({_e(rules["stacking"])}, revision '
               f'{_e(rules["revision"][:12])})'
               + (f' against <b>{_e(data["against"]["name"])}</b> ({_e(data["against"]["stacking"])}, revision '
                  f'{_e(data["against"]["revision"][:12])})' if against else "")
               + f', orders of <code>{_e(o["file"])}</code> priced at {_e(data["at"])}: <b>{o["priced"]}</b> priced, '
               f'{o["bad"]} bad rows skipped. Money in {_e(data["currency"])}; change = this ruleset − the other.</p>\n')
    out.append(_cards(data))

    if against and data["changes"]:
        c = data["changes"]
        out.append("<h2>Payable change per order</h2>\n"
                   f'<p class="muted">{c["orders"]["lower"]} orders pay less, {c["orders"]["same"]} the same, '
                   f'{c["orders"]["higher"]} more (total {_e(c["payable"])}). Shops whose lines\' final fell: '
                   f'{c["shops"]["final_down"]}, rose: {c["shops"]["final_up"]}, same: {c["shops"]["same"]}.</p>\n')
        out.append(bars("chart-distribution", "orders by payable change",
                        [(d["label"], [(d["orders"], "lower" if d["bucket"] < 0 else "higher" if d["bucket"] > 0
                                        else "same", str(d["orders"]))]) for d in c["distribution"]]))

    out.append("<h2>Promotions</h2>\n"
               f'<p class="muted">Spend of the {CHART_BARS} that give most'
               + (" (blue: this ruleset, grey: the other)" if against else "") + ".</p>\n")
    out.append(bars("chart-promotions", "spend per promotion",
                    [(p["promotion"], [(_minor(p["rules"]["spend"]), "rules", p["rules"]["spend"])]
                      + ([(_minor(p["against"]["spend"]), "against", p["against"]["spend"])] if against else []))
                     for p in data["promotions"][:CHART_BARS]]))
    headers = [("promotion", "text"), ("level", "text"), ("orders", "num"), ("spend", "num"), ("average", "num"),
               ("% of GMV", "num")] + ([("other: orders", "num"), ("other: spend", "num"), ("change", "num")]
                                      if against else [])
    rows = [[p["promotion"], p["level"], str(p["rules"]["orders"]), p["rules"]["spend"], p["rules"]["average"],
             p["rules"]["share_of_gmv"]] + ([str(p["against"]["orders"]), p["against"]["spend"], p["change"]]
                                             if against else []) for p in data["promotions"][:TABLE_ROWS]]
    out.append(_table("promotions", headers, rows))
    if len(data["promotions"]) > TABLE_ROWS:
        out.append(f'<p class="muted">The first {TABLE_ROWS} of {len(data["promotions"])}; all are in the JSON and CSV '
                   "reports.</p>\n")

    out.append("<h2>Shops</h2>\n<p class=\"muted\">What each shop's merchant gives up: item- and shop-level discounts "
               "on its lines, and its lines' share of platform discounts (分摊). Final: what buyers pay for its goods."
               + (" Sorted by the change of its final, who loses most first." if against else "") + "</p>\n")
    if against:
        movers = [s for s in data["shops"] if _minor(s["change"]["final"])]
        out.append(bars("chart-shops", "change of each shop's final",
                        [(s["shop"], [(_minor(s["change"]["final"]),
                                       "higher" if s["change"]["final"].startswith("-") else "lower",
                                       s["change"]["final"])]) for s in (movers[:CHART_BARS])]))
    headers = [("shop", "text"), ("orders", "num"), ("GMV", "num"), ("item", "num"), ("shop level", "num"),
               ("platform share", "num"), ("gives up", "num"), ("per order", "num"), ("final", "num")]
    if against:
        headers += [("other: gives up", "num"), ("final change", "num"), ("orders down / up", "text")]
    rows = []
    for s in data["shops"][:TABLE_ROWS]:
        r = s["rules"]
        row = [s["shop"], str(r["orders"]), r["gmv"], r["item"], r["shop"], r["platform"], r["gives_up"],
               r["per_order"]["gives_up"], r["final"]]
        if against:
            row += [s["against"]["gives_up"], s["change"]["final"],
                    f'{s["change"]["orders_final_down"]} / {s["change"]["orders_final_up"]}']
        rows.append(row)
    out.append(_table("shops", headers, rows))

    if against:
        rules_path, other_path = meta.get("rules", "RULES"), meta.get("against", "OTHER_RULES")
        out.append("<h2>The orders that move most</h2>\n<p class=\"muted\">Each link downloads the order as an "
                   f"EvaluateRequest: <code>promo eval {_e(rules_path)} order-ROW.json</code> shows its quote, "
                   f"<code>promo eval {_e(other_path)} order-ROW.json</code> the other one.</p>\n")
        headers = [("row", "num"), ("order", "text"), ("payable", "num"), ("other", "num"), ("change", "num"),
                   ("promo eval", "html"), ("applied", "wrap"), ("applied under the other", "wrap"),
                   ("why they differ", "wrap")]
        rows = [[str(m["row"]), str(m["order_id"]), m["payable"], m["against"], m["change"], _eval_link(m),
                 _applied(m["applied"]), _applied(m["applied_against"]), _why(m)]
                for m in data["movers"]]
        out.append(_table("movers", headers, rows))

    out.append("<h2>Per day</h2>\n")
    out.append(bars("chart-days", "discount per day",
                    [(d["day"], [(_minor(d["rules"]["discount"]), "rules", d["rules"]["discount"])]
                      + ([(_minor(d["against"]["discount"]), "against", d["against"]["discount"])] if against else []))
                     for d in data["days"][-60:]]))
    headers = [("day", "text"), ("orders", "num"), ("GMV", "num"), ("discount", "num"), ("payable", "num")]
    if against:
        headers += [("other: discount", "num"), ("other: payable", "num")]
    out.append(_table("days", headers, [[d["day"], str(d["rules"]["orders"]), d["rules"]["gmv"], d["rules"]["discount"],
                                         d["rules"]["payable"]] + ([d["against"]["discount"], d["against"]["payable"]]
                                                                   if against else []) for d in data["days"]]))

    if data["budgets"]:
        out.append("<h2>Budget burn</h2>\n")
        for i, b in enumerate(data["budgets"]):
            state = f"exhausted on {b['exhausted']}" if b["exhausted"] else "not exhausted"
            out.append(f"<p><b>{_e(b['promotion'])}</b>: budget {_e(b['budget'])} ({_e(b['period'])}), spent "
                       f"{_e(b['spend'])}, {_e(state)}.</p>\n")
            out.append(burn_chart(f"chart-budget-{i}", b))
            out.append(_table(f"budget-{i}", [("day", "text"), ("orders", "num"), ("spend", "num"),
                                              ("cumulative", "num"), ("left", "num")],
                              [[d["day"], str(d["orders"]), d["spend"], d["cumulative"], d["left"]] for d in b["days"]]))
    if data["errors"]:
        out.append('<h2>Bad order rows (skipped)</h2>\n<ul id="errors">'
                   + "".join(f"<li>row {e['row']}: {_e(e['error'])}</li>" for e in data["errors"]) + "</ul>\n")
    out.append(f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")
    return "".join(out)
