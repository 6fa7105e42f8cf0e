"""Moving what the front end made from one place of a file to another: a syntax tree or a
diagnostic parsed or checked as if its text stood alone, given the file and the line it really
starts at.

Top-level blocks start at the beginning of a line, so a move only ever adds lines (columns stay).
A diagnostic's message and help may name another place as `file:line:col` ("the first is at
..."); `rebase_diagnostic` rewrites those too. Equality of trees never looks at spans
(engine/lang/ast.py), so a moved tree is equal to the one it came from.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine.lang.diagnostics import Diagnostic, Label
from engine.lang.source import Span

__all__ = ["Where", "rebase", "rebase_diagnostic"]

# where(file) -> (the file it really is, lines to add), or None to leave it as it is
Where = Callable[[str], "tuple[str, int] | None"]

_LEAVES = (str, int, float, bool, Decimal, type(None))
_FIELDS: dict[type, tuple[str, ...] | None] = {t: None for t in _LEAVES}  # None: holds no span


def _fields(kind: type) -> tuple[str, ...] | None:
    found = _FIELDS.get(kind, ())
    if found == ():
        found = _FIELDS[kind] = (tuple(f.name for f in dataclasses.fields(kind))
                                 if dataclasses.is_dataclass(kind) else None)
    return found


def rebase(value: Any, path: str, lines: int) -> Any:
    """`value` (a tree node, a tuple of them, a span) with every span moved to `path`, `lines`
    lines down; what holds no span is returned as it is."""
    kind = type(value)
    if kind is Span:
        return Span(path, value.line + lines, value.column, value.end_line + lines, value.end_column)
    if kind is tuple:
        return tuple([rebase(v, path, lines) for v in value])
    names = _FIELDS.get(kind, ()) if kind in _FIELDS else _fields(kind)
    if names is None:
        return value
    new = object.__new__(kind)
    for name in names:
        object.__setattr__(new, name, rebase(getattr(value, name), path, lines))
    return new


def _span(span: Span, where: Where) -> Span:
    moved = where(span.file)
    if moved is None:
        return span
    path, lines = moved
    return Span(path, span.line + lines, span.column, span.end_line + lines, span.end_column)


_PLACE = re.compile(r"(\x00[^\x00]*\x00[^\n`]*?):(\d+):(\d+)")


def _text(text: str | None, where: Where) -> str | None:
    """`text` with every `file:line:col` of a file `where` moves rewritten. Only files whose names
    start with a NUL (the language server's names for parts of a file) are looked for."""
    if text is None or "\x00" not in text:
        return text

    def move(match: re.Match[str]) -> str:
        moved = where(match.group(1))
        if moved is None:
            return match.group(0)
        return f"{moved[0]}:{int(match.group(2)) + moved[1]}:{match.group(3)}"

    return _PLACE.sub(move, text)


def rebase_diagnostic(diag: Diagnostic, where: Where) -> Diagnostic:
    """`diag` with its span, its labels' spans and the places its message and help name moved."""
    labels = tuple(Label(_span(label.span, where), label.message) for label in diag.labels)
    message = _text(diag.message, where)
    assert message is not None
    return dataclasses.replace(diag, message=message, span=_span(diag.span, where), help=_text(diag.help, where),
                               labels=labels)
