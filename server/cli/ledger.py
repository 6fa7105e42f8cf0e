"""The ledger's commands: `promo ledger migrate|verify|show URL`, `promo codes issue COUPON`, and
what `promo serve --ledger URL` checks before it starts (docs/ledger.md).

A URL is `sqlite:///path.db` or `postgresql://user@host/db`; where a command takes one, the
environment variable PROMO_LEDGER_URL is its default (a password then stays out of `ps`).
Every problem is one line on stderr and exit 2, never a traceback; `verify` exits 1 on drift.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.cli.tables import stdout_console, table
from server.ledger.errors import LedgerError

ENV = "PROMO_LEDGER_URL"
DEFAULT_URL = "sqlite:///promo-ledger.db"  # in the working directory


class Refused(Exception):
    """A problem the command reports on one line (exit 2)."""


def redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for a message
        return url


def _short(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[0] if text else ''}"[:300]


def guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """`run`, its failures as one `error:` line and exit 2."""
    def wrapped(args: argparse.Namespace) -> int:
        from alembic.util import CommandError
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return run(args)
        except Refused as error:
            print(f"error: {error}", file=sys.stderr)
        except LedgerError as error:
            print(f"error: {error.field}: {error.message}", file=sys.stderr)
        except CommandError as error:
            print(f"error: migration: {error}", file=sys.stderr)
        except SQLAlchemyError as error:
            print(f"error: the ledger database {redacted(getattr(args, 'url', '') or '')}: {_short(error)}",
                  file=sys.stderr)
        return 2

    return wrapped


def _url(args: argparse.Namespace, *, existing: bool) -> str:
    """The URL of the command (or PROMO_LEDGER_URL), checked; with `existing`, an SQLite file
    must be there already (a mistyped path is not a new empty ledger)."""
    from sqlalchemy.engine import make_url

    from server.ledger.database import normalize_url

    url = args.url or os.environ.get(ENV)
    if not url:
        raise Refused(f"give the ledger's URL (sqlite:///path.db or postgresql://…), or set {ENV}")
    args.url = url
    normalize_url(url)  # InvalidArgument: not a URL the ledger runs on
    parsed = make_url(url)
    if existing and parsed.drivername == "sqlite" and not Path(str(parsed.database)).exists():
        raise Refused(f"no ledger at `{parsed.database}` (`promo ledger migrate {url}` creates one)")
    return url


def _at_head(url: str) -> None:
    from server.ledger.migrate import head, revision

    found, needed = revision(url), head()
    if found == needed:
        return
    if found is None:
        raise Refused(f"{redacted(url)} holds no ledger: run `promo ledger migrate {redacted(url)}`")
    raise Refused(f"the ledger at {redacted(url)} is at revision {found}, this promo needs {needed}: "
                  f"run `promo ledger migrate {redacted(url)}`")


# ---- promo serve --------------------------------------------------------------------------------


def serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ledger", metavar="URL", default=os.environ.get(ENV) or DEFAULT_URL,
                   help=f"the ledger's database: sqlite:///path.db or postgresql://… (default: ${ENV}, else "
                        f"{DEFAULT_URL} in the working directory); created if new, never migrated silently")
    p.add_argument("--no-ledger", action="store_true", help="serve pricing only, without LedgerService")


def serve_ledger(args: argparse.Namespace) -> str | None:
    """The ledger URL `promo serve` serves (None with --no-ledger): a new database is migrated
    now, one at another revision refused (SystemExit 2 after the message)."""
    if args.no_ledger:
        return None
    code = guarded(lambda a: _prepare(a.ledger))(argparse.Namespace(url=args.ledger, ledger=args.ledger))
    if code:
        raise SystemExit(code)
    return str(args.ledger)


def _prepare(url: str) -> int:
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from server.ledger.migrate import head, migrate, revision

    normalize = _url(argparse.Namespace(url=url), existing=False)
    parsed = make_url(normalize)
    if parsed.drivername == "sqlite":
        folder = Path(str(parsed.database)).resolve().parent
        if not folder.is_dir():
            raise Refused(f"--ledger {url}: the folder `{folder}` does not exist")
    found = revision(url)
    if found == head():
        return 0
    if found is not None:
        raise Refused(f"the ledger at {redacted(url)} is at revision {found}, this promo needs {head()}: "
                      f"run `promo ledger migrate {redacted(url)}` (or serve with --no-ledger)")
    from server.ledger.database import connect

    engine = connect(url, pool_size=1)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise Refused(f"{redacted(url)} holds tables but no ledger ({', '.join(sorted(tables)[:5])}): "
                      "give an empty database or a ledger's")
    migrate(url)  # new: created at the head revision
    return 0


# ---- promo ledger -------------------------------------------------------------------------------


def _migrate(args: argparse.Namespace) -> int:
    from server.ledger.migrate import migrate, revision

    url = _url(args, existing=False)
    before = revision(url)
    after = migrate(url)
    if before == after:
        print(f"{redacted(url)}: at revision {after}, nothing to do")
    else:
        print(f"{redacted(url)}: migrated from {before or 'an empty database'} to revision {after}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from server.ledger.audit import verify

    url = _url(args, existing=True)
    _at_head(url)
    report = verify(url)
    if args.json:
        print(json.dumps({
            "ok": report.ok, "counters": report.counters, "entries": report.entries,
            "drift": [{"promotion": d.key.promotion, "metric": str(d.key.metric), "subject": d.key.subject,
                       "period": d.key.period, "stored": d.stored, "entries": d.entries} for d in report.drift],
            "problems": list(report.problems)}, ensure_ascii=False, indent=2))
        return 0 if report.ok else 1
    console = stdout_console()
    if report.drift:
        found = table(console, ("promotion", "metric", "subject", "period", "stored", "from entries"),
                      right=("stored", "from entries"), title=f"counters that drifted ({len(report.drift)})")
        for d in report.drift:
            found.add_row(d.key.promotion, str(d.key.metric), d.key.subject, d.key.period, str(d.stored),
                          str(d.entries))
        console.print(found)
    for problem in report.problems:
        console.print(f"problem: {problem}")
    verdict = "no drift" if report.ok else f"{len(report.drift)} drifted, {len(report.problems)} problems"
    console.print(f"{redacted(url)}: {report.counters} counters, {report.entries} entries recomputed: {verdict}")
    return 0 if report.ok else 1


def _amount(value: int, metric: str, digits: int) -> str:
    from engine.base.money import format_money

    return format_money(value, digits) if metric == "spend" else str(value)


def _show(args: argparse.Namespace) -> int:
    from server.ledger.audit import show

    url = _url(args, existing=True)
    _at_head(url)
    summary = show(url, args.promotion)
    counters = [{"promotion": row.key.promotion, "metric": str(row.key.metric),
                 "buyer": row.key.subject, "period": row.key.period.partition(":")[0],
                 "key": row.key.period.partition(":")[2],
                 **{name: _amount(value, str(row.key.metric), args.digits)
                    for name, value in (("used", row.used), ("held", row.held), ("cap", row.cap))}}
                for row in summary.counters]
    codes = [{"coupon": coupon, "issued": issued, "used": used} for coupon, (issued, used) in summary.codes.items()]
    if args.json:
        print(json.dumps({"reservations": summary.reservations, "counters": counters, "codes": codes},
                         ensure_ascii=False, indent=2))
        return 0
    console = stdout_console()
    states = table(console, ("state", "reservations"), right=("reservations",), title="reservations")
    for state, n in summary.reservations.items():
        states.add_row(state, str(n))
    console.print(states)
    shown = table(console, ("promotion", "metric", "buyer", "period", "used", "held", "cap"),
                  right=("used", "held", "cap"), title=f"counters ({len(counters)}; used counts held and committed)")
    for c in counters:
        shown.add_row(c["promotion"], c["metric"], c["buyer"] or "(all)",
                      f"{c['period']} {c['key']}" if c["period"] else "(all time)", c["used"], c["held"], c["cap"])
    console.print(shown)
    if codes:
        issued = table(console, ("coupon", "codes issued", "used or held"), right=("codes issued", "used or held"),
                       title="codes")
        for coupon, (n, used) in summary.codes.items():
            issued.add_row(coupon, str(n), str(used))
        console.print(issued)
    return 0


# ---- promo stats --------------------------------------------------------------------------------


def _instant_us(text: str | None, field: str, timezone: str = "UTC") -> int | None:
    """An ISO-8601 date or time; without an offset, in `timezone`."""
    from datetime import datetime

    from server.ledger.clock import to_us
    from server.ledger.periods import zone

    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(f"--{field}: `{text}` is not an ISO-8601 date or time") from None
    return to_us(at if at.tzinfo is not None else at.replace(tzinfo=zone(timezone)))


class _Ruleset:
    """What `promo stats --rules PATH` takes from the ruleset: its timezone, currency digits,
    presale stocks and promotions' budget clauses."""

    def __init__(self, path: str) -> None:
        from engine.lang.load import load_ruleset
        from engine.plan.compiler import compile_plan

        if not Path(path).exists():
            raise Refused(f"--rules {path}: no such file or folder")
        loaded = load_ruleset(path)
        if not loaded.sources:
            raise Refused(f"--rules {path}: no .promo files (directly in it)")
        if not loaded.ok:
            raise Refused(f"--rules {path}: the ruleset has errors (see `promo check {path}`)")
        self.plan = compile_plan(loaded)
        self.timezone = str(self.plan.timezone)
        self.digits = self.plan.digits

    def budgets(self, promotion: str) -> Any:
        """Its budget clauses as the ledger spells them (none without one); None: not in the ruleset."""
        from server.service.ledger_pricer import clauses

        found = self.plan.by_name.get(promotion)
        return None if found is None else clauses(found).budgets

    def stock(self, presale: str) -> int | None:
        return next((x.stock for x in self.plan.presales if x.name == presale), None)


def _stats(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from server.cli import stats_page
    from server.ledger.database import connect, reading
    from server.ledger.stats import (
        DEFAULT_TIMEZONE,
        presale_stats,
        promotion_json,
        promotion_stats,
        recorded_timezone,
        stats_json,
    )

    if bool(args.promotion) == bool(args.presale):
        raise Refused("give --promotion NAME or --presale NAME (one of them)")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".html", ".htm"):
        raise Refused(f"--out {args.out}: the page is an .html file")
    if out is not None and not out.parent.is_dir():
        raise Refused(f"--out {args.out}: the folder `{out.parent}` does not exist")
    ruleset = _Ruleset(args.rules) if args.rules else None
    digits = args.digits if args.digits is not None else ruleset.digits if ruleset else 2
    _instant_us(args.start, "from"), _instant_us(args.end, "to")  # checked before the ledger is opened
    args.url = args.ledger
    url = _url(args, existing=True)
    _at_head(url)
    engine = connect(url, pool_size=1)
    try:
        with reading(engine) as conn:
            # the days' timezone: the ruleset's, else the one the ledger recorded on the latest order, else UTC
            whose = {"promotion": args.promotion} if args.promotion else {"presale": args.presale}
            timezone = ruleset.timezone if ruleset else recorded_timezone(conn, **whose) or DEFAULT_TIMEZONE
            bounds = _instant_us(args.start, "from", timezone), _instant_us(args.end, "to", timezone)
            if args.promotion:
                budgets = ruleset.budgets(args.promotion) if ruleset else None
                found = promotion_stats(conn, args.promotion, *bounds, timezone=timezone, budgets=budgets,
                                        now=datetime.now(UTC))
                data = promotion_json(found, digits)
            else:
                stock = ruleset.stock(args.presale) if ruleset else None
                data = stats_json(presale_stats(conn, args.presale, *bounds, stock, timezone=timezone), digits)
    finally:
        engine.dispose()
    if out is not None:
        meta = {"ledger": redacted(url), "from": args.start, "to": args.end,
                "generated": datetime.now(UTC).isoformat(timespec="seconds")}
        out.write_text(stats_page.page(data, meta), encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    console = stdout_console()
    kind = "promotion" if args.promotion else "presale"
    shown = table(console, ("figure", "value"), right=("value",), title=f"{kind} {data[kind]}")
    for name, value in (_promotion_rows(data) if args.promotion else _presale_rows(data)):
        shown.add_row(name, "-" if value is None else str(value))
    console.print(shown)
    days = data["days"]
    if args.promotion:
        daily = table(console, ("day", "orders", "spend", "GMV", "average order value"),
                      right=("orders", "spend", "GMV", "average order value"), title=f"per day ({data['timezone']})")
        for d in days:
            daily.add_row(d["day"], str(d["orders"]), d["spend"], d["gmv"], d["average_order_value"] or "-")
    else:
        daily = table(console, ("day", "deposits paid", "units", "deposits (amount)", "balances paid",
                                "balances (amount)"),
                      right=("deposits paid", "units", "deposits (amount)", "balances paid", "balances (amount)"),
                      title=f"per day ({data['timezone']})")
        for d in days:
            daily.add_row(d["day"], str(d["deposits"]["orders"]), str(d["deposits"]["units"]), d["deposits"]["amount"],
                          str(d["balances_paid"]["orders"]), d["balances_paid"]["amount"])
    if days:
        console.print(daily)
    return 0


def _promotion_rows(data: dict) -> list[tuple[str, Any]]:
    rows = [("uses", data["uses"]), ("orders", data["orders"]), ("spend", data["spend"]), ("GMV", data["gmv"]),
            ("average order value", data["average_order_value"]),
            ("returned in full (not counted)", data["returned"]), ("cancelled (not counted)", data["cancelled"])]
    for b in data["budgets"]:
        which = "budget" if b["period"] == "total" else f"budget per {b['period']} ({b['key']})"
        rows += [(which, b["budget"]), (f"{which}: used", b["used"]), (f"{which}: held", b["held"]),
                 (f"{which}: left", b["left"])]
    return rows


def _presale_rows(data: dict) -> list[tuple[str, Any]]:
    deposits, balances, forfeited = data["deposits"], data["balances_paid"], data["forfeited"]
    return [("deposits paid (orders)", deposits["orders"]), ("deposits paid (units)", deposits["units"]),
            ("deposits paid (amount)", deposits["amount"]), ("deposits held", deposits["held"]),
            ("balances paid", balances["orders"]), ("balances (amount)", balances["amount"]),
            ("conversion", data["conversion"]), ("forfeited (orders)", forfeited["orders"]),
            ("forfeited deposits", forfeited["deposits"]), ("cancelled", data["cancelled"]),
            ("returned in full (not counted)", data["returned"]),
            ("GMV", data["gmv"]), ("average order value", data["average_order_value"]),
            ("stock", data["stock"]), ("sold", data["sold"]), ("stock left", data["stock_left"])]


# ---- promo codes --------------------------------------------------------------------------------


def _issue(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy.exc import SQLAlchemyError

    from server.ledger.ledger import Ledger

    url = _url(argparse.Namespace(url=args.ledger), existing=True)
    args.url = url
    key = args.key or f"codes-{uuid.uuid4().hex}"
    out = Path(args.out) if args.out and args.out != "-" else None
    if out is not None and not out.parent.is_dir():
        raise Refused(f"--out {args.out}: the folder `{out.parent}` does not exist")
    with Ledger(url, pool_size=1) as ledger:
        codes = ledger.issue_codes(args.coupon, args.count, key, prefix=args.prefix, length=args.length)
        err = Console(stderr=True, highlight=False)
        written = 0
        target = open(out, "w", newline="", encoding="utf-8") if out is not None else sys.stdout
        try:
            rows = csv.writer(target)
            rows.writerow(["code", "coupon"])
            with Progress(TextColumn("issuing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=err, disable=out is None or args.quiet) as progress:
                task = progress.add_task("issue", total=args.count)
                try:
                    for code in codes:
                        rows.writerow([code, args.coupon])
                        written += 1
                        if written % 1000 == 0:
                            progress.update(task, completed=written)
                except (LedgerError, SQLAlchemyError):
                    print(f"error: stopped after {written} codes; `--key {key}` issues the rest (and writes "
                          "all of them again)", file=sys.stderr)
                    raise
                progress.update(task, completed=written)
        finally:
            if out is not None:
                target.close()
    where = f" -> {out}" if out is not None else ""
    print(f"{written} codes for `{args.coupon}`{where} (key {key}: the same --key writes them again)", file=sys.stderr)
    return 0


# ---- the parsers --------------------------------------------------------------------------------


def _with_url(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", nargs="?", metavar="URL",
                   help=f"sqlite:///path.db or postgresql://user@host/db (default: ${ENV})")


def register(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """`promo ledger …` and `promo codes …` on the command's subparsers."""
    make = lambda **kw: argparse.ArgumentParser(formatter_class=formatter, **kw)  # noqa: E731

    p = sub.add_parser("ledger", help="the ledger's database: migrate, verify, show (docs/ledger.md)")
    commands = p.add_subparsers(dest="ledger_command", metavar="{migrate,verify,show}", required=True,
                                parser_class=make)
    q = commands.add_parser("migrate", help="create the ledger's tables or bring them to this promo's revision")
    _with_url(q)
    q.set_defaults(run=guarded(_migrate))
    q = commands.add_parser("verify", help="recompute every counter from its entries and report any drift (exit 1)")
    _with_url(q)
    q.add_argument("--json", action="store_true", help="print the report as JSON")
    q.set_defaults(run=guarded(_verify))
    q = commands.add_parser("show", help="reservations by state, every counter (used, held, cap), codes issued")
    _with_url(q)
    q.add_argument("--json", action="store_true", help="print it as JSON")
    q.add_argument("--promotion", help="only this promotion's counters and codes")
    q.add_argument("--digits", type=int, default=2, help="the currency's minor digits, for amounts (0 for JPY)")
    q.set_defaults(run=guarded(_show))

    p = sub.add_parser("stats", help="figures from the ledger: a promotion's uses, spend, GMV, average order "
                                     "value, budgets per day, or a presale's deposits, balances, conversion, "
                                     "forfeited deposits, stock left (docs/ledger.md)")
    p.add_argument("--ledger", metavar="URL", default=None, help=f"the ledger's database (default: ${ENV})")
    p.add_argument("--promotion", help="a promotion's figures")
    p.add_argument("--presale", help="a presale's figures")
    p.add_argument("--from", dest="start", metavar="T",
                   help="a promotion's orders whose time (`at`) is, a presale's parents opened, at or after T "
                        "(ISO-8601; without an offset, in the days' timezone)")
    p.add_argument("--to", dest="end", metavar="T", help="… before T (ISO-8601)")
    p.add_argument("--rules", metavar="PATH",
                   help="the ruleset: its timezone for the days, its currency's digits, a promotion's budgets, a "
                        "presale's stock (default: the timezone the ledger recorded on the latest order, else UTC; "
                        "budgets and stock from the ledger's counters)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--out", metavar="PAGE.html",
                   help="also write them as one self-contained HTML page with a per-day chart (offline, phone-ready)")
    p.add_argument("--digits", type=int, default=None,
                   help="the currency's minor digits, for amounts (default: the ruleset's with --rules, else 2)")
    p.set_defaults(run=guarded(_stats))

    p = sub.add_parser("codes", help="single-use codes of a coupon (docs/ledger.md)")
    commands = p.add_subparsers(dest="codes_command", metavar="{issue}", required=True, parser_class=make)
    q = commands.add_parser("issue", help="issue new single-use codes for a coupon and write them as CSV")
    q.add_argument("coupon", help="the coupon's name")
    q.add_argument("--count", type=int, required=True, help="how many codes (1 to 1,000,000)")
    q.add_argument("--prefix", default="", help="characters every code starts with")
    q.add_argument("--length", type=int, default=12, help="random characters and the check character, 6 to 32")
    q.add_argument("--ledger", metavar="URL", default=None, help=f"the ledger's database (default: ${ENV})")
    q.add_argument("--out", help="the CSV file to write (code,coupon); default: standard output")
    q.add_argument("--key", help="idempotency key: the same key writes the codes it issued again, and issues the "
                                 "rest of a cut-short run (default: a new key, printed at the end)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    q.set_defaults(run=guarded(_issue))
