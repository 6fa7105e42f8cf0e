"""The stable codes of why a promotion did not apply (language.md §5), in the order checked.

`CAPPED` is not a reason for not applying: it marks an applied promotion whose benefit was cut
(by a guard or by the payable floor).
"""

from __future__ import annotations

UNKNOWN_COUPON = "UNKNOWN_COUPON"  # a wallet or `selected` name the ruleset does not know
NOT_APPLIED_REASONS: tuple[str, ...] = (
    UNKNOWN_COUPON,
    "OUTSIDE_WINDOW",
    "STAGE_MISMATCH",
    "NOT_IN_WALLET",
    "LIMIT_REACHED",
    "CONDITION_FAILED",
    "NO_ELIGIBLE_ITEMS",
    "THRESHOLD_NOT_MET",
    "EXCLUSIVE_CONFLICT",
    "GROUP_LIMIT",
    "NOT_BEST_COMBINATION",
    "ZERO_BENEFIT",
)
CAPPED = "CAPPED"
REASON_CODES: tuple[str, ...] = NOT_APPLIED_REASONS + (CAPPED,)
