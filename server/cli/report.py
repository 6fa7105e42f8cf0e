"""Report writers of `promo analyze` (促销预警): JSON, CSV and one self-contained HTML page.

Each writer takes the finding JSON objects of engine/analyze.py one at a time and keeps only a
bounded amount in memory: the JSON and CSV writers write as they go; the HTML writer streams the
table rows to a temporary file and keeps at most `MAX_POINTS` chart points, then assembles the
page (summary, chart, table) at the end. The page works offline: inline CSS, an inline SVG chart
and a few lines of inline script to sort the table; no external resource.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

MAX_POINTS = 2000  # chart points: SKUs below their line first, then the others
CHART_TOP = 3.0  # the chart's highest lowest ÷ line (a share above is drawn at the top edge)
CHART_LABELS = 5  # the SKUs with the lowest shares are numbered on the chart and named under it

CSV_COLUMNS = ["row", "sku", "shop", "category", "price", "lowest_price", "discount_rate", "warning_price",
               "warning_source", "below_warning", "quantity", "filler_amount", "filler_shop", "promotions",
               "coupons", "shares", "margin_per_unit", "margin_percent", "profit_per_order", "split_orders",
               "what_ifs", "scenarios"]


def what_if_text(w: dict) -> str:
    label = f"remove from {w['subject']}" if w["kind"] == "remove" else f"{w['subject']} stacking"
    return f"{label}: {w['lowest_price']} ({'+' if not w['change'].startswith('-') else ''}{w['change']})"


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def scenario_text(best: dict) -> str:
    """How the lowest price is reached, in plain words: "1 unit with 69.10 of other goods from the
    same shop", "3 units bought alone"."""
    text = _units(best["quantity"])
    filler = best.get("filler")
    if not filler:
        return text + " bought alone"
    shop = "the same shop" if filler["shop"] == "own" else "another shop"
    if filler["quantity"] == 1:
        return f"{text} with {filler['amount']} of other goods from {shop}"
    return f"{text} with {filler['quantity']} other items ({filler['amount']} in all) from {shop}"


def csv_row(f: dict) -> dict[str, Any]:
    best = f["best"]
    filler = best.get("filler") or {}
    return {
        "row": f["row"], "sku": f["sku"], "shop": f["shop"], "category": f["category"], "price": f["price"],
        "lowest_price": f["lowest_price"], "discount_rate": f["discount_rate"],
        "warning_price": (f.get("warning") or {}).get("price", ""),
        "warning_source": (f.get("warning") or {}).get("source", ""),
        "below_warning": "yes" if f["below_warning"] else "no", "quantity": best["quantity"],
        "filler_amount": filler.get("amount", ""), "filler_shop": filler.get("shop", ""),
        "promotions": ";".join(best["promotions"]), "coupons": ";".join(best["coupons"]),
        "shares": ";".join(f"{s['promotion']}:{s['amount']}:{s['share']}%" for s in best["shares"]),
        "margin_per_unit": (f.get("margin") or {}).get("per_unit", ""),
        "margin_percent": (f.get("margin") or {}).get("percent", ""),
        "profit_per_order": (f.get("profit_per_order") or {}).get("profit", ""),
        "split_orders": (f.get("split") or {}).get("split_orders", ""),
        "what_ifs": "; ".join(what_if_text(w) for w in f["what_ifs"]),
        "scenarios": f["scenarios"],
    }


class Report:
    """Counts every report shares; subclasses write."""

    def __init__(self, path: str | Path, meta: dict[str, Any]):
        self.path = Path(path)
        self.meta = meta
        self.skus = 0
        self.below = 0
        self.errors: list[dict] = []

    def add(self, obj: dict[str, Any]) -> None:
        if "error" in obj:
            self.errors.append(obj)
            return
        self.skus += 1
        self.below += bool(obj["below_warning"])
        self.finding(obj)

    def finding(self, f: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        return {"skus": self.skus, "below_warning": self.below, "bad_rows": len(self.errors)}

    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class JsonReport(Report):
    """{"ruleset", "at", ..., "findings": [...], "errors": [...], "summary": {...}}, written as it goes."""

    def __init__(self, path, meta):
        super().__init__(path, meta)
        self.out = self.path.open("w", encoding="utf-8")
        head = json.dumps(meta, ensure_ascii=False)
        self.out.write(head[:-1] + (", " if meta else "") + '"findings": [')
        self.first = True

    def finding(self, f):
        self.out.write(("\n  " if self.first else ",\n  ") + json.dumps(f, ensure_ascii=False))
        self.first = False

    def close(self):
        self.out.write(f'\n], "errors": {json.dumps(self.errors, ensure_ascii=False)}, '
                       f'"summary": {json.dumps(self.summary())}}}\n')
        self.out.close()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading `'`
    (OWASP, CSV injection), except a plain number such as a negative margin "-5.00", which no
    spreadsheet reads as a formula and which must stay a number."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class CsvReport(Report):
    """One row per SKU (bad rows are not in it: `promo analyze` reports them on stderr)."""

    def __init__(self, path, meta):
        super().__init__(path, meta)
        self.out = self.path.open("w", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.out, CSV_COLUMNS)
        self.writer.writeheader()

    def finding(self, f):
        self.writer.writerow({column: csv_cell(value) for column, value in csv_row(f).items()})

    def close(self):
        self.out.close()


_STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0 auto;padding:16px;
max-width:1400px;color:#222}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin-top:28px}.muted{color:#666}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{flex:1 1 220px;border:1px solid #ddd;border-radius:6px;padding:10px 12px;background:#fafafa;min-width:0}
.card b.big{display:block;font-size:22px}.card ol{margin:4px 0 0;padding-left:20px}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none}th.asc:after{content:" \\25B2"}th.desc:after{content:" \\25BC"}
td{overflow-wrap:break-word}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bad,.neg{color:#b00020;font-weight:600}.held{color:#1b5e20;font-size:12px;display:block;white-space:normal}
tr.below td:first-child{border-left:4px solid #d32f2f}
ul.plain{margin:0;padding-left:16px}
td.whatifs{min-width:220px}td.causes{min-width:130px}td.num.wrap{white-space:normal}.wide{overflow-x:auto}
code.cmd{display:block;font-size:11px;background:#f1f1f1;padding:2px 4px;margin:2px 0 6px;white-space:pre-wrap;
overflow-wrap:break-word;user-select:all}
svg{display:block;width:100%;max-width:560px;height:auto;background:#fafafa;border:1px solid #ddd}
circle.below{fill:#d32f2f}circle.ok{fill:#1976d2;opacity:.6}
@media (max-width:1180px){
 body{padding:10px}
 table,tbody,tr,td{display:block;width:100%}
 thead tr{display:flex;flex-wrap:wrap;gap:4px;margin-bottom:8px}
 thead th{display:block;border:1px solid #ddd;border-radius:4px;padding:2px 6px;font-size:12px}
 tr{border:1px solid #ddd;border-radius:6px;margin-bottom:10px;padding:4px 0}
 td{border:0;padding:2px 8px}td.num{text-align:left;white-space:normal}td:empty{display:none}
 td.whatifs,td.causes{min-width:0}
 td:before{content:attr(data-label) ": ";color:#666;font-weight:400}
}
"""

_SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function(th, col) {
  th.addEventListener('click', function() {
    var table = th.closest('table'), body = table.tBodies[0], rows = Array.from(body.rows);
    var asc = !th.classList.contains('asc');
    table.querySelectorAll('th').forEach(function(h) { h.classList.remove('asc', 'desc'); });
    th.classList.add(asc ? 'asc' : 'desc');
    var num = th.dataset.type === 'num';
    rows.sort(function(a, b) {
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      if (x === undefined) { x = a.cells[col].textContent; }
      if (y === undefined) { y = b.cells[col].textContent; }
      var r;
      if (num) {
        var fx = parseFloat(x), fy = parseFloat(y);
        if (isNaN(fx) || isNaN(fy)) { r = isNaN(fx) - isNaN(fy); return r; }
        r = fx - fy;
      } else { r = x.localeCompare(y); }
      return asc ? r : -r;
    });
    rows.forEach(function(r) { body.appendChild(r); });
  });
});
"""

# (header, sort type); the first column sorts by risk: below the line first, then lowest ÷ line
_HEADERS = [("SKU", "text"), ("shop", "text"), ("price", "num"), ("lowest", "num"), ("warning line", "num"),
            ("gap", "num"), ("discount %", "num"), ("scenario", "text"), ("causes (share of the reduction)", "text"),
            ("coupons", "text"), ("what-ifs (一键剔除)", "text"), ("margin", "num"), ("profit / order", "num"),
            ("risk", "num")]  # risk: lowest ÷ warning line
_SORTED = ' class="asc"'  # the column the table is sorted by when the page opens
MAX_OK_ROWS = 2000  # SKUs at or above their line in the table (closest to it first); every SKU below is in it


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _script_json(value: Any) -> str:
    """JSON to embed in a <script> block: no `<`, `>` or `&` left (as \\u escapes, still the same
    JSON), so a SKU such as `<!--<script>` cannot open a comment that swallows the rest of the page."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _minor(text: str) -> int:
    whole, _, frac = text.lstrip("-").partition(".")
    value = int(whole) * 100 + int((frac + "00")[:2])
    return -value if text.startswith("-") else value


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def _ratio(f: dict) -> float | None:
    """Lowest price ÷ warning line: below 1 is below the line (the chart's measure)."""
    warning = f.get("warning")
    if not warning or _minor(warning["price"]) <= 0:
        return None
    return _minor(f["lowest_price"]) / _minor(warning["price"])


def risk_key(f: dict) -> tuple:
    """SKUs below their line first, lowest ÷ line ascending; then those above, closest first; then
    SKUs without a line."""
    ratio = _ratio(f)
    if ratio is None:
        return (2, 0.0, f["row"])
    return (0 if f["below_warning"] else 1, ratio, f["row"])


def exclude_context(args, at) -> dict[str, Any]:
    """What `promo exclude` needs to reproduce this analysis's what-if: the ruleset, catalog, time and
    the options that change the price (only those not at their default)."""
    extra: list[str] = []
    if args.max_units != 3:
        extra += ["--max-units", str(args.max_units)]
    if args.user_level:
        extra += ["--user-level", str(args.user_level)]
    if args.channel:
        extra += ["--channel", args.channel]
    return {"rules": args.rules, "catalog": args.catalog, "at": at.isoformat(), "extra": tuple(extra)}


class HtmlReport(Report):
    """One offline page: a summary (how many SKUs are below their line, the worst margin, the
    promotions most often the cause), a chart of lowest price ÷ warning line, and a table of the SKUs
    sorted by risk (click a header to sort by it), each removal what-if with the `promo exclude`
    command that makes it real. It works on a phone: the table becomes one card per SKU."""

    def __init__(self, path, meta, exclude: dict[str, Any] | None = None):
        super().__init__(path, meta)
        fd, self.rows_path = tempfile.mkstemp(prefix="promo-analyze-", suffix=".html")
        self.rows = os.fdopen(fd, "wb")
        self.index: list[tuple[tuple, int, int]] = []  # (risk key, offset, length) of every row written
        self.points_below: list[dict] = []
        self.points_ok: list[dict] = []
        self.exclude = exclude
        self.causes: dict[str, int] = {}  # promotion -> SKUs below their line where it takes the largest share
        self.worst_margin: tuple[float, dict] | None = None
        self.held = 0

    def finding(self, f):
        warning = f.get("warning")
        if warning:
            point = {"sku": f["sku"], "lowest": f["lowest_price"], "warning": warning["price"],
                     "below": f["below_warning"]}
            bucket = self.points_below if f["below_warning"] else self.points_ok
            if len(bucket) < MAX_POINTS:
                bucket.append(point)
        if f["below_warning"] and f["best"]["shares"]:
            top = max(f["best"]["shares"], key=lambda s: _minor(s["amount"]))
            self.causes[top["promotion"]] = self.causes.get(top["promotion"], 0) + 1
        margin = f.get("margin")
        if margin and (self.worst_margin is None or float(margin["percent"]) < self.worst_margin[0]):
            self.worst_margin = (float(margin["percent"]), {"sku": f["sku"], **margin})
        self.held += "guard" in f
        data = self._row(f).encode("utf-8")
        self.index.append((risk_key(f), self.rows.tell(), len(data)))
        self.rows.write(data)

    def _command(self, f: dict, promotion: str) -> str:
        from server.cli.exclude import command

        x = self.exclude or {}
        return command(x.get("rules", "RULES"), promotion, [f["sku"]], x.get("catalog"), x.get("at"),
                       x.get("extra", ()))

    def _row(self, f: dict) -> str:
        best = f["best"]
        warning = f.get("warning")
        gap = _minor(f["lowest_price"]) - _minor(warning["price"]) if warning else None
        ratio = _ratio(f)
        causes = "".join(f"<li>{_e(s['promotion'])} −{_e(s['amount'])} ({_e(s['share'])}%)</li>"
                         for s in best["shares"])
        what_ifs = []
        for w in f["what_ifs"]:
            item = f"<li>{_e(what_if_text(w))}"
            if w["kind"] == "remove":
                item += f'<code class="cmd">{_e(self._command(f, w["subject"]))}</code>'
            what_ifs.append(item + "</li>")
        margin = f.get("margin")
        profit = f.get("profit_per_order")
        guard = f.get("guard")
        held = (f'<span class="held">held by guard `{_e(guard["name"])}`: the price stops at its floor '
                f'{_e(guard["floor"])}</span>' if guard else "")
        neg = lambda v: " neg" if v.startswith("-") else ""  # noqa: E731
        label = lambda i: f' data-label="{_e(_HEADERS[i][0])}"'  # noqa: E731
        lowest_class = "bad" if f["below_warning"] else ""
        risk = risk_key(f)
        cells = [
            f'<td{label(0)}>{_e(f["sku"])}</td>', f'<td{label(1)}>{_e(f["shop"])}</td>',
            f'<td class="num"{label(2)}>{_e(f["price"])}</td>',
            f'<td class="num {lowest_class}"{label(3)} data-v="{_e(f["lowest_price"])}">{_e(f["lowest_price"])}</td>',
            f'<td class="num"{label(4)}>{_e(warning["price"]) if warning else ""}</td>',
            f'<td class="num{neg(_money(gap)) if gap is not None else ""}"{label(5)} '
            f'data-v="{gap if gap is not None else ""}">'
            f'{_money(gap) if gap is not None else ""}</td>',
            f'<td class="num"{label(6)}>{_e(f["discount_rate"])}</td>',
            f'<td{label(7)}>{_e(scenario_text(best))}{held}</td>',
            f'<td class="causes"{label(8)}><ul '
            f'class="plain">{causes}</ul></td>', f'<td{label(9)}>{_e(", ".join(best["coupons"]))}</td>',
            f'<td class="whatifs"{label(10)}><ul class="plain">{"".join(what_ifs)}</ul></td>',
            f'<td class="num wrap{neg(margin["per_unit"]) if margin else ""}"{label(11)} '
            f'data-v="{_e(margin["percent"]) if margin else ""}">'
            f'{_e(margin["per_unit"] + " (" + margin["percent"] + "%)") if margin else ""}</td>',
            f'<td class="num{neg(profit["profit"]) if profit else ""}"{label(12)}>'
            f'{_e(profit["profit"]) if profit else ""}</td>',
            f'<td class="num"{label(13)} data-v="{risk[0] * 1000 + min(risk[1], 999):.6f}">'
            f'{f"{ratio * 100:.1f}%" if ratio is not None else "no line"}</td>',
        ]
        below = ' class="below"' if f["below_warning"] else ""
        return f'<tr{below} data-sku="{_e(f["sku"])}" data-row="{f["row"]}">{"".join(cells)}</tr>\n'

    def _chart(self) -> str:
        """Each SKU with a line, at its lowest price ÷ warning line (so a 3,899.00 phone and 1.00
        socks share one scale), SKUs ordered by that ratio; 100% is the line. Ratios above
        `CHART_TOP` are drawn at the top edge."""
        points = self.points_below + self.points_ok[: max(0, MAX_POINTS - len(self.points_below))]
        ratios = [(_minor(p["lowest"]) / max(_minor(p["warning"]), 1), p) for p in points]
        ratios.sort(key=lambda r: r[0])
        width, height, left, right, top, bottom = 560, 320, 66, 12, 16, 44
        hi = min(max([1.25] + [r for r, _ in ratios]), CHART_TOP)
        hi = math.ceil(hi * 4) / 4
        y = lambda r: top + (height - top - bottom) * (1 - min(r, hi) / hi)  # noqa: E731
        n = max(len(ratios), 1)
        x = lambda i: left + (width - left - right) * ((i + 0.5) / n)  # noqa: E731
        parts = [f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
                 'aria-label="lowest price as a share of the warning line, one dot per SKU">']
        step = 0.25 if hi <= 2 else 0.5 if hi <= 4 else 1.0
        tick = 0.0
        while tick <= hi + 1e-9:
            ty = y(tick)
            parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{width - right}" y2="{ty:.1f}" stroke="#e4e4e4"/>'
                         f'<text x="{left - 6}" y="{ty + 4:.1f}" font-size="13" '
                         f'text-anchor="end">{tick * 100:.0f}%</text>')
            tick += step
        line_y = y(1.0)
        parts.append(f'<line x1="{left}" y1="{line_y:.1f}" x2="{width - right}" y2="{line_y:.1f}" stroke="#d32f2f" '
                     f'stroke-dasharray="6 4"/><text x="{left + 6}" y="{line_y - 6:.1f}" font-size="13" '
                     'fill="#b00020">warning line (100%)</text>')
        parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
                     f'stroke="#333"/>'
                     f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#333"/>')
        parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 10}" font-size="14" text-anchor="middle">'
                     f'SKUs, lowest share of their line first ({len(ratios)} shown)</text>')
        mid = (top + height - bottom) / 2
        parts.append(f'<text x="16" y="{mid}" font-size="14" transform="rotate(-90 14 {mid})" text-anchor="middle">'
                     'lowest price ÷ warning line</text>')
        worst: list[str] = []
        for i, (ratio, p) in enumerate(ratios):
            cx, cy = x(i), y(ratio)
            parts.append(f'<circle class="{"below" if p["below"] else "ok"}" cx="{cx:.1f}" cy="{cy:.1f}" r="4" '
                         f'data-sku="{_e(p["sku"])}" data-lowest="{_e(p["lowest"])}" data-warning="{_e(p["warning"])}">'
                         f'<title>{_e(p["sku"])}: {_e(p["lowest"])} ÷ {_e(p["warning"])} = '
                         f'{ratio * 100:.1f}%</title></circle>')
            if i < CHART_LABELS and p["below"]:  # the worst are numbered; the list under the chart names them
                parts.append(f'<text x="{cx + 7:.1f}" y="{cy + 4:.1f}" font-size="12" font-weight="700">{i + 1}</text>')
                worst.append(f"<li>{_e(p['sku'])}: {_e(p['lowest'])} ÷ {_e(p['warning'])} = {ratio * 100:.0f}%</li>")
        parts.append("</svg>")
        if worst:
            parts.append(f'<ol id="chart-worst" class="muted">{"".join(worst)}</ol>')
        data = _script_json(points)
        return "".join(parts) + f'\n<script type="application/json" id="chart-data">{data}</script>\n'

    def _summary(self) -> str:
        meta = self.meta
        ruleset = meta.get("ruleset", {})
        cards = [f'<div class="card"><b class="big bad">{self.below} of {self.skus}</b>SKUs are below their warning '
                 "line</div>"]
        if self.worst_margin is not None:
            m = self.worst_margin[1]
            cls = "bad" if m["per_unit"].startswith("-") else ""
            cards.append(f'<div class="card"><b class="big {cls}">{_e(m["per_unit"])} ({_e(m["percent"])}%)</b>'
                         f'worst margin per unit: <b>{_e(m["sku"])}</b> (cost {_e(m["cost"])})</div>')
        if self.causes:
            top = sorted(self.causes.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            items = "".join(f"<li><b>{_e(name)}</b>: {n} SKU{'s' if n != 1 else ''}</li>" for name, n in top)
            cards.append('<div class="card">promotions most often the cause (the largest share of the reduction '
                         f"of a SKU below its line):<ol>{items}</ol></div>")
        if self.held:
            cards.append(f'<div class="card"><b class="big">{self.held}</b>SKU{"s" if self.held != 1 else ""} held at '
                         "a guard's floor (the guard stops the price going lower)</div>")
        return (f'<section id="summary"><div class="cards">{"".join(cards)}</div>'
                f'<p class="muted">ruleset <b>{_e(ruleset.get("name", ""))}</b> (revision '
                f'{_e(ruleset.get("revision", "")[:12])}, {_e(meta.get("stacking", ""))} stacking) at '
                f'{_e(meta.get("at", ""))}: <b>{self.skus}</b> SKUs analyzed, <b class="bad">{self.below}</b> '
                f'below their '
                f"warning line, {len(self.errors)} bad rows skipped.</p></section>\n")

    def close(self):
        self.rows.close()
        meta = self.meta
        title = f"促销预警 · {meta.get('ruleset', {}).get('name', '')}"
        below = sorted(r for r in self.index if r[0][0] == 0)
        others = sorted(r for r in self.index if r[0][0] != 0)
        shown_others = others[:MAX_OK_ROWS]
        with self.path.open("w", encoding="utf-8") as out:
            out.write(f'<!doctype html>\n<html lang="zh">\n<head>\n<meta charset="utf-8">\n'
                      '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                      f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
                      f"<h1>{_e(title)} — price warnings</h1>\n")
            out.write(self._summary())
            out.write("<h2>Lowest reachable price ÷ warning line</h2>\n"
                      '<p class="muted">One dot per SKU with a warning line, at its lowest reachable price as a '
                      'share of '
                      "its line: under the dashed 100% line it is below (red). Ordered from the lowest share; the "
                      f"worst {CHART_LABELS} are numbered and named under it. At most {MAX_POINTS} SKUs below "
                      f"their line "
                      f"and {MAX_POINTS} others are drawn; a share above {CHART_TOP * 100:.0f}% is drawn at the "
                      f"top.</p>\n")
            out.write(self._chart())
            out.write("<h2>SKUs by risk</h2>\n"
                      '<p class="muted">Below their line first, the lowest share of the line first; then the others, '
                      f"closest to their line first (at most {MAX_OK_ROWS}). Click a column to sort by it. "
                      f"Scenario: the "
                      "cart that reaches the lowest price; causes: each promotion's share of the reduction; "
                      "what-ifs: the "
                      "lowest price with the SKU taken out of a shop-level promotion (with the <code>promo "
                      "exclude</code> "
                      "command that does it) and under the other stacking mode.</p>\n")
            out.write('<div class="wide"><table id="below" class="sortable">\n<thead><tr>'
                      + "".join(f'<th data-type="{t}"{_SORTED if h == "risk" else ""}>{_e(h)}</th>'
                                for h, t in _HEADERS) + "</tr></thead>\n<tbody>\n")
            with open(self.rows_path, "rb") as rows:
                for _, offset, length in below + shown_others:
                    rows.seek(offset)
                    out.write(rows.read(length).decode("utf-8"))
            out.write("</tbody>\n</table></div>\n")
            if len(others) > len(shown_others):
                out.write(f'<p class="muted">{len(others) - len(shown_others)} more SKUs at or above their line are '
                          "not listed (see the CSV or JSON report).</p>\n")
            if self.errors:
                out.write('<h2>Bad catalog rows (skipped)</h2>\n<ul id="errors">'
                          + "".join(f"<li>row {e['row']}: {_e(e['error'])}</li>" for e in self.errors) + "</ul>\n")
            out.write(f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")
        os.unlink(self.rows_path)


def open_report(path: str | Path, meta: dict[str, Any], exclude: dict[str, Any] | None = None) -> Report:
    """The writer for `path`'s suffix; `exclude` (exclude_context) lets the HTML page show the
    `promo exclude` command of each removal what-if."""
    suffix = Path(path).suffix.lower()
    if suffix in (".html", ".htm"):
        return HtmlReport(path, meta, exclude)
    kinds = {".json": JsonReport, ".csv": CsvReport}
    if suffix not in kinds:
        raise ValueError(f"`{path}`: the report is a .html, .csv or .json file")
    return kinds[suffix](path, meta)
