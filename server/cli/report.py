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
import os
import re
import tempfile
from pathlib import Path
from typing import Any

MAX_POINTS = 2000  # chart points: SKUs below their line first, then the others

CSV_COLUMNS = ["row", "sku", "shop", "category", "price", "lowest_price", "discount_rate", "warning_price",
               "warning_source", "below_warning", "quantity", "filler_amount", "filler_shop", "promotions",
               "coupons", "shares", "margin_per_unit", "margin_percent", "profit_per_order", "split_orders",
               "what_ifs", "scenarios"]


def what_if_text(w: dict) -> str:
    label = f"remove from {w['subject']}" if w["kind"] == "remove" else f"{w['subject']} stacking"
    return f"{label}: {w['lowest_price']} ({'+' if not w['change'].startswith('-') else ''}{w['change']})"


def scenario_text(best: dict) -> str:
    text = f"{best['quantity']} unit{'s' if best['quantity'] != 1 else ''}"
    filler = best.get("filler")
    if filler:
        text += f" + filler {filler['amount']} ({filler['shop']} shop"
        text += f", {filler['quantity']} units)" if filler["quantity"] != 1 else ")"
    return text


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
body{font:14px/1.45 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}.muted{color:#666}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none;white-space:nowrap}th.asc:after{content:" \\25B2"}th.desc:after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.bad{color:#b00020;font-weight:600}
ul.plain{margin:0;padding-left:16px}svg{background:#fafafa;border:1px solid #ddd}
circle.below{fill:#d32f2f}circle.ok{fill:#1976d2;opacity:.6}
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
      var x = a.cells[col].dataset.v || a.cells[col].textContent, y = b.cells[col].dataset.v || b.cells[col].textContent;
      var r = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return asc ? r : -r;
    });
    rows.forEach(function(r) { body.appendChild(r); });
  });
});
"""

_HEADERS = [("SKU", "text"), ("shop", "text"), ("price", "num"), ("lowest", "num"), ("warning line", "num"),
            ("gap", "num"), ("discount %", "num"), ("scenario", "text"), ("causes (share of the reduction)", "text"),
            ("coupons", "text"), ("what-ifs", "text"), ("margin", "num"), ("profit / order", "num")]


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


class HtmlReport(Report):
    """One offline page: summary, chart of lowest price against warning line, sortable table of
    the SKUs below their line with causes and what-ifs, bad rows."""

    def __init__(self, path, meta):
        super().__init__(path, meta)
        fd, self.rows_path = tempfile.mkstemp(prefix="promo-analyze-", suffix=".html")
        self.rows = os.fdopen(fd, "w", encoding="utf-8")
        self.points_below: list[dict] = []
        self.points_ok: list[dict] = []

    def finding(self, f):
        warning = f.get("warning")
        if warning:
            point = {"sku": f["sku"], "lowest": f["lowest_price"], "warning": warning["price"], "below": f["below_warning"]}
            bucket = self.points_below if f["below_warning"] else self.points_ok
            if len(bucket) < MAX_POINTS:
                bucket.append(point)
        if f["below_warning"]:
            self.rows.write(self._row(f))

    def _row(self, f: dict) -> str:
        best = f["best"]
        gap = _minor(f["lowest_price"]) - _minor(f["warning"]["price"])
        causes = "".join(f"<li>{_e(s['promotion'])} −{_e(s['amount'])} ({_e(s['share'])}%)</li>" for s in best["shares"])
        what_ifs = "".join(f"<li>{_e(what_if_text(w))}</li>" for w in f["what_ifs"])
        margin = f.get("margin")
        profit = f.get("profit_per_order")
        cells = [
            f'<td>{_e(f["sku"])}</td>', f'<td>{_e(f["shop"])}</td>', f'<td class="num">{_e(f["price"])}</td>',
            f'<td class="num bad">{_e(f["lowest_price"])}</td>', f'<td class="num">{_e(f["warning"]["price"])}</td>',
            f'<td class="num">{_money(gap)}</td>', f'<td class="num">{_e(f["discount_rate"])}</td>',
            f'<td data-v="{_e(scenario_text(best))}">{_e(scenario_text(best))}</td>',
            f'<td><ul class="plain">{causes}</ul></td>', f'<td>{_e(", ".join(best["coupons"]))}</td>',
            f'<td><ul class="plain">{what_ifs}</ul></td>',
            f'<td class="num" data-v="{_e(margin["percent"]) if margin else ""}">'
            f'{_e(margin["per_unit"] + " (" + margin["percent"] + "%)") if margin else ""}</td>',
            f'<td class="num">{_e(profit["profit"]) if profit else ""}</td>',
        ]
        return f'<tr data-sku="{_e(f["sku"])}" data-row="{f["row"]}">{"".join(cells)}</tr>\n'

    def _chart(self) -> str:
        points = self.points_below + self.points_ok[: max(0, MAX_POINTS - len(self.points_below))]
        size, pad = 480, 40
        top = max([_minor(p["lowest"]) for p in points] + [_minor(p["warning"]) for p in points] + [1])
        scale = lambda v: (size - 2 * pad) * v / top  # noqa: E731
        parts = [f'<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
                 f'viewBox="0 0 {size} {size}" role="img" aria-label="lowest price against warning line">',
                 f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#999" stroke-dasharray="4 4"/>',
                 f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{size - pad}" stroke="#333"/>',
                 f'<line x1="{pad}" y1="{size - pad}" x2="{pad}" y2="{pad}" stroke="#333"/>',
                 f'<text x="{size / 2}" y="{size - 8}" text-anchor="middle">warning line</text>',
                 f'<text x="12" y="{size / 2}" transform="rotate(-90 12 {size / 2})" text-anchor="middle">lowest price</text>',
                 f'<text x="{pad}" y="{size - pad + 14}" font-size="10">0</text>',
                 f'<text x="{size - pad}" y="{size - pad + 14}" font-size="10" text-anchor="end">{_money(top)}</text>']
        for p in points:
            x = pad + scale(_minor(p["warning"]))
            y = size - pad - scale(_minor(p["lowest"]))
            parts.append(f'<circle class="{"below" if p["below"] else "ok"}" cx="{x:.1f}" cy="{y:.1f}" r="3" '
                         f'data-sku="{_e(p["sku"])}" data-lowest="{_e(p["lowest"])}" data-warning="{_e(p["warning"])}">'
                         f'<title>{_e(p["sku"])}: {_e(p["lowest"])} / {_e(p["warning"])}</title></circle>')
        parts.append("</svg>")
        data = _script_json(points)
        return "".join(parts) + f'\n<script type="application/json" id="chart-data">{data}</script>\n'

    def close(self):
        self.rows.close()
        meta = self.meta
        title = f"促销预警 · {meta.get('ruleset', {}).get('name', '')}"
        with self.path.open("w", encoding="utf-8") as out:
            out.write(f'<!doctype html>\n<html lang="zh">\n<head>\n<meta charset="utf-8">\n<title>{_e(title)}</title>\n'
                      f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{_e(title)} — price warnings</h1>\n")
            out.write(f'<p class="muted" id="summary">ruleset <b>{_e(meta.get("ruleset", {}).get("name", ""))}</b> '
                      f'(revision {_e(meta.get("ruleset", {}).get("revision", "")[:12])}, {_e(meta.get("stacking", ""))} '
                      f'stacking) at {_e(meta.get("at", ""))}: <b>{self.skus}</b> SKUs analyzed, '
                      f'<b class="bad">{self.below}</b> below their warning line, {len(self.errors)} bad rows skipped.</p>\n')
            out.write("<h2>Lowest reachable price against the warning line</h2>\n"
                      '<p class="muted">Each dot is a SKU with a warning line; below the dashed diagonal = below its line '
                      f"(red). At most {MAX_POINTS} SKUs below their line and {MAX_POINTS} others are drawn.</p>\n")
            out.write(self._chart())
            out.write("<h2>SKUs below their warning line</h2>\n"
                      '<p class="muted">Click a column to sort. Scenario: how the lowest price is reached; causes: each '
                      "promotion's share of the reduction; what-ifs: the lowest price with the SKU removed from a shop-level "
                      "promotion, and under the other stacking mode.</p>\n")
            out.write('<table id="below" class="sortable">\n<thead><tr>'
                      + "".join(f'<th data-type="{t}">{_e(h)}</th>' for h, t in _HEADERS) + "</tr></thead>\n<tbody>\n")
            with open(self.rows_path, encoding="utf-8") as rows:
                while block := rows.read(1 << 20):
                    out.write(block)
            out.write("</tbody>\n</table>\n")
            if self.errors:
                out.write('<h2>Bad catalog rows (skipped)</h2>\n<ul id="errors">'
                          + "".join(f"<li>row {e['row']}: {_e(e['error'])}</li>" for e in self.errors) + "</ul>\n")
            out.write(f"<script>{_SCRIPT}</script>\n</body>\n</html>\n")
        os.unlink(self.rows_path)


def open_report(path: str | Path, meta: dict[str, Any]) -> Report:
    suffix = Path(path).suffix.lower()
    kinds = {".json": JsonReport, ".csv": CsvReport, ".html": HtmlReport, ".htm": HtmlReport}
    if suffix not in kinds:
        raise ValueError(f"`{path}`: the report is a .html, .csv or .json file")
    return kinds[suffix](path, meta)
