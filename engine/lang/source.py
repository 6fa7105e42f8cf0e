"""Source text and spans: where a thing is in a rule file, and how to show it with a caret."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from engine.base.span import Span

__all__ = ["SNIPPET_CHARS", "SourceFile", "Span", "display_width", "read_sources", "render_snippet", "ruleset_roots"]


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str

    @cached_property
    def _lines(self) -> list[str]:  # split once: a file with an error per line shows every one
        return self.text.splitlines()

    def line_text(self, line: int) -> str:
        lines = self._lines
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def snippet(self, span: Span, width: int = 0) -> str:
        return render_snippet(self.line_text(span.line), span, width)


def read_sources(root: str | Path) -> list[SourceFile]:
    """A ruleset is one `.promo` file or the `.promo` files of one directory, in sorted order."""
    root = Path(root)
    paths = [root] if root.is_file() else sorted(p for p in root.glob("*.promo") if p.is_file())
    return [SourceFile(str(p), p.read_bytes().decode("utf-8", errors="replace")) for p in paths]


def ruleset_roots(path: str | Path) -> list[Path]:
    """The rulesets at or below `path`: a file, or every directory that holds `.promo` files
    (so `promo check examples/` checks each example pack as its own ruleset)."""
    path = Path(path)
    if path.is_file():
        return [path]
    dirs = {p.parent for p in path.rglob("*.promo") if p.is_file()}
    return sorted(dirs)


def display_width(text: str) -> int:
    """Terminal columns taken by `text`: wide (CJK) characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


SNIPPET_CHARS = 200  # a longer source line is shown as this many characters around the caret


def render_snippet(line_text: str, span: Span, width: int = 0) -> str:
    """The source line and a caret/underline under `span`, aligned under wide characters; the
    line number is right-aligned in `width` columns (to align the snippets of one diagnostic)."""
    start = max(span.column - 1, 0)
    end = span.end_column - 1 if span.end_line == span.line else len(line_text)
    shown, start, end = _window(line_text.replace("\t", " "), start, end)
    end = max(min(end, len(shown)), start + 1)
    pad = display_width(shown[:start])
    marks = max(display_width(shown[start:end]), 1)
    gutter = f"{span.line:>{width}} | "
    return f"{gutter}{shown}\n{' ' * (len(gutter) - 2)}| {' ' * pad}{'^' * marks}"


def _window(text: str, start: int, end: int) -> tuple[str, int, int]:
    """A line longer than SNIPPET_CHARS cut to that many characters from a little before
    `start`, with `…` where it is cut, and `start`/`end` moved with it."""
    if len(text) <= SNIPPET_CHARS:
        return text, start, end
    lo = max(0, min(start - SNIPPET_CHARS // 4, len(text) - SNIPPET_CHARS))
    hi = lo + SNIPPET_CHARS
    head, tail = ("…" if lo > 0 else ""), ("…" if hi < len(text) else "")
    shift = len(head) - lo
    return head + text[lo:hi] + tail, start + shift, min(end, hi) + shift
