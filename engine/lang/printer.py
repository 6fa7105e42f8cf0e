"""The canonical printer of `.promo` files (`promo fmt`). Re-parsing its output gives an equal tree.

The canonical form
------------------
* **Blocks.** Every top-level block (`ruleset`, `promotion`, `coupon`, `presale`, `guard`,
  `warning`, `test`) starts a paragraph: `kind "name" {` on one line, its clauses one per line
  indented by 4 spaces, `}` alone on the last line. Blocks are separated by exactly one blank
  line. A block with no clauses and no comments inside is written `kind "name" {}`.
* **Order is kept.** Blocks, clauses, settings, tiers, test statements and fields are printed
  in the order written; the formatter never sorts (the order carries meaning for the author).
* **One clause per line**, even where the author put several on one line. Every clause,
  setting and test statement is printed on a single line however long it is (expressions are
  never broken), except the three clauses that have a body in braces:
  - `tiers {` / one tier per line, ending in `;` / `}`;
  - presale `price M tiers {` / one `condition: price;` per line / `}`;
  - `user { ... }` in tests: on one line (`user { id "u1" level 3 }`) when that line fits in
    100 columns (CJK characters count two) and no comment sits inside the braces, else one
    field per line.
* **Tokens.** Strings are re-quoted with `"` and the escapes `\\"`, `\\\\`, `\\n`, `\\t`.
  Numbers, date-times and `N折` are printed exactly as written (`99.90` stays `99.90`, `8.8折`
  stays `8.8折`, not `12%`), except that the figure of a `P%` percentage (whose text the tree
  does not keep) is printed from its value: `20.0%` stays, `05%` becomes `5%`. Keywords and
  names are separated by single spaces; windows are `A .. B`; percentages are `20%` (no
  space); tier conditions are `condition: benefit;`.
* **Expressions** get single spaces around binary operators, `not x`, lists as `["a", "b"]`,
  paths as `user.level`, and the fewest parentheses that keep the tree. Precedence, loosest
  first: `or` < `and` < `not` < comparisons / `in` / `has` (not chainable) < `+ -`; `or`,
  `and`, `+`, `-` are left-associative, so `a - (b - c)` keeps its parentheses and
  `(a - b) - c` loses them.
* **Comments are kept**, every one, with their text as written (trailing whitespace removed):
  - a comment on its own line(s) stays before the block, clause, tier, field or statement that
    follows it, at that node's indentation;
  - a comment at the end of a line stays at the end of the formatted line of the node that
    ends just before it on that line (two spaces, then `#`); after a block's opening `{` (or
    `tiers {`, `user {`) it stays after the `{`; after a closing `}` it stays after the `}`,
    except that a non-empty block (or `tiers { ... }`) written on one line takes the comment
    on its first line: `warning "w" { below 70% }  # x` becomes `warning "w" {  # x` ... `}`;
  - a comment after the last clause of a block stays inside the block, before its `}`;
    comments at the end of the file stay at the end;
  - a comment written in the middle of a clause that spans several lines (where it cannot
    stay, since the clause becomes one line) moves to its own line just before that clause.
* **Blank lines.** Runs of blank lines collapse to one. Inside a block a single blank line is
  kept where the author had at least one between two clauses (or comments), so clause groups
  stay visible; none is kept right after `{` or right before `}`. Between top-level blocks
  there is always exactly one blank line; a comment directly above a block stays glued to it
  unless the author separated them with a blank line.
* **Whitespace.** Indentation is 4 spaces, no tabs, no trailing spaces, lines end in `\\n`, the
  file ends with one newline (an empty file stays empty).

The formatter works from the syntax tree and the comments' positions only (no source text),
so `format_file(parse(x).file)` is the whole story. What it cannot see are the positions of
bare punctuation: a comment after a `{` that stands on a line of its own counts as a comment
on its own line (it moves below the `{`), a comment between a block's keyword and its `{`
goes after the `{`, and a line holding only `{`, `;` or `}` counts as blank. Each of these
settles after one run (the output is a fixed point). A file with syntax errors is never
formatted: `format_text` (engine/lang/load.py) raises `FormatError`, and `promo fmt`
(server/cli/fmt.py's `format_paths`) reports it and leaves the file alone. The printer is pure,
text in and text out: reading and writing files is the CLI's (server/cli/fmt.py), which also
re-parses the printer's output and refuses to write if the tree changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.lang import ast
from engine.lang.source import display_width

INDENT = "    "
USER_ONE_LINE_MAX = 100  # terminal columns (CJK counts 2), indentation included, comment excluded

__all__ = ["format_file", "quote", "expr_text"]


# ---- public entry points -------------------------------------------------------------------------


def format_file(file: ast.File) -> str:
    """The canonical text of a parsed file, comments included."""
    root = _layout(file)
    lines: list[str] = []
    _emit_body(root, "", lines, top=True)
    return "\n".join(lines) + "\n" if lines else ""


# ---- tokens and expressions ----------------------------------------------------------------------

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def quote(value: str) -> str:
    """A string literal for `value`: `"` quotes, with `\\\\ \\" \\n \\t` escaped."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def _dec(value: Decimal) -> str:
    return format(value, "f")


def _num(number: ast.Number) -> str:
    return number.text or _dec(number.value)


# Binding strength; an operand printed where a stronger one is required gets parentheses.
_OR, _AND, _NOT, _CMP, _SUM, _ATOM = 1, 2, 3, 4, 5, 6


def _prec(e) -> int:
    if isinstance(e, ast.Or):
        return _OR
    if isinstance(e, ast.And):
        return _AND
    if isinstance(e, ast.Not):
        return _NOT
    if isinstance(e, (ast.Compare, ast.In, ast.Has)):
        return _CMP
    if isinstance(e, ast.Arith):
        return _SUM
    return _ATOM


def expr_text(e, need: int = 0) -> str:
    """`e` with the fewest parentheses; parenthesized if it binds looser than `need`."""
    if isinstance(e, ast.Or):
        text = " or ".join(expr_text(x, _AND) for x in e.operands)
    elif isinstance(e, ast.And):
        text = " and ".join(expr_text(x, _NOT) for x in e.operands)
    elif isinstance(e, ast.Not):
        text = f"not {expr_text(e.operand, _NOT)}"
    elif isinstance(e, ast.Compare):
        text = f"{expr_text(e.left, _SUM)} {e.op} {expr_text(e.right, _SUM)}"
    elif isinstance(e, ast.In):
        text = f"{expr_text(e.left, _SUM)} in {expr_text(e.right, _SUM)}"
    elif isinstance(e, ast.Has):
        text = f"{expr_text(e.left, _SUM)} has {expr_text(e.right, _SUM)}"
    elif isinstance(e, ast.Arith):
        rest = (f" {op} {expr_text(x, _ATOM)}" for op, x in zip(e.ops, e.operands[1:]))
        text = expr_text(e.operands[0], _SUM) + "".join(rest)
    elif isinstance(e, ast.Path):
        text = e.dotted
    elif isinstance(e, ast.String):
        text = quote(e.value)
    elif isinstance(e, ast.Number):
        text = _num(e)
    elif isinstance(e, ast.Percent):
        text = f"{_dec(e.value)}%"
    elif isinstance(e, ast.DateTime):
        text = e.text
    elif isinstance(e, ast.Bool):
        text = "true" if e.value else "false"
    elif isinstance(e, ast.ListLit):
        text = "[" + ", ".join(expr_text(item) for item in e.items) + "]"
    else:
        raise TypeError(f"not an expression: {e!r}")
    return f"({text})" if _prec(e) < need else text


def _window(w: ast.Window) -> str:
    return f"{w.start.text} .. {w.end.text}"


def _benefit(b) -> str:
    if isinstance(b, ast.DiscountAmount):
        return f"discount {_num(b.amount)}" + (" each" if b.each else "")
    if isinstance(b, ast.DiscountPercent):
        off = f"{_num(b.zhe)}折" if b.zhe is not None else f"{_dec(b.off)}%"
        return f"discount {off}" + (f" max {_num(b.cap)}" if b.cap is not None else "")
    if isinstance(b, ast.DiscountEvery):
        cap = f" max {_num(b.cap)}" if b.cap is not None else ""
        return f"discount {_num(b.amount)} every {_num(b.every)}{cap}"
    if isinstance(b, ast.PriceEach):
        return f"price {_num(b.amount)} each"
    if isinstance(b, ast.Nth):
        return f"nth {_num(b.n)} {_benefit(b.benefit)}"
    if isinstance(b, ast.Gift):
        return f"gift {quote(b.sku.value)}" + (f" qty {_num(b.qty)}" if b.qty is not None else "")
    if isinstance(b, ast.FreeShipping):
        return "free_shipping"
    raise TypeError(f"not a benefit: {b!r}")


def _expect(e: ast.Expect) -> str:
    subject = quote(e.subject.value) if e.subject is not None else ""
    value = _num(e.value) if e.value is not None else ""  # the grammar gives these forms a value
    if e.what in ("payable", "discount", "shipping"):
        return f"expect {e.what} {value}"
    if e.what == "applied":
        return f"expect applied {subject}" + (f" {value}" if e.value is not None else "")
    if e.what == "not_applied":
        return f"expect not_applied {subject} {e.code.value if e.code is not None else ''}"
    if e.what == "line":
        return f"expect line {subject} final {value}"
    if e.what == "hint":
        return f"expect hint {subject}" + (f" missing {_num(e.value)}" if e.value is not None else "")
    raise TypeError(f"unknown expect: {e.what!r}")


def _field(f: ast.Field) -> str:
    return f"{f.name.value} {expr_text(f.value)}"


def clause_text(node) -> str:
    """The canonical one-line text of a clause (`limit 2 per user per day`), for messages."""
    return _leaf(node)


def _leaf(node) -> str:
    """The one-line text of a clause, setting, statement, tier or field."""
    match node:
        # ruleset settings
        case ast.Currency():
            return f"currency {node.code.value}"
        case ast.Timezone():
            return f"timezone {quote(node.name.value)}"
        case ast.Stacking():
            return f"stacking {node.mode.value}"
        case ast.Rounding():
            return f"rounding {node.mode.value}"
        case ast.MinPayment():
            return f"min_payment {_num(node.amount)}"
        case ast.GroupDecl():
            return f"group {quote(node.name.value)} max {_num(node.max)}"
        case ast.AttributeDecl():
            return f"attribute {node.path.dotted} {node.type.value}"
        # clauses
        case ast.Title():
            return f"title {quote(node.text.value)}"
        case ast.Level():
            return f"level {node.value.value}"
        case ast.Active():
            return f"active {_window(node.window)}"
        case ast.Scope():
            return f"scope {expr_text(node.expr)}"
        case ast.When():
            return f"when {expr_text(node.expr)}"
        case ast.GroupRef():
            return f"group {quote(node.name.value)}"
        case ast.Priority():
            return f"priority {_num(node.value)}"
        case ast.Exclusive():
            return "exclusive"
        case ast.Limit():
            who = f"per {node.per.value}" if node.per is not None else "total"
            period = f" per {node.period.value}" if node.period is not None else ""
            return f"limit {_num(node.count)} {who}{period}"
        case ast.Budget():
            period = f" per {node.period.value}" if node.period is not None else ""
            return f"budget {_num(node.amount)}{period}"
        case ast.Codes():
            return "codes"
        case ast.Tier():
            return f"{expr_text(node.condition)}: {_benefit(node.benefit)};"
        # presale
        case ast.PresalePrice():
            return f"price {_num(node.price)}"
        case ast.PresaleTier():
            return f"{expr_text(node.condition)}: {_num(node.price)};"
        case ast.Deposit():
            worth = f" worth {_num(node.worth)}" if node.worth is not None else ""
            return f"deposit {_num(node.amount)}{worth}"
        case ast.BalanceDiscount():
            return f"balance discount {_num(node.amount)}"
        case ast.DepositWindow():
            return f"deposit_window {_window(node.window)}"
        case ast.BalanceWindow():
            return f"balance_window {_window(node.window)}"
        case ast.Ships():
            return f"ships {node.date.text}"
        case ast.Stock():
            return f"stock {_num(node.count)}"
        # guards and warnings
        case ast.FloorPercent():
            return f"floor {_num(node.percent)}%"
        case ast.FloorEach():
            return f"floor {_num(node.amount)} each"
        case ast.BelowPercent():
            return f"below {_num(node.percent)}%"
        case ast.BelowEach():
            return f"below {_num(node.amount)} each"
        # tests
        case ast.Field():
            return _field(node)
        case ast.AtStmt():
            return f"at {node.at.text}"
        case ast.ChannelStmt():
            return f"channel {quote(node.value.value)}"
        case ast.RegionStmt():
            return f"region {quote(node.value.value)}"
        case ast.LineStmt():
            return " ".join([f"line {quote(node.id.value)}", *(_field(f) for f in node.fields)])
        case ast.ShippingStmt():
            return f"shipping {quote(node.shop.value)} {_num(node.fee)}"
        case ast.WalletStmt():
            return " ".join(["wallet", *(quote(c.value) for c in node.coupons)])
        case ast.SelectedStmt():
            return " ".join(["selected", *(quote(c.value) for c in node.coupons)])
        case ast.StageStmt():
            return f"stage {node.stage.value}"
        case ast.SoldStmt():
            return f"sold {quote(node.presale.value)} {_num(node.count)}"
        case ast.UsedStmt():
            return f"used {quote(node.promotion.value)} {_num(node.count)}"
        case ast.SpentStmt():
            return f"spent {quote(node.promotion.value)} {_num(node.amount)}"
        case ast.Expect():
            return _expect(node)
    return _benefit(node)


def _header(node) -> str:
    """The text before `{` of a block or of a clause with a body."""
    match node:
        case ast.Ruleset():
            return f"ruleset {quote(node.name.value)}"
        case ast.Promotion():
            return f"{node.kind} {quote(node.name.value)}"
        case ast.Presale():
            return f"presale {quote(node.name.value)}"
        case ast.Guard():
            return f"guard {quote(node.name.value)}"
        case ast.WarningLine():
            return f"warning {quote(node.name.value)}"
        case ast.RuleTest():
            return f"test {quote(node.name.value)}"
        case ast.Tiers():
            return "tiers"
        case ast.PresalePrice():
            return f"price {_num(node.price)} tiers"
        case ast.UserStmt():
            return "user"
    raise TypeError(f"not a block: {node!r}")


def _parts(node) -> tuple | None:
    """The nodes inside the braces of `node`, or None for a node printed on one line."""
    match node:
        case ast.Ruleset():
            return node.settings
        case ast.Promotion() | ast.Presale() | ast.Guard() | ast.WarningLine():
            return node.clauses
        case ast.RuleTest():
            return node.statements
        case ast.Tiers():
            return node.tiers
        case ast.PresalePrice():
            return node.tiers or None
        case ast.UserStmt():
            return node.fields
    return None


# ---- layout: the tree of printed units, with the comments attached -------------------------------


@dataclass(eq=False)
class _Note:
    """A comment printed on its own line; `line` is where it counts for blank-line decisions."""

    text: str
    line: int


@dataclass(eq=False)
class _Unit:
    """A node printed as one line (a leaf) or as `header {` / body / `}` (a container)."""

    node: object
    start: tuple[int, int]
    end: tuple[int, int]
    children: list[_Unit] | None  # None for a leaf
    before: list[list[_Note]] = field(default_factory=list)  # notes before each child
    dangling: list[_Note] = field(default_factory=list)  # notes after the last child
    header_note: str | None = None  # comment after `{`
    trailing: str | None = None  # comment at the end of the unit's (last) line

    def elements(self) -> list:
        out: list = []
        for notes, child in zip(self.before, self.children or ()):
            out.extend(notes)
            out.append(child)
        out.extend(self.dangling)
        return out

    @property
    def first_line(self) -> int:
        return self.start[0]

    @property
    def last_line(self) -> int:
        return self.end[0]


def _unit(node) -> _Unit:
    span = node.span
    parts = _parts(node)
    children = None if parts is None else [_unit(p) for p in parts]
    unit = _Unit(node, (span.line, span.column), (span.end_line, span.end_column), children)
    unit.before = [[] for _ in children or ()]
    return unit


def _all_units(unit: _Unit):
    yield unit
    for child in unit.children or ():
        yield from _all_units(child)


def _layout(file: ast.File) -> _Unit:
    top = [_unit(item) for item in file.items]
    root = _Unit(file, (0, 0), (1 << 30, 0), top, before=[[] for _ in top])
    # Where code sits on each line, to tell a comment at the end of a line from one on its own.
    code_start: dict[int, int] = {}
    code_end: dict[int, int] = {}
    for unit in top:
        for u in _all_units(unit):
            code_start[u.start[0]] = min(code_start.get(u.start[0], 1 << 30), u.start[1])
            code_end[u.end[0]] = min(code_end.get(u.end[0], 1 << 30), u.end[1])
    for comment in sorted(file.comments, key=lambda c: (c.span.line, c.span.column)):
        line, col = comment.span.line, comment.span.column
        after_code = code_start.get(line, 1 << 30) < col or code_end.get(line, 1 << 30) <= col
        _place(root, comment.text.rstrip(), (line, col), after_code)
    return root


def _one_line_block(unit: _Unit) -> bool:
    """A non-empty container written on one source line (`user { ... }` excepted: it may stay
    one line; an empty `{}` keeps a comment after it)."""
    return (bool(unit.children) and unit.first_line == unit.last_line
            and not isinstance(unit.node, ast.UserStmt))


def _place(container: _Unit, text: str, pos: tuple[int, int], after_code: bool) -> None:
    children = container.children or []
    for i, child in enumerate(children):
        if child.start < pos < child.end:
            if child.children is not None:
                return _place(child, text, pos, after_code)
            # Inside a one-line node that spans several source lines: move it above the node.
            container.before[i].append(_Note(text, child.first_line))
            return None
    if after_code:
        ended_here = [c for c in children if c.end <= pos and c.end[0] == pos[0]]
        if ended_here:
            prev = ended_here[-1]
            if _one_line_block(prev) and prev.header_note is None:
                prev.header_note = text  # `warning "w" { below 70% }  # x` -> `warning "w" {  # x`
                return None
            if prev.trailing is None:
                prev.trailing = text
                return None
        elif container.node is not None and not isinstance(container.node, ast.File):
            if container.header_note is None:
                container.header_note = text
                return None
    note = _Note(text, pos[0])
    for i, child in enumerate(children):
        if child.start > pos:
            container.before[i].append(note)
            return None
    container.dangling.append(note)
    return None


# ---- printing ----------------------------------------------------------------------------------------


def _with_comment(line: str, comment: str | None) -> str:
    return f"{line}  {comment}" if comment else line


def _emit_body(container: _Unit, indent: str, out: list[str], top: bool = False) -> None:
    prev = None
    for el in container.elements():
        if prev is not None:
            first = el.line if isinstance(el, _Note) else el.first_line
            last = prev.line if isinstance(prev, _Note) else prev.last_line
            if first - last >= 2 or (top and isinstance(prev, _Unit)):
                out.append("")
        if isinstance(el, _Note):
            out.append(indent + el.text)
        else:
            _emit_unit(el, indent, out)
        prev = el


def _one_line_user(unit: _Unit, indent: str) -> str | None:
    if unit.header_note or unit.dangling or any(unit.before):
        return None
    children = unit.children or []
    if any(c.trailing for c in children):
        return None
    fields = [_leaf(c.node) for c in children]
    text = "user { " + " ".join(fields) + " }" if fields else "user {}"
    return text if display_width(indent + text) <= USER_ONE_LINE_MAX else None


def _emit_unit(unit: _Unit, indent: str, out: list[str]) -> None:
    if unit.children is None:
        out.append(_with_comment(indent + _leaf(unit.node), unit.trailing))
        return
    if isinstance(unit.node, ast.UserStmt):
        line = _one_line_user(unit, indent)
        if line is not None:
            out.append(_with_comment(indent + line, unit.trailing))
            return
    head = indent + _header(unit.node)
    if not unit.children and not unit.dangling and not unit.header_note:
        out.append(_with_comment(head + " {}", unit.trailing))
        return
    out.append(_with_comment(head + " {", unit.header_note))
    _emit_body(unit, indent + INDENT, out)
    out.append(_with_comment(indent + "}", unit.trailing))
