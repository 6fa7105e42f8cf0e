"""The front end in one call: read a ruleset's files, parse them, check them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.lang import ast
from engine.lang.checker import check
from engine.lang.diagnostics import Diagnostic, diagnostic, sort_diagnostics
from engine.lang.parser import parse_source, parse_text
from engine.lang.printer import format_file
from engine.lang.source import SourceFile, Span, read_sources

MAX_FILE_BYTES = 8 * 1024 * 1024  # one rule file; a larger one is `file-too-large`, not parsed


@dataclass(frozen=True)
class Loaded:
    sources: dict[str, SourceFile]
    files: tuple[ast.File, ...]
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def load_sources(sources: list[SourceFile]) -> Loaded:
    parsed, too_large = [], []
    for s in sources:
        size = len(s.text.encode("utf-8"))
        if size > MAX_FILE_BYTES:  # not parsed: parsing takes seconds a megabyte
            too_large.append(diagnostic("file-too-large", Span(s.path, 1, 1, 1, 2), f"the file is {size:,} bytes, "
                                        f"more than the {MAX_FILE_BYTES:,} (8 MiB) one rule file may have",
                                        help="split it into several .promo files: a ruleset is the files of one directory"))
        else:
            parsed.append(parse_source(s))
    files = tuple(p.file for p in parsed)
    diags = too_large + [d for p in parsed for d in p.diagnostics] + check(files)
    return Loaded({s.path: s for s in sources}, files, tuple(sort_diagnostics(diags)))


def load_ruleset(root: str | Path) -> Loaded:
    return load_sources(read_sources(root))


class FormatError(ValueError):
    """Raised by `format_text` for a file that does not parse; carries the diagnostics."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...]):
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        super().__init__(f"{first.span}: {first.message}" if first else "syntax error")


def format_text(text: str, path: str = "<input>") -> str:
    """Parse `text` and format it; raises `FormatError` if it has syntax errors."""
    parsed = parse_text(text, path)
    if parsed.diagnostics:
        raise FormatError(parsed.diagnostics)
    return format_file(parsed.file)
