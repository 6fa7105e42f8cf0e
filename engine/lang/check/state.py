"""What the checker's passes share: the ruleset's blocks, the facts earlier passes found (settings,
declarations, names, windows, types), the diagnostics so far, and the checks of single values
(a money literal, a whole number, a date-time, an enumerated name) that several passes make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.checked import RulesetSettings, Types
from engine.lang.diagnostics import Diagnostic
from engine.lang.schema import AttrInfo
from engine.lang.source import Span

MAX_TIERS = 100  # tiers of one clause: pricing and the tier lint compare them pairwise

# The keyword each clause starts with: diagnostics about a clause point at its keyword.
KEYWORDS: dict[type, str] = {
    ast.Title: "title", ast.Level: "level", ast.Active: "active", ast.Scope: "scope",
    ast.When: "when", ast.GroupRef: "group", ast.Priority: "priority", ast.Exclusive: "exclusive",
    ast.Limit: "limit", ast.Budget: "budget", ast.Codes: "codes", ast.DiscountAmount: "discount", ast.DiscountPercent: "discount",
    ast.DiscountEvery: "discount", ast.PriceEach: "price", ast.Tiers: "tiers", ast.Nth: "nth",
    ast.Gift: "gift", ast.FreeShipping: "free_shipping", ast.PresalePrice: "price",
    ast.Deposit: "deposit", ast.BalanceDiscount: "balance", ast.DepositWindow: "deposit_window",
    ast.BalanceWindow: "balance_window", ast.Ships: "ships", ast.Stock: "stock", ast.FloorPercent: "floor",
    ast.FloorEach: "floor", ast.BelowPercent: "below", ast.BelowEach: "below",
    ast.Currency: "currency", ast.Timezone: "timezone", ast.Stacking: "stacking",
    ast.Rounding: "rounding", ast.MinPayment: "min_payment", ast.GroupDecl: "group",
    ast.AttributeDecl: "attribute", ast.AtStmt: "at", ast.UserStmt: "user",
    ast.ChannelStmt: "channel", ast.RegionStmt: "region", ast.LineStmt: "line",
    ast.ShippingStmt: "shipping", ast.WalletStmt: "wallet", ast.SelectedStmt: "selected",
    ast.StageStmt: "stage", ast.SoldStmt: "sold", ast.UsedStmt: "used",
    ast.SpentStmt: "spent", ast.Expect: "expect",
    ast.Ruleset: "ruleset", ast.Promotion: "promotion", ast.Presale: "presale",
    ast.Guard: "guard", ast.WarningLine: "warning", ast.RuleTest: "test",
}

_BENEFITS = frozenset(ast.BENEFIT_TYPES)  # the tree's classes have no subclasses

# Clauses that make up one "kind" for duplicate checks (the two floor forms are one clause).
_CLAUSE_KIND: dict[type, type] = {
    ast.FloorEach: ast.FloorPercent, ast.BelowEach: ast.BelowPercent,
}


def keyword_span(node: object) -> Span:
    """The span of the keyword a clause or block starts with."""
    s = node.span  # type: ignore[attr-defined]
    word = node.kind if isinstance(node, ast.Promotion) else KEYWORDS.get(type(node), "")
    return Span(s.file, s.line, s.column, s.line, s.column + max(len(word), 1))


@dataclass(frozen=True, slots=True)
class Where:
    """Where an expression is: a line predicate (`scope`) or an order predicate (`when`, tiers,
    presale tiers), named by its clause's keyword for messages."""

    where: str  # line | order
    clause: str
    presale: bool = False  # `sold` is known


SCOPE = Where("line", "scope")
WHEN = Where("order", "when")
TIERS = Where("order", "tiers")
PRESALE_TIERS = Where("order", "tiers", presale=True)


def decimals(num: ast.Number) -> int:
    """Decimals as written (`9.90` has 2), from the token text when there is one."""
    if num.text:
        dot = num.text.find(".")
        return len(num.text) - dot - 1 if dot >= 0 else 0
    exponent = num.value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def is_whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


class State:
    """One run of the checker over one ruleset (all its files)."""

    def __init__(self, files: Sequence[ast.File]) -> None:
        self.files = list(files)
        self.items: list[object] = [item for f in self.files for item in f.items]
        self._by_kind: dict[type, list] = {}
        self._clauses: dict[type, list] = {}
        for item in self.items:
            self._by_kind.setdefault(type(item), []).append(item)
            for c in getattr(item, "clauses", ()):  # promotions, presales, guards, warning lines
                self._clauses.setdefault(type(c), []).append(c)
        self.out: list[Diagnostic] = []
        # settings: the primary header's, as the settings pass resolves them
        self.settings = RulesetSettings()
        self.declared: dict[str, AttrInfo] = {}
        self.declared_at: dict[str, Span] = {}
        self.groups: dict[str, ast.GroupDecl] = {}
        # names
        self.promotions: dict[str, ast.Promotion] = {}
        self.presales: dict[str, ast.Presale] = {}
        # the windows of promotions, coupons and presales that are real and not empty:
        # (end, end token), for the stale-window lint
        self.windows: list[tuple[datetime, ast.DateTime]] = []
        self.types = Types(files)

    @property
    def digits(self) -> int:
        return self.settings.digits

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.timezone

    def emit(self, diag: Diagnostic) -> None:
        self.out.append(diag)

    def of(self, kind: type) -> list:
        """The top-level blocks of one kind, in the order written."""
        return self._by_kind.get(kind, [])

    def clauses(self, kind: type) -> list:
        """The clauses of one kind of every block, in the order written (one walk, at the start)."""
        return self._clauses.get(kind, [])

    # ---- checks of one clause or value, made by several passes ---------------------------------

    def singles(self, block: object, parts: Sequence[object],
                allowed_twice: tuple[type, ...] = ()) -> dict[type, object]:
        """Report clauses written twice; return the first clause of each kind."""
        seen: dict[type, object] = {}
        for c in parts:
            kind = _CLAUSE_KIND.get(type(c), type(c))
            if kind in allowed_twice or kind in _BENEFITS:
                continue
            if kind in seen:
                self.emit(m.clause_twice(keyword_span(c), KEYWORDS.get(type(c)), block.name.value,  # type: ignore[attr-defined]
                                         seen[kind].span))  # type: ignore[attr-defined]
            else:
                seen[kind] = c
        return seen

    def money(self, num: ast.Number | None) -> None:
        if num is not None and decimals(num) > self.digits:
            self.emit(m.money_precision(num, decimals(num), self.settings.currency, self.digits))

    def whole(self, num: ast.Number | None, what: str, minimum: int = 0) -> bool:
        if num is None:
            return True
        if not is_whole(num.value) or num.value < minimum:
            self.emit(m.not_whole(num, what, minimum))
            return False
        return True

    def positive(self, num: ast.Number | None, what: str) -> None:
        if num is not None and num.value <= 0:
            self.emit(m.not_positive(num, what))

    def instant(self, dt: ast.DateTime) -> datetime | None:
        """The instant a date-time literal names, or None (reported) if it is not a real one.
        Without an offset it is read in the header's timezone (UTC without one), as the compiler does."""
        try:
            value = datetime.fromisoformat(dt.text)
        except ValueError:
            self.emit(m.invalid_datetime(dt))
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=self.tz)

    def enum(self, name: ast.Name, choices: Sequence[str], what: str) -> bool:
        if name.value in choices:
            return True
        self.emit(m.unknown_value(name.span, what, name.value, choices))
        return False
