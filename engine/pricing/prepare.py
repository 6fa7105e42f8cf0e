"""Preparing a cart for pricing: what does not depend on which coupons are used: the lines in
code-point order of their ids, guard floors, presale stages, and the candidates (promotions that
passed the request-level checks, with the lines their scope matches) or why a promotion is not one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.base.enums import ReasonCode, Stage
from engine.base.request import Line, Request, WalletEntry
from engine.plan.plan import Plan, Presale, Promotion
from engine.plan.predicates import OrderFacts, line_floor, within
from engine.pricing.conditions import clause_detail
from engine.pricing.explain import Reason, Trace
from engine.pricing.ledger import LedgerView, budget_left, refusal
from engine.pricing.state import (
    CONDITION_FAILED,
    DEPOSIT,
    EXPLAIN_OFF,
    ITEM,
    NO_ELIGIBLE_ITEMS,
    SHIPPING,
    SHOP,
    Candidate,
    Prepared,
    PresaleLine,
)


def prepare(plan: Plan, request: Request, trace: Trace | None = None, ledger: LedgerView | None = None) -> Prepared:
    trace = trace or Trace(False)
    lines = sorted(request.lines, key=lambda line: line.id)
    now = request.at
    presale = {i: p for i, line in enumerate(lines) if (p := _presale_line(plan, request, line)) is not None}
    # a presale line's deposit is paid: no discount reaches below it
    floors = [max(line_floor(plan.guards, line, now), presale[i].deposit if i in presale else 0) for i, line in enumerate(lines)]
    wallet: dict[str, WalletEntry] = {}
    for entry in request.wallet:
        wallet.setdefault(entry.coupon, entry)
    unselected = set()
    if request.selected:  # exactly the selected coupons are tried; a coupon must still be held
        unselected = set(wallet) - set(request.selected)
        wallet = {name: wallet[name] for name in request.selected if name in wallet}

    candidates, blocked = [], {}
    caps: dict[str, int] = {}  # promotions a budget cuts: the most each may give
    found = candidates_for(plan, lines)
    every = tuple(range(len(lines)))
    for name in [*wallet, *request.selected]:  # held coupons whatever their scope
        if name in plan.by_name and name not in found:
            found[name] = (plan.by_name[name], every)
    quiet = request.explain == EXPLAIN_OFF  # no reasons wanted: skip what cannot apply early
    for promo, could in sorted(found.values(), key=lambda f: f[0].order_key):
        if promo.name in unselected:
            continue  # the buyer chose other coupons
        if quiet and ((promo.is_coupon and promo.name not in wallet) or not within(promo.window, now)):
            continue
        # lines found under the key of a promotion whose whole scope is that key are in scope
        sure = could is not every and promo.name in plan.scope_is_key
        scoped = could if sure else tuple(i for i in could if promo.scope(lines[i]))
        if not scoped and not (promo.is_coupon and promo.name in wallet):
            continue  # not relevant to this cart: nothing to explain
        matched = tuple(i for i in scoped if lines[i].price > 0)
        reason = _blocked(promo, matched, presale, wallet, request, now, ledger)
        if reason is None and not matched:
            reason = _condition_failure(promo, plan, request) or Reason(NO_ELIGIBLE_ITEMS)
        if reason is not None:
            blocked[promo.name] = reason
            trace.event("candidate", promotion=promo.name, result=reason.code)
            continue
        if presale and promo.level != ITEM:
            matched = tuple(i for i in matched if presale.get(i) is None or presale[i].stage != DEPOSIT)
        left = budget_left(promo, ledger)
        if left is not None:
            caps[promo.name] = left
        groups = _groups(promo, matched, lines)
        shops = frozenset(lines[i].shop for i in matched)
        candidates.append(Candidate(promo, matched, groups, wallet.get(promo.name), shops))
        if trace.on:
            trace.event("candidate", promotion=promo.name, lines=[lines[i].id for i in matched], result="candidate")
    # names the ruleset does not know, held or selected: reported, never silently dropped
    unknown = tuple(dict.fromkeys(n for n in [*(e.coupon for e in request.wallet), *request.selected]
                                  if n not in plan.by_name))
    for name in unknown:
        trace.event("candidate", promotion=name, result=ReasonCode.UNKNOWN_COUPON)
    listed = [line.list_amount for line in lines]
    top = [presale[i].base if i in presale else listed[i] for i in range(len(lines))]
    return Prepared(plan, request, lines, floors, presale, candidates, blocked, trace, unknown,
                    cart_quantity=sum(line.quantity for line in lines), listed=listed, top=top, top_total=sum(top),
                    caps=caps)


def candidates_for(plan: Plan, lines: Sequence[Line]) -> dict[str, tuple[Promotion, tuple[int, ...]]]:
    """The promotions that may touch any of `lines`, from the plan's index, each with the
    indices of the lines it may touch (its scope still decides, unless its name is in
    `plan.scope_is_key` and it was found under a key)."""
    every = tuple(range(len(lines)))
    found: dict[str, tuple[Promotion, tuple[int, ...]]] = {p.name: (p, every) for p in plan.everywhere}
    keyed: dict[str, tuple[Promotion, list[int]]] = {}
    for i, line in enumerate(lines):
        for key in (("sku", line.sku), ("shop", line.shop), ("category", line.category)):
            for p in plan.index.get(key, ()):
                if p.name in keyed:
                    idx = keyed[p.name][1]
                    # lines come in index order, so each list is ascending as built; a promotion
                    # found again on the same line (under two keys) is the last index already
                    if idx[-1] != i:
                        idx.append(i)
                else:
                    keyed[p.name] = (p, [i])
    for name, (p, idx) in keyed.items():
        found[name] = (p, tuple(idx))
    return found


def _blocked(promo: Promotion, matched: tuple[int, ...], presale: dict[int, PresaleLine], wallet: dict[str, WalletEntry],
             request: Request, now: datetime, ledger: LedgerView | None) -> Reason | None:
    if promo.window is not None and not within(promo.window, now):
        start, end = promo.window
        return Reason(ReasonCode.OUTSIDE_WINDOW, {"window": f"{start.isoformat()} .. {end.isoformat()}", "now": now.isoformat()})
    if (matched and presale and promo.level != ITEM
            and all(i in presale and presale[i].stage == DEPOSIT for i in matched)):
        return Reason(ReasonCode.STAGE_MISMATCH, {"stage": Stage.DEPOSIT})
    if promo.is_coupon and promo.name not in wallet:
        return Reason(ReasonCode.NOT_IN_WALLET)
    if promo.limits or promo.budgets or promo.codes:
        return refusal(promo, wallet.get(promo.name), request, ledger)
    return None


def _condition_failure(promo: Promotion, plan: Plan, request: Request) -> Reason | None:
    facts = OrderFacts(0, 0, 0, 0, request.user, request.channel, request.region, request.at)
    for clause in promo.clauses:
        if clause.threshold is None and not clause.test(facts):
            return Reason(CONDITION_FAILED, clause_detail(clause, facts))
    return None


def _groups(promo: Promotion, matched: tuple[int, ...], lines: list[Line]) -> tuple[tuple[int, ...], ...]:
    # Shop-level promotions (and free shipping) apply per shop: each shop is its own sub-order.
    if promo.level in (SHOP, SHIPPING):
        by_shop: dict[str, list[int]] = {}
        for i in matched:
            by_shop.setdefault(lines[i].shop, []).append(i)
        return tuple(tuple(v) for _, v in sorted(by_shop.items()))
    if promo.level == ITEM:
        return tuple((i,) for i in matched)
    return (matched,) if matched else ()


def _presale_line(plan: Plan, request: Request, line: Line) -> PresaleLine | None:
    now = request.at
    for presale in plan.presales:
        if not presale.scope(line) or not within(presale.active, now):
            continue
        if presale.deposit is None:  # 全款预售
            return PresaleLine(presale, Stage.FULL, min(_unit_price(presale, request), line.price) * line.quantity, 0, 0)
        stage = request.stage
        if stage is None:
            stage = Stage.DEPOSIT if within(presale.deposit_window, now) and presale.deposit_window else (
                Stage.BALANCE if presale.balance_window and within(presale.balance_window, now) else None)
        if stage is None:
            continue
        unit = min(_unit_price(presale, request), line.price)  # a presale never raises the list price
        # Neither stage can pay back: the deposit is at most the unit's price and the tail at
        # least 0, so deposit <= base <= list amount and the balance due is never negative.
        deposit = min(presale.deposit, unit)
        worth = presale.worth if presale.worth is not None else presale.deposit
        tail = max(0, unit - worth - presale.balance_discount)
        return PresaleLine(presale, stage, (deposit + tail) * line.quantity, deposit * line.quantity, worth * line.quantity)
    return None


def _unit_price(presale: Presale, request: Request) -> int:
    sold = request.presale_sold.get(presale.name, 0)
    facts = OrderFacts(0, 0, 0, 0, request.user, request.channel, request.region, request.at, sold)
    prices = [price for test, price in presale.price_tiers if test(facts)]
    return min(prices + [presale.price])
