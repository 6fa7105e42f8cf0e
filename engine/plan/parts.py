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

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import cast

from engine.lang import ast
from engine.lang.checked import RulesetSettings, Types
from engine.lang.source import SourceFile
from engine.plan import compiler as c
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
    done = c.compile_blocks(tree.items, source, settings, types.of)
    nodes = [x for x in tree.items if isinstance(x, ast.Promotion)]
    return FilePart(tree, done.promotions, tuple((n.name.value, index_keys(n), is_exact(n)) for n in nodes),
                    done.presales, done.guards, done.warnings)


class PlanParts:
    """The compiled parts of the files last built, by path, and the plan's sorted lists and index
    as last assembled (an edit takes out the old parts' promotions and puts the new ones in)."""

    def __init__(self) -> None:
        self.parts: dict[str, FilePart] = {}
        self.settings: RulesetSettings | None = None
        self.compiled: list[str] = []  # the files the last build compiled (the others were reused)
        self._sorted: list[Promotion] = []
        self._index: dict[tuple[str, str], tuple[Promotion, ...]] = {}
        self._everywhere: list[Promotion] = []
        self._exact: set[str] = set()

    def build(self, trees: Sequence[ast.File], sources: Mapping[str, SourceFile], settings: RulesetSettings,
              types_of: Callable[[ast.File], Types]) -> Plan:
        """The plan of `trees` (the ruleset's files in ruleset order, checked without errors);
        `types_of(tree)` gives the checker's expression types of one file's tree."""
        whole = settings != self.settings
        if whole:
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
        old = [part for path, part in self.parts.items() if parts.get(path) is not part]
        new = [parts[path] for path in self.compiled]
        self.parts = parts
        ordered = [parts[t.path] for t in trees]
        if whole or len(new) + len(old) > max(8, len(ordered) // 4):
            self._assemble(ordered)
        else:
            self._update(old, new)
        build = c.Build(cast(c.CompileInput, None), settings, [])  # assembling reads no input
        build.promotions = self._sorted
        build.index, build.everywhere, build.scope_is_key = self._index, tuple(self._everywhere), frozenset(self._exact)
        build.presales = tuple(sorted((p for part in ordered for p in part.presales), key=lambda p: (-p.priority, p.name)))
        build.guards = tuple(g for part in ordered for g in part.guards)
        build.warnings = tuple(w for part in ordered for w in part.warnings)
        build.revision = c.revision_of(sources)
        plan = c.assemble_plan(settings, build, sources)
        self._index = dict(self._index)  # the plan's own is never changed by the next update
        return plan

    def _assemble(self, ordered: list[FilePart]) -> None:
        """Everything from the parts, as compile_plan's stages do it."""
        self._sorted = sorted((p for part in ordered for p in part.promotions), key=_ORDER)
        keys_by_name = {name: keys for part in ordered for name, keys, _ in part.index_keys}
        exact = frozenset(name for part in ordered for name, keys, one in part.index_keys if keys and one)
        self._index, everywhere, _ = assemble_index(self._sorted, keys_by_name, exact)
        self._everywhere, self._exact = list(everywhere), set(exact)

    def _update(self, old: list[FilePart], new: list[FilePart]) -> None:
        """The lists of the last build without `old`'s promotions and with `new`'s, in order: the
        promotions' order keys are unique (the names are), so this is what sorting them all gives."""
        gone = {id(p) for part in old for p in part.promotions}
        touched: dict[tuple[str, str], list[Promotion]] = {}
        for part in old:
            for name, keys, _ in part.index_keys:
                self._exact.discard(name)
                for key in keys or ():
                    touched.setdefault(key, [p for p in self._index.get(key, ()) if id(p) not in gone])
        if gone:
            self._sorted = [p for p in self._sorted if id(p) not in gone]
            self._everywhere = [p for p in self._everywhere if id(p) not in gone]
        for part in new:
            for p, (name, keys, one) in zip(part.promotions, part.index_keys):
                bisect.insort(self._sorted, p, key=_ORDER)
                if not keys:
                    bisect.insort(self._everywhere, p, key=_ORDER)
                elif one:
                    self._exact.add(name)
                for key in keys or ():
                    at = touched.get(key)
                    if at is None:
                        at = touched[key] = list(self._index.get(key, ()))
                    bisect.insort_right(at, p, key=_ORDER)
        for key, promotions in touched.items():
            if promotions:
                self._index[key] = tuple(promotions)
            else:
                self._index.pop(key, None)


_ORDER = attrgetter("order_key")
