"""The syntax tree of `.promo` files: frozen dataclasses, each carrying its source span.

Spans never take part in equality, so a formatted file re-parses to an equal tree.
No Lark type appears here; the parser converts everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.lang.source import Span

NO_SPAN = Span("", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Name:
    """An identifier or a string literal used as a name, with where it was written."""

    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Comment:
    text: str
    span: Span = _span()


# ---- expressions -----------------------------------------------------------------------


@dataclass(frozen=True)
class String:
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Number:
    value: Decimal
    text: str = field(default="", compare=False)
    span: Span = _span()


@dataclass(frozen=True)
class Percent:
    value: Decimal  # 20% -> 20
    span: Span = _span()


@dataclass(frozen=True)
class DateTime:
    text: str  # as written; resolved to an instant in the ruleset timezone by the compiler
    span: Span = _span()


@dataclass(frozen=True)
class Bool:
    value: bool
    span: Span = _span()


@dataclass(frozen=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Path:
    names: tuple[str, ...]  # ("user", "level")
    span: Span = _span()

    @property
    def dotted(self) -> str:
        return ".".join(self.names)


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class In:
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Has:
    left: Expr
    right: Expr
    span: Span = _span()


# A chain of one operator (`a or b or c`, `a + b - c`) is one node with its operands in order, so
# a 10,000-way `or` is as shallow as a 2-way one for every walk over the tree and at evaluation.
# The parser keeps a chain's first operand from being a chain of the same kind (`(a or b) or c`
# is `a or b or c`), as left-associativity reads it; a later operand may be (`a - (b - c)`).


@dataclass(frozen=True)
class Arith:
    operands: tuple[Expr, ...]
    ops: tuple[str, ...]  # `+` or `-` before each operand after the first
    span: Span = _span()


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span = _span()


Expr = String | Number | Percent | DateTime | Bool | ListLit | Path | Compare | In | Has | Arith | And | Or | Not

# How deeply operators and lists may nest in one expression (docs/language.md, "Limits"): a chain
# of one operator is one level and parentheses add none, so only real nesting counts. It bounds
# the recursion of everything that walks an expression, from the checker to evaluation.
MAX_NESTING = 100


def subexpressions(e) -> tuple:
    """The expressions directly inside `e`, in source order."""
    if isinstance(e, (Or, And, Arith)):
        return e.operands
    if isinstance(e, (Compare, In, Has)):
        return (e.left, e.right)
    if isinstance(e, Not):
        return (e.operand,)
    if isinstance(e, ListLit):
        return e.items
    return ()


def walk(e):
    """`e` and every expression inside it, in source order, without recursion."""
    stack = [e]
    while stack:
        x = stack.pop()
        yield x
        stack.extend(reversed(subexpressions(x)))


def conjuncts(e) -> list:
    """The operands of a top-level `and`, nested ones included: `a and (b and c)` -> [a, b, c]."""
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        if isinstance(x, And):
            stack.extend(reversed(x.operands))
        else:
            out.append(x)
    return out


_FLIPPED = {"<=": ">=", "<": ">"}  # `100 <= amount` is `amount >= 100`


def lower_bound(e) -> tuple[Path, bool, Expr] | None:
    """`path >= x` or `path > x`, however written (`x <= path` too), as (path, strict, x); None
    for any other expression. The one reading of "at least" that thresholds (checker, compiler)
    and the monotone test of conditions (compiler) share."""
    if not isinstance(e, Compare):
        return None
    if e.op in (">=", ">") and isinstance(e.left, Path):
        return e.left, e.op == ">", e.right
    if e.op in _FLIPPED and isinstance(e.right, Path):
        return e.right, e.op == "<", e.left
    return None


def threshold(e) -> tuple[str, Decimal, bool] | None:
    """A threshold: an attribute at least a number. `amount >= 100` -> ("amount", 100, False);
    `2 < quantity` -> ("quantity", 2, True). Which attributes count is the reader's business."""
    bound = lower_bound(e)
    if bound is None or not isinstance(bound[2], Number):
        return None
    return bound[0].dotted, bound[2].value, bound[1]


def too_deep(e, limit: int = MAX_NESTING):
    """The first operator or list (in source order) nested more than `limit` levels deep, or None."""
    stack = [(e, 1)]
    while stack:
        x, level = stack.pop()
        inner = subexpressions(x)
        if inner and level > limit:
            return x
        stack.extend((y, level + 1) for y in reversed(inner))
    return None


# ---- clauses shared by several blocks -----------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A half-open interval [start, end)."""

    start: DateTime
    end: DateTime
    span: Span = _span()


@dataclass(frozen=True)
class Title:
    text: Name
    span: Span = _span()


@dataclass(frozen=True)
class Level:
    value: Name  # item | shop | platform | shipping
    span: Span = _span()


@dataclass(frozen=True)
class Active:
    window: Window
    span: Span = _span()


@dataclass(frozen=True)
class Scope:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class When:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class GroupRef:
    name: Name
    span: Span = _span()


@dataclass(frozen=True)
class Priority:
    value: Number
    span: Span = _span()


@dataclass(frozen=True)
class Exclusive:
    span: Span = _span()


@dataclass(frozen=True)
class Limit:
    """`limit N per user [per P]` or `limit N total [per P]` (per is None: all buyers)."""

    count: Number
    per: Name | None  # user; None: `total`
    period: Name | None = None  # day | week | month; None: ever
    span: Span = _span()


@dataclass(frozen=True)
class Budget:
    """`budget M [per P]`: the most discount the promotion may give, in the ruleset currency."""

    amount: Number
    period: Name | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Codes:
    """`codes`: a coupon redeemed by single-use codes the ledger issues."""

    span: Span = _span()


# ---- benefits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscountAmount:
    amount: Number
    each: bool = False
    span: Span = _span()


@dataclass(frozen=True)
class DiscountPercent:
    off: Decimal  # percent taken off: `20%` -> 20, `8.8折` -> 12
    zhe: Number | None = None  # the 折 figure as written, so the formatter can keep it
    cap: Number | None = None
    percent_span: Span = field(default=NO_SPAN, compare=False, repr=False)
    span: Span = _span()


@dataclass(frozen=True)
class DiscountEvery:
    amount: Number
    every: Number
    cap: Number | None = None
    span: Span = _span()


@dataclass(frozen=True)
class PriceEach:
    amount: Number
    span: Span = _span()


TierBenefit = DiscountAmount | DiscountPercent | PriceEach


@dataclass(frozen=True)
class Tier:
    condition: Expr
    benefit: TierBenefit
    span: Span = _span()


@dataclass(frozen=True)
class Tiers:
    tiers: tuple[Tier, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Nth:
    n: Number
    benefit: TierBenefit
    span: Span = _span()


@dataclass(frozen=True)
class Gift:
    sku: Name
    qty: Number | None = None
    span: Span = _span()


@dataclass(frozen=True)
class FreeShipping:
    span: Span = _span()


Benefit = DiscountAmount | DiscountPercent | DiscountEvery | PriceEach | Tiers | Nth | Gift | FreeShipping
BENEFIT_TYPES = (DiscountAmount, DiscountPercent, DiscountEvery, PriceEach, Tiers, Nth, Gift, FreeShipping)

# ---- presale, guards, warnings -----------------------------------------------------------


@dataclass(frozen=True)
class PresaleTier:
    condition: Expr
    price: Number
    span: Span = _span()


@dataclass(frozen=True)
class PresalePrice:
    price: Number
    tiers: tuple[PresaleTier, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class Deposit:
    amount: Number
    worth: Number | None = None
    span: Span = _span()


@dataclass(frozen=True)
class BalanceDiscount:
    amount: Number
    span: Span = _span()


@dataclass(frozen=True)
class DepositWindow:
    window: Window
    span: Span = _span()


@dataclass(frozen=True)
class BalanceWindow:
    window: Window
    span: Span = _span()


@dataclass(frozen=True)
class Ships:
    date: DateTime
    span: Span = _span()


@dataclass(frozen=True)
class Stock:
    """`stock N`: the units a presale may sell (activity stock, held by the ledger)."""
    count: Number
    span: Span = _span()


@dataclass(frozen=True)
class FloorPercent:
    percent: Number
    span: Span = _span()


@dataclass(frozen=True)
class FloorEach:
    amount: Number
    span: Span = _span()


@dataclass(frozen=True)
class BelowPercent:
    percent: Number
    span: Span = _span()


@dataclass(frozen=True)
class BelowEach:
    amount: Number
    span: Span = _span()


# ---- ruleset header ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Currency:
    code: Name
    span: Span = _span()


@dataclass(frozen=True)
class Timezone:
    name: Name
    span: Span = _span()


@dataclass(frozen=True)
class Stacking:
    mode: Name  # parallel | progressive
    span: Span = _span()


@dataclass(frozen=True)
class Rounding:
    mode: Name  # half_up | half_even | down
    span: Span = _span()


@dataclass(frozen=True)
class MinPayment:
    amount: Number
    span: Span = _span()


@dataclass(frozen=True)
class GroupDecl:
    name: Name
    max: Number
    span: Span = _span()


@dataclass(frozen=True)
class AttributeDecl:
    path: Path  # line.material | user.vip_until
    type: Name  # string | number | money | integer | bool | datetime | set
    span: Span = _span()


# ---- tests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """`name value` inside `user { ... }` or after `line "id"`."""

    name: Name
    value: Expr
    span: Span = _span()


@dataclass(frozen=True)
class AtStmt:
    at: DateTime
    span: Span = _span()


@dataclass(frozen=True)
class UserStmt:
    fields: tuple[Field, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ChannelStmt:
    value: Name
    span: Span = _span()


@dataclass(frozen=True)
class RegionStmt:
    value: Name
    span: Span = _span()


@dataclass(frozen=True)
class LineStmt:
    id: Name
    fields: tuple[Field, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ShippingStmt:
    shop: Name
    fee: Number
    span: Span = _span()


@dataclass(frozen=True)
class WalletStmt:
    coupons: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class SelectedStmt:
    coupons: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True)
class StageStmt:
    stage: Name  # deposit | balance
    span: Span = _span()


@dataclass(frozen=True)
class SoldStmt:
    presale: Name
    count: Number
    span: Span = _span()


@dataclass(frozen=True)
class UsedStmt:
    """`used "p" N`: the ledger's count of uses of `p` (every one of its limits) for the test."""

    promotion: Name
    count: Number
    span: Span = _span()


@dataclass(frozen=True)
class SpentStmt:
    """`spent "p" M`: the discount `p` has given so far (every one of its budgets) for the test."""

    promotion: Name
    amount: Number
    span: Span = _span()


@dataclass(frozen=True)
class Expect:
    """`expect WHAT [subject] [value]`: what is payable, discount, shipping, applied,
    not_applied, line (final), hint (missing)."""

    what: str
    subject: Name | None = None  # promotion name or line id
    value: Number | None = None
    code: Name | None = None  # the reason code of `expect not_applied`
    span: Span = _span()


# ---- top-level blocks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ruleset:
    name: Name
    settings: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Promotion:
    kind: str  # promotion | coupon
    name: Name
    clauses: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Presale:
    name: Name
    clauses: tuple
    span: Span = _span()


@dataclass(frozen=True)
class Guard:
    name: Name
    clauses: tuple
    span: Span = _span()


@dataclass(frozen=True)
class WarningLine:
    name: Name
    clauses: tuple
    span: Span = _span()


@dataclass(frozen=True)
class RuleTest:
    name: Name
    statements: tuple
    span: Span = _span()


Item = Ruleset | Promotion | Presale | Guard | WarningLine | RuleTest


@dataclass(frozen=True)
class File:
    path: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)


def clauses_of(block, kind) -> list:
    """The clauses of `block` (or settings of a ruleset) that are instances of `kind`."""
    parts = block.settings if isinstance(block, Ruleset) else getattr(block, "clauses", ())
    return [c for c in parts if isinstance(c, kind)]


def first(block, kind):
    found = clauses_of(block, kind)
    return found[0] if found else None
