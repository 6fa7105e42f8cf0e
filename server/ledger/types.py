"""What the ledger is asked and answers: frozen values, amounts in minor units (ints).

The answers of writes are stored for idempotent replay, so each answer type converts to and from
JSON (`to_json` / `from_json`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from engine.base.enums import ReasonCode
from server.ledger.codes import normalize


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class State(StrEnum):
    HELD = "held"
    COMMITTED = "committed"
    RELEASED = "released"    # cancelled while held
    EXPIRED = "expired"      # held past its ttl
    CANCELLED = "cancelled"  # cancelled after commit
    RETURNED = "returned"    # every unit returned


OPEN_STATES = (State.HELD, State.COMMITTED)


class Reason(StrEnum):
    """Why a promotion got less than it asked: the engine's reason codes."""

    LIMIT_REACHED = ReasonCode.LIMIT_REACHED.value  # the pricing reason of the same name
    BUDGET_EXHAUSTED = ReasonCode.BUDGET_EXHAUSTED.value
    CODE_UNKNOWN = ReasonCode.CODE_UNKNOWN.value
    CODE_USED = ReasonCode.CODE_USED.value
    OUT_OF_STOCK = "OUT_OF_STOCK"  # a presale's `stock` has fewer units left than the line asks (ledger only)


class CodeState(StrEnum):
    UNKNOWN = "unknown"  # never issued, or issued for another coupon
    FREE = "free"
    HELD = "held"
    REDEEMED = "redeemed"


class Metric(StrEnum):
    USES = "uses"
    SPEND = "spend"
    CODE = "code"    # one counter per code, cap 1
    UNITS = "units"  # presale stock (ledger.md §5)


# ---- what a reservation holds ----------------------------------------------------------------

@dataclass(frozen=True)
class Limit:
    """`limit N [per user] [per day|week|month]`: uses of one promotion."""

    count: int
    per_user: bool = False
    period: Period | None = None


@dataclass(frozen=True)
class Budget:
    """`budget M [per day|week|month]`: the discount a promotion may give, minor units."""

    amount: int
    period: Period | None = None


@dataclass(frozen=True)
class Hold:
    """What one applied promotion takes: a use against each limit, `spend` against each budget,
    its code. `allocation` (line id -> part of spend, summing to it) lets a return give back
    the returned units' share."""

    promotion: str
    limits: tuple[Limit, ...] = ()
    budgets: tuple[Budget, ...] = ()
    spend: int = 0
    code: str | None = None
    allocation: Mapping[str, int] = field(default_factory=dict)
    desired: int = 0  # what it would give uncut, when the pricing already cut it to a budget's remainder (0: spend)
    units: int = 0  # a presale's units (its `promotion` is the presale): held against `stock`, all or none
    stock: int | None = None  # the presale's `stock`; None: units are counted, never refused


@dataclass(frozen=True)
class PresaleOrder:
    """A presale line of a priced order (ledger.md §5): at the deposit stage its reservation is
    the deposit order of the parent order; at the balance stage the balance order."""

    line_id: str
    presale: str
    stage: str  # deposit | balance | full
    units: int
    ship_us: int | None = None
    balance_closes_us: int | None = None


@dataclass(frozen=True)
class Line:
    """A cart line as priced: `final` is what the buyer pays for its `quantity` units."""

    id: str
    quantity: int
    final: int


@dataclass(frozen=True)
class Order:
    """A priced checkout: its holds, its lines and payable, and `answer` (any JSON value: the
    server's quote) which the reservation keeps and a replay returns."""

    holds: tuple[Hold, ...]
    lines: tuple[Line, ...] = ()
    payable: int = 0
    answer: Any = None
    presales: tuple[PresaleOrder, ...] = ()


@dataclass(frozen=True)
class ReserveRequest:
    order_id: str
    idempotency_key: str
    buyer: str
    timezone: str = "UTC"
    ttl_seconds: int = 900
    at: datetime | None = None  # the order's time: its periods; default the ledger's clock
    parent_order_id: str | None = None
    order: Order | None = None  # priced beforehand; otherwise reserve() gets a pricer
    fingerprint: str = ""       # the rest of the request for idempotency (the server: the cart's hash)


# ---- reading ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeRef:
    coupon: str
    code: str


@dataclass(frozen=True)
class UsageQuery:
    promotions: tuple[str, ...]
    buyer: str | None = None  # None: totals only
    at: datetime | None = None
    timezone: str = "UTC"
    codes: tuple[CodeRef, ...] = ()
    # presales whose units sold the engine reads: (name, the instant in µs their deposit window
    # closed, or None while it is open); after the close the count is the one at the close
    presales: tuple[tuple[str, int | None], ...] = ()


@dataclass(frozen=True)
class CounterKey:
    promotion: str
    metric: Metric
    subject: str  # '' for all buyers, else the buyer (uses) or the code (code)
    period: str   # '' or a period key (periods.py)


@dataclass(frozen=True)
class Count:
    """One counter as the engine should see it: `used` counts held and committed, never an
    expired hold (swept or not); `held` is the part still held; `cap` the last limit applied."""

    used: int
    held: int
    cap: int

    @property
    def committed(self) -> int:
        return self.used - self.held


@dataclass(frozen=True)
class Usage:
    """A read-only snapshot: what the engine reads instead of `user.usage`."""

    buyer: str | None
    period_keys: Mapping[Period | None, str]
    counters: Mapping[CounterKey, Count]
    codes: Mapping[CodeRef, CodeState]
    sold: Mapping[str, int] = field(default_factory=dict)  # presale -> units sold (the query's presales)

    def uses(self, promotion: str, limit: Limit) -> int:
        subject = (self.buyer or "") if limit.per_user else ""
        return self._used(CounterKey(promotion, Metric.USES, subject, self.period_keys[limit.period]))

    def spent(self, promotion: str, budget: Budget) -> int:
        return self._used(CounterKey(promotion, Metric.SPEND, "", self.period_keys[budget.period]))

    def code(self, coupon: str, code: str) -> CodeState:
        return self.codes.get(CodeRef(coupon, normalize(code)), CodeState.UNKNOWN)

    def _used(self, key: CounterKey) -> int:
        count = self.counters.get(key)
        return count.used if count else 0


Reader = Callable[[UsageQuery], Usage]


# ---- answers ---------------------------------------------------------------------------------

def _limit(data: Any) -> Limit | None:
    return None if data is None else Limit(data["count"], data["per_user"], _period(data["period"]))


def _budget(data: Any) -> Budget | None:
    return None if data is None else Budget(data["amount"], _period(data["period"]))


def _period(value: str | None) -> Period | None:
    return None if value is None else Period(value)


def _json(value: Limit | Budget | None) -> Any:
    if value is None:
        return None
    return {k: (str(v) if isinstance(v, Period) else v) for k, v in value.__dict__.items()}


@dataclass(frozen=True)
class Outcome:
    """What one promotion of the order got. `reason` is None when it got all it asked; a cut
    budget is BUDGET_EXHAUSTED with `granted` (held) less than `desired`; a refusal holds nothing
    (`granted` False). `limit` / `budget` name the clause, `used` that counter at the time."""

    promotion: str
    granted: bool
    reason: Reason | None = None
    desired: int = 0
    spend: int = 0
    limit: Limit | None = None
    budget: Budget | None = None
    used: int = 0
    code: str | None = None

    @property
    def capped(self) -> bool:
        return self.granted and self.spend < self.desired

    def to_json(self) -> dict[str, Any]:
        return {"promotion": self.promotion, "granted": self.granted, "reason": self.reason,
                "desired": self.desired, "spend": self.spend, "limit": _json(self.limit),
                "budget": _json(self.budget), "used": self.used, "code": self.code}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Outcome:
        return cls(d["promotion"], d["granted"], Reason(d["reason"]) if d["reason"] else None, d["desired"],
                   d["spend"], _limit(d["limit"]), _budget(d["budget"]), d["used"], d["code"])


@dataclass(frozen=True)
class Reservation:
    reservation_id: str
    order_id: str
    state: State
    expires_at: datetime
    outcomes: tuple[Outcome, ...]
    answer: Any = None

    @property
    def granted(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.granted)

    @property
    def refused(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.granted)

    def to_json(self) -> dict[str, Any]:
        return {"reservation_id": self.reservation_id, "order_id": self.order_id, "state": self.state,
                "expires_at": self.expires_at.isoformat(), "outcomes": [o.to_json() for o in self.outcomes],
                "answer": self.answer}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Reservation:
        return cls(d["reservation_id"], d["order_id"], State(d["state"]), datetime.fromisoformat(d["expires_at"]),
                   tuple(Outcome.from_json(o) for o in d["outcomes"]), d["answer"])


@dataclass(frozen=True)
class StateChange:
    """The answer of commit and cancel."""

    reservation_id: str
    order_id: str
    state: State

    def to_json(self) -> dict[str, Any]:
        return {"reservation_id": self.reservation_id, "order_id": self.order_id, "state": self.state}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StateChange:
        return cls(d["reservation_id"], d["order_id"], State(d["state"]))


@dataclass(frozen=True)
class ReturnLine:
    id: str
    quantity: int


@dataclass(frozen=True)
class LineRefund:
    id: str
    quantity: int
    refund: int


@dataclass(frozen=True)
class Refund:
    """The answer of a return: what the buyer gets back per line, and the order's state after."""

    order_id: str
    refund: int
    lines: tuple[LineRefund, ...]
    state: State

    def to_json(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "refund": self.refund, "state": self.state,
                "lines": [{"id": x.id, "quantity": x.quantity, "refund": x.refund} for x in self.lines]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Refund:
        lines = tuple(LineRefund(x["id"], x["quantity"], x["refund"]) for x in d["lines"])
        return cls(d["order_id"], d["refund"], lines, State(d["state"]))


class Pricer(Protocol):
    """Prices the checkout inside reserve's transaction. First called with no outcomes; when a
    guarded write refused a promotion or cut its budget, called again with every such outcome so
    far (by promotion): price with those promotions unavailable, or capped at `spend`. The loop
    ends when every hold is granted in full or the pricer answers the same order again."""

    def __call__(self, read: Reader, outcomes: Mapping[str, Outcome]) -> Order: ...
