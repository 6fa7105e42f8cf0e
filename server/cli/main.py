"""The `promo` command: check, fmt, eval, qualify, test, serve, analyze."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from datetime import UTC
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from engine.apps.qualify import qualify
from engine.apps.ruletest import rule_tests, run_tests
from engine.base.enums import Explain
from engine.base.request import Request
from engine.lang.diagnostics import render
from engine.lang.load import load_ruleset
from engine.lang.source import read_sources, ruleset_roots
from engine.plan.compiler import compile_plan
from engine.plan.plan import Plan
from engine.pricing.limits import BUDGET
from engine.pricing.quote import evaluate
from engine.wire.decode import RequestError, request_from_json
from engine.wire.encode import qualification_to_json, quote_to_json, row_to_json, to_json
from server.cli import backtest as backtest_cli
from server.cli import exclude as exclude_cli
from server.cli import ledger as ledger_cli
from server.cli.tables import (
    print_qualification,
    print_quote,
    print_test_results,
    stdout_console,
    table,
)


def _roots(path: str) -> list[Path]:
    """The rulesets at or below `path`; none is an error the caller exits 2 on."""
    roots = ruleset_roots(path)
    if not roots:
        print(f"error: no .promo files at `{path}`", file=sys.stderr)
    return roots


def _check(args) -> int:
    rulesets = [load_ruleset(root) for root in _roots(args.rules)]
    if not rulesets:
        return 2
    diagnostics = [d for loaded in rulesets for d in loaded.diagnostics]
    if args.format == "json":
        print(json.dumps([to_json(d) for d in diagnostics], ensure_ascii=False, indent=2))
    else:
        sources = {path: src for loaded in rulesets for path, src in loaded.sources.items()}
        for diag in diagnostics:
            print(render(diag, sources) + "\n")
        errors = sum(d.is_error for d in diagnostics)
        print(f"{_count(len(rulesets), 'ruleset')}, {_count(len(sources), 'file')} checked: "
              f"{_count(errors, 'error')}, {_count(len(diagnostics) - errors, 'warning')}")
    return 0 if all(loaded.ok for loaded in rulesets) else 1


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _fmt(args) -> int:
    from server.cli.fmt import format_paths

    return format_paths(args.rules, check=args.check, diff=args.diff)


def _plan(rules: str):
    """The compiled plan of one ruleset, or None after printing why there is none."""
    loaded = _loaded(rules)
    return compile_plan(loaded) if loaded is not None else None


def _loaded(rules: str):
    """One ruleset without errors, loaded, or None after printing why there is none."""
    loaded = load_ruleset(rules)
    if not loaded.sources:  # a directory of rulesets, such as examples/, is not one ruleset
        roots = ruleset_roots(rules)
        below = ", ".join(f"`{root}`" for root in roots[:3]) + (", …" if len(roots) > 3 else "")
        print(f"error: no .promo files directly in `{rules}`" + (f" (rulesets below it: {below})" if roots else ""),
              file=sys.stderr)
        return None
    if not loaded.ok:
        for diag in loaded.diagnostics:
            print(render(diag, loaded.sources) + "\n", file=sys.stderr)
        print(f"error: the ruleset `{rules}` has errors (see `promo check {rules}`)", file=sys.stderr)
        return None
    return loaded


def _read_request(path: str, plan: Plan, explain: Explain | None = None) -> Request | None:
    """The request in `path` (`-`: stdin), or None after saying what is wrong with it. `explain`
    replaces the request's explain mode."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        data = json.loads(raw.decode("utf-8"), parse_constant=_not_json)
        if explain is None:
            return request_from_json(data, plan.digits, plan.timezone)
        if isinstance(data, dict):
            data.pop("explain", None)
        return replace(request_from_json(data, plan.digits, plan.timezone), explain=explain)
    except RequestError as err:
        print(f"error: {path}: field `{err.field}`: {err.message}", file=sys.stderr)
    # ValueError: not JSON, or an integer past Python's 4,300 digits; RecursionError: nested too deep
    except (OSError, ValueError, RecursionError) as err:
        print(f"error: cannot read `{path}`: {err}", file=sys.stderr)
    return None


def _not_json(constant: str):
    # json.loads takes NaN and Infinity; JSON (and the proto3 JSON parser) does not
    raise ValueError(f"`{constant}` is not a JSON value")


def _eval(args) -> int:
    plan = _plan(args.rules)
    if plan is None:
        return 2
    request = _read_request(args.cart, plan, Explain(args.explain) if args.explain else None)
    if request is None:
        return 2
    quote = evaluate(plan, request)
    if args.json:
        print(json.dumps(quote_to_json(quote), ensure_ascii=False, indent=2))
    else:
        print_quote(quote, stdout_console())
    return 0


def benefit_at(args) -> int:
    plan = _plan(args.rules)
    if plan is None:
        return 2
    request = _read_request(args.cart, plan)
    if request is None:
        return 2
    result = qualification_to_json(qualify(plan, request), operator=args.operator)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_qualification(result, stdout_console())
    return 0


def _test(args) -> int:
    roots = _roots(args.rules)
    if not roots:
        return 2
    outcomes = []
    for root in roots:
        loaded = _loaded(str(root))
        if loaded is None:
            return 2
        outcomes += run_tests(compile_plan(loaded), rule_tests(loaded.files), explain=args.explain)
    print_test_results(outcomes, stdout_console(), args.explain)
    return 0 if all(o.passed for o in outcomes) else 1


def _serve(args) -> int:
    from server.service.app import TLS, Settings, run_workers

    try:
        tls = TLS.load(args.tls_cert, args.tls_key, args.tls_client_ca)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    bounds = {"--metrics-port": (args.metrics_port, 0, 65535),
              "--decision-log-max-bytes": (args.decision_log_max_bytes, 1, None),
              "--decision-log-keep": (args.decision_log_keep, 0, None)}
    for flag, (number, least, most) in bounds.items():
        if number is not None and (number < least or (most is not None and number > most)):
            print(f"error: {flag} {number}: must be at least {least}" + (f" and at most {most}" if most else ""),
                  file=sys.stderr)
            return 2
    if args.clock_file is not None:
        from server.ledger.clock import FileClock

        try:
            FileClock(args.clock_file)  # checked now: each worker opens its own
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    settings = Settings(host=args.host, port=args.port, max_lines=args.max_lines,
                        max_message_bytes=args.max_message_bytes, max_wallet=args.max_wallet,
                        max_source_bytes=args.max_source_bytes, max_diagnostics=args.max_diagnostics,
                        max_response_bytes=args.max_response_bytes, max_call_seconds=args.max_call_seconds,
                        search_budget=args.search_budget, threads=args.threads,
                        grace=args.grace, log_format=args.log_format, log_level=args.log_level,
                        reflection=not args.no_reflection, tls=tls,
                        ledger=ledger_cli.serve_ledger(args),  # migrated if new, refused if older (exit 2)
                        metrics_port=args.metrics_port, decision_log=args.decision_log,
                        decision_log_max_bytes=args.decision_log_max_bytes, decision_log_keep=args.decision_log_keep,
                        clock_file=args.clock_file)
    return run_workers(args.rules, settings, args.workers)


def _lsp(args) -> int:
    from server.lsp.server import main as serve_lsp

    return serve_lsp()


def _analyze(args) -> int:
    """Price warnings (促销预警) for a catalog: docs/analyze.md."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from engine.apps.analyze.cluster import analyze_on_cluster
    from engine.apps.analyze.pool import analyze_catalog
    from engine.apps.analyze.scenarios import Options
    from engine.apps.catalog import CatalogFormatError, count_rows, read_catalog
    from engine.base.request import User
    from engine.wire.decode import parse_datetime
    from server.cli.report import exclude_context, open_report

    plan = _plan(args.rules)
    if plan is None:
        return 2
    if not Path(args.catalog).exists():
        print(f"error: `{args.catalog}` does not exist", file=sys.stderr)
        return 2
    try:
        at = parse_datetime(args.at, "--at", plan.timezone) if args.at else None
    except RequestError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    from datetime import datetime

    at = at or datetime.now(UTC)
    options = Options(at=at, max_units=args.max_units, user=User(id="analyze", level=args.user_level),
                      channel=args.channel, what_ifs="none" if args.no_what_ifs else args.what_ifs)
    meta = {"ruleset": {"name": plan.name, "revision": plan.revision}, "currency": plan.currency,
            "stacking": plan.stacking, "at": at.astimezone(plan.timezone).isoformat()}
    try:
        report = open_report(args.out, meta, exclude=exclude_context(args, at)) if args.out else None
        total = count_rows(args.catalog)
        rows = read_catalog(args.catalog, plan.digits)
        err_console = Console(stderr=True, highlight=False)
        shown: list[dict[str, Any]] = []
        with Progress(TextColumn("analyzing"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[below]} below"),
                      TimeRemainingColumn(), console=err_console, disable=args.quiet) as progress:
            task = progress.add_task("analyze", total=total, below=0)
            below = 0
            found = (analyze_on_cluster(args.scheduler, tuple(read_sources(args.rules)), rows, options, row_to_json)
                     if args.scheduler else analyze_catalog(args.rules, plan, rows, options, row_to_json,
                                                            processes=args.processes))
            for obj in found:
                if "error" in obj:
                    err_console.print(f"{args.catalog}:{obj['row']}: bad row skipped: {obj['error']}", markup=False,
                                      soft_wrap=True)
                else:
                    below += obj["below_warning"]
                    if report is None and obj["below_warning"] and len(shown) < 1000:
                        shown.append(obj)
                if report is not None:
                    report.add(obj)
                progress.update(task, advance=1, below=below)
    except (CatalogFormatError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if report is not None:
        report.close()
        s = report.summary()
        print(f"{s['skus']} SKUs analyzed, {s['below_warning']} below their warning line, "
              f"{s['bad_rows']} bad rows skipped -> {args.out}")
    else:
        from server.cli.report import scenario_text, what_if_text

        console = stdout_console()
        below_table = table(console, ("sku", "shop", "price", "lowest", "warning", "scenario", "causes", "what-ifs"),
                      title=f"SKUs below their warning line ({below})")
        for f in shown:
            below_table.add_row(f["sku"], f["shop"], f["price"], f["lowest_price"], f["warning"]["price"],
                          scenario_text(f["best"]),
                          ", ".join(f"{s['promotion']} {s['share']}%" for s in f["best"]["shares"]),
                          "; ".join(what_if_text(w) for w in f["what_ifs"]))
        console.print(below_table)
    return 1 if args.fail_below and below else 0


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none or already names it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default is None or default is False or default == ""
                or default is argparse.SUPPRESS or "default" in text):
            return text
        return f"{text} (default: %(default)s)".lstrip()



class _Parser(argparse.ArgumentParser):
    """A subcommand's parser: the same help layout as the command's."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(formatter_class=_HelpFormatter, **kw)


def _version() -> str:
    try:
        return metadata.version("promo")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promo", description="promotion rules engine", formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=_Parser)

    p = sub.add_parser("check", help="parse and type-check rule files")
    p.add_argument("rules", help="a .promo file or a directory of them")
    p.add_argument("--format", choices=["text", "json"], default="text", help="diagnostics as text or as a JSON list")
    p.set_defaults(run=_check)

    p = sub.add_parser("fmt", help="rewrite rule files in canonical layout")
    p.add_argument("rules", help="a .promo file or a directory of them")
    p.add_argument("--check", action="store_true", help="exit 1 if any file would change")
    p.add_argument("--diff", action="store_true", help="print a diff instead of rewriting")
    p.set_defaults(run=_fmt)

    p = sub.add_parser("eval", help="price one cart")
    p.add_argument("rules")
    p.add_argument("cart", help="an EvaluateRequest as JSON (service.md); - reads it from stdin")
    p.add_argument("--json", action="store_true", help="print the EvaluateResponse JSON")
    p.add_argument("--explain", choices=[mode.value for mode in Explain], help="override the request's explain mode")
    p.set_defaults(run=_eval)

    p = sub.add_parser("qualify", help="which wallet coupons this cart can use, what each saves, or why not")
    p.add_argument("rules")
    p.add_argument("cart", help="an EvaluateRequest as JSON; its wallet is qualified; - reads it from stdin")
    p.add_argument("--json", action="store_true", help="print the QualifyResponse JSON")
    p.add_argument("--operator", action="store_true", help="add operator detail to the customer-safe messages")
    p.set_defaults(run=benefit_at)

    p = sub.add_parser("test", help="run the test blocks of rule files")
    p.add_argument("rules")
    p.add_argument("--explain", action="store_true", help="show the quote and trace of failing tests")
    p.set_defaults(run=_test)

    p = sub.add_parser("serve", help="the gRPC service (docs/service.md); reloads when the rule files change")
    p.add_argument("rules")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this machine only; [::] or 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=50051, help="0 picks a free port (logged as `listening`)")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    p.add_argument("--threads", type=int, default=8, help="handler threads per process")
    p.add_argument("--max-lines", type=int, default=10_000, help="lines per cart; more is RESOURCE_EXHAUSTED")
    p.add_argument("--max-message-bytes", type=int, default=4 * 1024 * 1024,
                   help="largest request; more is RESOURCE_EXHAUSTED")
    p.add_argument("--max-wallet", type=int, default=1_000,
                   help="coupons per wallet (repeated entries count once); more is RESOURCE_EXHAUSTED")
    p.add_argument("--max-source-bytes", type=int, default=1024 * 1024,
                   help="ValidateRules source per call (paths and texts); more is RESOURCE_EXHAUSTED")
    p.add_argument("--max-diagnostics", type=int, default=100,
                   help="ValidateRules diagnostics answered, the first ones (diagnostics_total counts all)")
    p.add_argument("--max-response-bytes", type=int, default=16 * 1024 * 1024,
                   help="largest answer; larger is RESOURCE_EXHAUSTED")
    p.add_argument("--max-call-seconds", type=float, default=10.0,
                   help="the engine's time for one call when the client's deadline is later or unset")
    p.add_argument("--search-budget", type=int, default=BUDGET,
                   help="choices one coupon search prices before it answers the best set found (optimal: false)")
    p.add_argument("--grace", type=float, default=10.0, help="seconds in-flight calls get to finish on SIGTERM")
    p.add_argument("--log-format", choices=["json", "console"], default="json")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info",
                   help="health checks are logged at debug")
    p.add_argument("--tls-cert", help="PEM certificate chain: serve TLS instead of plaintext (with --tls-key)")
    p.add_argument("--tls-key", help="PEM private key of --tls-cert")
    p.add_argument("--tls-client-ca", help="PEM CA: require client certificates it signed (mutual TLS)")
    p.add_argument("--no-reflection", action="store_true", help="no server reflection (production)")
    ledger_cli.serve_options(p)  # --ledger URL | --no-ledger
    p.add_argument("--metrics-port", type=int, metavar="P",
                   help="serve Prometheus /metrics on --host:P (0 picks a free port, logged as `metrics_listening`)")
    p.add_argument("--decision-log", metavar="PATH",
                   help="one JSON line per Evaluate/Reserve answered (with --workers N: PATH.worker-1 ... PATH.worker-N)")
    p.add_argument("--decision-log-max-bytes", type=int, default=100 * 1024 * 1024,
                   help="a decision log file's size before it is rotated to PATH.1 (default 100 MiB)")
    p.add_argument("--decision-log-keep", type=int, default=5, help="rotated decision log files kept (default 5)")
    # for tests only, so not in --help: now is the ISO-8601 instant in PATH, re-read when the file
    # changes (docs/ledger.md "A fake clock for tests")
    p.add_argument("--clock-file", metavar="PATH", help=argparse.SUPPRESS)
    p.set_defaults(run=_serve)

    p = sub.add_parser("lsp", help="the language server for .promo files, over stdio (editors/vscode starts it)")
    p.set_defaults(run=_lsp)

    p = sub.add_parser("analyze", help="price warnings (促销预警): each SKU's lowest reachable price, causes, what-ifs")
    p.add_argument("rules")
    p.add_argument("catalog", help="CSV or JSON Lines: sku, shop, category, brand, tags, price, warning_price, cost, ad_cost")
    p.add_argument("--at", help="when (ISO-8601; without offset in the ruleset timezone); default now")
    p.add_argument("--out", help="report.html | report.csv | report.json (default: a table of the SKUs below their line)")
    p.add_argument("--max-units", type=int, default=3, help="buy 1..K units (alone, with filler, as K orders)")
    p.add_argument("--user-level", type=int, default=0, help="the buyer's user.level")
    p.add_argument("--channel", default="", help="the buyer's channel")
    p.add_argument("--processes", type=int, default=0, help="worker processes (default: one per core)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler (tcp://host:8786): analyze there")
    p.add_argument("--what-ifs", choices=["all", "below", "none"], default="all",
                   help="for which SKUs to price the removal and stacking what-ifs (each one repeats the search)")
    p.add_argument("--no-what-ifs", action="store_true", help="= --what-ifs none")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--fail-below", action="store_true", help="exit 1 when any SKU is below its warning line (a CI gate)")
    p.set_defaults(run=_analyze)
    exclude_cli.register(sub)  # promo exclude (一键剔除)
    ledger_cli.register(sub, _HelpFormatter)  # promo ledger migrate|verify|show, promo codes issue
    backtest_cli.register(sub, _HelpFormatter)  # promo backtest (docs/backtest.md)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # bare `promo`
        parser.print_help()
        return 0
    if getattr(args, "rules", None) is not None and not Path(args.rules).exists():
        print(f"error: `{args.rules}` does not exist", file=sys.stderr)
        return 2
    try:
        code = args.run(args)
        sys.stdout.flush()  # inside the try: a closed pipe may only show at the flush
        return code
    except BrokenPipeError:  # the reader left (`promo eval … --json | head`): exit 1 quietly, as rich's tables do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit is quiet too
        return 1


