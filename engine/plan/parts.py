"""A plan rebuilt from cached parts: what lets the service serve a one-file edit of a large ruleset
without compiling the other files again.

`PlanParts.build(trees, sources, settings, types_of)` compiles each file's blocks once per file
tree (the same `ast.File` object: the caller keeps a file's tree while its text is the same) and
ruleset settings (currency digits, timezone, groups, declared attributes...: when they change,
every file is compiled again), then assembles the plan as `compile_plan` does: promotions sorted
by their order key, the index from each promotion's cached index keys, presales sorted, guards and
warnings in file order, the revision from the texts. The result equals `compile_plan` of the same
ruleset (tests/plan/test_plan_parts.py compares them over random edits of a multi-file ruleset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from engine.lang import ast
from engine.lang.checked import RulesetSettings, Types
from engine.lang.source import SourceFile
from engine.plan import compiler as c
from engine.plan.expressions import ExpressionCompiler
from engine.plan.index import assemble_index, index_keys, is_exact
from engine.plan.plan import Guard, Plan, Presale, Promotion, WarningLine


@dataclass(frozen=True)
class FilePart:
    """One file's blocks, compiled."""

    tree: ast.File
    promotions: tuple[Promotion, ...]
    index_keys: tuple[tuple[str, list[tuple[str, str]] | None, bool], ...]  # (name, keys, exact)
    presales: tuple[Presale, ...]
    guards: tuple[Guard, ...]
    warnings: tuple[WarningLine, ...]


def compile_file(tree: ast.File, source: SourceFile, settings: RulesetSettings, types: Types) -> FilePart:
    exprs = ExpressionCompiler(settings.digits, settings.timezone, settings.declared, types.of)
    ctx = c._Context(settings.digits, settings.timezone, exprs, c._text_reader({source.path: source}))
    nodes = [x for x in tree.items if isinstance(x, ast.Promotion)]
    return FilePart(
        tree=tree,
        promotions=tuple(c._promotion(x, ctx) for x in nodes),
        index_keys=tuple((n.name.value, index_keys(n), is_exact(n)) for n in nodes),
        presales=tuple(c._presale(x, ctx) for x in tree.items if isinstance(x, ast.Presale)),
        guards=tuple(c._guard(x, ctx) for x in tree.items if isinstance(x, ast.Guard)),
        warnings=tuple(c._warning(x, ctx) for x in tree.items if isinstance(x, ast.WarningLine)),
    )


class PlanParts:
    """The compiled parts of the files last built, by path."""

    def __init__(self) -> None:
        self.parts: dict[str, FilePart] = {}
        self.settings: RulesetSettings | None = None
        self.compiled: list[str] = []  # the files the last build compiled (the others were reused)

    def build(self, trees: Sequence[ast.File], sources: Mapping[str, SourceFile], settings: RulesetSettings,
              types_of: Callable[[ast.File], Types]) -> Plan:
        """The plan of `trees` (the ruleset's files in ruleset order, checked without errors);
        `types_of(tree)` gives the checker's expression types of one file's tree."""
        if settings != self.settings:
            self.parts.clear()
            self.settings = settings
        parts: dict[str, FilePart] = {}
        self.compiled = []
        for tree in trees:
            part = self.parts.get(tree.path)
            if part is None or part.tree is not tree:
                part = compile_file(tree, sources[tree.path], settings, types_of(tree))
                self.compiled.append(tree.path)
            parts[tree.path] = part
        self.parts = parts
        ordered = [parts[t.path] for t in trees]
        build = c.Build(cast(c.CompileInput, None), settings, [])  # assembling reads no input
        build.promotions = sorted((p for part in ordered for p in part.promotions), key=lambda p: p.order_key)
        keys_by_name = {name: keys for part in ordered for name, keys, _ in part.index_keys}
        exact = frozenset(name for part in ordered for name, keys, one in part.index_keys if keys and one)
        build.index, build.everywhere, build.scope_is_key = assemble_index(build.promotions, keys_by_name, exact)
        build.presales = tuple(sorted((p for part in ordered for p in part.presales), key=lambda p: (-p.priority, p.name)))
        build.guards = tuple(g for part in ordered for g in part.guards)
        build.warnings = tuple(w for part in ordered for w in part.warnings)
        build.revision = c.revision_of(sources)
        return c.assemble_plan(settings, build, sources)

