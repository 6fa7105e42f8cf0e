"""The `promo` command: check, fmt (eval, test, serve and analyze come with their issues)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.diagnostics import render, to_json
from engine.load import load_ruleset
from engine.source import ruleset_roots


def _check(args) -> int:
    rulesets = [load_ruleset(root) for root in ruleset_roots(args.rules)]
    if not rulesets:
        print(f"error: no .promo files at `{args.rules}`", file=sys.stderr)
        return 2
    diagnostics = [d for loaded in rulesets for d in loaded.diagnostics]
    if args.format == "json":
        print(json.dumps([to_json(d) for d in diagnostics], ensure_ascii=False, indent=2))
    else:
        sources = {path: src for loaded in rulesets for path, src in loaded.sources.items()}
        for diag in diagnostics:
            print(render(diag, sources) + "\n")
        errors = sum(d.is_error for d in diagnostics)
        print(f"{len(rulesets)} rulesets, {len(sources)} files checked: "
              f"{errors} errors, {len(diagnostics) - errors} warnings")
    return 0 if all(loaded.ok for loaded in rulesets) else 1


def _fmt(args) -> int:
    from engine.formatter import format_paths

    return format_paths(args.rules, check=args.check, diff=args.diff)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="promo", description="promotion rules engine")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="parse and type-check rule files")
    p.add_argument("rules", help="a .promo file or a directory of them")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(run=_check)

    p = sub.add_parser("fmt", help="rewrite rule files in canonical layout")
    p.add_argument("rules")
    p.add_argument("--check", action="store_true", help="exit 1 if any file would change")
    p.add_argument("--diff", action="store_true", help="print a diff instead of rewriting")
    p.set_defaults(run=_fmt)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not Path(args.rules).exists():
        print(f"error: `{args.rules}` does not exist", file=sys.stderr)
        return 2
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
