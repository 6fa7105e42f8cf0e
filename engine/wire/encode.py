"""The engine's answers as JSON (service.md; the proto3 JSON mapping of promo.v1): quotes,
qualifications, price findings and diagnostics, and the customer-safe messages (English and
Chinese) made from reasons and hints. Amounts are minor units inside, decimal strings here. The CLI
and the server both write through this module.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from engine.apps.analyze.scenarios import OTHER_SHOP, Priced
from engine.apps.analyze.search import Finding
from engine.apps.catalog import CatalogError, CatalogItem
from engine.apps.qualify import Qualification
from engine.base.enums import ReasonCode
from engine.base.money import format_money
from engine.lang.diagnostics import Diagnostic
from engine.plan.plan import Plan
from engine.pricing.explain import HintData, Minor, Reason
from engine.pricing.quote import Applied, LineQuote, NotApplied, Quote


def _amount(value: int, digits: int, is_money: bool) -> str:
    return format_money(value, digits) if is_money else str(value)


def reason_messages(reason: Reason, digits: int) -> tuple[str, str]:
    """(English, Chinese) customer-safe messages for a reason."""
    code = reason.code
    if code == ReasonCode.THRESHOLD_NOT_MET and reason.gap is not None:
        gap = _amount(reason.gap, digits, reason.gap_is_money)
        if reason.gap_is_money:
            return f"spend {gap} more to qualify", f"还差{gap}元可用"
        return f"add {gap} more item(s) to qualify", f"再买{gap}件可用"
    if code == ReasonCode.NOT_BEST_COMBINATION and reason.difference is not None:
        diff = format_money(reason.difference, digits)
        return (f"left out: the chosen combination saves {diff} more",
                f"已为您选择更优惠的组合，比使用此券多省{diff}元")
    if code in (ReasonCode.EXCLUSIVE_CONFLICT, ReasonCode.GROUP_LIMIT) and reason.winner:
        return (f"cannot be combined with `{reason.winner}`, which was applied",
                f"不能与已使用的「{reason.winner}」同时使用")
    return _FIXED[code]


_FIXED: dict[ReasonCode, tuple[str, str]] = {
    ReasonCode.UNKNOWN_COUPON: ("this coupon is not known", "无法识别该优惠券"),
    ReasonCode.OUTSIDE_WINDOW: ("not active at this time", "不在活动时间内"),
    ReasonCode.STAGE_MISMATCH: ("not available at this payment stage", "当前支付阶段不可用"),
    ReasonCode.NOT_IN_WALLET: ("you do not hold this coupon", "您尚未领取该优惠券"),
    ReasonCode.CODE_UNKNOWN: ("this code cannot be used", "该券码无法使用"),
    ReasonCode.CODE_USED: ("this code cannot be used", "该券码无法使用"),  # the same: codes cannot be probed
    ReasonCode.LIMIT_REACHED: ("you have reached the usage limit", "已达到使用次数上限"),
    ReasonCode.BUDGET_EXHAUSTED: ("this offer has run out", "该优惠已发放完毕"),
    ReasonCode.CONDITION_FAILED: ("this order does not meet the conditions", "订单不满足活动条件"),
    ReasonCode.NO_ELIGIBLE_ITEMS: ("no item in the cart is eligible", "购物车中没有适用商品"),
    ReasonCode.THRESHOLD_NOT_MET: ("the order does not reach the threshold", "订单未达到门槛"),
    ReasonCode.EXCLUSIVE_CONFLICT: ("cannot be combined with another promotion", "不能与其他优惠同时使用"),
    ReasonCode.GROUP_LIMIT: ("only a limited number of these can be used together", "同类优惠使用数量已达上限"),
    ReasonCode.NOT_BEST_COMBINATION: ("left out of the best combination", "已为您选择更优惠的组合"),
    ReasonCode.ZERO_BENEFIT: ("it would not lower the price of this order", "对本单无优惠"),
}


def hint_messages(hint: HintData, digits: int) -> tuple[str, str]:
    gap = _amount(hint.missing, digits, hint.is_money)
    buy, unit = ("spend", "元") if hint.is_money else ("buy", "件")
    if hint.already:
        more = format_money(hint.would_save - hint.already, digits)
        return f"{buy} {gap} more to save {more} more", f"再买{gap}{unit}可再减{more}元"
    save = format_money(hint.would_save, digits)
    return f"{buy} {gap} more to save {save}", f"再买{gap}{unit}可减{save}元"


def quote_to_json(quote: Quote) -> dict[str, Any]:
    plan = quote.plan
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    out: dict[str, Any] = {
        "ruleset": {"name": plan.name, "revision": plan.revision},
        "currency": plan.currency,
        "stacking": plan.stacking,
        "totals": {"list": money(quote.list), "discount": money(quote.discount),
                   "shipping": money(quote.shipping), "payable": money(quote.payable)},
        "lines": [_line_json(line, money) for line in quote.lines],
        "applied": [_applied_json(a, money) for a in quote.applied],
        "not_applied": [_not_applied_json(n, plan) for n in quote.not_applied],
        "hints": [_hint_json(h, plan) for h in quote.hints],
        "presale": [{"line": p.line, "stage": p.stage, "deposit": money(p.deposit), "deposit_worth": money(p.deposit_worth),
                     "balance_due": money(p.balance_due), **({"ships": p.ships} if p.ships else {})} for p in quote.presale],
        "search": quote.search.to_json(),
    }
    if quote.better_set:
        b = quote.better_set
        out["better_set"] = {"coupons": list(b.coupons), "payable": money(b.payable), "would_save": money(b.would_save)}
    if quote.trace:
        out["trace"] = [plain_detail(e, plan.digits) for e in quote.trace]
    return out


def _applied_json(a: Applied, money) -> dict:
    out = {"promotion": a.promotion, "level": a.level, "kind": a.kind, "amount": money(a.amount),
           "coupon_id": a.coupon_id, "capped": a.capped}
    if a.desired is not None:  # its budget cut it
        out["detail"] = {"desired": money(a.desired), "granted": money(a.amount)}
    return out


def _line_json(line: LineQuote, money) -> dict:
    out = {"id": line.id, "quantity": line.quantity, "list": money(line.list), "base": money(line.base),
           "final": money(line.final), "discounts": [{"promotion": p, "amount": money(a)} for p, a in line.discounts]}
    if line.gift_of:
        out["gift_of"] = line.gift_of
    return out


def _not_applied_json(item: NotApplied, plan: Plan) -> dict:
    message, message_zh = reason_messages(item.reason, plan.digits)
    promo = plan.by_name.get(item.promotion)  # None: an unknown coupon
    detail = {**({"at": str(promo.span)} if promo else {}), **plain_detail(item.reason.detail, plan.digits)}
    if item.reason.gap is not None:
        detail["gap"] = format_money(item.reason.gap, plan.digits) if item.reason.gap_is_money else item.reason.gap
    return {"promotion": item.promotion, "reason": item.reason.code, "message": message, "message_zh": message_zh,
            "detail": detail}


def _hint_json(hint: HintData, plan: Plan) -> dict:
    message, message_zh = hint_messages(hint, plan.digits)
    missing = {"missing_amount": format_money(hint.missing, plan.digits)} if hint.is_money else {"missing_quantity": hint.missing}
    return {"promotion": hint.promotion, **missing, "would_save": format_money(hint.would_save, plan.digits),
            "message": message, "message_zh": message_zh}


def plain_detail(value, digits: int):
    """Detail and trace values as JSON: money as decimal strings, containers recursively."""
    if isinstance(value, Minor):
        return format_money(value, digits)
    if isinstance(value, dict):
        return {k: plain_detail(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_detail(v, digits) for v in value]
    return value


def qualification_to_json(q: Qualification, operator: bool = False) -> dict[str, Any]:
    """The QualifyResponse JSON. `operator` adds the operator detail (clause text, positions,
    values) to customer-safe messages."""
    digits = q.plan.digits
    money = lambda v: format_money(v, digits)  # noqa: E731
    out = []
    for s in q.coupons:
        item: dict[str, Any] = {"coupon": s.entry.coupon, "id": s.entry.id, "usable": s.usable, "in_best": s.in_best,
                                "saving_alone": money(s.saving_alone), "saving_in_best": money(s.saving_in_best)}
        if s.reason is not None:
            item["reason"] = s.reason.code
            item["message"], item["message_zh"] = reason_messages(s.reason, digits)
            if s.reason.gap is not None:
                key = "missing_amount" if s.reason.gap_is_money else "missing_quantity"
                item[key] = money(s.reason.gap) if s.reason.gap_is_money else s.reason.gap
                if s.reason.would_save:
                    item["would_save"] = money(s.reason.would_save)
            if operator:
                promo = q.plan.by_name.get(s.entry.coupon)
                at = {"at": str(promo.span)} if promo is not None else {}
                item["detail"] = {**at, **plain_detail(s.reason.detail, digits)}
        out.append(item)
    return {"ruleset": {"name": q.plan.name, "revision": q.plan.revision}, "currency": q.plan.currency,
            "payable_without_coupons": money(q.payable_without_coupons), "payable_best": money(q.payable_best),
            "coupons": out, "search": q.search.to_json()}


def unit_money(value: Fraction, digits: int) -> str:
    """A unit price as money: rounded down to the minor unit (never shows more than was reached)."""
    return format_money(value.numerator // value.denominator, digits)


def _percent(part: int | Fraction, whole: int | Fraction) -> str:
    if not whole:
        return "0.00"
    value = Fraction(part) * 100 / Fraction(whole)
    return format_money(round(value * 100), 2)


def priced_to_json(p: Priced, plan: Plan, item: CatalogItem) -> dict[str, Any]:
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    s = p.scenario
    reduction = p.list - p.final
    out: dict[str, Any] = {
        "family": s.family,
        "quantity": s.quantity,
        "unit_price": unit_money(p.unit, plan.digits),
        "line_list": money(p.list),
        "line_final": money(p.final),
        "promotions": list(p.promotions),
        "coupons": list(p.coupons),
        "shares": [{"promotion": name, "amount": money(amount), "share": _percent(amount, reduction)}
                   for name, amount in p.discounts],
    }
    if s.filler_quantity:
        out["filler"] = {"amount": money(s.filler_amount), "unit_price": money(s.filler_price),
                         "quantity": s.filler_quantity,
                         "shop": "other" if s.filler_shop == OTHER_SHOP else "own"}
    return out


def finding_to_json(f: Finding, plan: Plan) -> dict[str, Any]:
    money = lambda v: format_money(v, plan.digits)  # noqa: E731
    item = f.item
    out: dict[str, Any] = {
        "row": item.row,
        "sku": item.sku,
        "shop": item.shop,
        "category": item.category,
        "price": money(item.price),
        "lowest_price": unit_money(f.lowest, plan.digits),
        "discount_rate": _percent(item.price - f.lowest, item.price),
        "below_warning": f.below,
        "best": priced_to_json(f.best, plan, item),
        "scenarios": f.scenarios,
        "what_ifs": [{"kind": w.kind, "subject": w.subject, "lowest_price": unit_money(w.lowest, plan.digits),
                      "change": unit_money(w.lowest - f.lowest, plan.digits),
                      "below_warning": f.warning is not None and w.lowest < f.warning,
                      "best": priced_to_json(w.best, plan, item)} for w in f.what_ifs],
    }
    if f.warning is not None:
        out["warning"] = {"price": unit_money(f.warning, plan.digits), "source": f.warning_source}
    if f.guard is not None:  # the lowest price is a guard's floor: the guard holds it
        out["guard"] = {"name": f.guard[0], "floor": unit_money(Fraction(f.guard[1], f.best.scenario.quantity), plan.digits)}
    if item.cost is not None:
        margin = f.lowest - item.cost
        out["margin"] = {"cost": money(item.cost),
                         "per_unit": unit_money(margin, plan.digits), "percent": _percent(margin, f.lowest)}
    if item.ad_cost is not None:
        profit = f.best.final - (item.cost or 0) * f.best.scenario.quantity - item.ad_cost
        out["profit_per_order"] = {"ad_cost": money(item.ad_cost), "units": f.best.scenario.quantity,
                                   "profit": money(profit)}
    if f.split is not None:
        out["split"] = {"units": f.split.units, "one_order": unit_money(f.split.one_order, plan.digits),
                        "split_orders": unit_money(f.split.split_orders, plan.digits)}
    return out


def error_to_json(e: CatalogError) -> dict[str, Any]:
    return {"row": e.row, "error": e.message}


def row_to_json(row: Finding | CatalogError, plan: Plan) -> dict[str, Any]:
    """One row of `promo analyze --out report.json`'s findings: a finding, or why the row is bad."""
    return error_to_json(row) if isinstance(row, CatalogError) else finding_to_json(row, plan)


def to_json(diag: Diagnostic) -> dict:
    """The diagnostic as the JSON of `promo check --format json`; its keys are the fields of the
    proto's `Diagnostic` (server/convert.py), so labels are not among them yet."""
    s = diag.span
    return {
        "code": diag.code,
        "severity": diag.severity,
        "message": diag.message,
        "file": s.file,
        "line": s.line,
        "column": s.column,
        "end_line": s.end_line,
        "end_column": s.end_column,
        "help": diag.help,
    }
