"""Completion from the text before the cursor, which is usually not a whole clause yet (so it does
not parse): a small scan finds the enclosing block (`promotion`, `test`, `tiers`, `user`, ...) and
the clause being written, and offers what may stand there:

- where a clause can start (after `{` or at the start of a line): the keywords of that block;
- in `scope`: the line attributes (built in and declared `line.*`), never order ones; in `when`
  and `tiers`: the order attributes; `sold` too in a presale's `price ... tiers`;
- after `level`, `stacking`, `rounding`, `per`, `stage`, an attribute's type: their values;
- after `group` in a promotion: the declared groups;
- in tests: coupon names after `wallet`/`selected`, promotion names after `expect applied`,
  `not_applied`, `hint`, presale names after `sold`, reason codes after `expect not_applied "p"`,
  and the fields of `line "id" ...` and `user { ... }`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.base.enums import NOT_APPLIED_REASONS
from engine.base.money import KNOWN_CURRENCIES, ROUNDING_MODES
from engine.lang import ast
from engine.lang.schema import (
    ATTRIBUTE_TYPES,
    BUILTIN,
    LEVELS,
    LIMIT_PER,
    PERIODS,
    STACKING_MODES,
    TEST_LINE_FIELDS,
    TEST_STAGES,
    TEST_USER_FIELDS,
)

TOP = ("ruleset", "promotion", "coupon", "presale", "guard", "warning", "test")
CLAUSES: dict[str, tuple[str, ...]] = {
    "ruleset": ("currency", "timezone", "stacking", "rounding", "min_payment", "group", "attribute"),
    "promotion": ("title", "level", "active", "scope", "when", "discount", "price", "tiers", "nth", "gift",
                  "free_shipping", "group", "priority", "exclusive", "limit", "budget", "codes"),
    "presale": ("title", "scope", "active", "priority", "price", "deposit", "balance", "deposit_window",
                "balance_window", "ships", "stock"),
    "guard": ("title", "scope", "active", "floor"),
    "warning": ("title", "scope", "below"),
    "test": ("at", "user", "channel", "region", "line", "shipping", "wallet", "selected", "stage", "sold", "used",
             "spent", "expect"),
}
CLAUSES["coupon"] = CLAUSES["promotion"]
EXPECTS = ("payable", "discount", "shipping", "applied", "not_applied", "line", "hint")
BENEFITS = ("discount", "price")  # what a tier's `:` is followed by
_EXPR_AFTER = {"scope", "when", "and", "or", "not", "(", "[", ",", "==", "!=", "<", "<=", ">", ">=", "in", "has",
               "+", "-", "{", ";"}
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"?|#[^\n]*|\.\.|==|!=|<=|>=|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*)*'
                    r'|\d[\d.:T+\-Z]*(?:%|折)?|[{}()\[\]:;,<>+\-]|\S')


@dataclass
class Block:
    kind: str  # a key of CLAUSES, "tiers", "presale-tiers", "user"
    tokens: list[str] = field(default_factory=list)  # the tokens written inside it so far (not nested)


@dataclass
class Context:
    blocks: list[Block]
    prefix: str  # the word being typed
    in_string: bool
    line_start: bool  # only blanks before the word on its line

    @property
    def block(self) -> Block | None:
        return self.blocks[-1] if self.blocks else None

    @property
    def tokens(self) -> list[str]:
        return self.block.tokens if self.block else []

    @property
    def prev(self) -> str | None:
        return self.tokens[-1] if self.tokens else None

    def clause(self) -> tuple[str | None, list[str]]:
        """The clause keyword being written in the innermost block, and the tokens after it."""
        block = self.block
        if block is None:
            return None, []
        keywords = CLAUSES.get(block.kind, ())
        toks = block.tokens
        for i in range(len(toks) - 1, -1, -1):
            if toks[i] in keywords and (i == 0 or toks[i - 1] not in _EXPR_AFTER or toks[i - 1] in ("{", ";")):
                if block.kind in ("tiers", "presale-tiers"):
                    break
                return toks[i], toks[i + 1:]
        if block.kind in ("tiers", "presale-tiers", "user"):
            last = max((i for i, t in enumerate(toks) if t == ";"), default=-1)
            return block.kind, toks[last + 1:]
        return None, toks


def scan(text: str) -> Context:
    """The context at the end of `text` (the document up to the cursor)."""
    m = re.search(r'[A-Za-z_0-9.]*$', text)
    prefix = m.group(0) if m else ""
    body = text[: len(text) - len(prefix)]
    in_string = False
    blocks: list[Block] = []
    top: list[str] = []
    for tok in _TOKEN.findall(body):
        if tok.startswith("#"):
            continue
        if tok.startswith('"') and (len(tok) == 1 or not tok.endswith('"') or tok.endswith('\\"')):
            in_string = True  # an unterminated string: the cursor is inside it, and it is the word
            continue
        else:
            in_string = False
        tokens = blocks[-1].tokens if blocks else top
        if tok == "{":
            kind = _opened(tokens, blocks)
            tokens.append("{")
            blocks.append(Block(kind))
            continue
        if tok == "}":
            if blocks:
                blocks.pop()
            (blocks[-1].tokens if blocks else top).append("}")
            continue
        tokens.append(tok)
    if in_string:
        prefix = body[body.rfind('"') + 1:] + prefix
    line = text[text.rfind("\n") + 1:]
    line_start = not line[: len(line) - len(prefix)].strip()
    return Context(blocks, prefix, in_string, line_start)


def _opened(tokens: list[str], blocks: list[Block]) -> str:
    """The kind of block a `{` opens, from the tokens before it."""
    prev = tokens[-1] if tokens else ""
    if prev == "tiers":
        return "presale-tiers" if blocks and blocks[-1].kind == "presale" else "tiers"
    if prev == "user":
        return "user"
    if len(tokens) >= 2 and tokens[-2] in TOP:
        return "promotion" if tokens[-2] == "coupon" else tokens[-2]
    return "other"


@dataclass
class Names:
    """What the ruleset declares, for completion."""

    groups: list[str]
    line_attributes: list[str]  # declared line.*
    user_attributes: list[str]  # declared user.*
    coupons: list[str]
    promotions: list[str]  # promotions and coupons
    presales: list[str]


def names_of(items) -> Names:
    groups: list[str] = []
    line_attrs: list[str] = []
    user_attrs: list[str] = []
    coupons: list[str] = []
    promotions: list[str] = []
    presales: list[str] = []
    for item in items:
        if isinstance(item, ast.Ruleset):
            for s in item.settings:
                if isinstance(s, ast.GroupDecl):
                    groups.append(s.name.value)
                elif isinstance(s, ast.AttributeDecl):
                    (line_attrs if s.path.names[0] == "line" else user_attrs).append(s.path.dotted)
        elif isinstance(item, ast.Promotion):
            promotions.append(item.name.value)
            if item.kind == "coupon":
                coupons.append(item.name.value)
        elif isinstance(item, ast.Presale):
            presales.append(item.name.value)
    uniq = lambda xs: list(dict.fromkeys(xs))  # noqa: E731
    return Names(uniq(groups), uniq(line_attrs), uniq(user_attrs), uniq(coupons), uniq(promotions), uniq(presales))


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # keyword | attribute | value | name | field
    detail: str = ""
    quoted: bool = False  # a name written as a string literal


def line_attributes(names: Names) -> list[Item]:
    return ([Item(n, "attribute", f"{i.type} · line attribute") for n, i in BUILTIN.items() if i.where == "line"]
            + [Item(n, "attribute", "declared line attribute") for n in names.line_attributes])


def order_attributes(names: Names, presale: bool = False) -> list[Item]:
    return ([Item(n, "attribute", f"{i.type} · order attribute") for n, i in BUILTIN.items()
             if i.where == "order" and (presale or not i.presale_only)]
            + [Item(n, "attribute", "declared user attribute") for n in names.user_attributes])


def complete(text_before: str, names: Names) -> tuple[list[Item], str]:
    """The items that fit at the end of `text_before`, and the text they replace (the word, or the
    inside of a string, being typed)."""
    ctx = scan(text_before)
    return _items(ctx, names), ctx.prefix


def _kw(words, detail: str = "keyword") -> list[Item]:
    return [Item(w, "keyword", detail) for w in words]


def _quoted(words, detail: str) -> list[Item]:
    return [Item(w, "name", detail, quoted=True) for w in words]


def _items(ctx: Context, names: Names) -> list[Item]:
    block = ctx.block
    prev = ctx.prev
    if block is None:
        return _kw(TOP) if not ctx.in_string and (prev in (None, "}") or ctx.line_start) else []
    kind = block.kind
    clause, after = ctx.clause()
    if kind == "ruleset":
        if prev == "stacking":
            return _kw(STACKING_MODES, "stacking mode")
        if prev == "rounding":
            return _kw(ROUNDING_MODES, "rounding mode")
        if prev == "currency":
            return _kw(sorted(KNOWN_CURRENCIES), "currency")
        if clause == "attribute" and len(after) == 1:
            return _kw(ATTRIBUTE_TYPES, "attribute type")
        if prev == "attribute":
            return _kw(("line.", "user."), "declare a custom attribute")
        return _kw(CLAUSES["ruleset"], "setting") if ctx.line_start or prev == "{" else []
    if kind in ("promotion", "presale", "guard", "warning"):
        if prev == "level" and kind == "promotion":
            return _kw(LEVELS, "level")
        if prev == "per":  # `limit N per user`, then `per day`; `limit N total per day`; `budget M per day`
            if clause == "limit" and "user" not in after and "total" not in after:
                return _kw(LIMIT_PER, "limit period")
            return _kw(PERIODS, "period")
        if prev == "group" and kind == "promotion":
            return _quoted(names.groups, "declared group")
        if not ctx.line_start and prev not in ("{", None):
            if clause == "scope" and (prev in _EXPR_AFTER or prev == "scope"):
                return line_attributes(names)
            if clause == "when" and (prev in _EXPR_AFTER or prev == "when"):
                return order_attributes(names)
            return []
        return _kw(CLAUSES[kind], f"{kind} clause")
    if kind in ("tiers", "presale-tiers"):
        if prev == ":" and kind == "tiers":
            return _kw(BENEFITS, "tier benefit")
        if prev in _EXPR_AFTER or prev is None:
            return order_attributes(names, presale=kind == "presale-tiers")
        return []
    if kind == "user":
        fields = list(TEST_USER_FIELDS) + [n.split(".", 1)[1] for n in names.user_attributes]
        return [Item(f, "field", "user field") for f in fields] if _field_position(after) else []
    if kind == "test":
        if ctx.line_start and not ctx.in_string:
            return _kw(CLAUSES["test"], "test statement")
        if clause in ("wallet", "selected"):
            return _quoted(names.coupons, "coupon")
        if clause == "sold" and len(after) == 0:
            return _quoted(names.presales, "presale")
        if clause == "stage" and len(after) == 0:
            return _kw(TEST_STAGES, "stage")
        if clause == "expect":
            if not after:
                return _kw(EXPECTS, "expectation")
            if len(after) == 1 and after[0] in ("applied", "not_applied", "hint"):
                return _quoted(names.promotions + names.presales, "promotion")
            if len(after) == 2 and after[0] == "not_applied":
                return [Item(code, "value", "reason code") for code in NOT_APPLIED_REASONS]
        if clause == "line" and after and not ctx.in_string and _field_position(after[1:]):
            fields = list(TEST_LINE_FIELDS) + [n.split(".", 1)[1] for n in names.line_attributes]
            return [Item(f, "field", "line field") for f in fields]
        if prev in ("{", "}"):
            return _kw(CLAUSES["test"], "test statement")
    return []


def _field_position(after: list[str]) -> bool:
    """Whether the next token is a field name: fields are `name value` pairs, a list counting as one value."""
    count, depth = 0, 0
    for t in after:
        if t == "[":
            depth += 1
            if depth == 1:
                count += 1
        elif t == "]":
            depth -= 1
        elif depth == 0 and t != ",":
            count += 1
    return depth == 0 and count % 2 == 0
