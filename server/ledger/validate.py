"""Requests checked before any transaction: each problem is an InvalidArgument naming its field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from server.ledger.errors import InvalidArgument
from server.ledger.periods import zone
from server.ledger.schema import NAME
from server.ledger.types import Hold, Line, Order, ReserveRequest, ReturnLine

MAX_TTL = 86_400
MAX_AMOUNT = 10**15 - 1  # as engine/money.py: above any real cart, far from overflow


def name(value: object, field: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not value or len(value) > NAME:
        raise InvalidArgument(field, f"needs 1 to {NAME} characters")


def count(value: object, field: str, *, least: int = 1, most: int = MAX_AMOUNT) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
        raise InvalidArgument(field, f"must be a whole number from {least} to {most}")


def instant(value: datetime | None, field: str = "at") -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidArgument(field, "needs a time with a UTC offset")


def reserve(request: ReserveRequest) -> None:
    name(request.order_id, "order_id")
    name(request.idempotency_key, "idempotency_key")
    name(request.buyer, "buyer")
    name(request.parent_order_id, "parent_order_id", optional=True)
    count(request.ttl_seconds, "ttl_seconds", most=MAX_TTL)
    instant(request.at)
    zone(request.timezone)


def order(value: Order, field: str = "order") -> None:
    lines(value.lines, f"{field}.lines")
    count(value.payable, f"{field}.payable", least=0)
    line_ids = {line.id for line in value.lines}
    seen: set[str] = set()
    for i, hold in enumerate(value.holds):
        _hold(hold, f"{field}.holds[{i}]", line_ids)
        if hold.promotion in seen:
            raise InvalidArgument(f"{field}.holds[{i}].promotion", "one hold per promotion")
        seen.add(hold.promotion)


def _hold(hold: Hold, field: str, line_ids: set[str]) -> None:
    name(hold.promotion, f"{field}.promotion")
    for i, limit in enumerate(hold.limits):
        count(limit.count, f"{field}.limits[{i}].count")
    for i, budget in enumerate(hold.budgets):
        count(budget.amount, f"{field}.budgets[{i}].amount")
    count(hold.spend, f"{field}.spend", least=0)
    count(hold.desired, f"{field}.desired", least=0)
    name(hold.code, f"{field}.code", optional=True)
    for line_id, amount in hold.allocation.items():
        if line_id not in line_ids:
            raise InvalidArgument(f"{field}.allocation", f"`{line_id[:64]}` is not a line of the order")
        count(amount, f"{field}.allocation", least=0)
    if hold.allocation and sum(hold.allocation.values()) != hold.spend:
        raise InvalidArgument(f"{field}.allocation", "must sum to the spend")


def lines(values: Sequence[Line], field: str) -> None:
    seen: set[str] = set()
    for i, line in enumerate(values):
        name(line.id, f"{field}[{i}].id")
        if line.id in seen:
            raise InvalidArgument(f"{field}[{i}].id", "appears twice")
        seen.add(line.id)
        count(line.quantity, f"{field}[{i}].quantity")
        count(line.final, f"{field}[{i}].final", least=0)


def returns(values: Sequence[ReturnLine]) -> None:
    if not values:
        raise InvalidArgument("lines", "name at least one line to return")
    seen: set[str] = set()
    for i, line in enumerate(values):
        name(line.id, f"lines[{i}].id")
        if line.id in seen:
            raise InvalidArgument(f"lines[{i}].id", "appears twice")
        seen.add(line.id)
        count(line.quantity, f"lines[{i}].quantity")
