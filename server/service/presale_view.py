"""What the ledger adds to a presale's price and what a presale line holds (ledger.md §5).

With a ledger, a presale's units sold (the `sold` of 件数阶梯 tiers) come from the ledger's stock
counter, never from the request: the engine stays pure and reads them as the request's
`presale_sold`, which is replaced here by the ledger's figures (absent presales: 0). While the
deposit window is open the count is live (held and committed deposits); once it has closed, the
count at the close, so that every buyer's balance is priced at the same tier.

A presale line at the deposit stage (or a full-payment presale) holds its units against the
presale's `stock`; the order carries it as a `PresaleOrder` for the parent order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from engine.base.request import Line, Request
from engine.plan.plan import Plan, Presale
from engine.plan.predicates import within
from engine.pricing.quote import Quote
from server.ledger.clock import to_us
from server.ledger.types import Hold, PresaleOrder


def presale_of(plan: Plan, request: Request, line: Line) -> Presale | None:
    """The presale that prices `line`, as the engine picks it (the first in effect that scopes it)."""
    for presale in plan.presales:
        if presale.scope(line) and within(presale.active, request.at):
            return presale
    return None


def cart_presales(plan: Plan, request: Request) -> dict[str, Presale]:
    """line id -> its presale, for the lines a presale scopes."""
    if not plan.presales:
        return {}
    found = {}
    for line in request.lines:
        presale = presale_of(plan, request, line)
        if presale is not None:
            found[line.id] = presale
    return found


def sold_query(plan: Plan, request: Request) -> tuple[tuple[str, int | None], ...]:
    """The presales of the cart whose units sold its price reads: (name, deposit window close in µs
    or None)."""
    names: dict[str, int | None] = {}
    for presale in cart_presales(plan, request).values():
        closes = presale.deposit_window[1] if presale.deposit_window else None
        names[presale.name] = to_us(closes) if closes is not None else None
    return tuple(sorted(names.items()))


def with_sold(request: Request, sold: Mapping[str, int]) -> Request:
    """The request with the ledger's units sold in place of its own `presale_sold`."""
    return replace(request, presale_sold=dict(sold))


def _instant(text: str | None, plan: Plan) -> int | None:
    if not text:
        return None
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(str(plan.timezone)))
    return to_us(at)


def presale_orders(plan: Plan, request: Request, quote: Quote) -> tuple[tuple[Hold, ...], tuple[PresaleOrder, ...]]:
    """A hold of units per presale at the deposit (or full) stage, and the presale lines of the order."""
    by_line = cart_presales(plan, request)
    quantity = {line.id: line.quantity for line in request.lines}
    units: dict[str, int] = {}
    stock: dict[str, int | None] = {}
    orders = []
    for priced in quote.presale:
        presale = by_line.get(priced.line)
        if presale is None:
            continue
        stage = str(priced.stage)
        balance_closes = presale.balance_window[1] if presale.balance_window else None
        orders.append(PresaleOrder(priced.line, presale.name, stage, quantity.get(priced.line, 1),
                                   _instant(presale.ships, plan),
                                   to_us(balance_closes) if balance_closes is not None else None))
        if stage != "balance":  # a balance order's units are the deposit order's
            units[presale.name] = units.get(presale.name, 0) + quantity.get(priced.line, 1)
            stock[presale.name] = presale.stock
    holds = tuple(Hold(promotion=name, units=n, stock=stock[name]) for name, n in sorted(units.items()))
    return holds, tuple(orders)
