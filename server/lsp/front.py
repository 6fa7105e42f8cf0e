"""The language front end as the language server uses it: the one module here that calls
engine/lang's entry points (parse one file, check a ruleset's files, format), so that a change
to their shape is absorbed in one place."""

from __future__ import annotations

from collections.abc import Sequence

from engine.lang import ast
from engine.lang.checker import check
from engine.lang.diagnostics import Diagnostic, sort_diagnostics
from engine.lang.incremental import BlockParser, chunk_key
from engine.lang.load import MAX_FILE_BYTES, FormatError, format_text, load_sources
from engine.lang.parser import parse_source
from engine.lang.rebase import rebase, rebase_diagnostic
from engine.lang.source import SourceFile

__all__ = ["MAX_FILE_BYTES", "BlockParser", "Diagnostic", "FormatError", "chunk_key", "check_files", "format_text",
           "parse", "rebase", "rebase_diagnostic", "sort_diagnostics"]


def parse(source: SourceFile) -> tuple[ast.File | None, tuple[Diagnostic, ...]]:
    """The file's tree and its syntax diagnostics; no tree for a file too large to read (its
    `file-too-large` diagnostic comes from the loader itself, as `promo check` reports it)."""
    if len(source.text) > MAX_FILE_BYTES // 4 and len(source.text.encode("utf-8")) > MAX_FILE_BYTES:
        return None, tuple(load_sources([source]).diagnostics)
    parsed = parse_source(source)
    return parsed.file, tuple(parsed.diagnostics)


def check_files(files: Sequence[ast.File]) -> list[Diagnostic]:
    """The checker's diagnostics for one ruleset's files (the files in ruleset order)."""
    result = check(list(files))
    diagnostics = getattr(result, "diagnostics", result)  # a `Checked`, or (before it) the list itself
    return list(diagnostics)
