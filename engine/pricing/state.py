"""The state of one pricing: what every choice of promotions shares (`Prepared`: the lines in
canonical order, their floors and presale stages, the candidates and why the others are not),
and the outcome of one choice (`Pricing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from engine.base.enums import Explain, Level, ReasonCode, Stage
from engine.base.request import Line, Request, WalletEntry
from engine.plan import benefits as b
from engine.plan.plan import Plan, Presale, Promotion
from engine.plan.predicates import OrderFacts
from engine.pricing.explain import HintData, Reason, Trace

# The enum members pricing compares with in its loops, as Final names: compiled, each is a C static,
# where `Level.ITEM` is a lookup on the class through EnumType's __getattr__ slot (~850
# instructions on Python 3.11). The same members: `ITEM is Level.ITEM`.
ITEM: Final = Level.ITEM
SHOP: Final = Level.SHOP
PLATFORM: Final = Level.PLATFORM
SHIPPING: Final = Level.SHIPPING
FULL: Final = Stage.FULL
DEPOSIT: Final = Stage.DEPOSIT
EXPLAIN_OFF: Final = Explain.OFF
EXPLAIN_TRACE: Final = Explain.TRACE
THRESHOLD_NOT_MET: Final = ReasonCode.THRESHOLD_NOT_MET
CONDITION_FAILED: Final = ReasonCode.CONDITION_FAILED
ZERO_BENEFIT: Final = ReasonCode.ZERO_BENEFIT
NOT_BEST_COMBINATION: Final = ReasonCode.NOT_BEST_COMBINATION
NO_ELIGIBLE_ITEMS: Final = ReasonCode.NO_ELIGIBLE_ITEMS


@dataclass(frozen=True)
class PresaleLine:
    presale: Presale
    stage: Stage
    base: int  # what the line costs before coupons: (price - expansion - balance discount) x qty
    deposit: int  # deposit paid (or due now) for the line
    worth: int


@dataclass(frozen=True, eq=False)  # identity: compared and looked up often during the search
class Candidate:
    """A promotion that passed the request-level checks, with the lines its scope matches."""

    promotion: Promotion
    lines: tuple[int, ...]  # indices into Prepared.lines
    groups: tuple[tuple[int, ...], ...]  # per shop at level shop and shipping, else one group
    wallet: WalletEntry | None
    shops: frozenset[str] = frozenset()

    # Written out (dataclass keeps it): compiled, the generated __init__ runs interpreted (its
    # object.__setattr__ per field) at ~10x the cost; one per candidate of every request
    def __init__(self, promotion: Promotion, lines: tuple[int, ...], groups: tuple[tuple[int, ...], ...],
                 wallet: WalletEntry | None, shops: frozenset[str] = frozenset()) -> None:
        object.__setattr__(self, "promotion", promotion)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "wallet", wallet)
        object.__setattr__(self, "shops", shops)


@dataclass
class Prepared:
    plan: Plan
    request: Request
    lines: list[Line]  # sorted by id
    floors: list[int]
    presale: dict[int, PresaleLine]
    candidates: list[Candidate]
    blocked: dict[str, Reason]  # promotions that are not candidates, with why
    trace: Trace
    unknown: tuple[str, ...]  # coupon names in the wallet or `selected` that the ruleset lacks
    cart_quantity: int = 0
    listed: list[int] = field(default_factory=list)  # list amount of each line
    top: list[int] = field(default_factory=list)  # most a line can cost: list amount or presale base
    top_total: int = 0
    offers: dict[tuple[str, tuple[int, ...], tuple[int, ...], int], Any] = field(default_factory=dict)  # memo of
    # price._offer across the choices tried
    # memo of the part of `run` every choice shares
    snapshots: dict[tuple[frozenset[str], tuple[str, ...], bool], Pricing] = field(default_factory=dict)
    caps: dict[str, int] = field(default_factory=dict)  # promotion -> the most its budget lets it give (a ledger's)

    def facts(self, amount: int, quantity: int, cart_amount: int) -> OrderFacts:
        r = self.request
        return OrderFacts(amount, quantity, cart_amount, self.cart_quantity, r.user, r.channel, r.region, r.at)


@dataclass
class Pricing:
    """The outcome of one choice."""

    base: list[int]
    final: list[int]
    discounts: list[dict[str, int]]  # per line: promotion -> amount, in application order
    applied: dict[str, int] = field(default_factory=dict)  # promotion -> total discount
    capped: set[str] = field(default_factory=set)
    desired: dict[str, int] = field(default_factory=dict)  # promotions their budget cut: what they would give
    failed: dict[str, Reason] = field(default_factory=dict)
    hints: list[HintData] = field(default_factory=list)
    shipping: dict[str, int] = field(default_factory=dict)  # shop -> fee charged
    gifts: list[tuple[str, b.Gift, str]] = field(default_factory=list)  # (promotion, gift, shop)
    payable: int = 0

    # written out (dataclass keeps it): compiled, the generated one runs interpreted; a pricing is
    # made (or copied) for every choice priced. None: a new empty container, as default_factory
    def __init__(self, base: list[int], final: list[int], discounts: list[dict[str, int]],
                 applied: dict[str, int] | None = None, capped: set[str] | None = None,
                 desired: dict[str, int] | None = None, failed: dict[str, Reason] | None = None,
                 hints: list[HintData] | None = None, shipping: dict[str, int] | None = None,
                 gifts: list[tuple[str, b.Gift, str]] | None = None, payable: int = 0) -> None:
        self.base = base
        self.final = final
        self.discounts = discounts
        self.applied = {} if applied is None else applied
        self.capped = set() if capped is None else capped
        self.desired = {} if desired is None else desired
        self.failed = {} if failed is None else failed
        self.hints = [] if hints is None else hints
        self.shipping = {} if shipping is None else shipping
        self.gifts = [] if gifts is None else gifts
        self.payable = payable
