"""Hover: what the thing under the cursor is. An attribute: its type and where it may be tested. A
promotion, coupon or presale (its name, its keyword, or its name in a test): its level, window and
benefit in words. A group: its cap."""

from __future__ import annotations

from typing import Any

from engine.lang import ast
from engine.lang.printer import expr_text
from engine.lang.schema import BUILTIN, AttrInfo
from server.lsp.positions import path_at

LEVEL_WORDS = {
    "item": "item level: each eligible line on its own, at most one item-level promotion a line",
    "shop": "shop level: the eligible lines of one shop together",
    "platform": "platform level: the eligible lines across shops together",
    "shipping": "shipping level: the shipping fee of the scoped shops",
}
WHERE_WORDS = {"line": "a line attribute: tested in `scope` (one cart line at a time)",
               "order": "an order attribute: tested in `when` and `tiers` (the whole order)"}


def declared_attributes(items) -> dict[str, tuple[AttrInfo, Any]]:
    """`attribute` declarations of the ruleset headers: path -> (info, declaration)."""
    from engine.lang.schema import declared_info

    out: dict[str, tuple[AttrInfo, Any]] = {}
    for item in items:
        if isinstance(item, ast.Ruleset):
            for s in item.settings:
                if isinstance(s, ast.AttributeDecl):
                    info = declared_info(s.path.dotted, s.type.value)
                    if info is not None and s.path.dotted not in out:
                        out[s.path.dotted] = (info, s)
    return out


def attribute_text(name: str, declared: dict[str, tuple[AttrInfo, Any]]) -> str | None:
    info = BUILTIN.get(name)
    origin = "built in"
    if info is None and name in declared:
        info, decl = declared[name]
        origin = f"declared at line {decl.span.line}"
    if info is None:
        return None
    type_words = "a set of strings" if info.type == "set" else info.type
    where = ("an order attribute known only in a presale's `price ... tiers`: the units sold so far"
             if info.presale_only else WHERE_WORDS[info.where])
    return f"```promo\n{name}: {info.type}\n```\n`{name}` is {type_words}; {where} ({origin})."


def _money(number: ast.Number | None, currency: str) -> str:
    return f"{number.text or number.value} {currency}" if number is not None else ""


def benefit_words(b, level: str | None, currency: str) -> str:
    m = lambda n: _money(n, currency)  # noqa: E731
    if isinstance(b, ast.DiscountAmount):
        if b.each:
            return f"{m(b.amount)} off every eligible unit"
        if level == "item":
            return f"{m(b.amount)} off each eligible line"
        return f"{m(b.amount)} off the eligible lines together"
    if isinstance(b, ast.DiscountPercent):
        text = f"{b.off.normalize():f}% off the eligible amount"
        if b.zhe is not None:
            text += f" ({b.zhe.text}折: pay {100 - b.off.normalize():f}%)"
        return text + (f", at most {m(b.cap)}" if b.cap is not None else "")
    if isinstance(b, ast.DiscountEvery):
        text = f"{m(b.amount)} off for every full {m(b.every)} of the eligible amount"
        return text + (f", at most {m(b.cap)} in all" if b.cap is not None else "")
    if isinstance(b, ast.PriceEach):
        return f"each eligible unit costs {m(b.amount)} (never more than its price)"
    if isinstance(b, ast.Tiers):
        tiers = "; ".join(f"{expr_text(t.condition)}: {benefit_words(t.benefit, level, currency)}" for t in b.tiers)
        return f"tiers, the best one met applies: {tiers}"
    if isinstance(b, ast.Nth):
        return f"every {b.n.text}th eligible unit (the cheapest): {benefit_words(b.benefit, level, currency)}"
    if isinstance(b, ast.Gift):
        qty = b.qty.text if b.qty is not None else "1"
        return f"a gift: {qty} × `{b.sku.value}` at 0.00"
    if isinstance(b, ast.FreeShipping):
        return "free shipping: the shipping fee of the scoped shops becomes 0"
    return ""


def block_text(item, currency: str, timezone: str | None) -> str:
    """A promotion, coupon or presale in words."""
    if isinstance(item, ast.Promotion):
        head = f"**{item.kind} `{item.name.value}`**" + (" — automatic: applies to whoever qualifies"
                                                           if item.kind == "promotion" else
                                                           " — applies only if the buyer holds it")
    elif isinstance(item, ast.Presale):
        head = f"**presale `{item.name.value}`**"
    else:
        return ""
    out = [head]
    title = ast.first(item, ast.Title)
    if title is not None:
        out.append(f"“{title.text.value}”")
    level = ast.first(item, ast.Level)
    level_name = level.value.value if level is not None else None
    rows = []
    if isinstance(item, ast.Promotion):
        words = LEVEL_WORDS.get(level_name, f"`{level_name}` (unknown)") if level_name else "none (required)"
        rows.append(f"- level: {words}")
    zone = f" ({timezone})" if timezone else ""
    for clause, label in ((ast.Active, "window"), (ast.DepositWindow, "deposit window"),
                          (ast.BalanceWindow, "balance window")):
        c = ast.first(item, clause)
        if c is not None:
            rows.append(f"- {label}: from {c.window.start.text} until before {c.window.end.text}{zone}")
    if isinstance(item, ast.Promotion) and ast.first(item, ast.Active) is None:
        rows.append("- window: always (no `active`)")
    scope = ast.first(item, ast.Scope)
    rows.append(f"- scope: `{expr_text(scope.expr)}`" if scope is not None else "- scope: every line")
    when = ast.first(item, ast.When)
    if when is not None:
        rows.append(f"- when: `{expr_text(when.expr)}`")
    if isinstance(item, ast.Promotion):
        benefits = [c for c in item.clauses if isinstance(c, ast.BENEFIT_TYPES)]
        benefit = benefit_words(benefits[0], level_name, currency) if benefits else "none (required)"
        rows.append(f"- benefit: {benefit}")
        for c in item.clauses:
            if isinstance(c, ast.GroupRef):
                rows.append(f"- group: `{c.name.value}`")
            elif isinstance(c, ast.Priority):
                rows.append(f"- priority {c.value.text}")
            elif isinstance(c, ast.Exclusive):
                rows.append("- exclusive: no other shop/platform promotion may touch its lines")
            elif isinstance(c, ast.Limit):
                who = f"per {c.per.value}" if c.per is not None else "total"
                rows.append(f"- limit: {c.count.text} {who}" + (f" per {c.period.value}" if c.period else ""))
            elif isinstance(c, ast.Budget):
                rows.append(f"- budget: {_money(c.amount, currency)}" + (f" per {c.period.value}" if c.period else ""))
            elif isinstance(c, ast.Codes):
                rows.append("- codes: redeemed by single-use codes")
    else:
        price = ast.first(item, ast.PresalePrice)
        if price is not None:
            rows.append(f"- price: {_money(price.price, currency)} each"
                        + (f", falling by units sold ({len(price.tiers)} tiers)" if price.tiers else ""))
        deposit = ast.first(item, ast.Deposit)
        if deposit is not None:
            worth = f", counts as {_money(deposit.worth, currency)}" if deposit.worth is not None else ""
            rows.append(f"- deposit: {_money(deposit.amount, currency)}{worth}")
        balance = ast.first(item, ast.BalanceDiscount)
        if balance is not None:
            rows.append(f"- balance: {_money(balance.amount, currency)} off per unit")
        if deposit is None:
            rows.append("- full-payment presale (no deposit)")
    return "\n\n".join(out) + "\n\n" + "\n".join(rows)


def hover_text(file: ast.File, line: int, column: int, ruleset_items: list, currency: str,
               timezone: str | None) -> tuple[str, Any] | None:
    """Markdown for the node at (line, column), and that node (for its range)."""
    nodes = path_at(file, line, column)
    if not nodes:
        return None
    declared = declared_attributes(ruleset_items)
    by_name: dict[str, Any] = {}
    for item in ruleset_items:
        if isinstance(item, (ast.Promotion, ast.Presale)):
            by_name.setdefault(item.name.value, item)
    groups: dict[str, ast.GroupDecl] = {}
    for item in ruleset_items:
        if isinstance(item, ast.Ruleset):
            for s in item.settings:
                if isinstance(s, ast.GroupDecl):
                    groups.setdefault(s.name.value, s)
    inner = nodes[-1]
    if isinstance(inner, ast.Path) or (isinstance(inner, ast.AttributeDecl)):
        path = inner if isinstance(inner, ast.Path) else inner.path
        text = attribute_text(path.dotted, declared)
        return (text, path) if text else None
    top = nodes[0]
    if isinstance(inner, ast.Name):
        parent = nodes[-2] if len(nodes) > 1 else None
        if isinstance(parent, (ast.GroupRef, ast.GroupDecl)):
            decl = groups.get(inner.value)
            if decl is None:
                return f"group `{inner.value}` is not declared", inner
            return (f"**group `{inner.value}`**: at most {decl.max.text} of its members apply to one order "
                    "(on top of one coupon per line, per shop and on the platform)"), inner
        a_line = isinstance(parent, (ast.LineStmt, ast.RuleTest)) or (isinstance(parent, ast.Expect)
                                                                        and parent.what == "line")
        if isinstance(top, ast.RuleTest) and inner.value in by_name and parent is not None and not a_line:
            return block_text(by_name[inner.value], currency, timezone), inner
    if isinstance(top, (ast.Promotion, ast.Presale)) and (len(nodes) == 1 or inner is top.name):
        return block_text(top, currency, timezone), top.name
    return None
