"""The engine's closed sets of values, each stated once: why a promotion did not apply (the stable
reason codes of language.md §5, in the order they are checked), where a promotion applies, whether
it must be held, the presale stage of an order and of a line, and how much explanation to compute.

Each member is a `str` (StrEnum), so JSON and comparisons see the plain value. These are the
engine's values: the proto's enum names (`EXPLAIN_OFF`, `STAGE_DEPOSIT`) are mapped to them and
back in one place per wire, engine/wire (JSON) and server/service/convert.py (proto).

`CAPPED` is not a reason for not applying: it marks an applied promotion whose benefit was cut
(by a guard, by the payable floor or by what is left of its budget).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ReasonCode(StrEnum):
    UNKNOWN_COUPON = "UNKNOWN_COUPON"  # a wallet or `selected` name the ruleset does not know
    OUTSIDE_WINDOW = "OUTSIDE_WINDOW"
    STAGE_MISMATCH = "STAGE_MISMATCH"
    NOT_IN_WALLET = "NOT_IN_WALLET"
    CODE_UNKNOWN = "CODE_UNKNOWN"  # with a ledger: the wallet's code is missing, never issued, or another coupon's
    CODE_USED = "CODE_USED"  # with a ledger: the wallet's code is held by another order or redeemed
    LIMIT_REACHED = "LIMIT_REACHED"
    BUDGET_EXHAUSTED = "BUDGET_EXHAUSTED"  # with a ledger: nothing is left of a budget
    CONDITION_FAILED = "CONDITION_FAILED"
    NO_ELIGIBLE_ITEMS = "NO_ELIGIBLE_ITEMS"
    THRESHOLD_NOT_MET = "THRESHOLD_NOT_MET"
    EXCLUSIVE_CONFLICT = "EXCLUSIVE_CONFLICT"
    GROUP_LIMIT = "GROUP_LIMIT"
    NOT_BEST_COMBINATION = "NOT_BEST_COMBINATION"
    ZERO_BENEFIT = "ZERO_BENEFIT"
    CAPPED = "CAPPED"  # applied, cut: not a reason for not applying


CAPPED: Final = ReasonCode.CAPPED
NOT_APPLIED_REASONS: Final[tuple[ReasonCode, ...]] = tuple(c for c in ReasonCode if c is not CAPPED)
REASON_CODES: Final[tuple[ReasonCode, ...]] = tuple(ReasonCode)


class Level(StrEnum):
    """Where a promotion applies, in the order the levels are priced (the proto's `Level` names)."""

    ITEM = "item"
    SHOP = "shop"
    PLATFORM = "platform"
    SHIPPING = "shipping"


ORDER_LEVELS: Final[tuple[Level, ...]] = (Level.SHOP, Level.PLATFORM)  # levels priced on an order's amount


class Kind(StrEnum):
    """Whether a promotion applies by itself or must be held in the wallet (the proto's `Kind`)."""

    PROMOTION = "promotion"
    COUPON = "coupon"


class Stage(StrEnum):
    """A presale stage: the one a request names (None: decided from its time and the presale
    windows), and the one each presale line is priced at (`FULL`: paid whole, deposit and balance)."""

    DEPOSIT = "deposit"
    BALANCE = "balance"
    FULL = "full"


class Explain(StrEnum):
    """How much explanation to compute: prices only; with not-applied reasons and hints (the
    default); and with the trace of every step."""

    OFF = "off"
    REASONS = "reasons"
    TRACE = "trace"
