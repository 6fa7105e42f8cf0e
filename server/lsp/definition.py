"""Go to definition: a group to its declaration, a declared attribute to its `attribute` line, a
promotion, coupon or presale named in a test to its block."""

from __future__ import annotations

from typing import Any

from engine.lang import ast
from engine.lang.source import Span
from server.lsp.positions import path_at


def definition(file: ast.File, line: int, column: int, items: list) -> Span | None:
    """The span of what the name at (line, column) refers to, or None."""
    nodes = path_at(file, line, column)
    if not nodes:
        return None
    inner: Any = nodes[-1]
    parent: Any = nodes[-2] if len(nodes) > 1 else None
    top = nodes[0]
    if isinstance(inner, ast.Path) or isinstance(parent, ast.AttributeDecl):
        name = inner.dotted if isinstance(inner, ast.Path) else parent.path.dotted
        for item in items:
            if isinstance(item, ast.Ruleset):
                for s in item.settings:
                    if isinstance(s, ast.AttributeDecl) and s.path.dotted == name:
                        return s.path.span
        return None
    if not isinstance(inner, ast.Name):
        return None
    if isinstance(parent, ast.GroupRef):
        for item in items:
            if isinstance(item, ast.Ruleset):
                for s in item.settings:
                    if isinstance(s, ast.GroupDecl) and s.name.value == inner.value:
                        return s.name.span
        return None
    if isinstance(top, ast.RuleTest) and isinstance(parent, ast.Expect) and parent.what == "line":
        for s in top.statements:
            if isinstance(s, ast.LineStmt) and s.id.value == inner.value:
                return s.id.span
        return None
    named = (ast.WalletStmt, ast.SelectedStmt, ast.Expect, ast.SoldStmt)
    if isinstance(top, ast.RuleTest) and isinstance(parent, named):
        if isinstance(parent, ast.SoldStmt):
            kinds: tuple[type, ...] = (ast.Presale,)
        elif isinstance(parent, (ast.WalletStmt, ast.SelectedStmt)):
            kinds = (ast.Promotion,)
        else:
            kinds = (ast.Promotion, ast.Presale)
        for block in items:
            name_of: Any = block.name if isinstance(block, kinds) else None  # type: ignore[attr-defined]
            if name_of is not None and name_of.value == inner.value:
                return name_of.span
    return None
