"""Text -> syntax tree, or diagnostics. One Lark LALR parser per process; no Lark type leaves here.

On a syntax error the file is cut into its top-level blocks and each block is parsed on its own,
so one broken promotion reports its error and every other block still reaches the checker.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import re
import threading
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lark import Lark, Token
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.diagnostics import Diagnostic
from engine.lang.grammar_table import build_parser
from engine.lang.source import SourceFile, Span


@functools.cache
def grammar_parser() -> Lark:
    """The one Lark parser of the process, built on first use (from the shipped table)."""
    # Positions come from the tokens (keep_all_tokens keeps keywords, so a clause's span starts
    # at its keyword) and the tree is built inline, which is several times faster than Lark's
    # propagate_positions on large rulesets. The table ships with the package (engine/lang/grammar_table.py).
    return build_parser(**builder_hooks())


def builder_hooks() -> dict[str, Any]:
    """What turns Lark's parse into the syntax tree (its inline transformer and the comment
    collector): a parser built from the grammar with these parses as the shipped one does."""
    return {"transformer": _BUILDER, "lexer_callbacks": {"COMMENT": _keep_comment}}


class _Refused(Exception):
    """A block that parses but that the language refuses (nesting too deep), raised from a
    builder callback so that it is reported and dropped like a block with a syntax error."""

    def __init__(self, diag: Diagnostic):
        super().__init__(diag.message)
        self.diagnostic = diag


_PARSE_ERRORS = (UnexpectedInput, _Refused)


@dataclass(frozen=True)
class ParsedFile:
    file: ast.File
    diagnostics: tuple[Diagnostic, ...]


def parse_source(source: SourceFile) -> ParsedFile:
    gc_was_on = gc.isenabled()
    gc.disable()  # a parse allocates many small acyclic objects; collection passes only slow it
    try:
        return _parse_source(source)
    except Exception as err:  # a bug here must not crash `promo check` or ValidateRules
        return ParsedFile(ast.File(source.path, ()), (m.internal_error(source.path, m.PARSER, err),))
    finally:
        if gc_was_on:
            gc.enable()


def _parse_source(source: SourceFile) -> ParsedFile:
    comments: list[ast.Comment] = []
    try:
        items = _parse_block(source.path, source.text, 0, 0, comments)
        return ParsedFile(ast.File(source.path, tuple(items), tuple(comments)), ())
    except _PARSE_ERRORS:
        pass
    # Recovery: parse block by block so every good block survives and every bad one reports.
    comments.clear()
    items = []
    diags: list[Diagnostic] = []
    for start, end, line0, col0 in _top_level_blocks(source.text):
        try:
            items.extend(_parse_block(source.path, source.text[start:end], line0, col0, comments))
        except _PARSE_ERRORS as err:
            precise = len(diags) < PRECISE_ERRORS
            diags.append(_syntax_diagnostic(source.path, source.text[start:end], err, line0, col0, precise))
    if not diags:  # the blocks parse on their own but not together: report the first error as is
        try:
            _parse_block(source.path, source.text, 0, 0, [])
        except _PARSE_ERRORS as err:
            diags.append(_syntax_diagnostic(source.path, source.text, err, 0, 0))
    return ParsedFile(ast.File(source.path, tuple(items), tuple(comments)), tuple(diags))


def parse_text(text: str, path: str = "<input>") -> ParsedFile:
    return parse_source(SourceFile(path, text))


# The parser is shared; where the text sits in its file (for blocks parsed alone during recovery)
# and where comments go are per call, so calls are serialized.
_parse_lock = threading.Lock()
_comment_tokens: list[Token] = []


def _keep_comment(tok: Token) -> Token:
    _comment_tokens.append(tok)
    return tok


def _parse_block(path: str, text: str, line0: int, col0: int, comments: list) -> list:
    with _parse_lock:
        _BUILDER.place(path, line0, col0)
        _comment_tokens.clear()
        try:
            tree = grammar_parser().parse(text)
        finally:
            found = list(_comment_tokens)
    comments.extend(ast.Comment(t.value, span=_token_span(path, t, line0, col0)) for t in found)
    return list(tree.children)


# ---- positions ---------------------------------------------------------------------------------


def _shift(line: int | None, col: int | None, line0: int, col0: int) -> tuple[int, int]:
    assert line is not None and col is not None  # Lark's tokens carry their positions
    return line + line0, col + (col0 if line == 1 else 0)


def _token_span(path: str, tok: Token, line0: int, col0: int) -> Span:
    line, col = _shift(tok.line, tok.column, line0, col0)
    end_line, end_col = _shift(tok.end_line, tok.end_column, line0, col0)
    return Span(path, line, col, end_line, end_col)


def _top_level_blocks(text: str):
    """(start, end, line offset, column offset) of each top-level block: a block runs from a
    line that starts with a block keyword to the next such line, so a missing `}` or a stray
    token stays inside the block that has it."""
    starts = [m.start() for m in _BLOCK_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    starts.append(len(text))
    line0 = counted = 0  # lines before `start`, counted once over the file (not once per block)
    for start, end in zip(starts, starts[1:]):
        line0 += text.count("\n", counted, start)
        counted = start
        if text[start:end].strip():
            col0 = start - (text.rfind("\n", 0, start) + 1)
            yield start, end, line0, col0


# A new top-level block starts at a line beginning with one of the block keywords.
_BLOCK_START = re.compile(r"^(?=(ruleset|promotion|coupon|presale|guard|warning|test)\b)", re.M)


# ---- syntax errors ------------------------------------------------------------------------------


# Past this many syntax errors in one file, what each error expects is the parser state's own
# (cheap) set rather than the exact one, which costs a replay of the parser per terminal: a
# file with an error on every line is checked in linear time, and nobody reads error 101.
PRECISE_ERRORS = 100


def _syntax_diagnostic(path: str, text: str, err: Exception, line0: int, col0: int, precise: bool = True) -> Diagnostic:
    if isinstance(err, _Refused):
        return err.diagnostic
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        expected: Collection[str] = getattr(err, "expected", None) or getattr(err, "accepts", None) or set()
        last = text.rstrip()
        line = last.count("\n") + 1
        col = len(last) - (last.rfind("\n") + 1) + 1
        line, col = _shift(line, col, line0, col0)
        span = Span(path, line, col, line, col + 1)
        if "RBRACE" in expected:
            return m.unclosed_block(span, [_token_span(path, t, line0, col0) for t in _open_braces(err)])
        return m.unexpected_end(span, _expected(expected))
    if isinstance(err, UnexpectedCharacters):
        line, col = _shift(err.line, err.column, line0, col0)
        pos = err.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        span = Span(path, line, col, line, col + 1)
        if char == '"':
            return m.unterminated_string(span)
        allowed = err.allowed or set()
        if allowed == {"STRING"}:
            unquoted = _unquoted(path, text, err, pos, line, col)
            if unquoted is not None:
                return unquoted
        return m.unexpected_character(span, char, _expected(allowed))
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    span = _token_span(path, tok, line0, col0)
    expected = (err.accepts if precise else None) or err.expected or set()
    if set(expected) == {"STRING"}:
        unquoted = _unquoted(path, text, err, tok.start_pos or 0, span.line, span.column)
        if unquoted is not None:
            return unquoted
    keywords = [k for t in expected if (k := _keyword(t))]
    help = m.did_you_mean(str(tok), keywords) if tok.type == "NAME" else None
    return m.unexpected_token(span, str(tok), _expected(expected), tok.type == "RBRACE" and len(expected) > 0, help)


def _open_braces(err: UnexpectedInput) -> list[Token]:
    """The `{` still open where the parse stopped, outermost first: the parser keeps each on its
    stack until the block it opens is complete."""
    stack = getattr(getattr(err, "state", None), "value_stack", None) or ()
    return [v for v in stack if isinstance(v, Token) and v.type == "LBRACE"]


# A word written where only a string literal may stand (`promotion 满300减30 {`).
_WORD = re.compile(r'[^\s{}"#]+')
_NAMED = frozenset({"ruleset", "promotion", "coupon", "presale", "guard", "warning", "test", "group"})


def _unquoted(path: str, text: str, err: UnexpectedInput, pos: int, line: int, col: int) -> Diagnostic | None:
    """`unquoted-string` for the word at `pos`, with the keyword before it in the quoted form."""
    word = _WORD.match(text, pos)
    if word is None:
        return None
    before = (getattr(err, "token_history", None) or [None])[-1]
    keyword = before.value if isinstance(before, Token) and before.value.isidentifier() else None
    span = Span(path, line, col, line, col + len(word.group()))
    return m.unquoted_string(span, word.group(), keyword, keyword in _NAMED)


def _terminal_pattern(terminal: str):
    try:
        return grammar_parser().get_terminal(terminal).pattern
    except KeyError:  # $END and other parser-internal names
        return None


def _keyword(terminal: str) -> str | None:
    pattern = _terminal_pattern(terminal)
    if pattern is not None and pattern.type == "str" and pattern.value.isidentifier():
        return pattern.value
    return None


def _describe(terminal: str) -> str:
    pattern = _terminal_pattern(terminal) if terminal not in m.TERMINAL_NAMES else None
    return m.terminal(terminal, pattern.value if pattern is not None and pattern.type == "str" else None)


def _expected(terminals) -> str:
    return m.expected(_describe(t) for t in terminals)


# ---- tree -> AST --------------------------------------------------------------------------------

# Tokens that carry a value; the rest (keywords, punctuation) only count for positions.
_VALUE_TOKENS = frozenset({"STRING", "NUMBER", "NAME", "DATETIME", "COMPARE", "ADD", "EACH"})


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), raw[1:-1])


@dataclass(frozen=True)
class _Part:
    """An intermediate result that is not an AST node (e.g. `8.8折` before its clause)."""

    value: object
    span: Span


def _rule(build):
    """Wrap a builder method: it receives the value children (keywords dropped) and the span
    from the first to the last token of the rule, keywords included."""

    def callback(self, children):
        parts = [c for c in children if not (isinstance(c, Token) and c.type not in _VALUE_TOKENS)]
        return build(self, parts, self._span_of(children))

    callback.__name__ = build.__name__
    return callback


class _Builder:
    """Lark's inline callbacks, one per grammar rule or alias, building `engine.ast` nodes."""

    def place(self, path: str, line0: int, col0: int) -> None:
        self._file, self._line0, self._col0 = path, line0, col0

    def _span_of(self, children) -> Span:
        present = [c for c in children if c is not None]
        first, last = present[0], present[-1]
        if isinstance(first, Token):
            line, col = first.line, first.column
        else:
            line, col = first.span.line - self._line0, None
        if isinstance(last, Token):
            end_line, end_col = last.end_line, last.end_column
        else:
            end_line, end_col = last.span.end_line - self._line0, None
        start = (first.span.line, first.span.column) if col is None else _shift(line, col, self._line0, self._col0)
        end = ((last.span.end_line, last.span.end_column) if end_col is None
               else _shift(end_line, end_col, self._line0, self._col0))
        return Span(self._file, *start, *end)

    def _tok(self, tok: Token) -> Span:
        return _token_span(self._file, tok, self._line0, self._col0)

    def _name(self, tok: Token) -> ast.Name:
        value = _unquote(tok.value) if tok.type == "STRING" else tok.value
        return ast.Name(value, span=self._tok(tok))

    def _opt_name(self, tok: Token | None) -> ast.Name | None:
        return None if tok is None else self._name(tok)

    def _number(self, tok: Token | None) -> ast.Number | None:
        if tok is None:
            return None
        return ast.Number(Decimal(tok.value), tok.value, span=self._tok(tok))

    def _datetime(self, tok: Token) -> ast.DateTime:
        return ast.DateTime(tok.value, span=self._tok(tok))

    # blocks
    @_rule
    def ruleset(self, c, span):
        return ast.Ruleset(self._name(c[0]), tuple(c[1:]), span=span)

    @_rule
    def promotion(self, c, span):
        return ast.Promotion("promotion", self._name(c[0]), tuple(c[1:]), span=span)

    @_rule
    def coupon(self, c, span):
        return ast.Promotion("coupon", self._name(c[0]), tuple(c[1:]), span=span)

    @_rule
    def presale(self, c, span):
        return ast.Presale(self._name(c[0]), tuple(c[1:]), span=span)

    @_rule
    def guard(self, c, span):
        return ast.Guard(self._name(c[0]), tuple(c[1:]), span=span)

    @_rule
    def warning(self, c, span):
        return ast.WarningLine(self._name(c[0]), tuple(c[1:]), span=span)

    @_rule
    def test(self, c, span):
        return ast.RuleTest(self._name(c[0]), tuple(c[1:]), span=span)

    # ruleset settings
    @_rule
    def currency(self, c, span):
        return ast.Currency(self._name(c[0]), span=span)

    @_rule
    def timezone(self, c, span):
        return ast.Timezone(self._name(c[0]), span=span)

    @_rule
    def stacking(self, c, span):
        return ast.Stacking(self._name(c[0]), span=span)

    @_rule
    def rounding(self, c, span):
        return ast.Rounding(self._name(c[0]), span=span)

    @_rule
    def min_payment(self, c, span):
        return ast.MinPayment(self._number(c[0]), span=span)

    @_rule
    def group_decl(self, c, span):
        return ast.GroupDecl(self._name(c[0]), self._number(c[1]), span=span)

    @_rule
    def attribute_decl(self, c, span):
        return ast.AttributeDecl(c[0], self._name(c[1]), span=span)

    # clauses
    @_rule
    def title(self, c, span):
        return ast.Title(self._name(c[0]), span=span)

    @_rule
    def level(self, c, span):
        return ast.Level(self._name(c[0]), span=span)

    @_rule
    def window(self, c, span):
        return ast.Window(self._datetime(c[0]), self._datetime(c[1]), span=span)

    @_rule
    def active(self, c, span):
        return ast.Active(c[0], span=span)

    @_rule
    def scope(self, c, span):
        return ast.Scope(_shallow(c[0]), span=span)

    @_rule
    def when(self, c, span):
        return ast.When(_shallow(c[0]), span=span)

    @_rule
    def group_ref(self, c, span):
        return ast.GroupRef(self._name(c[0]), span=span)

    @_rule
    def priority(self, c, span):
        return ast.Priority(self._number(c[0]), span=span)

    @_rule
    def exclusive(self, c, span):
        return ast.Exclusive(span=span)

    @_rule
    def limit(self, c, span):
        return ast.Limit(self._number(c[0]), self._name(c[1]), self._opt_name(c[2]), span=span)

    @_rule
    def limit_total(self, c, span):
        return ast.Limit(self._number(c[0]), None, self._opt_name(c[1]), span=span)

    @_rule
    def budget(self, c, span):
        return ast.Budget(self._number(c[0]), self._opt_name(c[1]), span=span)

    @_rule
    def codes(self, c, span):
        return ast.Codes(span=span)

    # benefits
    @_rule
    def discount_amount(self, c, span):
        return ast.DiscountAmount(self._number(c[0]), c[1] is not None, span=span)

    @_rule
    def discount_percent(self, c, span):
        percent, cap = c
        off, zhe = percent.value
        return ast.DiscountPercent(off, zhe, cap, percent.span, span=span)

    @_rule
    def percent_off(self, c, span):
        return _Part((Decimal(c[0].value), None), span)

    @_rule
    def zhe(self, c, span):
        figure = self._number(c[0])
        # 8.8折 pays 88%: 12% off; 8折 pays 80%. A figure outside (0, 10) is a checker error.
        return _Part((Decimal(100) - figure.value * 10, figure), span)

    @_rule
    def cap(self, c, span):
        return self._number(c[0])

    @_rule
    def discount_every(self, c, span):
        return ast.DiscountEvery(self._number(c[0]), self._number(c[1]), c[2], span=span)

    @_rule
    def price_each(self, c, span):
        return ast.PriceEach(self._number(c[0]), span=span)

    @_rule
    def tiers(self, c, span):
        return ast.Tiers(tuple(c), span=span)

    @_rule
    def tier(self, c, span):
        return ast.Tier(_shallow(c[0]), c[1], span=span)

    @_rule
    def nth(self, c, span):
        return ast.Nth(self._number(c[0]), c[1], span=span)

    @_rule
    def gift(self, c, span):
        return ast.Gift(self._name(c[0]), self._number(c[1]), span=span)

    @_rule
    def free_shipping(self, c, span):
        return ast.FreeShipping(span=span)

    # presale
    @_rule
    def presale_price(self, c, span):
        tiers = c[1].value if c[1] is not None else ()
        return ast.PresalePrice(self._number(c[0]), tiers, span=span)

    @_rule
    def presale_tiers(self, c, span):
        return _Part(tuple(c), span)

    @_rule
    def presale_tier(self, c, span):
        return ast.PresaleTier(_shallow(c[0]), self._number(c[1]), span=span)

    @_rule
    def deposit(self, c, span):
        return ast.Deposit(self._number(c[0]), self._number(c[1]), span=span)

    @_rule
    def balance(self, c, span):
        return ast.BalanceDiscount(self._number(c[0]), span=span)

    @_rule
    def deposit_window(self, c, span):
        return ast.DepositWindow(c[0], span=span)

    @_rule
    def balance_window(self, c, span):
        return ast.BalanceWindow(c[0], span=span)

    @_rule
    def ships(self, c, span):
        return ast.Ships(self._datetime(c[0]), span=span)

    @_rule
    def stock(self, c, span):
        return ast.Stock(self._number(c[0]), span=span)

    # guards and warnings
    @_rule
    def floor_percent(self, c, span):
        return ast.FloorPercent(self._number(c[0]), span=span)

    @_rule
    def floor_each(self, c, span):
        return ast.FloorEach(self._number(c[0]), span=span)

    @_rule
    def below_percent(self, c, span):
        return ast.BelowPercent(self._number(c[0]), span=span)

    @_rule
    def below_each(self, c, span):
        return ast.BelowEach(self._number(c[0]), span=span)

    # tests
    @_rule
    def field(self, c, span):
        return ast.Field(self._name(c[0]), _shallow(c[1]), span=span)

    @_rule
    def t_at(self, c, span):
        return ast.AtStmt(self._datetime(c[0]), span=span)

    @_rule
    def t_user(self, c, span):
        return ast.UserStmt(tuple(c), span=span)

    @_rule
    def t_channel(self, c, span):
        return ast.ChannelStmt(self._name(c[0]), span=span)

    @_rule
    def t_region(self, c, span):
        return ast.RegionStmt(self._name(c[0]), span=span)

    @_rule
    def t_line(self, c, span):
        return ast.LineStmt(self._name(c[0]), tuple(c[1:]), span=span)

    @_rule
    def t_shipping(self, c, span):
        return ast.ShippingStmt(self._name(c[0]), self._number(c[1]), span=span)

    @_rule
    def t_wallet(self, c, span):
        return ast.WalletStmt(tuple(self._name(t) for t in c), span=span)

    @_rule
    def t_selected(self, c, span):
        return ast.SelectedStmt(tuple(self._name(t) for t in c), span=span)

    @_rule
    def t_stage(self, c, span):
        return ast.StageStmt(self._name(c[0]), span=span)

    @_rule
    def t_sold(self, c, span):
        return ast.SoldStmt(self._name(c[0]), self._number(c[1]), span=span)

    @_rule
    def t_used(self, c, span):
        return ast.UsedStmt(self._name(c[0]), self._number(c[1]), span=span)

    @_rule
    def t_spent(self, c, span):
        return ast.SpentStmt(self._name(c[0]), self._number(c[1]), span=span)

    def _expect(self, what, span, subject=None, value=None, code=None):
        return ast.Expect(
            what,
            self._name(subject) if subject is not None else None,
            self._number(value),
            self._name(code) if code is not None else None,
            span=span,
        )

    @_rule
    def expect_payable(self, c, span):
        return self._expect("payable", span, value=c[0])

    @_rule
    def expect_discount(self, c, span):
        return self._expect("discount", span, value=c[0])

    @_rule
    def expect_shipping(self, c, span):
        return self._expect("shipping", span, value=c[0])

    @_rule
    def expect_applied(self, c, span):
        return self._expect("applied", span, subject=c[0], value=c[1])

    @_rule
    def expect_not_applied(self, c, span):
        return self._expect("not_applied", span, subject=c[0], code=c[1])

    @_rule
    def expect_line(self, c, span):
        return self._expect("line", span, subject=c[0], value=c[1])

    @_rule
    def expect_hint(self, c, span):
        return self._expect("hint", span, subject=c[0], value=c[1])

    # expressions
    @_rule
    def or_(self, c, span):
        return ast.Or(_chain(ast.Or, c), span=span)

    @_rule
    def and_(self, c, span):
        return ast.And(_chain(ast.And, c), span=span)

    @_rule
    def not_(self, c, span):
        return ast.Not(c[0], span=span)

    @_rule
    def compare(self, c, span):
        return ast.Compare(c[1].value, c[0], c[2], span=span)

    @_rule
    def in_(self, c, span):
        return ast.In(c[0], c[1], span=span)

    @_rule
    def has(self, c, span):
        return ast.Has(c[0], c[1], span=span)

    @_rule
    def arith(self, c, span):
        operands, ops = _chain(ast.Arith, c[0::2]), tuple(t.value for t in c[1::2])
        if isinstance(c[0], ast.Arith):
            ops = c[0].ops + ops
        return ast.Arith(operands, ops, span=span)

    @_rule
    def paren(self, c, span):
        return dataclasses.replace(c[0], span=span)

    @_rule
    def path(self, c, span):
        return ast.Path(tuple(t.value for t in c), span=span)

    @_rule
    def string(self, c, span):
        return ast.String(_unquote(c[0].value), span=span)

    @_rule
    def number(self, c, span):
        return self._number(c[0])

    @_rule
    def percent_lit(self, c, span):
        return ast.Percent(Decimal(c[0].value), span=span)

    @_rule
    def datetime(self, c, span):
        return self._datetime(c[0])

    @_rule
    def true(self, c, span):
        return ast.Bool(True, span=span)

    @_rule
    def false(self, c, span):
        return ast.Bool(False, span=span)

    @_rule
    def list(self, c, span):
        return ast.ListLit(tuple(x for x in c if x is not None), span=span)


def _chain(kind, operands) -> tuple:
    """The operands of a chain of one operator; a first operand that is such a chain itself,
    parenthesized (`(a or b) or c`), is spliced in, as left-associativity reads it."""
    first = operands[0]
    return (*first.operands, *operands[1:]) if isinstance(first, kind) else tuple(operands)


def _shallow(expr):
    """`expr`, checked against the nesting limit once it is complete: every later walk over it
    (checker, printer, compiler, evaluation) may then recurse without fear of the stack."""
    deep = ast.too_deep(expr)
    if deep is not None:
        s = deep.span
        raise _Refused(m.nesting_too_deep(Span(s.file, s.line, s.column, s.line, s.column + 1), ast.MAX_NESTING))
    return expr


_BUILDER = _Builder()
