"""The front end in one call: read a ruleset's files, parse them, check them.

`Loaded` is what the rest of the engine takes from the front end: the sources, the syntax trees,
the checker's `Checked` (settings and types, which the compiler reads) and every diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.checked import Checked
from engine.lang.checker import check_ruleset
from engine.lang.diagnostics import Diagnostic, sort_diagnostics
from engine.lang.parser import parse_source, parse_text
from engine.lang.printer import format_file
from engine.lang.source import SourceFile, read_sources

MAX_FILE_BYTES = 8 * 1024 * 1024  # one rule file; a larger one is `file-too-large`, not parsed


@dataclass(frozen=True)
class Loaded:
    sources: dict[str, SourceFile]
    files: tuple[ast.File, ...]
    diagnostics: tuple[Diagnostic, ...]  # the parser's and the checker's, sorted
    checked: Checked

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def load_sources(sources: list[SourceFile]) -> Loaded:
    parsed, too_large = [], []
    for s in sources:
        size = len(s.text.encode("utf-8"))
        if size > MAX_FILE_BYTES:  # not parsed: parsing takes seconds a megabyte
            too_large.append(m.file_too_large(s.path, size, MAX_FILE_BYTES))
        else:
            parsed.append(parse_source(s))
    files = tuple(p.file for p in parsed)
    checked = check_ruleset(files)
    diags = too_large + [d for p in parsed for d in p.diagnostics] + list(checked.diagnostics)
    return Loaded({s.path: s for s in sources}, files, tuple(sort_diagnostics(diags)), checked)


def load_ruleset(root: str | Path) -> Loaded:
    return load_sources(read_sources(root))


class FormatError(ValueError):
    """Raised by `format_text` for a file that does not parse; carries the diagnostics."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        super().__init__(f"{first.span}: {first.message}" if first else "syntax error")


def format_text(text: str, path: str = "<input>") -> str:
    """Parse `text` and format it; raises `FormatError` if it has syntax errors."""
    parsed = parse_text(text, path)
    if parsed.diagnostics:
        raise FormatError(parsed.diagnostics)
    return format_file(parsed.file)
