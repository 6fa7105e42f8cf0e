"""`promo exclude` (一键剔除): take SKUs out of a promotion's scope by editing the rule file.

The edit goes through the syntax tree and the canonical printer, never through the text: the
promotion's `scope E` becomes `scope E and sku != "X"` (several SKUs: `and not sku in ["X", "Y"]`;
a SKU list already excluded this way grows instead), a promotion without a scope gets
`scope sku != "X"`. The file is printed again (comments kept where they were, canonical layout),
re-parsed to the same tree, and the whole ruleset is checked again: an edit that would leave an
error is refused. The command prints the diff and each SKU's lowest reachable price after the edit
(`promo analyze`'s search on the catalog row of the SKU), then writes the file unless `--dry-run`.
The price is the one `promo analyze` shows as the removal what-if, which computes the same scope
on the compiled plan.
"""

from __future__ import annotations

import difflib
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.lang import ast
from engine.lang.diagnostics import render
from engine.lang.load import load_sources
from engine.lang.parser import parse_source
from engine.lang.printer import format_file
from engine.lang.source import SourceFile, Span, read_sources
from server.cli.fmt import unified_diff, write_atomically

_SKU = ("sku",)


def _excluded(expr) -> list[str] | None:
    """The SKUs a conjunct `sku != "X"` or `not sku in [...]` excludes, or None for another conjunct."""
    if (isinstance(expr, ast.Compare) and expr.op == "!=" and isinstance(expr.left, ast.Path)
            and expr.left.names == _SKU and isinstance(expr.right, ast.String)):
        return [expr.right.value]
    if (isinstance(expr, ast.Not) and isinstance(expr.operand, ast.In) and isinstance(expr.operand.left, ast.Path)
            and expr.operand.left.names == _SKU and isinstance(expr.operand.right, ast.ListLit)
            and all(isinstance(i, ast.String) for i in expr.operand.right.items)):
        return [i.value for i in expr.operand.right.items if isinstance(i, ast.String)]
    return None


def _exclusion(skus: list[str]):
    sku = ast.Path(_SKU)
    if len(skus) == 1:
        return ast.Compare("!=", sku, ast.String(skus[0]))
    return ast.Not(ast.In(sku, ast.ListLit(tuple(ast.String(s) for s in skus))))


def excluded_scope(expr, skus: list[str]):
    """`expr` (None: every line) with `skus` taken out, as a `scope` expression."""
    if expr is None:
        return _exclusion(skus)
    parts = list(expr.operands) if isinstance(expr, ast.And) else [expr]
    for i in range(len(parts) - 1, -1, -1):
        already = _excluded(parts[i])
        if already is not None:  # extend the exclusion written before
            parts[i] = _exclusion(already + [s for s in skus if s not in already])
            break
    else:
        parts.append(_exclusion(skus))
    return parts[0] if len(parts) == 1 else ast.And(tuple(parts), span=expr.span)


def rewrite(file: ast.File, promotion: str, skus: list[str]) -> ast.File:
    """`file` with `skus` out of `promotion`'s scope."""
    items = list(file.items)
    index = next(i for i, it in enumerate(items) if isinstance(it, ast.Promotion) and it.name.value == promotion)
    p: Any = items[index]
    clauses = list(p.clauses)
    at = next((i for i, c in enumerate(clauses) if isinstance(c, ast.Scope)), None)
    if at is not None:
        old = clauses[at]
        clauses[at] = ast.Scope(excluded_scope(old.expr, skus), span=old.span)
    else:
        # a new clause after title/level/active; its span is empty, at the start of the line of the
        # clause it comes before, so the printer keeps every comment where it was
        at = next((i for i, c in enumerate(clauses) if not isinstance(c, (ast.Title, ast.Level, ast.Active))),
                  len(clauses))
        if at < len(clauses):
            line = clauses[at].span.line
        else:
            line = clauses[-1].span.end_line + 1 if clauses else p.span.line
        clauses.insert(at, ast.Scope(excluded_scope(None, skus), span=Span(file.path, line, 0, line, 0)))
    items[index] = replace(p, clauses=tuple(clauses))
    return replace(file, items=tuple(items))


def already_out(p: ast.Promotion, skus: list[str]) -> list[str]:
    scope = ast.first(p, ast.Scope)
    if scope is None:
        return []
    parts = scope.expr.operands if isinstance(scope.expr, ast.And) else (scope.expr,)
    out = []
    for part in parts:
        out += _excluded(part) or []
    return [s for s in skus if s in out]


def command(rules: str, promotion: str, skus: list[str], catalog: str | None = None, at: str | None = None,
            extra: tuple[str, ...] = ()) -> str:
    """The `promo exclude` command line that takes `skus` out of `promotion` (shown by the report)."""
    words = ["promo", "exclude", rules, "--promotion", promotion]
    for sku in skus:
        words += ["--sku", sku]
    if catalog:
        words += ["--catalog", catalog]
    if at:
        words += ["--at", at]
    return " ".join(shlex.quote(w) for w in [*words, *extra])


def run(args) -> int:
    skus = list(dict.fromkeys(args.sku))
    sources = read_sources(args.rules)
    if not sources:
        print(f"error: no .promo files at `{args.rules}`", file=sys.stderr)
        return 2
    before = load_sources(sources)
    if not before.ok:
        for d in before.diagnostics:
            if d.is_error:
                print(render(d, before.sources) + "\n", file=sys.stderr)
        print(f"error: the ruleset `{args.rules}` has errors (see `promo check {args.rules}`)", file=sys.stderr)
        return 2
    found = [(s, it) for s, f in zip(sources, before.files) for it in f.items
             if isinstance(it, ast.Promotion) and it.name.value == args.promotion]
    if not found:
        names = [it.name.value for f in before.files for it in f.items if isinstance(it, ast.Promotion)]
        close = difflib.get_close_matches(args.promotion, names, n=1, cutoff=0.6)
        print(f"error: no promotion or coupon is named `{args.promotion}`"
              + (f"; did you mean `{close[0]}`?" if close else ""), file=sys.stderr)
        return 2
    source, block = found[0]
    out = already_out(block, skus)
    todo = [s for s in skus if s not in out]
    for sku in out:
        print(f"`{sku}` is already out of `{args.promotion}`")
    new_text = source.text
    if todo:
        parsed = parse_source(source)
        new_tree = rewrite(parsed.file, args.promotion, todo)
        new_text = format_file(new_tree)
        again = parse_source(SourceFile(source.path, new_text))
        if again.diagnostics or again.file != new_tree:
            print(f"{source.path}: internal error: the rewritten file does not read back the same; left unchanged "
                  "(please report this)", file=sys.stderr)
            return 1
    after = load_sources([SourceFile(s.path, new_text) if s.path == source.path else s for s in sources])
    if not after.ok:
        for d in after.diagnostics:
            if d.is_error:
                print(render(d, after.sources) + "\n", file=sys.stderr)
        print(f"error: the edit would leave errors; `{source.path}` left unchanged", file=sys.stderr)
        return 1
    sys.stdout.write(unified_diff(source.text, new_text, source.path))
    status = _prices(args, after, skus)
    if new_text != source.text and not args.dry_run:
        write_atomically(Path(source.path), new_text)
        print(f"wrote {source.path}")
    elif args.dry_run:
        print("dry run: nothing written")
    return status


def _prices(args, loaded, skus: list[str]) -> int:
    """Print each SKU's lowest price under the edited ruleset (needs its catalog row)."""
    if not args.catalog:
        print("(pass --catalog CATALOG to see each SKU's lowest price after the edit)")
        return 0
    from datetime import UTC, datetime

    from engine.apps.analyze.scenarios import Options
    from engine.apps.analyze.search import analyze_item
    from engine.apps.catalog import CatalogError, read_catalog
    from engine.base.request import User
    from engine.plan.compiler import compile_plan
    from engine.wire.decode import RequestError, parse_datetime
    from engine.wire.encode import unit_money

    plan = compile_plan(loaded)
    try:
        at = parse_datetime(args.at, "--at", plan.timezone) if args.at else datetime.now(UTC)
    except RequestError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    options = Options(at=at, max_units=args.max_units, user=User(id="analyze", level=args.user_level),
                      channel=args.channel, what_ifs="none")
    rows = {r.sku: r for r in read_catalog(args.catalog, plan.digits) if not isinstance(r, CatalogError)}
    status = 0
    for sku in skus:
        item = rows.get(sku)
        if item is None:
            print(f"{sku}: not in {args.catalog}", file=sys.stderr)
            status = 2
            continue
        f = analyze_item(plan, item, options)
        line = f"{sku}: lowest price after: {unit_money(f.lowest, plan.digits)}"
        if f.warning is not None:
            where = "below" if f.below else "at or above"
            line += f" ({where} its warning line {unit_money(f.warning, plan.digits)})"
        print(line)
    return status


def register(sub) -> None:
    p = sub.add_parser("exclude", help="一键剔除: take SKUs out of a promotion's scope (an edit of the rule file)")
    p.add_argument("rules", help="the ruleset (a directory or a .promo file)")
    p.add_argument("--promotion", required=True, help="the promotion or coupon to edit")
    p.add_argument("--sku", action="append", required=True, help="a SKU to take out (repeat for several)")
    p.add_argument("--dry-run", action="store_true", help="print the diff and prices, write nothing")
    p.add_argument("--catalog", help="the catalog of `promo analyze`: prices each SKU after the edit")
    p.add_argument("--at", help="when to price (ISO-8601; without offset in the ruleset timezone); default now")
    p.add_argument("--max-units", type=int, default=3, help="as `promo analyze`")
    p.add_argument("--user-level", type=int, default=0, help="as `promo analyze`")
    p.add_argument("--channel", default="", help="as `promo analyze`")
    p.set_defaults(run=run)
