"""Every message the front end says about a rule file: one function per message, beside its code
(as cel-go's checker/errors.go).

The parser, the checker's passes and lints, and the loader say what is wrong by calling these;
none of them writes message text of its own (tests/lang/test_messages.py reads their syntax trees
to make sure). Each function takes the facts (spans, names as written, types) and returns the
`Diagnostic`; showing it (snippet, caret, sorting) is `diagnostics.render`'s job. The style is
Cedar's: lower-case, no final period, user text in backticks, advice in `help`.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from engine.lang import ast
from engine.lang.diagnostics import INTERNAL_ERROR, Diagnostic, Label, diagnostic
from engine.lang.printer import expr_text
from engine.lang.source import Span

# ---- pieces of messages --------------------------------------------------------------------------


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A `help` line naming the closest known spelling, if one is close."""
    match = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean `{match[0]}`?" if match else None


def show(expr: object, limit: int = 40) -> str:
    """Short source-like text of an expression, for messages."""
    text = expr_text(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def a(t: str) -> str:
    """A type with its article, as a message says it: `an integer`, `a list of strings`."""
    if t.startswith("list["):
        return f"a list of {t[5:-1]}s" if t != "list[?]" else "a list"
    return {"integer": "an integer", "set": "a set of strings", "datetime": "a date-time",
            "bool": "a bool", "percent": "a percentage", "?": "unknown"}.get(t, f"a {t}")


def _decimals(n: int) -> str:
    return "1 decimal" if n == 1 else f"{n} decimals"


def _one_of(choices: Iterable[str]) -> str:
    return "one of " + ", ".join(f"`{c}`" for c in choices)


def written(num: ast.Number) -> str:
    return num.text or str(num.value)


# What a number stands for, in "... must be ..." messages (the `what` of the checker's value checks).
DISCOUNT = "a discount"
CAP = "a cap"
EVERY_STEP = "the `every` step"
DEPOSIT = "a deposit"
BALANCE_DISCOUNT = "a balance discount"
PRIORITY = "`priority`"
LIMIT = "a `limit`"
STOCK = "a presale's `stock`"
BUDGET = "a `budget`"
SPENT = "`spent`"
USED = "`used`"
NTH = "`nth`"
GIFT_QTY = "a gift's `qty`"
GROUP_MAX = "a group's `max`"
UNITS_SOLD = "units sold"
FLOOR = "a floor"
WARNING_LINE = "a warning line"


def field_name(name: str) -> str:
    """A test field as a `what`: `qty`."""
    return f"`{name}`"


# What an enumerated value is, in "unknown ... `x`".
STACKING_MODE = "stacking mode"
ROUNDING_MODE = "rounding mode"
ATTRIBUTE_TYPE = "attribute type"
LEVEL = "level"
LIMIT_PERIOD = "limit period"
PERIOD = "period"
STAGE = "stage"
REASON_CODE = "reason code"


# ---- syntax (parser) -------------------------------------------------------------------------------

# Readable names for the grammar's terminals, used in "expected ..." messages.
TERMINAL_NAMES = {
    "STRING": "a string",
    "NUMBER": "a number",
    "NAME": "a name",
    "DATETIME": "a date-time",
    "COMPARE": "a comparison",
    "ADD": "`+` or `-`",
    "EACH": "`each`",
    "$END": "end of file",
}


def terminal(name: str, literal: str | None) -> str:
    """How an expected terminal reads: its name, else its literal text, else its id."""
    if name in TERMINAL_NAMES:
        return TERMINAL_NAMES[name]
    if literal is not None:
        return f"`{literal}`"
    return name.lower()


def expected(descriptions: Iterable[str]) -> str:
    names = sorted(set(descriptions))
    if len(names) > 8:
        names = names[:8] + ["..."]
    return " or ".join(names) if len(names) <= 2 else "one of " + ", ".join(names)


def unclosed_block(span: Span, opened: Sequence[Span]) -> Diagnostic:
    labels = tuple(Label(s, "block opened here") for s in opened)
    help = "add `}`" if len(labels) <= 1 else f"add `}}` to close each of the {len(labels)} blocks opened here"
    return diagnostic("unclosed-block", span, "this block is not closed", help=help, labels=labels)


def unexpected_end(span: Span, wanted: str) -> Diagnostic:
    return diagnostic("syntax", span, f"unexpected end of block, expected {wanted}")


def unterminated_string(span: Span) -> Diagnostic:
    return diagnostic("unterminated-string", span, "this string is not closed on its line", help='add the closing `"`')


def unexpected_character(span: Span, char: str, wanted: str) -> Diagnostic:
    return diagnostic("syntax", span, f"unexpected character `{char}`, expected {wanted}")


def unexpected_token(span: Span, token: str, wanted: str, block_end: bool, help: str | None) -> Diagnostic:
    if block_end:
        return diagnostic("syntax", span, f"this block ends too early, expected {wanted}", help=help)
    return diagnostic("syntax", span, f"unexpected `{token}`, expected {wanted}", help=help)


def unquoted_string(span: Span, word: str, keyword: str | None, names_block: bool) -> Diagnostic:
    """`word` where a string literal must stand; `keyword` is the word before it, and
    `names_block` says whether it names a block (`promotion 满300减30 {`)."""
    what = f"the name of a {keyword}" if names_block else f"the value of `{keyword}`" if keyword else "this value"
    quoted = '"' + word.replace("\\", "\\\\") + '"'
    return diagnostic("unquoted-string", span, f"`{word}` is not quoted: {what} is a string literal",
                      help=f"write `{keyword} {quoted}`" if keyword else f"write `{quoted}`")


def nesting_too_deep(span: Span, limit: int) -> Diagnostic:
    return diagnostic("nesting-too-deep", span, f"this expression nests more than {limit} levels deep",
                      help="a chain of one operator (`a or b or c ...`) counts as one level however long, and so "
                           "does a list (`channel in [\"a\", \"b\"]`): write the condition with chains and lists")


# ---- the front end itself ------------------------------------------------------------------------

PARSER = "parser"
CHECKER = "checker"
NO_FILE = "<ruleset>"  # where a ruleset of no files is


def internal_error(path: str, stage: str, err: Exception) -> Diagnostic:
    """What a bug in the front end becomes, so no rule file ever makes `promo check` or
    ValidateRules crash: a diagnostic at the start of the file."""
    return diagnostic(INTERNAL_ERROR, Span(path, 1, 1, 1, 1), f"the {stage} failed on this file "
                      f"({type(err).__name__}): this is a bug in promo", help="please report it, with the file")


def file_too_large(path: str, size: int, limit: int) -> Diagnostic:
    return diagnostic("file-too-large", Span(path, 1, 1, 1, 2), f"the file is {size:,} bytes, more than the "
                      f"{limit:,} (8 MiB) one rule file may have",
                      help="split it into several .promo files: a ruleset is the files of one directory")


# ---- header and settings --------------------------------------------------------------------------


def second_ruleset(span: Span, name: str, first: Span) -> Diagnostic:
    return diagnostic("second-ruleset", span, f"a second `ruleset` header, `{name}`",
                      help=f"a ruleset has one header; the first is at {first}")


def unknown_currency(span: Span, code: str, known: Iterable[str]) -> Diagnostic:
    help = did_you_mean(code, known) or "an ISO-4217 code such as `CNY`"
    return diagnostic("unknown-value", span, f"unknown currency `{code}`", help=help)


def unknown_timezone(span: Span, name: str, known: Iterable[str]) -> Diagnostic:
    help = did_you_mean(name, known) or "an IANA time zone such as `Asia/Shanghai`"
    return diagnostic("unknown-value", span, f"unknown time zone `{name}`", help=help)


def unknown_value(span: Span, what: str, value: str, choices: Sequence[str]) -> Diagnostic:
    return diagnostic("unknown-value", span, f"unknown {what} `{value}`",
                      help=did_you_mean(value, choices) or _one_of(choices))


def group_declared_twice(span: Span, name: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-name", span, f"group `{name}` is declared twice",
                      help=f"the first declaration is at {first}")


def undeclarable(span: Span, path: str) -> Diagnostic:
    return diagnostic("unknown-attribute", span, f"`{path}` cannot be declared",
                      help="declare `line.<name>` or `user.<name>`")


def builtin_declared(span: Span, path: str) -> Diagnostic:
    return diagnostic("duplicate-name", span, f"`{path}` is a built-in attribute", help="choose another name")


def attribute_declared_twice(span: Span, path: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-name", span, f"attribute `{path}` is declared twice",
                      help=f"the first declaration is at {first}")


# ---- names and clauses of blocks ----------------------------------------------------------------


def name_taken(span: Span, name: str, kind: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-name", span, f"`{name}` is already the name of a {kind}",
                      help=f"names must be unique; the first is at {first}")


def undeclared_group(span: Span, name: str, declared: Iterable[str]) -> Diagnostic:
    help = did_you_mean(name, declared) or f"declare it in the ruleset header: `group \"{name}\" max 1`"
    return diagnostic("undeclared-group", span, f"group `{name}` is not declared", help=help)


def clause_twice(span: Span, keyword: str | None, block: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-clause", span, f"`{keyword or 'clause'}` is written twice in `{block}`",
                      help=f"keep one; the first is at {first}")


def same_limit_twice(span: Span, text: str, block: str, first: Span) -> Diagnostic:
    """Two `limit` (or `budget`) clauses of one block that count the same thing."""
    return diagnostic("duplicate-clause", span, f"`{text}` counts what another clause of `{block}` counts",
                      help=f"keep one; the first is at {first} (clauses that count other things, per user and"
                           " in total or over other periods, may stand together)")


def codes_on_promotion(span: Span, name: str) -> Diagnostic:
    return diagnostic("codes-on-promotion", span, f"`codes` on the automatic promotion `{name}`",
                      help="single-use codes redeem a coupon: write `coupon` instead of `promotion`, or drop `codes`")


def no_benefit(span: Span, kind: str, name: str) -> Diagnostic:
    return diagnostic("missing-benefit", span, f"{kind} `{name}` has no benefit",
                      help="add one benefit clause, e.g. `discount 10`")


def second_benefit(span: Span, kind: str, name: str, first: Span) -> Diagnostic:
    return diagnostic("multiple-benefits", span, f"a second benefit in `{name}`",
                      help=f"a {kind} has exactly one benefit; the first is at {first}")


def no_level(span: Span, kind: str, name: str) -> Diagnostic:
    return diagnostic("missing-clause", span, f"{kind} `{name}` has no `level`",
                      help="add `level item`, `level shop`, `level platform` or `level shipping`")


def free_shipping_off_level(span: Span, level: str) -> Diagnostic:
    return diagnostic("free-shipping-level", span, f"`free_shipping` at `level {level}`",
                      help="free shipping is a `level shipping` benefit")


def shipping_without_free_shipping(span: Span) -> Diagnostic:
    return diagnostic("free-shipping-level", span, "`level shipping` without `free_shipping`",
                      help="at level shipping the benefit is `free_shipping`")


def presale_without_price(span: Span, name: str) -> Diagnostic:
    return diagnostic("missing-clause", span, f"presale `{name}` has no `price`",
                      help="add `price M`, the presale price per unit")


def needs_deposit(span: Span, keyword: str) -> Diagnostic:
    return diagnostic("missing-clause", span, f"`{keyword}` without a `deposit`",
                      help="add `deposit M`, or remove this clause for a full-payment presale")


def deposit_without_balance_window(span: Span, name: str) -> Diagnostic:
    return diagnostic("missing-clause", span, f"presale `{name}` has a `deposit` but no `balance_window`",
                      help="add `balance_window A .. B`, when the balance is paid")


def guard_without_floor(span: Span, name: str) -> Diagnostic:
    return diagnostic("missing-clause", span, f"guard `{name}` has no `floor`",
                      help="add `floor 60%` (of list price) or `floor 9.90 each`")


def warning_without_below(span: Span, name: str) -> Diagnostic:
    return diagnostic("missing-clause", span, f"warning `{name}` has no `below`",
                      help="add `below 70%` (of list price) or `below 9.90 each`")


# ---- values -------------------------------------------------------------------------------------------


def money_precision(num: ast.Number, decimals: int, currency: str, digits: int) -> Diagnostic:
    unit = _decimals(digits) if digits else "no decimals"
    return diagnostic("money-precision", num.span,
                      f"`{written(num)}` has {_decimals(decimals)} but money in {currency} has {unit}",
                      help=f"write at most {digits} decimals" if digits else "write a whole amount")


def not_whole(num: ast.Number, what: str, minimum: int) -> Diagnostic:
    need = f"a whole number of at least {minimum}" if minimum else "a whole number"
    return diagnostic("invalid-number", num.span, f"{what} must be {need}, not `{written(num)}`")


def not_positive(num: ast.Number, what: str) -> Diagnostic:
    return diagnostic("invalid-number", num.span, f"{what} must be more than 0")


def count_not_whole(num: ast.Number) -> Diagnostic:
    return diagnostic("invalid-number", num.span, f"`{num.text}` is not a whole number",
                      help="counts (quantity, levels, units) are whole")


def not_a_zhe(span: Span, zhe: ast.Number) -> Diagnostic:
    return diagnostic("invalid-number", span, f"`{zhe.text}折` is not a discount",
                      help="a 折 figure is between 0 and 10: `8.8折` pays 88%")


def not_a_percentage_off(span: Span, off: Decimal) -> Diagnostic:
    return diagnostic("invalid-number", span, f"`{off}%` is not a percentage off",
                      help="a percentage off is more than 0% and at most 100%")


def percent_of_price(num: ast.Number, what: str) -> Diagnostic:
    return diagnostic("invalid-number", num.span, f"{what} of `{num.text}%` of the list price is out of range",
                      help="write more than 0% and at most 100%")


def worth_below_deposit(worth: ast.Number, deposit: ast.Number) -> Diagnostic:
    return diagnostic("invalid-number", worth.span, f"`worth {worth.text}` is less than the deposit `{deposit.text}`",
                      help="`worth` is what the deposit counts for at the balance stage: at least the deposit")


def deposit_above_price(top: ast.Number, price: ast.Number) -> Diagnostic:
    return diagnostic("invalid-number", top.span,
                      f"the deposit counts for `{top.text}`, more than the price `{price.text}`")


def too_many_tiers(span: Span, count: int, limit: int) -> Diagnostic:
    return diagnostic("too-many-tiers", span, f"`tiers` has {count} tiers, more than the {limit} one clause may have",
                      help="merge tiers, or split the promotion into promotions over ranges of the threshold")


def invalid_datetime(dt: ast.DateTime) -> Diagnostic:
    """`dt` is not a real date-time: which part is wrong is the date unless its date reads."""
    text = dt.text
    try:
        date.fromisoformat(text[:10])
        what = "time" if len(text) > 10 else "date"
    except ValueError:
        what = "date"
    return diagnostic("invalid-datetime", dt.span, f"`{text}` is not a real {what}",
                      help="write ISO-8601, e.g. `2026-11-11T00:30` or `2026-11-11T00:30:00+08:00`")


def empty_window(win: ast.Window) -> Diagnostic:
    return diagnostic("empty-window", win.span, f"the window `{win.start.text} .. {win.end.text}` is empty",
                      help="a window `A .. B` contains A and not B: its end must be after its start")


# ---- attributes and types -----------------------------------------------------------------------------


def unknown_attribute(path: ast.Path, known: Iterable[str]) -> Diagnostic:
    name = path.dotted
    help = did_you_mean(name, known)
    if help is None and path.names[0] in ("line", "user") and len(path.names) == 2:
        help = f"declare it in the ruleset header, e.g. `attribute {name} string`"
    return diagnostic("unknown-attribute", path.span, f"unknown attribute `{name}`", help=help)


def sold_outside_presale(span: Span, name: str) -> Diagnostic:
    return diagnostic("unknown-attribute", span, f"`{name}` is only known in a presale's `price ... tiers`",
                      help="`sold` is the presale's units sold so far")


def order_attribute_in_scope(span: Span, name: str) -> Diagnostic:
    return diagnostic("order-attribute-in-scope", span,
                      f"`{name}` is an order attribute; `scope` tests one line at a time",
                      help="move this test to `when`")


def line_attribute_in_when(span: Span, name: str, clause: str) -> Diagnostic:
    return diagnostic("line-attribute-in-when", span, f"`{name}` is a line attribute; `{clause}` tests the whole order",
                      help="move this test to `scope`")


def not_a_condition(expr: ast.Expr, t: str) -> Diagnostic:
    help = "compare it with a value, e.g. `sku == \"A\"`" if isinstance(expr, ast.Path) else None
    return diagnostic("type-mismatch", expr.span, f"`{show(expr)}` is {a(t)}, not a condition", help=help)


def list_in_list(span: Span, t: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"a list cannot hold {a(t)}")


def mixed_list(item: ast.Expr, t: str, elem: str) -> Diagnostic:
    return diagnostic("type-mismatch", item.span, f"`{show(item)}` is {a(t)} in a list of {elem}s",
                      help="every item of a list has the same type")


def compare_with_list(span: Span, op: str, other: ast.Expr) -> Diagnostic:
    help = f"use `in`: `{show(other)} in [...]`" if op == "==" else None
    return diagnostic("type-mismatch", span, f"`{op}` cannot compare with a list", help=help)


def compare_with_set(bad: ast.Expr, op: str) -> Diagnostic:
    return diagnostic("type-mismatch", bad.span, f"`{op}` does not apply to a set",
                      help=f"test membership with `has`: `{show(bad)} has \"x\"`")


def cannot_compare(span: Span, left: ast.Expr, lt: str, right: ast.Expr, rt: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"cannot compare `{show(left)}` ({lt}) with `{show(right)}` ({rt})")


def not_ordered(span: Span, op: str, t: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"`{op}` needs numbers, money or date-times, not {t}s",
                      help="use `==` or `!=`" if t in ("string", "bool") else None)


def in_needs_one_value(left: ast.Expr, lt: str) -> Diagnostic:
    return diagnostic("type-mismatch", left.span, f"the left of `in` is {a(lt)}, not a single value",
                      help=f"to test a set use `has`: `{show(left)} has \"x\"`" if lt == "set" else None)


def set_holds_strings(left: ast.Expr, lt: str) -> Diagnostic:
    return diagnostic("type-mismatch", left.span, f"`{show(left)}` is {a(lt)}; a set holds strings")


def in_needs_list(span: Span, left: ast.Expr, rt: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"`in` needs a list, not {a(rt)}", help=f"write `{show(left)} in [...]`")


def list_holds_other(span: Span, left: ast.Expr, lt: str, elem: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"`{show(left)}` is {a(lt)} but the list holds {elem}s")


def has_needs_set(span: Span, lt: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"`has` needs a set such as `tags`, not {a(lt)}",
                      help="to test one value use `==` or `in`")


def has_needs_string(span: Span, left: ast.Expr, rt: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"a set holds strings, not {a(rt)}",
                      help=f"write `{show(left)} has \"...\"`")


def arith_needs_numbers(span: Span, op: str, t: str) -> Diagnostic:
    return diagnostic("type-mismatch", span, f"`{op}` works on money and numbers, not {a(t)}")


def cannot_add(span: Span, op: str, left: ast.Expr, lt: str, right: ast.Expr, rt: str) -> Diagnostic:
    verb, to = ("add", "to") if op == "+" else ("subtract", "from")
    return diagnostic("type-mismatch", span, f"cannot {verb} `{show(right)}` ({rt}) {to} `{show(left)}` ({lt})")


# ---- warnings (the lints) -----------------------------------------------------------------------------


def discount_over_threshold(amount: ast.Number, threshold: Decimal) -> Diagnostic:
    return diagnostic("discount-exceeds-threshold", amount.span,
                      f"the discount `{amount.text}` is at least its amount threshold `{threshold}`",
                      help="a buyer who just meets the threshold would pay nothing; check the figures")


def discount_over_step(amount: ast.Number, every: ast.Number) -> Diagnostic:
    return diagnostic("discount-exceeds-threshold", amount.span,
                      f"`discount {amount.text} every {every.text}` gives at least what is spent",
                      help="the discount for every step is usually smaller than the step")


def unreachable_tier(cond: ast.Expr, prev: ast.Expr, same_threshold: bool) -> Diagnostic:
    other = "tier with the same threshold" if same_threshold else "lower tier"
    return diagnostic("unreachable-tier", cond.span,
                      f"tier `{show(cond)}` never gives more than the {other} `{show(prev)}`",
                      help=f"the tier at {prev.span} is met whenever this one is, and the best benefit among the "
                      "tiers met applies")


def tier_price_not_below(tier: ast.Number, price: ast.Number) -> Diagnostic:
    return diagnostic("unreachable-tier", tier.span,
                      f"tier price `{tier.text}` is not below the presale price `{price.text}`",
                      help="the lowest price among the tiers met and the presale price applies")


def stale_window(end: ast.DateTime, others_end: datetime) -> Diagnostic:
    return diagnostic("stale-window", end.span, f"this window ends at `{end.text}`, at least 90 days before any other "
                      "window of the ruleset ends",
                      help=f"the other windows end on or after {others_end.date().isoformat()}; check the year")


def shadowed_by_exclusive(name: ast.Name, exclusive: ast.Name) -> Diagnostic:
    return diagnostic("shadowed-by-exclusive", name.span,
                      f"`{name.value}` has the same level and scope as the exclusive `{exclusive.value}`",
                      help=f"they never apply together; `{exclusive.value}` is at {exclusive.span}")


# ---- test blocks ---------------------------------------------------------------------------------------


def test_outside_test_file(span: Span, name: str) -> Diagnostic:
    return diagnostic("invalid-test", span, f"test `{name}` is outside a `*_test.promo` file",
                      help="move it to a file whose name ends in `_test.promo`")


def line_twice(span: Span, line: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-name", span, f"line `{line}` is written twice", help=f"the first is at {first}")


def line_without(span: Span, line: str, field: str) -> Diagnostic:
    return diagnostic("invalid-test", span, f"line `{line}` has no `{field}`",
                      help="a test line needs `sku`, `price` and `qty`")


def shipping_twice(span: Span, shop: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-clause", span, f"shipping for `{shop}` is written twice",
                      help=f"the first is at {first}")


def sold_twice(span: Span, presale: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-clause", span, f"sold for `{presale}` is written twice",
                      help=f"the first is at {first}")


def ledger_stmt_twice(span: Span, word: str, promotion: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-clause", span, f"`{word}` for `{promotion}` is written twice",
                      help=f"keep one; the first is at {first}")


def expect_twice(span: Span, what: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-clause", span, f"`expect {what}` is written twice", help=f"the first is at {first}")


def not_a_coupon(span: Span, name: str) -> Diagnostic:
    return diagnostic("invalid-test", span, f"`{name}` is an automatic promotion, not a coupon",
                      help="only coupons are held or selected")


def no_such_presale(span: Span, name: str, known: Iterable[str]) -> Diagnostic:
    return diagnostic("invalid-test", span, f"no presale is named `{name}`", help=did_you_mean(name, known))


def no_such_line(span: Span, name: str, known: Iterable[str]) -> Diagnostic:
    return diagnostic("invalid-test", span, f"this test has no line `{name}`", help=did_you_mean(name, known))


def no_such_promotion(span: Span, name: str, known: Iterable[str]) -> Diagnostic:
    return diagnostic("invalid-test", span, f"no promotion or coupon is named `{name}`", help=did_you_mean(name, known))


def capped_is_no_reason(span: Span) -> Diagnostic:
    return diagnostic("unknown-value", span, "`CAPPED` is not a reason for not applying",
                      help="a capped promotion is applied: use `expect applied`")


def field_twice(span: Span, name: str, where: str, first: Span) -> Diagnostic:
    return diagnostic("duplicate-clause", span, f"`{name}` is written twice in this {where}",
                      help=f"the first is at {first}")


def unknown_field(span: Span, where: str, name: str, known: Collection[str]) -> Diagnostic:
    help = did_you_mean(name, known) or "known fields: " + ", ".join(f"`{k}`" for k in sorted(known))
    return diagnostic("invalid-test", span, f"unknown {where} field `{name}`", help=help)


def field_type(value: ast.Expr, name: str, expected: str) -> Diagnostic:
    shown = "a list of strings" if expected == "set" else a(expected)
    return diagnostic("type-mismatch", value.span, f"`{name}` takes {shown}, not `{show(value)}`")


def field_holds_strings(item: ast.Expr, name: str) -> Diagnostic:
    return diagnostic("type-mismatch", item.span, f"`{name}` holds strings, not `{show(item)}`")
