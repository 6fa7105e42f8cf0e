"""The `names` pass: the names of blocks across all files of the ruleset, and the groups
promotions name.

Promotions and coupons share one space of names; presales, guards, warnings and tests each have
their own. The first block of a name keeps it (later passes and the tests look names up here).
"""

from __future__ import annotations

from typing import Any

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check.state import KEYWORDS, State


def run(st: State) -> None:
    spaces: dict[type, dict[str, Any]] = {ast.Promotion: st.promotions, ast.Presale: st.presales,
                                             ast.Guard: {}, ast.WarningLine: {}, ast.RuleTest: {}}
    for item in st.items:
        names = spaces.get(type(item))
        if names is None:
            continue
        name: ast.Name = item.name  # type: ignore[attr-defined]
        first = names.get(name.value)
        if first is None:
            names[name.value] = item
            continue
        kind = first.kind if isinstance(first, ast.Promotion) else KEYWORDS[type(first)]
        st.emit(m.name_taken(name.span, name.value, kind, first.name.span))
    for ref in st.clauses(ast.GroupRef):
        if ref.name.value not in st.groups:
            st.emit(m.undeclared_group(ref.name.span, ref.name.value, st.groups))
