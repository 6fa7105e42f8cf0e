"""Text -> syntax tree, or diagnostics. One Lark LALR parser per process; no Lark type leaves here.

On a syntax error the file is cut into its top-level blocks and each block is parsed on its own,
so one broken promotion reports its error and every other block still reaches the checker.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from engine import ast
from engine.diagnostics import Diagnostic, diagnostic, did_you_mean
from engine.source import SourceFile, Span

# Readable names for the grammar's terminals, used in "expected ..." messages.
_TERMINAL_NAMES = {
    "STRING": "a string",
    "NUMBER": "a number",
    "NAME": "a name",
    "DATETIME": "a date-time",
    "COMPARE": "a comparison",
    "ADD": "`+` or `-`",
    "EACH": "`each`",
    "$END": "end of file",
}


@functools.cache
def _lark() -> Lark:
    grammar = resources.files("grammar").joinpath("promo.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        strict=True,
        propagate_positions=True,
        lexer_callbacks={"COMMENT": _keep_comment},
    )


@dataclass(frozen=True)
class ParsedFile:
    file: ast.File
    diagnostics: tuple[Diagnostic, ...]


def parse_source(source: SourceFile) -> ParsedFile:
    comments: list[ast.Comment] = []
    try:
        items = _parse_block(source.path, source.text, 0, 0, comments)
        return ParsedFile(ast.File(source.path, tuple(items), tuple(comments)), ())
    except UnexpectedInput:
        pass
    # Recovery: parse block by block so every good block survives and every bad one reports.
    comments.clear()
    items, diags = [], []
    for start, end, line0, col0 in _top_level_blocks(source.text):
        try:
            items.extend(_parse_block(source.path, source.text[start:end], line0, col0, comments))
        except UnexpectedInput as err:
            diags.append(_syntax_diagnostic(source.path, source.text[start:end], err, line0, col0))
    if not diags:  # the blocks parse on their own but not together: report the first error as is
        try:
            _parse_block(source.path, source.text, 0, 0, [])
        except UnexpectedInput as err:
            diags.append(_syntax_diagnostic(source.path, source.text, err, 0, 0))
    return ParsedFile(ast.File(source.path, tuple(items), tuple(comments)), tuple(diags))


def parse_text(text: str, path: str = "<input>") -> ParsedFile:
    return parse_source(SourceFile(path, text))


def _parse_block(path: str, text: str, line0: int, col0: int, comments: list) -> list:
    _comment_sink.tokens = []
    tree = _lark().parse(text)
    comments.extend(ast.Comment(t.value, span=_token_span(path, t, line0, col0)) for t in _comment_sink.tokens)
    return list(_Builder(path, line0, col0).transform(tree).children)


# Comments are ignored by the grammar but kept for the formatter: the lexer hands each one to
# this per-thread sink while the shared parser runs.
_comment_sink = threading.local()


def _keep_comment(tok: Token) -> Token:
    _comment_sink.tokens.append(tok)
    return tok


# ---- positions ---------------------------------------------------------------------------------


def _shift(line: int, col: int, line0: int, col0: int) -> tuple[int, int]:
    return line + line0, col + (col0 if line == 1 else 0)


def _token_span(path: str, tok: Token, line0: int, col0: int) -> Span:
    line, col = _shift(tok.line, tok.column, line0, col0)
    end_line, end_col = _shift(tok.end_line, tok.end_column, line0, col0)
    return Span(path, line, col, end_line, end_col)


def _top_level_blocks(text: str):
    """(start, end, line offset, column offset) of each top-level `... { ... }` block.

    Strings and comments are skipped; a block ends at its matching `}` or at the next line
    that starts a new top-level keyword while braces are still open (a missing `}`)."""
    starts = [m.start() for m in _BLOCK_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    starts.append(len(text))
    for start, end in zip(starts, starts[1:]):
        if text[start:end].strip():
            line0 = text.count("\n", 0, start)
            col0 = start - (text.rfind("\n", 0, start) + 1)
            yield start, end, line0, col0


# A new top-level block starts at a line beginning with one of the block keywords.
_BLOCK_START = re.compile(r"^(?=(ruleset|promotion|coupon|presale|guard|warning|test)\b)", re.M)


# ---- syntax errors ------------------------------------------------------------------------------


def _syntax_diagnostic(path: str, text: str, err: UnexpectedInput, line0: int, col0: int) -> Diagnostic:
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        expected = getattr(err, "expected", None) or getattr(err, "accepts", set())
        last = text.rstrip()
        line = last.count("\n") + 1
        col = len(last) - (last.rfind("\n") + 1) + 1
        line, col = _shift(line, col, line0, col0)
        span = Span(path, line, col, line, col + 1)
        if "RBRACE" in expected:
            return diagnostic("unclosed-block", span, "this block is not closed", help="add `}`")
        return diagnostic("syntax", span, f"unexpected end of block, expected {_expected(expected)}")
    if isinstance(err, UnexpectedCharacters):
        line, col = _shift(err.line, err.column, line0, col0)
        char = text[err.pos_in_stream] if err.pos_in_stream < len(text) else ""
        span = Span(path, line, col, line, col + 1)
        if char == '"':
            return diagnostic("unterminated-string", span, "this string is not closed on its line",
                              help='add the closing `"`')
        allowed = err.allowed or set()
        return diagnostic("syntax", span, f"unexpected character `{char}`, expected {_expected(allowed)}")
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    span = _token_span(path, tok, line0, col0)
    expected = err.accepts or err.expected or set()
    keywords = [_keyword(t) for t in expected if _keyword(t)]
    help = did_you_mean(str(tok), keywords) if tok.type == "NAME" else None
    if tok.type == "RBRACE" and len(expected) > 0:
        message = f"this block ends too early, expected {_expected(expected)}"
    else:
        message = f"unexpected `{tok}`, expected {_expected(expected)}"
    return diagnostic("syntax", span, message, help=help)


def _keyword(terminal: str) -> str | None:
    pattern = _lark().get_terminal(terminal).pattern
    return pattern.value if pattern.type == "str" and pattern.value.isidentifier() else None


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[terminal]
    try:
        pattern = _lark().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


def _expected(terminals) -> str:
    names = sorted({_describe(t) for t in terminals})
    if len(names) > 8:
        names = names[:8] + ["..."]
    return " or ".join(names) if len(names) <= 2 else "one of " + ", ".join(names)


# ---- tree -> AST --------------------------------------------------------------------------------


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), raw[1:-1])


@v_args(meta=True)
class _Builder(Transformer):
    def __init__(self, path: str, line0: int, col0: int):
        super().__init__()
        self._file, self.line0, self.col0 = path, line0, col0

    def _span(self, meta) -> Span:
        line, col = _shift(meta.line, meta.column, self.line0, self.col0)
        end_line, end_col = _shift(meta.end_line, meta.end_column, self.line0, self.col0)
        return Span(self._file, line, col, end_line, end_col)

    def _tok(self, tok: Token) -> Span:
        return _token_span(self._file, tok, self.line0, self.col0)

    def _name(self, tok: Token) -> ast.Name:
        value = _unquote(tok.value) if tok.type == "STRING" else tok.value
        return ast.Name(value, span=self._tok(tok))

    def _number(self, tok: Token) -> ast.Number:
        return ast.Number(Decimal(tok.value), tok.value, span=self._tok(tok))

    def _datetime(self, tok: Token) -> ast.DateTime:
        return ast.DateTime(tok.value, span=self._tok(tok))

    # blocks
    def ruleset(self, meta, c):
        return ast.Ruleset(self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    def promotion(self, meta, c):
        return ast.Promotion("promotion", self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    def coupon(self, meta, c):
        return ast.Promotion("coupon", self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    def presale(self, meta, c):
        return ast.Presale(self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    def guard(self, meta, c):
        return ast.Guard(self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    def warning(self, meta, c):
        return ast.WarningLine(self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    def test(self, meta, c):
        return ast.RuleTest(self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    # ruleset settings
    def currency(self, meta, c):
        return ast.Currency(self._name(c[0]), span=self._span(meta))

    def timezone(self, meta, c):
        return ast.Timezone(self._name(c[0]), span=self._span(meta))

    def stacking(self, meta, c):
        return ast.Stacking(self._name(c[0]), span=self._span(meta))

    def rounding(self, meta, c):
        return ast.Rounding(self._name(c[0]), span=self._span(meta))

    def min_payment(self, meta, c):
        return ast.MinPayment(self._number(c[0]), span=self._span(meta))

    def group_decl(self, meta, c):
        return ast.GroupDecl(self._name(c[0]), self._number(c[1]), span=self._span(meta))

    def attribute_decl(self, meta, c):
        return ast.AttributeDecl(c[0], self._name(c[1]), span=self._span(meta))

    # clauses
    def title(self, meta, c):
        return ast.Title(self._name(c[0]), span=self._span(meta))

    def level(self, meta, c):
        return ast.Level(self._name(c[0]), span=self._span(meta))

    def window(self, meta, c):
        return ast.Window(self._datetime(c[0]), self._datetime(c[1]), span=self._span(meta))

    def active(self, meta, c):
        return ast.Active(c[0], span=self._span(meta))

    def scope(self, meta, c):
        return ast.Scope(c[0], span=self._span(meta))

    def when(self, meta, c):
        return ast.When(c[0], span=self._span(meta))

    def group_ref(self, meta, c):
        return ast.GroupRef(self._name(c[0]), span=self._span(meta))

    def priority(self, meta, c):
        return ast.Priority(self._number(c[0]), span=self._span(meta))

    def exclusive(self, meta, c):
        return ast.Exclusive(span=self._span(meta))

    def limit(self, meta, c):
        return ast.Limit(self._number(c[0]), self._name(c[1]), span=self._span(meta))

    # benefits
    def discount_amount(self, meta, c):
        return ast.DiscountAmount(self._number(c[0]), c[1] is not None, span=self._span(meta))

    def discount_percent(self, meta, c):
        (off, zhe, percent_span), cap = c
        return ast.DiscountPercent(off, zhe, cap, percent_span, span=self._span(meta))

    def percent_off(self, meta, c):
        return Decimal(c[0].value), None, self._span(meta)

    def zhe(self, meta, c):
        figure = self._number(c[0])
        # 8.8折 pays 88%: 12% off. 8折 pays 80%; a figure of 10 or more is a checker error.
        return Decimal(100) - figure.value * 10, figure, self._span(meta)

    def cap(self, meta, c):
        return self._number(c[0])

    def discount_every(self, meta, c):
        return ast.DiscountEvery(self._number(c[0]), self._number(c[1]), c[2], span=self._span(meta))

    def price_each(self, meta, c):
        return ast.PriceEach(self._number(c[0]), span=self._span(meta))

    def tiers(self, meta, c):
        return ast.Tiers(tuple(c), span=self._span(meta))

    def tier(self, meta, c):
        return ast.Tier(c[0], c[1], span=self._span(meta))

    def nth(self, meta, c):
        return ast.Nth(self._number(c[0]), c[1], span=self._span(meta))

    def gift(self, meta, c):
        qty = self._number(c[1]) if c[1] is not None else None
        return ast.Gift(self._name(c[0]), qty, span=self._span(meta))

    def free_shipping(self, meta, c):
        return ast.FreeShipping(span=self._span(meta))

    # presale
    def presale_price(self, meta, c):
        return ast.PresalePrice(self._number(c[0]), tuple(c[1] or ()), span=self._span(meta))

    def presale_tiers(self, meta, c):
        return c

    def presale_tier(self, meta, c):
        return ast.PresaleTier(c[0], self._number(c[1]), span=self._span(meta))

    def deposit(self, meta, c):
        worth = self._number(c[1]) if c[1] is not None else None
        return ast.Deposit(self._number(c[0]), worth, span=self._span(meta))

    def balance(self, meta, c):
        return ast.BalanceDiscount(self._number(c[0]), span=self._span(meta))

    def deposit_window(self, meta, c):
        return ast.DepositWindow(c[0], span=self._span(meta))

    def balance_window(self, meta, c):
        return ast.BalanceWindow(c[0], span=self._span(meta))

    def ships(self, meta, c):
        return ast.Ships(self._datetime(c[0]), span=self._span(meta))

    # guards and warnings
    def floor_percent(self, meta, c):
        return ast.FloorPercent(self._number(c[0]), span=self._span(meta))

    def floor_each(self, meta, c):
        return ast.FloorEach(self._number(c[0]), span=self._span(meta))

    def below_percent(self, meta, c):
        return ast.BelowPercent(self._number(c[0]), span=self._span(meta))

    def below_each(self, meta, c):
        return ast.BelowEach(self._number(c[0]), span=self._span(meta))

    # tests
    def field(self, meta, c):
        return ast.Field(self._name(c[0]), c[1], span=self._span(meta))

    def t_at(self, meta, c):
        return ast.AtStmt(self._datetime(c[0]), span=self._span(meta))

    def t_user(self, meta, c):
        return ast.UserStmt(tuple(c), span=self._span(meta))

    def t_channel(self, meta, c):
        return ast.ChannelStmt(self._name(c[0]), span=self._span(meta))

    def t_region(self, meta, c):
        return ast.RegionStmt(self._name(c[0]), span=self._span(meta))

    def t_line(self, meta, c):
        return ast.LineStmt(self._name(c[0]), tuple(c[1:]), span=self._span(meta))

    def t_shipping(self, meta, c):
        return ast.ShippingStmt(self._name(c[0]), self._number(c[1]), span=self._span(meta))

    def t_wallet(self, meta, c):
        return ast.WalletStmt(tuple(self._name(t) for t in c), span=self._span(meta))

    def t_selected(self, meta, c):
        return ast.SelectedStmt(tuple(self._name(t) for t in c), span=self._span(meta))

    def t_stage(self, meta, c):
        return ast.StageStmt(self._name(c[0]), span=self._span(meta))

    def t_sold(self, meta, c):
        return ast.SoldStmt(self._name(c[0]), self._number(c[1]), span=self._span(meta))

    def _expect(self, what, meta, subject=None, value=None, code=None):
        return ast.Expect(
            what,
            self._name(subject) if subject is not None else None,
            self._number(value) if value is not None else None,
            self._name(code) if code is not None else None,
            span=self._span(meta),
        )

    def expect_payable(self, meta, c):
        return self._expect("payable", meta, value=c[0])

    def expect_discount(self, meta, c):
        return self._expect("discount", meta, value=c[0])

    def expect_shipping(self, meta, c):
        return self._expect("shipping", meta, value=c[0])

    def expect_applied(self, meta, c):
        return self._expect("applied", meta, subject=c[0], value=c[1])

    def expect_not_applied(self, meta, c):
        return self._expect("not_applied", meta, subject=c[0], code=c[1])

    def expect_line(self, meta, c):
        return self._expect("line", meta, subject=c[0], value=c[1])

    def expect_hint(self, meta, c):
        return self._expect("hint", meta, subject=c[0], value=c[1])

    # expressions
    def or_(self, meta, c):
        return ast.Or(c[0], c[1], span=self._span(meta))

    def and_(self, meta, c):
        return ast.And(c[0], c[1], span=self._span(meta))

    def not_(self, meta, c):
        return ast.Not(c[0], span=self._span(meta))

    def compare(self, meta, c):
        return ast.Compare(c[1].value, c[0], c[2], span=self._span(meta))

    def in_(self, meta, c):
        return ast.In(c[0], c[1], span=self._span(meta))

    def has(self, meta, c):
        return ast.Has(c[0], c[1], span=self._span(meta))

    def arith(self, meta, c):
        return ast.Arith(c[1].value, c[0], c[2], span=self._span(meta))

    def path(self, meta, c):
        return ast.Path(tuple(t.value for t in c), span=self._span(meta))

    def string(self, meta, c):
        return ast.String(_unquote(c[0].value), span=self._span(meta))

    def number(self, meta, c):
        return self._number(c[0])

    def percent_lit(self, meta, c):
        return ast.Percent(Decimal(c[0].value), span=self._span(meta))

    def datetime(self, meta, c):
        return self._datetime(c[0])

    def true(self, meta, c):
        return ast.Bool(True, span=self._span(meta))

    def false(self, meta, c):
        return ast.Bool(False, span=self._span(meta))

    def list(self, meta, c):
        return ast.ListLit(tuple(x for x in c if x is not None), span=self._span(meta))
