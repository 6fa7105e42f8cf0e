"""Diagnostics about rule files: every stable code with its severity and meaning, the
`Diagnostic` value, and how one is shown.

Creating a diagnostic (engine/lang/messages.py: one function per message, the only place
message text is written) is separate from showing it (`render`, `to_json`). Messages follow
one style: lower-case, no final period, user text in backticks, advice in `help`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.lang.source import SourceFile, Span

ERROR = "error"
WARNING = "warning"
INTERNAL_ERROR = "internal-error"

# code -> (severity, what it means). The codes are a public contract: tests and tools match them.
CODES: dict[str, tuple[str, str]] = {
    # syntax
    "syntax": (ERROR, "the text does not follow the grammar"),
    "unterminated-string": (ERROR, "a string literal has no closing quote on its line"),
    "unclosed-block": (ERROR, "a `{` has no matching `}`"),
    "unquoted-string": (ERROR, "a word where a string literal must stand, such as an unquoted name"),
    "invalid-datetime": (ERROR, "a date-time that is not a real ISO-8601 date or time"),
    "nesting-too-deep": (ERROR, "an expression whose operators nest more than 100 levels deep"),
    "file-too-large": (ERROR, "a rule file of more than 8 MiB, which is not read"),
    # names and types
    "unknown-attribute": (ERROR, "an attribute that is neither built in nor declared"),
    "type-mismatch": (ERROR, "an operator applied to values of types it does not accept"),
    "order-attribute-in-scope": (ERROR, "an order attribute (amount, user.*, ...) in a line predicate"),
    "line-attribute-in-when": (ERROR, "a line attribute (sku, price, ...) in an order predicate"),
    "money-precision": (ERROR, "money with more decimals than the currency's minor unit"),
    "invalid-number": (ERROR, "a number outside the range its clause accepts"),
    "duplicate-name": (ERROR, "two blocks of the same kind share a name"),
    "duplicate-clause": (ERROR, "a clause that may appear once appears twice"),
    "missing-benefit": (ERROR, "a promotion without a benefit clause"),
    "multiple-benefits": (ERROR, "a promotion with more than one benefit clause"),
    "missing-clause": (ERROR, "a block without a clause it needs"),
    "free-shipping-level": (ERROR, "`free_shipping` outside `level shipping`, or another benefit at that level"),
    "empty-window": (ERROR, "a window whose end is not after its start"),
    "undeclared-group": (ERROR, "a group that the ruleset header does not declare"),
    "unknown-value": (ERROR, "a value that its setting or clause does not know (level, stacking, ...)"),
    "second-ruleset": (ERROR, "more than one `ruleset` header in one ruleset"),
    "invalid-test": (ERROR, "a test statement the test runner cannot use"),
    "too-many-tiers": (ERROR, "a `tiers` clause with more than 100 tiers"),
    "codes-on-promotion": (ERROR, "`codes` on an automatic promotion: only a coupon is redeemed by codes"),
    # the front end itself: only a bug in promo produces it, so no rule file can pin it
    INTERNAL_ERROR: (ERROR, "the parser or checker failed on a file: a bug in promo, reported instead of a crash"),
    # warnings
    "unreachable-tier": (WARNING, "a tier that a higher tier always takes first"),
    "discount-exceeds-threshold": (WARNING, "a discount at least as large as its own threshold"),
    "stale-window": (WARNING, "a window that ends before every other window of the ruleset ends"),
    "shadowed-by-exclusive": (WARNING, "a promotion with the same scope as an exclusive one"),
}


@dataclass(frozen=True)
class Label:
    """A second place a diagnostic points at, with what it is: the `{` a missing `}` leaves open."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    help: str | None = None
    labels: tuple[Label, ...] = ()

    @property
    def severity(self) -> str:
        return CODES[self.code][0]

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)


def diagnostic(code: str, span: Span, message: str, help: str | None = None,
               labels: tuple[Label, ...] = ()) -> Diagnostic:
    if code not in CODES:
        raise KeyError(f"unknown diagnostic code {code}")
    return Diagnostic(code, message, span, help, labels)


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.code, d.span, d.message): d for d in diags}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def render(diag: Diagnostic, sources: dict[str, SourceFile]) -> str:
    """`file:line:col: error[code]: message`, the source line with a caret, each label's line with
    its caret and text, then `help:`."""
    out = [f"{diag.span}: {diag.severity}[{diag.code}]: {diag.message}"]
    marks = [(diag.span, ""), *((label.span, label.message) for label in diag.labels)]
    width = max(len(str(span.line)) for span, _ in marks)
    for span, text in marks:
        source = sources.get(span.file)
        if source is not None and span.line > 0:
            out.append(source.snippet(span, width) + (f" {text}" if text else ""))
    if diag.help:
        out.append(f"  = help: {diag.help}")
    return "\n".join(out)

