"""Spans (1-based lines, columns in code points, end exclusive) to LSP ranges (0-based lines,
columns in UTF-16 code units) and back, and the syntax node under a position."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from lsprotocol import types

from engine.lang import ast
from engine.lang.source import Span


def _units(ch: str, encoding: str) -> int:
    if encoding == "utf-8":
        return len(ch.encode("utf-8"))
    if encoding == "utf-32":
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


class Lines:
    """A text's lines, for converting columns; `encoding` is the position encoding the client and
    server agreed on (LSP's default, UTF-16, unless the client offered another)."""

    def __init__(self, text: str, encoding: str = "utf-16"):
        self.lines = text.split("\n")
        self.encoding = encoding

    def line(self, number: int) -> str:  # 1-based
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def character(self, line: int, column: int) -> int:
        """The LSP character (in the agreed encoding's units) of 1-based code-point `column` on 1-based `line`."""
        prefix = self.line(line)[: max(column - 1, 0)]
        if prefix.isascii():
            return len(prefix)
        return sum(_units(ch, self.encoding) for ch in prefix)

    def column(self, line0: int, character: int) -> int:
        """The 1-based code-point column of an LSP position."""
        text = self.line(line0 + 1)
        if text.isascii():
            return min(character, len(text)) + 1
        units = 0
        for i, ch in enumerate(text):
            if units >= character:
                return i + 1
            units += _units(ch, self.encoding)
        return len(text) + 1

    def range(self, span: Span) -> types.Range:
        line, end_line = max(span.line, 1), max(span.end_line, span.line, 1)
        return types.Range(start=types.Position(line=line - 1, character=self.character(line, span.column)),
                           end=types.Position(line=end_line - 1, character=self.character(end_line, span.end_column)))

    def end(self) -> types.Position:
        last = len(self.lines)
        return types.Position(line=last - 1, character=self.character(last, len(self.lines[-1]) + 1))


def contains(span: Span, line: int, column: int) -> bool:
    """Whether 1-based (line, column) is in `span` or just at its end (a cursor after a word)."""
    if span.line == 0:
        return False
    return (span.line, span.column) <= (line, column) <= (span.end_line, span.end_column)


def children(node) -> Iterator:
    """The nodes directly inside `node`, in source order."""
    if not dataclasses.is_dataclass(node):
        return
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            for v in value:
                if dataclasses.is_dataclass(v):
                    yield v
        elif dataclasses.is_dataclass(value) and not isinstance(value, Span):
            yield value


def path_at(file: ast.File, line: int, column: int) -> list:
    """The nodes that contain (line, column), outermost first (the item, its clause, ...)."""
    out: list = []
    level = [item for item in file.items]
    while level:
        found = None
        for node in level:
            span = getattr(node, "span", None)
            if isinstance(span, Span) and contains(span, line, column):
                found = node  # the last one that contains it: the next node, when at a boundary
                if (span.line, span.column) <= (line, column) < (span.end_line, span.end_column):
                    break
        if found is None:
            break
        out.append(found)
        level = list(children(found))
    return out


def item_at(file: ast.File, line: int) -> object | None:
    """The top-level block whose lines hold `line`."""
    for item in file.items:
        if item.span.line <= line <= item.span.end_line:
            return item
    return None
