"""The served ruleset's front end and compiler, kept from one reload to the next, so that an edit
of one file of a large ruleset is parsed, checked and compiled alone.

- Parse and check: the language server's `Ruleset` (server/lsp/workspace.py) reads the directory,
  parses only the files whose (mtime, size) and text changed (block by block, each block once per
  text: engine/lang/incremental.py), and re-checks only the units the change may affect, with
  stubs of the others; its diagnostics equal a whole check's (tests/cli/test_lsp_workspace.py).
  A change to a `ruleset` header checks everything again.
- Types: the compiler reads the checker's type of every expression; a file's are those of a check
  of that file with the ruleset's headers (expression types depend on the declared attributes
  only), made once per file tree.
- Compile: engine/plan/parts.py compiles each file once per tree and settings, and assembles the
  plan from the parts; it equals `compile_plan` (tests/server/test_incremental_load.py).

`IncrementalLoad.load()` answers what `load_ruleset` + `compile_plan` would: the sources, the
sorted diagnostics, and the plan when there are no errors.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

from engine.lang import ast
from engine.lang.checked import Types
from engine.lang.checker import check_ruleset
from engine.lang.diagnostics import Diagnostic, sort_diagnostics
from engine.lang.source import SourceFile
from engine.plan.parts import PlanParts
from engine.plan.plan import Plan
from server.lsp.workspace import Ruleset


@dataclass
class Result:
    sources: dict[str, SourceFile]
    diagnostics: tuple[Diagnostic, ...]
    plan: Plan | None
    parsed: list[str] = field(default_factory=list)  # the files read and parsed again
    compiled: list[str] = field(default_factory=list)  # the files compiled again

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


class IncrementalLoad:
    """The caches of one rules directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ruleset = Ruleset(root)
        self.parts = PlanParts()
        self._types: dict[str, tuple[ast.File, tuple, Types]] = {}  # path -> (tree, headers, its types)
        self._heads: dict[str, tuple[ast.File, tuple]] = {}  # path -> (tree, its `ruleset` blocks)

    def load(self) -> Result:
        """The ruleset as it is on disk now. The cyclic collector is paused meanwhile (as the parser
        and checker do): its passes over the caches' large trees would cost more than the work."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load()
        finally:
            if enabled:
                gc.enable()

    def _load(self) -> Result:
        before = dict(self.ruleset.docs)
        self.ruleset.sync_disk()
        docs = self.ruleset.docs
        parsed = sorted(p for p, d in docs.items() if before.get(p) is not d)
        paths = sorted(docs, key=Path)  # read_sources' order
        sources = {p: SourceFile(p, docs[p].text) for p in paths}
        diagnostics = tuple(sort_diagnostics(d for p in paths for d in self.ruleset.diagnostics.get(p, ())))
        result = Result(sources, diagnostics, None, parsed)
        if not paths or not result.ok:
            return result
        trees = [docs[p].tree for p in paths]
        if any(t is None for t in trees):  # too large to parse: reported as an error already
            return result
        files: list[ast.File] = [t for t in trees if t is not None]
        headers = tuple(ast.File(t.path, items) for t in files if (items := self._headers_of(t)))
        heads = tuple(h.items for h in headers)
        settings = check_ruleset(headers).settings

        def types_of(tree: ast.File) -> Types:
            kept = self._types.get(tree.path)
            if kept is not None and kept[0] is tree and kept[1] == heads:
                return kept[2]
            around = [tree if h.path == tree.path else h for h in headers]
            if tree.path not in {h.path for h in headers}:
                around.insert(sum(1 for h in headers if Path(h.path) < Path(tree.path)), tree)
            types = check_ruleset(around).types
            self._types[tree.path] = (tree, heads, types)
            return types

        result.plan = self.parts.build(files, sources, settings, types_of)
        result.compiled = list(self.parts.compiled)
        self._types = {p: v for p, v in self._types.items() if p in docs}
        self._heads = {p: v for p, v in self._heads.items() if p in docs}
        return result

    def _headers_of(self, tree: ast.File) -> tuple:
        kept = self._heads.get(tree.path)
        if kept is None or kept[0] is not tree:
            kept = self._heads[tree.path] = (tree, tuple(i for i in tree.items if isinstance(i, ast.Ruleset)))
        return kept[1]
