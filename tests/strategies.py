"""Hypothesis strategies that write random, syntactically valid `.promo` source text.

Reuse them for fuzzing, property tests and benchmarks:

    from hypothesis import given
    from strategies import rule_files  # tests/ is on sys.path under pytest (no __init__.py);
                                       # from elsewhere: sys.path.insert(0, "tests") first

    @given(rule_files())
    def test_parses(text):
        assert not parse_text(text).diagnostics

What they cover: every top-level block (`ruleset`, `promotion`, `coupon`, `presale`, `guard`,
`warning`, `test`), every clause and setting, every benefit form (`discount M [each]`,
`discount P% [max M]`, `discount N折 [max M]`, `discount M every S [max C]`, `price M each`,
`tiers { ... }` with every tier benefit, `nth N ...`, `gift "SKU" [qty N]`, `free_shipping`),
presale prices with and without `tiers`, deposits with and without `worth`, guard floors and
warning lines in both forms, every test statement and `expect` form (optional parts on and
off), and every expression shape (`or`, `and`, `not`, the six comparisons, `in`, `has`, `+`,
`-`, parentheses where needed and redundant ones, lists, every literal kind, dotted paths).
Strings mix ASCII, CJK and arbitrary Unicode with every escape; numbers are written with and
without decimals (`99.90`, `007`); date-times in all three ISO forms.

What they promise: the text parses without diagnostics (it follows the grammar). They do NOT
promise that it passes the checker: attribute types, levels and names are mostly realistic
but random (`user.level >= "x"` can happen, blocks can lack a benefit only where the grammar
allows it, names may repeat). Filter or build your own on top for semantic fuzzing.

Layouts:
- `rule_files()` (default `messy=True`): any whitespace between any two tokens (spaces, tabs,
  newlines, blank lines, CRLF) and comments at arbitrary token boundaries: a formatter's
  torture test.
- `rule_files(messy=False)`: hand-written looking text (one clause per line, 4-space
  indentation, comments at the ends of lines and above clauses), e.g. for benchmarks.

Building blocks are public too: `expressions()`, `string_literals()`, `numbers()`,
`datetimes()`, `blocks()`, and `tokens_to_text()` to lay out your own token lists.
"""

from __future__ import annotations

import functools

from hypothesis import strategies as st

__all__ = [
    "KEYWORDS",
    "rule_files",
    "blocks",
    "expressions",
    "string_literals",
    "numbers",
    "datetimes",
    "tokens_to_text",
]

# Every keyword of the grammar; random identifiers avoid them.
KEYWORDS = frozenset(
    """ruleset currency timezone stacking rounding min_payment group max attribute promotion
    coupon title level active scope when priority exclusive limit per discount every price each
    tiers nth gift qty free_shipping presale deposit worth balance deposit_window balance_window
    ships stock guard floor warning below test at user channel region line shipping wallet selected
    stage sold expect payable applied not_applied final hint missing true false or and not in
    has""".split()
)

PATHS = [
    "sku", "shop", "category", "brand", "tags", "price", "line.material", "amount", "quantity",
    "cart.amount", "cart.quantity", "user.id", "user.level", "user.tags", "user.new",
    "user.vip_until", "channel", "region", "now", "sold",
]
NAMES = [
    "满100减10", "sku110-direct", "s1-100-10", "cross-200-20", "店铺券 满100减10", "phone-x",
    "nuts", "default", "第二件半价", "platform-coupon", "SKU-110", "S1", "u1", "new", "hot",
    "限时价 19.9", "a", "", "定金100抵200 尾款立减50",
]
COMMENTS = [
    "# ISO-4217", "# 满100减10", "#", "#no space", "# tiers: highest met wins",
    "## double", "# quote \" and backslash \\", "# 定金膨胀: paying 100 counts as 200",
]
LEVELS = ["item", "shop", "platform", "shipping"]
REASONS = ["NOT_IN_WALLET", "THRESHOLD_NOT_MET", "OUTSIDE_WINDOW", "CONDITION_FAILED",
           "NOT_BEST_COMBINATION", "ZERO_BENEFIT", "EXCLUSIVE_CONFLICT", "GROUP_LIMIT"]
FIELD_NAMES = ["sku", "shop", "category", "brand", "price", "qty", "tags", "material", "id",
               "level", "new", "vip_until"]

# Strategies are built once and reused: building them inside every draw costs more than drawing.
_choice = functools.cache(lambda options: st.sampled_from(options))
_ints = functools.cache(lambda low, high: st.integers(low, high))
_BOOL = st.booleans()


def _pick(draw, options):
    return draw(_choice(tuple(options)))


def _roll(draw, high: int) -> int:
    """A number in 0..high (e.g. `_roll(draw, 9) == 0` is a one-in-ten event)."""
    return draw(_ints(0, high))


_NO_SPACE_BEFORE = frozenset({":", ";", ",", ")", "]"})
_NO_SPACE_AFTER = frozenset({"(", "["})

# ---- tokens --------------------------------------------------------------------------------------


@functools.cache
def _identifiers():
    first = st.sampled_from("abcdefghijklmnopqrstuvwxyz_")
    rest = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", max_size=8)
    return st.tuples(first, rest).map("".join).filter(lambda s: s not in KEYWORDS)


@functools.cache
@st.composite
def _string_literal(draw, values) -> str:
    value = draw(values)
    out = []
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append(_pick(draw, ["\\t", "\t"]))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


_ANY_CHAR = st.characters(codec="utf-8", exclude_categories=("Cs",))


@functools.cache
def string_literals():
    """Source text of a string literal: realistic names, CJK, and arbitrary Unicode with escapes."""
    values = st.one_of(
        st.sampled_from(NAMES),
        st.text(alphabet=st.sampled_from('满减店铺券包邮第二件半价 "\\\n\t-ab12'), max_size=12),
        st.text(alphabet=_ANY_CHAR, max_size=10),
    )
    return _string_literal(values)


@functools.cache
def numbers():
    """Source text of a NUMBER: `100`, `99.90`, `0.01`, `007`."""
    return st.one_of(
        st.integers(0, 1000).map(str),
        st.tuples(st.integers(0, 100000), st.text(alphabet="0123456789", min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
        st.text(alphabet="0123456789", min_size=1, max_size=3).map(lambda digits: "0" + digits),
    )


@functools.cache
def datetimes():
    """Source text of a DATETIME in each ISO-8601 form the grammar accepts."""
    date = st.tuples(st.integers(2020, 2030), st.integers(1, 12), st.integers(1, 28)).map(
        lambda t: f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}"
    )
    time = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"T{t[0]:02d}:{t[1]:02d}")
    seconds = st.integers(0, 59).map(lambda s: f":{s:02d}")
    offset = st.sampled_from(["Z", "+08:00", "-05:30", "+00:00"])
    return st.one_of(
        date,
        st.tuples(date, time).map("".join),
        st.tuples(date, time, seconds).map("".join),
        st.tuples(date, time, seconds | st.just(""), offset).map("".join),
    )


@functools.cache
def _percent():
    return numbers().map(lambda n: n + "%")


@functools.cache
def _zhe():
    return st.sampled_from(["8.8", "9", "7.5", "5", "9.5", "6.66"]).map(lambda n: n + "折")


def _cap(draw) -> list[str]:
    return ["max", draw(numbers())] if draw(_BOOL) else []


# ---- expressions ---------------------------------------------------------------------------------

# Binding strength of each expression shape (loosest first), as in the grammar.
_OR, _AND, _NOT, _CMP, _SUM, _ATOM = 1, 2, 3, 4, 5, 6
_COMPARE = ["==", "!=", "<", "<=", ">", ">="]


_LITERALS = ("string", "number", "datetime", "bool")


def _literal(draw, kind: str) -> str:
    """One literal token of `kind` (shared by expressions and test-block values)."""
    if kind == "string":
        return draw(string_literals())
    if kind == "number":
        return draw(numbers())
    if kind == "datetime":
        return draw(datetimes())
    return _pick(draw, ["true", "false"])


@functools.cache
@st.composite
def _atom(draw, depth: int) -> list[str]:
    kind = _pick(draw, ["path", "path", "path", "string", "number", "percent", "datetime",
                                 "bool", "list", "ident"])
    if kind == "path":
        return [_pick(draw, PATHS)]
    if kind == "ident":
        return [".".join(draw(st.lists(_identifiers(), min_size=1, max_size=3)))]
    if kind == "percent":
        return [draw(_percent())]
    if kind in _LITERALS:
        return [_literal(draw, kind)]
    items = draw(st.lists(_expr(max(depth - 1, 0), 0), max_size=3 if depth > 0 else 0))
    out = ["["]
    for i, item in enumerate(items):
        out += ([","] if i else []) + item
    return out + ["]"]


@functools.cache
@st.composite
def _expr(draw, depth: int, need: int) -> list[str]:
    """Tokens of an expression that binds at least as tightly as `need` (else parenthesized)."""
    shapes = ["atom"] + (["or", "and", "not", "cmp", "in", "has", "arith"] if depth > 0 else [])
    shape = _pick(draw, shapes)
    sub = depth - 1
    if shape == "atom":
        tokens, prec = draw(_atom(depth)), _ATOM
    elif shape == "or":
        tokens, prec = draw(_expr(sub, _OR)) + ["or"] + draw(_expr(sub, _AND)), _OR
    elif shape == "and":
        tokens, prec = draw(_expr(sub, _AND)) + ["and"] + draw(_expr(sub, _NOT)), _AND
    elif shape == "not":
        tokens, prec = ["not"] + draw(_expr(sub, _NOT)), _NOT
    elif shape in ("cmp", "in", "has"):
        op = _pick(draw, _COMPARE) if shape == "cmp" else shape
        tokens, prec = draw(_expr(sub, _SUM)) + [op] + draw(_expr(sub, _SUM)), _CMP
    else:
        op = _pick(draw, ["+", "-"])
        tokens, prec = draw(_expr(sub, _SUM)) + [op] + draw(_expr(sub, _ATOM)), _SUM
    if prec < need or _roll(draw, 9) == 0:  # needed, or redundant parentheses
        tokens = ["("] + tokens + [")"]
    return tokens


@functools.cache
def expressions(max_depth: int = 3):
    """Token lists of expressions (join with spaces for text) up to `max_depth` operators deep."""
    return st.one_of([_expr(d, 0) for d in range(max_depth + 1)])


@functools.cache
def _condition():
    """A realistic order condition mostly (`amount >= 100`), sometimes any expression."""
    simple = st.tuples(st.sampled_from(["amount", "quantity", "cart.amount", "sold"]),
                       st.sampled_from([">=", ">"]), numbers()).map(list)
    return st.one_of(simple, simple, expressions(2))


# ---- clauses -------------------------------------------------------------------------------------


@functools.cache
@st.composite
def _window(draw) -> list[str]:
    return [draw(datetimes()), "..", draw(datetimes())]


@functools.cache
@st.composite
def _benefit(draw, in_tier: bool = False) -> list[str]:
    forms = ["amount", "each", "percent", "zhe", "price"]
    if not in_tier:
        forms += ["every", "tiers", "nth", "gift", "free_shipping"]
    form = _pick(draw, forms)
    if form == "amount":
        return ["discount", draw(numbers())]
    if form == "each":
        return ["discount", draw(numbers()), "each"]
    if form in ("percent", "zhe"):
        return ["discount", draw(_percent() if form == "percent" else _zhe())] + _cap(draw)
    if form == "price":
        return ["price", draw(numbers()), "each"]
    if form == "every":
        return ["discount", draw(numbers()), "every", draw(numbers())] + _cap(draw)
    if form == "nth":
        return ["nth", draw(numbers())] + draw(_benefit(in_tier=True))
    if form == "gift":
        return ["gift", draw(string_literals())] + (["qty", draw(numbers())] if draw(_BOOL) else [])
    if form == "free_shipping":
        return ["free_shipping"]
    out = ["tiers", "{"]
    for _ in range(draw(_ints(1, 4))):
        out += draw(_condition()) + [":"] + draw(_benefit(in_tier=True))
        out += [";"] if _roll(draw, 4) else []  # `;` is optional in the grammar
    return out + ["}"]


@functools.cache
@st.composite
def _promotion_clause(draw) -> list[str]:
    kind = _pick(draw, ["title", "level", "active", "scope", "when", "group", "priority",
                                 "exclusive", "limit", "limit_total", "budget", "codes"])
    if kind == "title":
        return ["title", draw(string_literals())]
    if kind == "level":
        return ["level", _pick(draw, LEVELS)]
    if kind == "active":
        return ["active"] + draw(_window())
    if kind == "scope":
        return ["scope"] + draw(expressions())
    if kind == "when":
        return ["when"] + draw(st.one_of(_condition(), expressions()))
    if kind == "group":
        return ["group", draw(string_literals())]
    if kind == "priority":
        return ["priority", draw(numbers())]
    if kind == "exclusive":
        return ["exclusive"]
    period = ["per", _pick(draw, ["day", "week", "month"])] if draw(_BOOL) else []
    if kind == "limit_total":
        return ["limit", draw(numbers()), "total"] + period
    if kind == "budget":
        return ["budget", draw(numbers())] + period
    if kind == "codes":
        return ["codes"]
    return ["limit", draw(numbers()), "per", "user"] + period


@functools.cache
@st.composite
def _setting(draw) -> list[str]:
    kind = _pick(draw, ["currency", "timezone", "stacking", "rounding", "min_payment",
                                 "group", "attribute"])
    if kind == "currency":
        return ["currency", _pick(draw, ["CNY", "USD", "JPY", "EUR"])]
    if kind == "timezone":
        return ["timezone", _pick(draw, ['"Asia/Shanghai"', '"UTC"']) ]
    if kind == "stacking":
        return ["stacking", _pick(draw, ["parallel", "progressive"])]
    if kind == "rounding":
        return ["rounding", _pick(draw, ["half_up", "half_even", "down"])]
    if kind == "min_payment":
        return ["min_payment", draw(numbers())]
    if kind == "group":
        return ["group", draw(string_literals()), "max", draw(numbers())]
    path = _pick(draw, ["line.material", "user.vip_until", "line.origin", "user.score"])
    return ["attribute", path, _pick(draw, ["string", "datetime", "money", "integer", "bool", "set"])]


@functools.cache
@st.composite
def _presale_clause(draw) -> list[str]:
    kind = _pick(draw, ["title", "scope", "active", "priority", "price", "price_tiers",
                                 "deposit", "balance", "deposit_window", "balance_window", "ships", "stock"])
    if kind == "title":
        return ["title", draw(string_literals())]
    if kind == "scope":
        return ["scope"] + draw(expressions())
    if kind == "active":
        return ["active"] + draw(_window())
    if kind == "priority":
        return ["priority", draw(numbers())]
    if kind == "price":
        return ["price", draw(numbers())]
    if kind == "price_tiers":
        out = ["price", draw(numbers()), "tiers", "{"]
        for _ in range(draw(_ints(1, 3))):
            out += draw(_condition()) + [":", draw(numbers())] + ([";"] if _roll(draw, 4) else [])
        return out + ["}"]
    if kind == "deposit":
        return ["deposit", draw(numbers())] + (["worth", draw(numbers())] if draw(_BOOL) else [])
    if kind == "balance":
        return ["balance", "discount", draw(numbers())]
    if kind in ("deposit_window", "balance_window"):
        return [kind] + draw(_window())
    if kind == "stock":
        return ["stock", draw(numbers())]
    return ["ships", draw(datetimes())]


@functools.cache
@st.composite
def _guard_clause(draw) -> list[str]:
    kind = _pick(draw, ["title", "scope", "active", "floor"])
    if kind == "title":
        return ["title", draw(string_literals())]
    if kind == "scope":
        return ["scope"] + draw(expressions())
    if kind == "active":
        return ["active"] + draw(_window())
    return ["floor"] + draw(st.one_of(_percent().map(lambda p: [p]), numbers().map(lambda n: [n, "each"])))


@functools.cache
@st.composite
def _warning_clause(draw) -> list[str]:
    kind = _pick(draw, ["title", "scope", "below"])
    if kind == "title":
        return ["title", draw(string_literals())]
    if kind == "scope":
        return ["scope"] + draw(expressions())
    return ["below"] + draw(st.one_of(_percent().map(lambda p: [p]), numbers().map(lambda n: [n, "each"])))


@functools.cache
@st.composite
def _value(draw, depth: int = 2) -> list[str]:
    kind = _pick(draw, ["string", "number", "datetime", "bool", "list"] if depth else
                 ["string", "number", "datetime", "bool"])
    if kind in _LITERALS:
        return [_literal(draw, kind)]
    out = ["["]
    for i in range(_roll(draw, 3)):
        out += ([","] if i else []) + draw(_value(depth - 1))
    return out + ["]"]


@functools.cache
@st.composite
def _fields(draw, max_size: int) -> list[str]:
    out = []
    for _ in range(draw(_ints(0, max_size))):
        out += [_pick(draw, FIELD_NAMES)] + draw(_value())
    return out


@functools.cache
@st.composite
def _test_stmt(draw) -> list[str]:
    kind = _pick(draw, ["at", "user", "channel", "region", "line", "line", "shipping", "wallet",
                        "selected", "stage", "sold", "used", "spent", "payable", "discount", "shipping_fee",
                        "applied", "not_applied", "line_final", "hint"])
    if kind == "at":
        return ["at", draw(datetimes())]
    if kind == "user":
        return ["user", "{"] + draw(_fields(4)) + ["}"]
    if kind in ("channel", "region"):
        return [kind, draw(string_literals())]
    if kind == "line":
        return ["line", draw(string_literals())] + draw(_fields(6))
    if kind == "shipping":
        return ["shipping", draw(string_literals()), draw(numbers())]
    if kind in ("wallet", "selected"):
        return [kind] + draw(st.lists(string_literals(), min_size=1, max_size=3))
    if kind == "stage":
        return ["stage", _pick(draw, ["deposit", "balance"])]
    if kind in ("sold", "used", "spent"):
        return [kind, draw(string_literals()), draw(numbers())]
    what = {"shipping_fee": "shipping", "line_final": "line"}.get(kind, kind)
    if what in ("payable", "discount", "shipping"):
        return ["expect", what, draw(numbers())]
    subject = draw(string_literals())
    if what == "applied":
        return ["expect", "applied", subject] + ([draw(numbers())] if draw(_BOOL) else [])
    if what == "not_applied":
        return ["expect", "not_applied", subject, _pick(draw, REASONS)]
    if what == "line":
        return ["expect", "line", subject, "final", draw(numbers())]
    return ["expect", "hint", subject] + (["missing", draw(numbers())] if draw(_BOOL) else [])


# ---- blocks and files ----------------------------------------------------------------------------

# A block: (header tokens up to and excluding `{`, list of clause token lists).
Block = tuple[list[str], list[list[str]]]


@functools.cache
@st.composite
def blocks(draw, kind: str | None = None) -> Block:
    """One top-level block of the given kind (`promotion`, `coupon`, `presale`, `guard`,
    `warning`, `test`, `ruleset`), or of a random kind other than `ruleset`."""
    kind = kind or _pick(draw, ["promotion", "coupon", "presale", "guard", "warning", "test"])
    name = draw(string_literals())
    if kind == "ruleset":
        clauses = draw(st.lists(_setting(), max_size=8))
    elif kind in ("promotion", "coupon"):
        clauses = draw(st.lists(_promotion_clause(), max_size=6))
        if _roll(draw, 9):  # usually exactly one benefit, as the checker wants
            clauses.insert(draw(_ints(0, len(clauses))), draw(_benefit()))
    elif kind == "presale":
        clauses = draw(st.lists(_presale_clause(), max_size=7))
    elif kind == "guard":
        clauses = draw(st.lists(_guard_clause(), max_size=4))
    elif kind == "warning":
        clauses = draw(st.lists(_warning_clause(), max_size=3))
    else:
        clauses = draw(st.lists(_test_stmt(), max_size=12))
    return [kind, name], clauses


@functools.cache
def _comment_text():
    return st.one_of(
        st.sampled_from(COMMENTS),
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\n"),
                max_size=15).map(lambda s: "#" + s),
    )


@functools.cache
@st.composite
def _gap(draw, messy: bool, indent: str) -> str:
    """What separates two tokens in messy mode: whitespace, or a comment and a line break."""
    choice = _roll(draw, 19)
    if choice < 11:
        return " "
    if choice < 13:
        return "\n" + indent
    if choice == 13:
        return "\t"
    if choice == 14:
        return "\n\n" + indent
    if choice == 15:
        return "\r\n" + indent
    if choice == 16:
        return "   "
    if choice == 17:
        return "\n" + _pick(draw, ["", "  ", "        "])
    return _pick(draw, ["  ", " ", ""]) + draw(_comment_text()) + "\n" + indent


def tokens_to_text(tokens: list[str]) -> str:
    """Tokens joined the way a person would write them (`a == b`, `f(x)`-style punctuation)."""
    out = ""
    for i, tok in enumerate(tokens):
        if i and tok not in _NO_SPACE_BEFORE and tokens[i - 1] not in _NO_SPACE_AFTER:
            out += " "
        out += tok
    return out


def _block_text(draw, block: Block, messy: bool) -> str:
    header, clauses = block
    if messy:
        tokens = header + ["{"] + [t for c in clauses for t in c] + ["}"]
        out = tokens[0]
        for tok in tokens[1:]:
            out += draw(_gap(messy, "    ")) + tok
        return out
    lines = [tokens_to_text(header) + " {" + (f"  {draw(_comment_text())}" if _roll(draw, 7) == 0 else "")]
    for clause in clauses:
        roll = _roll(draw, 9)
        if roll == 0:
            lines.append("    " + draw(_comment_text()))
        elif roll == 1:
            lines.append("")
        line = "    " + tokens_to_text(clause)
        if _roll(draw, 5) == 0:
            line += "  " + draw(_comment_text())
        lines.append(line)
    if _roll(draw, 9) == 0:
        lines.append("    " + draw(_comment_text()))
    lines.append("}")
    return "\n".join(lines)


@functools.cache
@st.composite
def rule_files(draw, messy: bool = True, max_blocks: int = 6, ruleset: bool | None = None) -> str:
    """The text of one random `.promo` file that parses without diagnostics.

    `messy`: random whitespace and comments between any tokens (else a tidy hand-written
    layout). `max_blocks`: at most this many blocks besides the optional `ruleset` header.
    `ruleset`: force the header on or off (default: random)."""
    with_header = draw(_BOOL) if ruleset is None else ruleset
    chosen = [draw(blocks("ruleset"))] if with_header else []
    chosen += draw(st.lists(blocks(), max_size=max_blocks))
    parts = []
    if _roll(draw, 4) == 0:
        parts.append(draw(_comment_text()) + "\n")
    for block in chosen:
        sep = _pick(draw, ["\n", "\n\n", "\n\n\n", " "]) if messy else "\n\n"
        if parts and sep == " " and parts[-1].endswith("\n"):
            sep = ""
        if _roll(draw, 5) == 0:
            sep += draw(_comment_text()) + "\n"
        parts.append(sep + _block_text(draw, block, messy))
    if _roll(draw, 4) == 0:
        parts.append("\n" + draw(_comment_text()))
    text = "".join(parts)
    return text + "\n" if _roll(draw, 5) else text
