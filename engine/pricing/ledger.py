"""What pricing reads of the ledger (docs/ledger.md, ledger.md §2): a read-only snapshot, given by
the caller, of each promotion's uses and spend in the order's periods and of the wallet's codes.
The engine never reads a database: the server wraps its snapshot in a `LedgerView`; a test block's
`used` / `spent` make a `FixedLedger`.

With a view, a promotion's limits (per user and in total) are read from it and the request's
`user.usage` is ignored; a limit reached is LIMIT_REACHED, a budget with nothing left
BUDGET_EXHAUSTED, a budget with less left than the discount *cuts* the discount (the pricing run
gives at most what is left: `Prepared.caps`); a coupon with `codes` needs its wallet entry's code
to be `free`: a missing, unknown or other coupon's code is CODE_UNKNOWN, a held or redeemed one
CODE_USED. `unavailable` and `capped` are what the ledger's guarded writes found, newer than the
snapshot: they override it. Without a view, only the per-user limits hold, read from `user.usage`;
total limits, budgets and codes are taken as not reached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from engine.base.enums import ReasonCode
from engine.base.request import Request, WalletEntry
from engine.plan.plan import BudgetClause, LimitClause, Promotion
from engine.pricing.explain import Minor, Reason

# the states `LedgerView.code` answers
CODE_UNKNOWN, CODE_FREE, CODE_HELD, CODE_REDEEMED = "unknown", "free", "held", "redeemed"


class LedgerView(Protocol):
    """A read-only snapshot of the ledger for one order: its buyer, its time's periods."""

    @property
    def unavailable(self) -> Mapping[str, str]:
        """promotion -> the reason code the ledger refused it with (a guarded write lost a race)."""
        ...

    @property
    def capped(self) -> Mapping[str, int]:
        """promotion -> the most it may give (minor units): what its budget granted."""
        ...

    def uses(self, promotion: str, limit: LimitClause) -> int:
        """Uses of `promotion` counted against `limit`: the buyer's or all buyers', in the period."""
        ...

    def spent(self, promotion: str, budget: BudgetClause) -> int:
        """Discount `promotion` gave against `budget` (minor units), in the period."""
        ...

    def code(self, coupon: str, code: str) -> str:
        """unknown | free | held | redeemed (unknown: never issued, or issued for another coupon)."""
        ...


class FixedLedger:
    """A view of fixed figures: `uses[p]` for every limit of `p` (a per-user limit reads
    `per_user[p]` first when given), `spend[p]` for every budget, `codes[(coupon, code)]` (else
    `free`). What a test block's `used` / `spent` give; the server has its own view."""

    def __init__(self, uses: Mapping[str, int] | None = None, spend: Mapping[str, int] | None = None,
                 codes: Mapping[tuple[str, str], str] | None = None, per_user: Mapping[str, int] | None = None,
                 unavailable: Mapping[str, str] | None = None, capped: Mapping[str, int] | None = None) -> None:
        self._uses = dict(uses or {})
        self._spend = dict(spend or {})
        self._codes = dict(codes or {})
        self._per_user = dict(per_user or {})
        self._unavailable = dict(unavailable or {})
        self._capped = dict(capped or {})

    @property
    def unavailable(self) -> Mapping[str, str]:
        return self._unavailable

    @property
    def capped(self) -> Mapping[str, int]:
        return self._capped

    def uses(self, promotion: str, limit: LimitClause) -> int:
        if limit.per_user and promotion in self._per_user:
            return self._per_user[promotion]
        return self._uses.get(promotion, 0)

    def spent(self, promotion: str, budget: BudgetClause) -> int:
        return self._spend.get(promotion, 0)

    def code(self, coupon: str, code: str) -> str:
        return self._codes.get((coupon, code), CODE_FREE)


_CODES = {c.value: c for c in ReasonCode}


def refusal(promo: Promotion, entry: WalletEntry | None, request: Request, view: LedgerView | None) -> Reason | None:
    """Why the ledger's clauses keep `promo` out of this order (codes, then limits, then budgets),
    or None."""
    if view is None:
        return _usage_limit(promo, request)
    found = _code(promo, entry, view) or _limit(promo, view) or _budget(promo, view)
    forced = view.unavailable.get(promo.name)
    if forced is None or (found is not None and found.code == forced):
        return found
    code = _CODES.get(forced, ReasonCode.LIMIT_REACHED)
    return Reason(code, {"refused_by": "ledger"})


def budget_left(promo: Promotion, view: LedgerView | None) -> int | None:
    """The most `promo` may give in this order (its budgets' least remainder, or what the ledger
    granted), or None: no budget counts."""
    if view is None:
        return None
    if promo.name in view.capped:
        return max(0, view.capped[promo.name])
    if not promo.budgets:
        return None
    return max(0, min(b.amount - view.spent(promo.name, b) for b in promo.budgets))


def _usage_limit(promo: Promotion, request: Request) -> Reason | None:
    """Without a ledger: the per-user limits against the request's `user.usage`."""
    used = request.user.usage.get(promo.name, 0)
    for limit in promo.limits:
        if limit.per_user and used >= limit.count:
            return Reason(ReasonCode.LIMIT_REACHED, {"limit": limit.count, "used": used, "clause": limit.text})
    return None


def _code(promo: Promotion, entry: WalletEntry | None, view: LedgerView) -> Reason | None:
    if not promo.codes or entry is None:
        return None
    if not entry.code:
        return Reason(ReasonCode.CODE_UNKNOWN, {"code": "", "state": "missing"})
    state = view.code(promo.name, entry.code)
    if state == CODE_FREE:
        return None
    if state in (CODE_HELD, CODE_REDEEMED):
        return Reason(ReasonCode.CODE_USED, {"state": state})
    return Reason(ReasonCode.CODE_UNKNOWN, {"state": CODE_UNKNOWN})


def _limit(promo: Promotion, view: LedgerView) -> Reason | None:
    for limit in promo.limits:
        used = view.uses(promo.name, limit)
        if used >= limit.count:
            return Reason(ReasonCode.LIMIT_REACHED, {"limit": limit.count, "used": used, "clause": limit.text,
                                                     "per": "user" if limit.per_user else "total",
                                                     "period": limit.period or ""})
    return None


def _budget(promo: Promotion, view: LedgerView) -> Reason | None:
    if promo.name in view.capped:
        if view.capped[promo.name] > 0:
            return None
        return Reason(ReasonCode.BUDGET_EXHAUSTED, {"left": Minor(0), "refused_by": "ledger"})
    for budget in promo.budgets:
        spent = view.spent(promo.name, budget)
        if spent >= budget.amount:
            return Reason(ReasonCode.BUDGET_EXHAUSTED, {"budget": Minor(budget.amount), "spent": Minor(spent),
                                                        "clause": budget.text, "period": budget.period or ""})
    return None
