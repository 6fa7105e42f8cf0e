"""Names, types and the attribute schema; warnings about rules that are legal but likely wrong.

`check(files)` looks at every file of one ruleset together and returns all diagnostics, sorted.
It never raises on a tree the parser can build, and it is linear in the size of the ruleset:
every cross-block question (duplicate names, shadowing, stale windows) is answered with dicts.

Decisions the language reference leaves open (docs/language.md carries them):
- tiers: the best benefit among the tiers that are met applies (for rising tiers, the highest
  tier met), whatever order they are written in. A tier is `unreachable-tier` when another tier
  that is met whenever it is (same measure, threshold at or below) gives at least as much; on an
  exact tie the later tier is reported. Only decided from constants: tiers of the simple form
  `amount|quantity|sold >= C` (or `>`) with benefits of the same kind (`discount M`,
  `discount M each`, `discount P%` without `max`, `price M each`). A presale price tier at or
  above the presale's own price is unreachable too (the lowest price applies).
- `stale-window`: a promotion, coupon or presale window (guards are exempt: they protect the
  time *before* an event by design) whose end is at least 90 days before the earliest end of all
  the ruleset's other such windows. It catches a mistyped year or a campaign left behind,
  not a warm-up that ends a few days before the main event.
- `shadowed-by-exclusive`: a non-exclusive promotion or coupon with the same level and the same
  scope expression (compared as syntax trees; no scope = every line) as an exclusive one.
- `discount-exceeds-threshold`: `discount M` (not `each`) with a `when amount >= C` (or `>`)
  conjunct, or a tier `amount >= C: discount M`, where M >= C; and `discount M every S` with M >= S.
- every promotion and coupon needs a `level` (`missing-clause`); `free_shipping` is the one
  benefit of `level shipping`.
- types: number literals go with money, integer and number attributes; money and integer
  attributes do not mix (`amount >= quantity`); a percentage literal compares only with a declared
  `number` attribute; sets take `has "x"` (strings) and `"x" in set`, never `==`; ordering
  operators need numbers, money, percentages or date-times. Money literals are checked against
  the currency's minor unit as written (`9.90` has 2 decimals), integer attributes take whole numbers.
- `sold` is only known in a presale's `price ... tiers`; `now`, `user.*`, `channel`, `region`,
  `cart.*`, `amount`, `quantity` are order attributes (also allowed in `tiers`).
- presale: `price` is required; `balance`, `deposit_window`, `balance_window` need a `deposit`;
  a `deposit` needs a `balance_window`; `worth` is at least the deposit and at most the price.
- tests: only in `*_test.promo` files; `wallet`/`selected` name coupons (not automatic promotions);
  `expect not_applied` takes the reasons of engine.reasons except `CAPPED` (an applied marker).
- date-times without an offset are read in the header's timezone (UTC without one), as the compiler does.
- limits: one `tiers` clause (or a presale's `price ... tiers`) has at most MAX_TIERS tiers;
  past it `too-many-tiers` at the first tier too many, and the tiers are not compared pairwise.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import zoneinfo
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Sequence

from engine.base.enums import CAPPED, NOT_APPLIED_REASONS
from engine.base.money import KNOWN_CURRENCIES, ROUNDING_MODES, minor_digits
from engine.lang import ast
from engine.lang.diagnostics import (
    Diagnostic,
    diagnostic,
    did_you_mean,
    internal_error,
    sort_diagnostics,
)
from engine.lang.printer import expr_text
from engine.lang.schema import (
    ATTRIBUTE_TYPES,
    BUILTIN,
    DEFAULT_CURRENCY,
    LEVELS,
    LIMIT_PER,
    STACKING_MODES,
    TEST_LINE_FIELDS,
    TEST_LINE_REQUIRED,
    TEST_STAGES,
    TEST_USER_FIELDS,
    AttrInfo,
    attribute_type,
    declared_info,
    known_attributes,
)
from engine.lang.source import Span

STALE_GAP = timedelta(days=90)
MAX_TIERS = 100  # tiers of one clause: pricing and `tier_warnings` compare them pairwise

# The keyword each clause starts with: diagnostics about a clause point at its keyword.
_KEYWORDS: dict[type, str] = {
    ast.Title: "title", ast.Level: "level", ast.Active: "active", ast.Scope: "scope",
    ast.When: "when", ast.GroupRef: "group", ast.Priority: "priority", ast.Exclusive: "exclusive",
    ast.Limit: "limit", ast.DiscountAmount: "discount", ast.DiscountPercent: "discount",
    ast.DiscountEvery: "discount", ast.PriceEach: "price", ast.Tiers: "tiers", ast.Nth: "nth",
    ast.Gift: "gift", ast.FreeShipping: "free_shipping", ast.PresalePrice: "price",
    ast.Deposit: "deposit", ast.BalanceDiscount: "balance", ast.DepositWindow: "deposit_window",
    ast.BalanceWindow: "balance_window", ast.Ships: "ships", ast.FloorPercent: "floor",
    ast.FloorEach: "floor", ast.BelowPercent: "below", ast.BelowEach: "below",
    ast.Currency: "currency", ast.Timezone: "timezone", ast.Stacking: "stacking",
    ast.Rounding: "rounding", ast.MinPayment: "min_payment", ast.GroupDecl: "group",
    ast.AttributeDecl: "attribute", ast.AtStmt: "at", ast.UserStmt: "user",
    ast.ChannelStmt: "channel", ast.RegionStmt: "region", ast.LineStmt: "line",
    ast.ShippingStmt: "shipping", ast.WalletStmt: "wallet", ast.SelectedStmt: "selected",
    ast.StageStmt: "stage", ast.SoldStmt: "sold", ast.Expect: "expect",
    ast.Ruleset: "ruleset", ast.Promotion: "promotion", ast.Presale: "presale",
    ast.Guard: "guard", ast.WarningLine: "warning", ast.RuleTest: "test",
}

# Clauses that make up one "kind" for duplicate checks (the two floor forms are one clause).
_CLAUSE_KIND: dict[type, type] = {
    ast.FloorEach: ast.FloorPercent, ast.BelowEach: ast.BelowPercent,
}

_NUMERIC = frozenset({"number", "money", "integer"})
_ORDERED = _NUMERIC | {"datetime", "percent"}
_UNKNOWN = "?"


def check(files: Sequence[ast.File]) -> list[Diagnostic]:
    """Every error and warning about one ruleset (all its files), sorted by position."""
    with _gc_paused():
        try:
            return sort_diagnostics(_Checker(files).run())
        except Exception as err:  # a bug here must not crash `promo check` or ValidateRules
            return [internal_error(files[0].path if files else "<ruleset>", "checker", err)]


@contextlib.contextmanager
def _gc_paused():
    """The checker makes no reference cycles; with a large tree alive, the cyclic collector's
    full passes would cost more than the checking itself (10,000 promotions: 1.3 s -> 0.45 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keyword_span(node) -> Span:
    """The span of the keyword a clause or block starts with."""
    s = node.span
    word = _KEYWORDS.get(type(node), "")
    if isinstance(node, ast.Promotion):
        word = node.kind
    return Span(s.file, s.line, s.column, s.line, s.column + max(len(word), 1))


def show(expr, limit: int = 40) -> str:
    """Short source-like text of an expression, for messages."""
    text = expr_text(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _decimals(num: ast.Number) -> int:
    """Decimals as written (`9.90` has 2), from the token text when there is one."""
    if num.text:
        dot = num.text.find(".")
        return len(num.text) - dot - 1 if dot >= 0 else 0
    exponent = num.value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _decimals_text(n: int) -> str:
    return "1 decimal" if n == 1 else f"{n} decimals"


def _is_whole(value: Decimal) -> bool:
    return value == value.to_integral_value()


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _zone(name: str) -> tzinfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


class _Ctx:
    """Where an expression is: "line" (scope) or "order" (when, tiers, presale tiers)."""

    __slots__ = ("where", "clause", "presale")

    def __init__(self, where: str, clause: str, presale: bool = False):
        self.where, self.clause, self.presale = where, clause, presale


SCOPE = _Ctx("line", "scope")
WHEN = _Ctx("order", "when")
TIERS = _Ctx("order", "tiers")
PRESALE_TIERS = _Ctx("order", "tiers", presale=True)


class _Checker:
    def __init__(self, files: Sequence[ast.File]):
        self.files = list(files)
        self.out: list[Diagnostic] = []
        self.currency = DEFAULT_CURRENCY
        self.digits = minor_digits(DEFAULT_CURRENCY)
        self.tz: tzinfo = timezone.utc
        self.declared: dict[str, AttrInfo] = {}
        self.groups: dict[str, ast.GroupDecl] = {}
        self.promotions: dict[str, ast.Promotion] = {}
        self.presales: dict[str, ast.Presale] = {}
        self.windows: list[tuple[datetime, ast.DateTime]] = []  # (end, end token) for stale-window
        self.by_scope: dict[tuple, list[ast.Promotion]] = {}  # (level, scope) -> promotions
        self._declared_at: dict[str, Span] = {}

    def emit(self, code: str, span: Span, message: str, help: str | None = None) -> None:
        self.out.append(diagnostic(code, span, message, help))

    # ---- driver ------------------------------------------------------------------------------

    def run(self) -> list[Diagnostic]:
        items = [item for f in self.files for item in f.items]
        headers = [i for i in items if isinstance(i, ast.Ruleset)]
        for extra in headers[1:]:
            self.emit("second-ruleset", keyword_span(extra), f"a second `ruleset` header, `{extra.name.value}`",
                      help=f"a ruleset has one header; the first is at {headers[0].span}")
        for header in headers:
            self.header(header, primary=header is headers[0])
        self.collect_names(items)
        tests_allowed = {f.path: f.path.endswith("_test.promo") for f in self.files}
        for item in items:
            if isinstance(item, ast.Promotion):
                self.promotion(item)
            elif isinstance(item, ast.Presale):
                self.presale(item)
            elif isinstance(item, ast.Guard):
                self.guard(item)
            elif isinstance(item, ast.WarningLine):
                self.warning_line(item)
            elif isinstance(item, ast.RuleTest):
                self.test(item, tests_allowed.get(item.span.file, True))
        self.stale_windows()
        self.shadowed()
        return self.out

    # ---- shared pieces ------------------------------------------------------------------------

    def singles(self, block, parts, allowed_twice: tuple = ()) -> dict[type, object]:
        """Report clauses written twice; return the first clause of each kind."""
        seen: dict[type, object] = {}
        for c in parts:
            kind = _CLAUSE_KIND.get(type(c), type(c))
            if kind in allowed_twice or isinstance(c, ast.BENEFIT_TYPES):
                continue
            if kind in seen:
                word = _KEYWORDS.get(type(c), "clause")
                self.emit("duplicate-clause", keyword_span(c), f"`{word}` is written twice in `{block.name.value}`",
                          help=f"keep one; the first is at {seen[kind].span}")
            else:
                seen[kind] = c
        return seen

    def money(self, num: ast.Number | None, what: str = "money") -> None:
        if num is None:
            return
        d = _decimals(num)
        if d > self.digits:
            unit = _decimals_text(self.digits) if self.digits else "no decimals"
            self.emit("money-precision", num.span,
                      f"`{num.text or num.value}` has {_decimals_text(d)} but {what} in {self.currency} has {unit}",
                      help=f"write at most {self.digits} decimals" if self.digits else "write a whole amount")

    def whole(self, num: ast.Number | None, what: str, minimum: int = 0) -> bool:
        if num is None:
            return True
        if not _is_whole(num.value) or num.value < minimum:
            need = f"a whole number of at least {minimum}" if minimum else "a whole number"
            self.emit("invalid-number", num.span, f"{what} must be {need}, not `{num.text or num.value}`")
            return False
        return True

    def positive(self, num: ast.Number | None, what: str) -> None:
        if num is not None and num.value <= 0:
            self.emit("invalid-number", num.span, f"{what} must be more than 0")

    def instant(self, dt: ast.DateTime) -> datetime | None:
        """The instant a date-time literal names, or None (reported) if it is not a real one."""
        text = dt.text
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            try:
                date.fromisoformat(text[:10])
                what = "time" if len(text) > 10 else "date"
            except ValueError:
                what = "date"
            self.emit("invalid-datetime", dt.span, f"`{text}` is not a real {what}",
                      help="write ISO-8601, e.g. `2026-11-11T00:30` or `2026-11-11T00:30:00+08:00`")
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=self.tz)

    def window(self, win: ast.Window, stale: bool = True) -> None:
        start, end = self.instant(win.start), self.instant(win.end)
        if start is None or end is None:
            return
        if end <= start:
            self.emit("empty-window", win.span, f"the window `{win.start.text} .. {win.end.text}` is empty",
                      help="a window `A .. B` contains A and not B: its end must be after its start")
        elif stale:
            self.windows.append((end, win.end))

    def enum(self, name: ast.Name, choices: Sequence[str], what: str) -> bool:
        if name.value in choices:
            return True
        help = did_you_mean(name.value, choices) or "one of " + ", ".join(f"`{c}`" for c in choices)
        self.emit("unknown-value", name.span, f"unknown {what} `{name.value}`", help=help)
        return False

    # ---- ruleset header ------------------------------------------------------------------------

    def header(self, block: ast.Ruleset, primary: bool) -> None:
        seen = self.singles(block, block.settings, allowed_twice=(ast.GroupDecl, ast.AttributeDecl))
        currency = seen.get(ast.Currency)
        if currency is not None:
            code = currency.code.value
            if code in KNOWN_CURRENCIES:
                if primary:
                    self.currency, self.digits = code, minor_digits(code)
            else:
                help = did_you_mean(code, KNOWN_CURRENCIES) or "an ISO-4217 code such as `CNY`"
                self.emit("unknown-value", currency.code.span, f"unknown currency `{code}`", help=help)
        tz = seen.get(ast.Timezone)
        if tz is not None:
            zone = _zone(tz.name.value)
            if zone is None:
                help = did_you_mean(tz.name.value, _zones()) or "an IANA time zone such as `Asia/Shanghai`"
                self.emit("unknown-value", tz.name.span, f"unknown time zone `{tz.name.value}`", help=help)
            elif primary:
                self.tz = zone
        for setting in block.settings:
            if isinstance(setting, ast.Stacking):
                self.enum(setting.mode, STACKING_MODES, "stacking mode")
            elif isinstance(setting, ast.Rounding):
                self.enum(setting.mode, ROUNDING_MODES, "rounding mode")
            elif isinstance(setting, ast.MinPayment):
                self.money(setting.amount)
            elif isinstance(setting, ast.GroupDecl):
                self.group_decl(setting)
            elif isinstance(setting, ast.AttributeDecl):
                self.attribute_decl(setting)

    def group_decl(self, decl: ast.GroupDecl) -> None:
        self.whole(decl.max, "a group's `max`", minimum=1)
        first = self.groups.get(decl.name.value)
        if first is not None:
            self.emit("duplicate-name", decl.name.span, f"group `{decl.name.value}` is declared twice",
                      help=f"the first declaration is at {first.name.span}")
        else:
            self.groups[decl.name.value] = decl

    def attribute_decl(self, decl: ast.AttributeDecl) -> None:
        path = decl.path.dotted
        if not self.enum(decl.type, ATTRIBUTE_TYPES, "attribute type"):
            return
        info = declared_info(path, decl.type.value)
        if info is None:
            self.emit("unknown-attribute", decl.path.span, f"`{path}` cannot be declared",
                      help="declare `line.<name>` or `user.<name>`")
        elif path in BUILTIN:
            self.emit("duplicate-name", decl.path.span, f"`{path}` is a built-in attribute",
                      help="choose another name")
        elif path in self.declared:
            self.emit("duplicate-name", decl.path.span, f"attribute `{path}` is declared twice",
                      help=f"the first declaration is at {self._declared_at[path]}")
        else:
            self.declared[path] = info
            self._declared_at[path] = decl.path.span

    # ---- names across the ruleset ---------------------------------------------------------------

    def collect_names(self, items) -> None:
        spaces: dict[str, dict[str, object]] = {"promotion": self.promotions, "presale": self.presales,
                                                "guard": {}, "warning": {}, "test": {}}
        space_of = {ast.Promotion: "promotion", ast.Presale: "presale", ast.Guard: "guard",
                    ast.WarningLine: "warning", ast.RuleTest: "test"}
        for item in items:
            space = space_of.get(type(item))
            if space is None:
                continue
            names = spaces[space]
            first = names.get(item.name.value)
            if first is None:
                names[item.name.value] = item
                continue
            kind = first.kind if isinstance(first, ast.Promotion) else space
            self.emit("duplicate-name", item.name.span, f"`{item.name.value}` is already the name of a {kind}",
                      help=f"names must be unique; the first is at {first.name.span}")

    # ---- promotions and coupons ---------------------------------------------------------------------

    def promotion(self, p: ast.Promotion) -> None:
        seen = self.singles(p, p.clauses)
        benefits = [c for c in p.clauses if isinstance(c, ast.BENEFIT_TYPES)]
        if not benefits:
            self.emit("missing-benefit", p.name.span, f"{p.kind} `{p.name.value}` has no benefit",
                      help="add one benefit clause, e.g. `discount 10`")
        for extra in benefits[1:]:
            self.emit("multiple-benefits", keyword_span(extra), f"a second benefit in `{p.name.value}`",
                      help=f"a {p.kind} has exactly one benefit; the first is at {benefits[0].span}")
        level = seen.get(ast.Level)
        level_name = None
        if level is None:
            self.emit("missing-clause", p.name.span, f"{p.kind} `{p.name.value}` has no `level`",
                      help="add `level item`, `level shop`, `level platform` or `level shipping`")
        elif self.enum(level.value, LEVELS, "level"):
            level_name = level.value.value
        if level_name is not None and benefits:
            free = [b for b in benefits if isinstance(b, ast.FreeShipping)]
            if level_name != "shipping":
                for b in free:
                    self.emit("free-shipping-level", b.span, f"`free_shipping` at `level {level_name}`",
                              help="free shipping is a `level shipping` benefit")
            elif not free:
                self.emit("free-shipping-level", level.value.span, "`level shipping` without `free_shipping`",
                          help="at level shipping the benefit is `free_shipping`")
        for c in p.clauses:
            if isinstance(c, ast.Active):
                self.window(c.window)
            elif isinstance(c, ast.Scope):
                self.predicate(c.expr, SCOPE)
            elif isinstance(c, ast.When):
                self.predicate(c.expr, WHEN)
            elif isinstance(c, ast.GroupRef):
                self.group_ref(c)
            elif isinstance(c, ast.Priority):
                self.whole(c.value, "`priority`")
            elif isinstance(c, ast.Limit):
                self.whole(c.count, "a `limit`", minimum=1)
                self.enum(c.per, LIMIT_PER, "limit period")
            elif isinstance(c, ast.BENEFIT_TYPES):
                self.benefit(c)
        when = seen.get(ast.When)
        if when is not None and benefits:
            self.threshold_warning(when.expr, benefits[0])
        if level_name is not None:
            scope = seen.get(ast.Scope)
            key = (level_name, scope.expr if scope is not None else None)
            self.by_scope.setdefault(key, []).append(p)

    def group_ref(self, ref: ast.GroupRef) -> None:
        if ref.name.value not in self.groups:
            help = did_you_mean(ref.name.value, self.groups) or "declare it in the ruleset header: " \
                f"`group \"{ref.name.value}\" max 1`"
            self.emit("undeclared-group", ref.name.span, f"group `{ref.name.value}` is not declared", help=help)

    def benefit(self, b) -> None:
        if isinstance(b, ast.DiscountAmount):
            self.money(b.amount)
            self.positive(b.amount, "a discount")
        elif isinstance(b, ast.DiscountPercent):
            if b.zhe is not None:
                if not 0 < b.zhe.value < 10:
                    self.emit("invalid-number", b.percent_span, f"`{b.zhe.text}折` is not a discount",
                              help="a 折 figure is between 0 and 10: `8.8折` pays 88%")
            elif not 0 < b.off <= 100:
                self.emit("invalid-number", b.percent_span, f"`{b.off}%` is not a percentage off",
                          help="a percentage off is more than 0% and at most 100%")
            self.money(b.cap)
            self.positive(b.cap, "a cap")
        elif isinstance(b, ast.DiscountEvery):
            self.money(b.amount)
            self.money(b.every)
            self.money(b.cap)
            self.positive(b.amount, "a discount")
            self.positive(b.every, "the `every` step")
            self.positive(b.cap, "a cap")
            if b.every.value > 0 and b.amount.value >= b.every.value:
                self.emit("discount-exceeds-threshold", b.amount.span,
                          f"`discount {b.amount.text} every {b.every.text}` gives at least what is spent",
                          help="the discount for every step is usually smaller than the step")
        elif isinstance(b, ast.PriceEach):
            self.money(b.amount)
        elif isinstance(b, ast.Tiers):
            for tier in b.tiers:
                self.predicate(tier.condition, TIERS)
                self.benefit(tier.benefit)
                self.threshold_warning(tier.condition, tier.benefit, only_simple=True)
            if self.few_tiers(b.tiers):
                self.tier_warnings([(t.condition, t.benefit) for t in b.tiers])
        elif isinstance(b, ast.Nth):
            self.whole(b.n, "`nth`", minimum=2)
            self.benefit(b.benefit)
        elif isinstance(b, ast.Gift):
            self.whole(b.qty, "a gift's `qty`", minimum=1)

    # ---- presale, guards, warning lines ---------------------------------------------------------

    def presale(self, p: ast.Presale) -> None:
        seen = self.singles(p, p.clauses)
        price = seen.get(ast.PresalePrice)
        deposit = seen.get(ast.Deposit)
        if price is None:
            self.emit("missing-clause", p.name.span, f"presale `{p.name.value}` has no `price`",
                      help="add `price M`, the presale price per unit")
        if deposit is None:
            for kind in (ast.BalanceDiscount, ast.DepositWindow, ast.BalanceWindow):
                c = seen.get(kind)
                if c is not None:
                    self.emit("missing-clause", keyword_span(c), f"`{_KEYWORDS[kind]}` without a `deposit`",
                              help="add `deposit M`, or remove this clause for a full-payment presale")
        elif seen.get(ast.BalanceWindow) is None:
            self.emit("missing-clause", keyword_span(deposit), f"presale `{p.name.value}` has a `deposit` "
                      "but no `balance_window`", help="add `balance_window A .. B`, when the balance is paid")
        for c in p.clauses:
            if isinstance(c, ast.Scope):
                self.predicate(c.expr, SCOPE)
            elif isinstance(c, (ast.Active, ast.DepositWindow, ast.BalanceWindow)):
                self.window(c.window)
            elif isinstance(c, ast.Priority):
                self.whole(c.value, "`priority`")
            elif isinstance(c, ast.PresalePrice):
                self.money(c.price)
                for tier in c.tiers:
                    self.predicate(tier.condition, PRESALE_TIERS)
                    self.money(tier.price)
                    if tier.price.value >= c.price.value:
                        self.emit("unreachable-tier", tier.price.span, f"tier price `{tier.price.text}` is not below "
                                  f"the presale price `{c.price.text}`", help="the lowest price among the tiers met "
                                  "and the presale price applies")
                if self.few_tiers(c.tiers):
                    self.tier_warnings([(t.condition, ast.PriceEach(t.price)) for t in c.tiers
                                        if t.price.value < c.price.value])
            elif isinstance(c, ast.Deposit):
                self.money(c.amount)
                self.money(c.worth)
                self.positive(c.amount, "a deposit")
                if c.worth is not None and c.worth.value < c.amount.value:
                    self.emit("invalid-number", c.worth.span, f"`worth {c.worth.text}` is less than the deposit "
                              f"`{c.amount.text}`", help="`worth` is what the deposit counts for at the "
                              "balance stage: at least the deposit")
                if price is not None:
                    top = c.worth if c.worth is not None else c.amount
                    if top.value > price.price.value:
                        self.emit("invalid-number", top.span, f"the deposit counts for `{top.text}`, more than "
                                  f"the price `{price.price.text}`")
            elif isinstance(c, ast.BalanceDiscount):
                self.money(c.amount)
                self.positive(c.amount, "a balance discount")
            elif isinstance(c, ast.Ships):
                self.instant(c.date)

    def guard(self, g: ast.Guard) -> None:
        seen = self.singles(g, g.clauses)
        if seen.get(ast.FloorPercent) is None:
            self.emit("missing-clause", g.name.span, f"guard `{g.name.value}` has no `floor`",
                      help="add `floor 60%` (of list price) or `floor 9.90 each`")
        for c in g.clauses:
            if isinstance(c, ast.Scope):
                self.predicate(c.expr, SCOPE)
            elif isinstance(c, ast.Active):
                self.window(c.window, stale=False)
            elif isinstance(c, ast.FloorPercent):
                self.percent_of_price(c.percent, "a floor")
            elif isinstance(c, ast.FloorEach):
                self.money(c.amount)

    def warning_line(self, w: ast.WarningLine) -> None:
        seen = self.singles(w, w.clauses)
        if seen.get(ast.BelowPercent) is None:
            self.emit("missing-clause", w.name.span, f"warning `{w.name.value}` has no `below`",
                      help="add `below 70%` (of list price) or `below 9.90 each`")
        for c in w.clauses:
            if isinstance(c, ast.Scope):
                self.predicate(c.expr, SCOPE)
            elif isinstance(c, ast.BelowPercent):
                self.percent_of_price(c.percent, "a warning line")
            elif isinstance(c, ast.BelowEach):
                self.money(c.amount)

    def percent_of_price(self, num: ast.Number, what: str) -> None:
        if not 0 < num.value <= 100:
            self.emit("invalid-number", num.span, f"{what} of `{num.text}%` of the list price is out of range",
                      help="write more than 0% and at most 100%")

    # ---- expressions ----------------------------------------------------------------------------

    def predicate(self, expr, ctx: _Ctx) -> None:
        t = self.type_of(expr, ctx)
        if t not in ("bool", _UNKNOWN):
            self.not_a_condition(expr, t)

    def not_a_condition(self, expr, t: str) -> None:
        help = "compare it with a value, e.g. `sku == \"A\"`" if isinstance(expr, ast.Path) else None
        self.emit("type-mismatch", expr.span, f"`{show(expr)}` is {_a(t)}, not a condition", help=help)

    def type_of(self, e, ctx: _Ctx) -> str:
        """The type of `e` ("string", "money", "list[string]", ... or "?" once reported)."""
        literal = _LITERAL_TYPES.get(type(e))
        if literal is not None:
            return literal
        method = _TYPE_RULES.get(type(e))
        return method(self, e, ctx) if method is not None else _UNKNOWN

    def boolean(self, e, ctx: _Ctx) -> str:
        for side in ast.subexpressions(e):
            t = self.type_of(side, ctx)
            if t not in ("bool", _UNKNOWN):
                self.not_a_condition(side, t)
        return "bool"

    def datetime_literal(self, e: ast.DateTime, ctx: _Ctx) -> str:
        return "datetime" if self.instant(e) is not None else _UNKNOWN

    def path(self, p: ast.Path, ctx: _Ctx) -> str:
        name = p.dotted
        info = attribute_type(name, self.declared)
        if info is None:
            help = did_you_mean(name, known_attributes(self.declared))
            if help is None and p.names[0] in ("line", "user") and len(p.names) == 2:
                help = f"declare it in the ruleset header, e.g. `attribute {name} string`"
            self.emit("unknown-attribute", p.span, f"unknown attribute `{name}`", help=help)
            return _UNKNOWN
        if info.presale_only and not ctx.presale:
            self.emit("unknown-attribute", p.span, f"`{name}` is only known in a presale's `price ... tiers`",
                      help="`sold` is the presale's units sold so far")
        elif ctx.where == "line" and info.where == "order":
            self.emit("order-attribute-in-scope", p.span, f"`{name}` is an order attribute; `scope` tests one "
                      "line at a time", help="move this test to `when`")
        elif ctx.where == "order" and info.where == "line":
            self.emit("line-attribute-in-when", p.span, f"`{name}` is a line attribute; `{ctx.clause}` tests "
                      "the whole order", help="move this test to `scope`")
        return info.type

    def list_type(self, e: ast.ListLit, ctx: _Ctx) -> str:
        elem = _UNKNOWN
        for item in e.items:
            t = self.type_of(item, ctx)
            if t == _UNKNOWN:
                continue
            if t.startswith("list") or t == "set":
                self.emit("type-mismatch", item.span, f"a list cannot hold {_a(t)}")
            elif elem == _UNKNOWN:
                elem = t
            elif not _compatible(elem, t):
                self.emit("type-mismatch", item.span, f"`{show(item)}` is {_a(t)} in a list of {elem}s",
                          help="every item of a list has the same type")
            elif elem == "number":
                elem = t
        return f"list[{elem}]"

    def compare(self, e: ast.Compare, ctx: _Ctx) -> str:
        self.check_compare(e, ctx)
        return "bool"

    def check_compare(self, e: ast.Compare, ctx: _Ctx) -> None:
        lt, rt = self.type_of(e.left, ctx), self.type_of(e.right, ctx)
        if _UNKNOWN in (lt, rt):
            return
        if lt.startswith("list") or rt.startswith("list"):
            bad = e.left if lt.startswith("list") else e.right
            help = f"use `in`: `{show(e.left if bad is e.right else e.right)} in [...]`" if e.op == "==" else None
            self.emit("type-mismatch", bad.span, f"`{e.op}` cannot compare with a list", help=help)
            return
        if "set" in (lt, rt):
            bad = e.left if lt == "set" else e.right
            self.emit("type-mismatch", bad.span, f"`{e.op}` does not apply to a set",
                      help=f"test membership with `has`: `{show(bad)} has \"x\"`")
            return
        if not _compatible(lt, rt):
            bad = _blame(e.left, e.right)
            self.emit("type-mismatch", bad.span, f"cannot compare `{show(e.left)}` ({lt}) with `{show(e.right)}` ({rt})")
            return
        t = lt if lt != "number" else rt
        if e.op not in ("==", "!=") and t not in _ORDERED:
            self.emit("type-mismatch", _blame(e.left, e.right).span, f"`{e.op}` needs numbers, money or "
                      f"date-times, not {t}s", help="use `==` or `!=`" if t in ("string", "bool") else None)
            return
        self.literal_checks(t, (e.left, e.right))

    def literal_checks(self, t: str, exprs) -> None:
        """Money literals next to money need the currency's precision; counts need whole numbers."""
        if t not in ("money", "integer"):
            return
        for num in _literals(exprs):
            if t == "money":
                self.money(num)
            elif not _is_whole(num.value):
                self.emit("invalid-number", num.span, f"`{num.text}` is not a whole number",
                          help="counts (quantity, levels, units) are whole")

    def in_(self, e: ast.In, ctx: _Ctx) -> str:
        self.check_in(e, ctx)
        return "bool"

    def check_in(self, e: ast.In, ctx: _Ctx) -> None:
        lt, rt = self.type_of(e.left, ctx), self.type_of(e.right, ctx)
        if lt.startswith("list") or lt == "set":
            self.emit("type-mismatch", e.left.span, f"the left of `in` is {_a(lt)}, not a single value",
                      help=f"to test a set use `has`: `{show(e.left)} has \"x\"`" if lt == "set" else None)
            return
        if rt == "set":
            if lt not in ("string", _UNKNOWN):
                self.emit("type-mismatch", e.left.span, f"`{show(e.left)}` is {_a(lt)}; a set holds strings")
            return
        if not rt.startswith("list"):
            if rt != _UNKNOWN:
                self.emit("type-mismatch", e.right.span, f"`in` needs a list, not {_a(rt)}",
                          help=f"write `{show(e.left)} in [...]`")
            return
        elem = rt[5:-1]
        if _UNKNOWN in (lt, elem):
            return
        if not _compatible(lt, elem):
            self.emit("type-mismatch", e.right.span, f"`{show(e.left)}` is {_a(lt)} but the list holds {elem}s")
            return
        self.literal_checks(lt if lt != "number" else elem, e.right.items if isinstance(e.right, ast.ListLit) else ())

    def has(self, e: ast.Has, ctx: _Ctx) -> str:
        self.check_has(e, ctx)
        return "bool"

    def check_has(self, e: ast.Has, ctx: _Ctx) -> None:
        lt, rt = self.type_of(e.left, ctx), self.type_of(e.right, ctx)
        if lt not in ("set", _UNKNOWN):
            self.emit("type-mismatch", e.left.span, f"`has` needs a set such as `tags`, not {_a(lt)}",
                      help="to test one value use `==` or `in`")
        if rt not in ("string", _UNKNOWN):
            self.emit("type-mismatch", e.right.span, f"a set holds strings, not {_a(rt)}",
                      help=f"write `{show(e.left)} has \"...\"`")

    def arith(self, e: ast.Arith, ctx: _Ctx) -> str:
        """The type of `a + b - c ...`, folded left to right as the chain is evaluated."""
        types = [self.type_of(x, ctx) for x in e.operands]
        if _UNKNOWN in types:
            return _UNKNOWN
        for i, (side, t) in enumerate(zip(e.operands, types)):
            if t not in _NUMERIC:
                self.emit("type-mismatch", side.span, f"`{e.ops[max(i - 1, 0)]}` works on money and numbers, not {_a(t)}")
                return _UNKNOWN
        lt = types[0]
        for i, (op, right, rt) in enumerate(zip(e.ops, e.operands[1:], types[1:]), start=1):
            if not _compatible(lt, rt):
                left = _prefix(e, i)
                self.emit("type-mismatch", _blame(left, right).span, f"cannot {'add' if op == '+' else 'subtract'} "
                          f"`{show(right)}` ({rt}) {'to' if op == '+' else 'from'} `{show(left)}` ({lt})")
                return _UNKNOWN
            lt = "money" if "money" in (lt, rt) else "integer" if lt == rt == "integer" else lt if rt == "number" else rt
        self.literal_checks(lt, e.operands)
        return lt

    # ---- warnings -------------------------------------------------------------------------------

    def threshold_warning(self, cond, benefit, only_simple: bool = False) -> None:
        """`discount M` where M is at least the `amount >= C` the promotion (or tier) requires."""
        if not isinstance(benefit, ast.DiscountAmount) or benefit.each:
            return
        conjuncts = [cond] if only_simple else ast.conjuncts(cond)
        limits = [s[1] for s in map(_threshold, conjuncts) if s is not None and s[0] == "amount"]
        if limits and benefit.amount.value >= max(limits):
            self.emit("discount-exceeds-threshold", benefit.amount.span,
                      f"the discount `{benefit.amount.text}` is at least its amount threshold `{max(limits)}`",
                      help="a buyer who just meets the threshold would pay nothing; check the figures")

    def few_tiers(self, tiers: tuple) -> bool:
        """Whether `tiers` is within MAX_TIERS; past it `too-many-tiers` at the first tier too
        many (tiers are compared pairwise, here and when a cart is priced)."""
        if len(tiers) <= MAX_TIERS:
            return True
        self.emit("too-many-tiers", tiers[MAX_TIERS].span, f"`tiers` has {len(tiers)} tiers, more than the {MAX_TIERS} one clause may have",
                  help="merge tiers, or split the promotion into promotions over ranges of the threshold")
        return False

    def tier_warnings(self, tiers: list[tuple]) -> None:
        """Tiers that never give their benefit. The best benefit among the met tiers applies, so a
        tier is dead when another tier that is met whenever it is (same measure, threshold at or
        below) gives at least as much; on an exact tie the later one is reported."""
        by_measure: dict[str, list[tuple]] = {}
        for index, (cond, benefit) in enumerate(tiers):
            th, value = _threshold(cond), _benefit_value(benefit)
            if th is not None and value is not None:
                by_measure.setdefault(th[0], []).append(((th[1], th[2]), index, cond, value))
        for rows in by_measure.values():
            # by threshold; among equal thresholds the best benefit first, then written order
            rows.sort(key=lambda r: (r[0], r[3][1] if r[3][2] else -r[3][1], r[1]))
            best: dict[str, tuple] = {}  # benefit kind -> (value, cond) of the best tier so far
            for key, _, cond, (kind, amount, low_is_better) in rows:
                prev = best.get(kind)
                if prev is not None and (amount >= prev[0] if low_is_better else amount <= prev[0]):
                    same = _threshold(prev[1])[1:] == key
                    self.emit("unreachable-tier", cond.span, f"tier `{show(cond)}` never gives more than the "
                              f"{'tier with the same threshold' if same else 'lower tier'} `{show(prev[1])}`",
                              help=f"the tier at {prev[1].span} is met whenever this one is, and the best "
                              "benefit among the tiers met applies")
                    continue
                best[kind] = (amount, cond)

    def stale_windows(self) -> None:
        if len(self.windows) < 2:
            return
        ordered = sorted(self.windows, key=lambda w: w[0])
        first, second = ordered[0][0], ordered[1][0]
        for end, token in self.windows:
            others_end = second if end == first else first
            if end <= others_end - STALE_GAP:
                self.emit("stale-window", token.span, f"this window ends at `{token.text}`, at least 90 days "
                          "before any other window of the ruleset ends", help="the other windows end on or after "
                          f"{others_end.date().isoformat()}; check the year")

    def shadowed(self) -> None:
        for (level, _), group in self.by_scope.items():
            if len(group) < 2:
                continue
            exclusive = next((p for p in group if ast.first(p, ast.Exclusive) is not None), None)
            if exclusive is None:
                continue
            for p in group:
                if ast.first(p, ast.Exclusive) is None:
                    self.emit("shadowed-by-exclusive", p.name.span, f"`{p.name.value}` has the same level and "
                              f"scope as the exclusive `{exclusive.name.value}`",
                              help=f"they never apply together; `{exclusive.name.value}` is at {exclusive.name.span}")

    # ---- tests ----------------------------------------------------------------------------------

    def test(self, t: ast.RuleTest, allowed: bool) -> None:
        if not allowed:
            self.emit("invalid-test", keyword_span(t), f"test `{t.name.value}` is outside a `*_test.promo` file",
                      help="move it to a file whose name ends in `_test.promo`")
        repeatable = (ast.LineStmt, ast.ShippingStmt, ast.SoldStmt, ast.Expect)
        self.singles(t, t.statements, allowed_twice=repeatable)
        lines: dict[str, ast.LineStmt] = {}
        once: dict[tuple, Span] = {}
        for s in t.statements:
            if isinstance(s, ast.LineStmt):
                if s.id.value in lines:
                    self.emit("duplicate-name", s.id.span, f"line `{s.id.value}` is written twice",
                              help=f"the first is at {lines[s.id.value].id.span}")
                else:
                    lines[s.id.value] = s
        line_fields = dict(TEST_LINE_FIELDS)
        user_fields = dict(TEST_USER_FIELDS)
        for path, info in self.declared.items():
            prefix, _, name = path.partition(".")
            (line_fields if prefix == "line" else user_fields).setdefault(name, info.type)
        for s in t.statements:
            if isinstance(s, ast.AtStmt):
                self.instant(s.at)
            elif isinstance(s, ast.UserStmt):
                self.fields(s.fields, user_fields, "user")
            elif isinstance(s, ast.LineStmt):
                present = self.fields(s.fields, line_fields, "line")
                for required in TEST_LINE_REQUIRED:
                    if required not in present:
                        self.emit("invalid-test", s.id.span, f"line `{s.id.value}` has no `{required}`",
                                  help="a test line needs `sku`, `price` and `qty`")
            elif isinstance(s, ast.ShippingStmt):
                self.money(s.fee)
                self.repeated(once, ("shipping", s.shop.value), s, f"shipping for `{s.shop.value}`")
            elif isinstance(s, (ast.WalletStmt, ast.SelectedStmt)):
                for name in s.coupons:
                    if self.promotion_name(name, presale_ok=False):
                        p = self.promotions[name.value]
                        if p.kind != "coupon":
                            self.emit("invalid-test", name.span, f"`{name.value}` is an automatic promotion, "
                                      "not a coupon", help="only coupons are held or selected")
            elif isinstance(s, ast.StageStmt):
                self.enum(s.stage, TEST_STAGES, "stage")
            elif isinstance(s, ast.SoldStmt):
                if s.presale.value not in self.presales:
                    help = did_you_mean(s.presale.value, self.presales)
                    self.emit("invalid-test", s.presale.span, f"no presale is named `{s.presale.value}`", help=help)
                self.whole(s.count, "units sold")
                self.repeated(once, ("sold", s.presale.value), s, f"sold for `{s.presale.value}`")
            elif isinstance(s, ast.Expect):
                self.expect(s, lines, once)

    def repeated(self, once: dict, key: tuple, stmt, what: str) -> None:
        if key in once:
            self.emit("duplicate-clause", keyword_span(stmt), f"{what} is written twice",
                      help=f"the first is at {once[key]}")
        else:
            once[key] = stmt.span

    def expect(self, s: ast.Expect, lines: dict, once: dict) -> None:
        self.money(s.value)
        if s.what in ("payable", "discount", "shipping"):
            self.repeated(once, ("expect", s.what), s, f"`expect {s.what}`")
        elif s.what == "line" and s.subject is not None:
            if s.subject.value not in lines:
                help = did_you_mean(s.subject.value, lines)
                self.emit("invalid-test", s.subject.span, f"this test has no line `{s.subject.value}`", help=help)
        elif s.subject is not None:
            self.promotion_name(s.subject, presale_ok=True)
        if s.what == "not_applied" and s.code is not None:
            if s.code.value == CAPPED:
                self.emit("unknown-value", s.code.span, "`CAPPED` is not a reason for not applying",
                          help="a capped promotion is applied: use `expect applied`")
            else:
                self.enum(s.code, NOT_APPLIED_REASONS, "reason code")

    def promotion_name(self, name: ast.Name, presale_ok: bool) -> bool:
        if name.value in self.promotions or (presale_ok and name.value in self.presales):
            return True
        known = list(self.promotions) + (list(self.presales) if presale_ok else [])
        self.emit("invalid-test", name.span, f"no promotion or coupon is named `{name.value}`",
                  help=did_you_mean(name.value, known))
        return False

    def fields(self, fields, known: dict[str, str], what: str) -> set[str]:
        present: dict[str, ast.Field] = {}
        for f in fields:
            name = f.name.value
            if name in present:
                self.emit("duplicate-clause", f.name.span, f"`{name}` is written twice in this {what}",
                          help=f"the first is at {present[name].name.span}")
                continue
            present[name] = f
            expected = known.get(name)
            if expected is None:
                help = did_you_mean(name, known) or "known fields: " + ", ".join(f"`{k}`" for k in sorted(known))
                self.emit("invalid-test", f.name.span, f"unknown {what} field `{name}`", help=help)
                continue
            self.field_value(f, expected)
        return set(present)

    def field_value(self, f: ast.Field, expected: str) -> None:
        v = f.value
        got = {ast.String: "string", ast.Number: "number", ast.Bool: "bool", ast.DateTime: "datetime",
               ast.ListLit: "list"}.get(type(v), _UNKNOWN)
        want = "list" if expected == "set" else "number" if expected in _NUMERIC else expected
        if got != want:
            shown = "a list of strings" if expected == "set" else _a(expected)
            self.emit("type-mismatch", v.span, f"`{f.name.value}` takes {shown}, not `{show(v)}`")
            return
        if isinstance(v, ast.ListLit):
            for item in v.items:
                if not isinstance(item, ast.String):
                    self.emit("type-mismatch", item.span, f"`{f.name.value}` holds strings, not `{show(item)}`")
        elif isinstance(v, ast.DateTime):
            self.instant(v)
        elif expected == "money":
            self.money(v)
        elif expected == "integer":
            self.whole(v, f"`{f.name.value}`", minimum=1 if f.name.value == "qty" else 0)


_LITERAL_TYPES: dict[type, str] = {ast.String: "string", ast.Number: "number", ast.Percent: "percent",
                                   ast.Bool: "bool"}
_TYPE_RULES = {
    ast.Path: _Checker.path, ast.DateTime: _Checker.datetime_literal, ast.ListLit: _Checker.list_type,
    ast.And: _Checker.boolean, ast.Or: _Checker.boolean, ast.Not: _Checker.boolean,
    ast.Compare: _Checker.compare, ast.In: _Checker.in_, ast.Has: _Checker.has, ast.Arith: _Checker.arith,
}


# ---- small pure helpers -----------------------------------------------------------------------


def _a(t: str) -> str:
    if t.startswith("list["):
        return f"a list of {t[5:-1]}s" if t != "list[?]" else "a list"
    return {"integer": "an integer", "set": "a set of strings", "datetime": "a date-time",
            "bool": "a bool", "percent": "a percentage", _UNKNOWN: "unknown"}.get(t, f"a {t}")


def _compatible(a: str, b: str) -> bool:
    if a == b or _UNKNOWN in (a, b) or {a, b} == {"number", "percent"}:
        return True  # a percentage compares with a `number` attribute (`line.margin < 20%`)
    return a in _NUMERIC and b in _NUMERIC and "number" in (a, b)


def _blame(left, right):
    """The operand a type error points at: the literal side, else the right."""
    return left if isinstance(right, ast.Path) and not isinstance(left, ast.Path) else right


def _prefix(e: ast.Arith, n: int):
    """The first `n` operands of a chain, as the expression they form (for messages)."""
    if n == 1:
        return e.operands[0]
    first, last = e.operands[0].span, e.operands[n - 1].span
    return ast.Arith(e.operands[:n], e.ops[: n - 1],
                     span=Span(first.file, first.line, first.column, last.end_line, last.end_column))


def _literals(exprs):
    """The number literals of `exprs`, inside sums and lists too."""
    stack = list(reversed(exprs))
    while stack:
        e = stack.pop()
        if isinstance(e, ast.Number):
            yield e
        elif isinstance(e, (ast.Arith, ast.ListLit)):
            stack.extend(reversed(ast.subexpressions(e)))


_FLIP = {">=": "<=", ">": "<", "<=": ">=", "<": ">"}


def _threshold(e) -> tuple[str, Decimal, bool] | None:
    """`amount >= 100` -> ("amount", 100, False); `quantity > 2` -> ("quantity", 2, True)."""
    if not isinstance(e, ast.Compare):
        return None
    left, op, right = e.left, e.op, e.right
    if isinstance(left, ast.Number) and isinstance(right, ast.Path) and op in _FLIP:
        left, op, right = right, _FLIP[op], left
    if (isinstance(left, ast.Path) and left.dotted in ("amount", "quantity", "sold")
            and isinstance(right, ast.Number) and op in (">=", ">")):
        return left.dotted, right.value, op == ">"
    return None


def _benefit_value(b) -> tuple[str, Decimal, bool] | None:
    """(kind, value, lower-is-better) for benefits comparable from constants alone."""
    if isinstance(b, ast.DiscountAmount):
        return ("each" if b.each else "discount", b.amount.value, False)
    if isinstance(b, ast.DiscountPercent) and b.cap is None:
        return ("percent", b.off, False)
    if isinstance(b, ast.PriceEach):
        return ("price", b.amount.value, True)
    return None
