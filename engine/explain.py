"""Why a promotion did not apply, what would make it apply, and the trace of an evaluation.

Reasons are data (a stable code and operator detail); the customer-safe messages, in English and
Chinese, are made from them here and nowhere else. The trace is a flat list of events that costs
nothing when explain is off: callers test `trace.on` before building an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.money import format_money


class Minor(int):
    """An amount of money in minor units inside explanation data: shown as a decimal string."""


@dataclass
class Reason:
    code: str
    detail: dict[str, Any] = field(default_factory=dict)
    gap: int | None = None  # THRESHOLD_NOT_MET: minor units or units still missing
    gap_is_money: bool = True
    would_save: int | None = None
    winner: str | None = None  # EXCLUSIVE_CONFLICT / GROUP_LIMIT / NOT_BEST_COMBINATION
    difference: int | None = None  # NOT_BEST_COMBINATION: what the chosen set saves more


@dataclass(frozen=True)
class HintData:
    promotion: str
    missing: int
    is_money: bool
    would_save: int  # the promotion's whole discount once the gap is closed (service.md)
    already: int = 0  # what it takes off today: the message says what comes on top


class Trace:
    """Evaluation events in order; a no-op unless switched on (EXPLAIN_TRACE)."""

    def __init__(self, on: bool):
        self.on = on
        self.events: list[dict[str, Any]] = []

    def event(self, step: str, **data: Any) -> None:
        if self.on:
            self.events.append({"step": step, **data})

    def paused(self) -> _Paused:
        """Work done only to bound or to explain (not the pricing itself) stays out of the trace."""
        return _Paused(self)


class _Paused:
    """`with trace.paused():` — a class, not a generator: the search enters it many times."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.was = False  # whether the trace was on, set on entering

    def __enter__(self) -> None:
        self.was, self.trace.on = self.trace.on, False

    def __exit__(self, *exc: object) -> None:
        self.trace.on = self.was


def _amount(value: int, digits: int, is_money: bool) -> str:
    return format_money(value, digits) if is_money else str(value)


def reason_messages(reason: Reason, digits: int) -> tuple[str, str]:
    """(English, Chinese) customer-safe messages for a reason."""
    code = reason.code
    if code == "THRESHOLD_NOT_MET" and reason.gap is not None:
        gap = _amount(reason.gap, digits, reason.gap_is_money)
        if reason.gap_is_money:
            return f"spend {gap} more to qualify", f"还差{gap}元可用"
        return f"add {gap} more item(s) to qualify", f"再买{gap}件可用"
    if code == "NOT_BEST_COMBINATION" and reason.difference is not None:
        diff = format_money(reason.difference, digits)
        return (f"left out: the chosen combination saves {diff} more",
                f"已为您选择更优惠的组合，比使用此券多省{diff}元")
    if code in ("EXCLUSIVE_CONFLICT", "GROUP_LIMIT") and reason.winner:
        return (f"cannot be combined with `{reason.winner}`, which was applied",
                f"不能与已使用的「{reason.winner}」同时使用")
    return _FIXED[code]


_FIXED = {
    "UNKNOWN_COUPON": ("this coupon is not known", "无法识别该优惠券"),
    "OUTSIDE_WINDOW": ("not active at this time", "不在活动时间内"),
    "STAGE_MISMATCH": ("not available at this payment stage", "当前支付阶段不可用"),
    "NOT_IN_WALLET": ("you do not hold this coupon", "您尚未领取该优惠券"),
    "LIMIT_REACHED": ("you have reached the usage limit", "已达到使用次数上限"),
    "CONDITION_FAILED": ("this order does not meet the conditions", "订单不满足活动条件"),
    "NO_ELIGIBLE_ITEMS": ("no item in the cart is eligible", "购物车中没有适用商品"),
    "THRESHOLD_NOT_MET": ("the order does not reach the threshold", "订单未达到门槛"),
    "EXCLUSIVE_CONFLICT": ("cannot be combined with another promotion", "不能与其他优惠同时使用"),
    "GROUP_LIMIT": ("only a limited number of these can be used together", "同类优惠使用数量已达上限"),
    "NOT_BEST_COMBINATION": ("left out of the best combination", "已为您选择更优惠的组合"),
    "ZERO_BENEFIT": ("it would not lower the price of this order", "对本单无优惠"),
}


def hint_messages(hint: HintData, digits: int) -> tuple[str, str]:
    gap = _amount(hint.missing, digits, hint.is_money)
    buy, unit = ("spend", "元") if hint.is_money else ("buy", "件")
    if hint.already:
        more = format_money(hint.would_save - hint.already, digits)
        return f"{buy} {gap} more to save {more} more", f"再买{gap}{unit}可再减{more}元"
    save = format_money(hint.would_save, digits)
    return f"{buy} {gap} more to save {save}", f"再买{gap}{unit}可减{save}元"
