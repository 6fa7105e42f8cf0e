"""The front end in one call: read a ruleset's files, parse them, check them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine import ast
from engine.checker import check
from engine.diagnostics import Diagnostic, sort_diagnostics
from engine.parser import parse_source
from engine.source import SourceFile, read_sources


@dataclass(frozen=True)
class Loaded:
    sources: dict[str, SourceFile]
    files: tuple[ast.File, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def load_sources(sources: list[SourceFile]) -> Loaded:
    parsed = [parse_source(s) for s in sources]
    files = tuple(p.file for p in parsed)
    diags = [d for p in parsed for d in p.diagnostics] + check(files)
    return Loaded({s.path: s for s in sources}, files, tuple(sort_diagnostics(diags)))


def load_ruleset(root: str | Path) -> Loaded:
    return load_sources(read_sources(root))
