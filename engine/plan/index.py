"""The index of a plan: which promotions a line with a given sku, shop or category can touch,
from the values each scope requires (so a cart meets its 50 candidates, not 10,000 promotions).
"""

from __future__ import annotations

from engine.lang import ast
from engine.plan.plan import INDEX_ATTRS, Promotion


def build_index(promotions: list[Promotion], nodes: list[ast.Promotion]):
    """Index each promotion under the sku / shop / category values its scope requires; also
    name the promotions whose whole scope is that condition (a line found under the key is in)."""
    keys_by_name = {n.name.value: _index_keys(ast.first(n, ast.Scope)) for n in nodes}
    exact = frozenset(n.name.value for n in nodes if keys_by_name[n.name.value] and is_exact(n))
    return assemble_index(promotions, keys_by_name, exact)


def index_keys(node: ast.Promotion) -> list[tuple[str, str]] | None:
    """The index keys of one promotion (what `build_index` files it under)."""
    return _index_keys(ast.first(node, ast.Scope))


def is_exact(node: ast.Promotion) -> bool:
    """Its scope is one condition (with index keys, a line found under a key is in)."""
    scope = ast.first(node, ast.Scope)
    return scope is not None and len(ast.conjuncts(scope.expr)) == 1


def assemble_index(promotions: list[Promotion], keys_by_name: dict, exact: frozenset[str]):
    index: dict[tuple[str, str], list[Promotion]] = {}
    everywhere = []
    for p in promotions:
        keys = keys_by_name.get(p.name)
        if not keys:
            everywhere.append(p)
        for key in keys or ():
            index.setdefault(key, []).append(p)
    return {k: tuple(v) for k, v in index.items()}, tuple(everywhere), exact


def _index_keys(scope: ast.Scope | None) -> list[tuple[str, str]] | None:
    """The keys one of which every matching line must have, from the scope's top-level conjuncts."""
    if scope is None:
        return None
    options: dict[str, list[tuple[str, str]]] = {}
    for conjunct in ast.conjuncts(scope.expr):
        if isinstance(conjunct, (ast.Compare, ast.In)) and isinstance(conjunct.left, ast.Path):
            attr = conjunct.left.dotted
            if attr not in INDEX_ATTRS:
                continue
            if isinstance(conjunct, ast.Compare) and conjunct.op == "==" and isinstance(conjunct.right, ast.String):
                options.setdefault(attr, [(attr, conjunct.right.value)])
            elif isinstance(conjunct, ast.In) and isinstance(conjunct.right, ast.ListLit):
                values = [i.value for i in conjunct.right.items if isinstance(i, ast.String)]
                if len(values) == len(conjunct.right.items):
                    options.setdefault(attr, [(attr, v) for v in values])
    for attr in INDEX_ATTRS:
        if attr in options:
            return options[attr]
    return None
