"""A rule file parsed block by block, each block once per text, and grouped into chunks: what lets
the language server answer an edit of a 10,000-promotion file without parsing it again.

The file is cut where the parser's recovery cuts it (engine/lang/parser.py): a top-level block
runs from a line that starts with a block keyword to the next such line. Each block is parsed on
its own (`parse_source` of its text, as if it were a file) and kept by its text, so an edit parses
only the blocks it touched; a chunk most of whose blocks are new (a file just opened) is parsed
in one go instead and cut into its blocks by their lines. The blocks are grouped into *chunks* of about CHUNK_AVERAGE
blocks; where a chunk ends is decided by its blocks' text (a content-defined cut: a block whose
checksum is 0 modulo CHUNK_AVERAGE ends one), so an edit changes the chunk it is in and leaves
the other chunks, and their names, as they were. A chunk is named like a file (`key`: a NUL, a
checksum of its text, a NUL, the file's path, so `*_test.promo` still ends the name) and its
spans count lines from its own first line; engine/lang/rebase.py moves them to the file.

The blocks give exactly what `parse_source` gives for the whole file (tests/lang/test_incremental.py
compares them over random edits):
- every block parses: the file is `_item*`, so the whole text parses too, to the same items and
  comments, in order;
- some block does not: the whole file fails and `parse_source` reports each block on its own,
  as the blocks did, unless a cut may lie *inside* a block of a file that parses (a line in a
  promotion that starts with `test.` or `promotion`). A file that parses has its braces balanced,
  and a cut where no brace is open (outside strings and comments) lies between two blocks; so the
  file is known to fail when its braces do not balance, or a block that fails has no brace open
  at either of its ends. Otherwise `chunks` answers None and the caller parses the whole text.
  Past PRECISE_ERRORS failing blocks the parser words its errors differently: None too.
"""

from __future__ import annotations

import gc
import re
import zlib
from dataclasses import dataclass

from engine.lang import ast
from engine.lang.diagnostics import Diagnostic
from engine.lang.parser import PRECISE_ERRORS, parse_source
from engine.lang.rebase import rebase, rebase_diagnostic
from engine.lang.source import SourceFile

__all__ = ["BLOCK_START", "CHUNK_AVERAGE", "Block", "BlockParser", "Chunk", "block_starts", "chunk_key", "file_of_key"]

# The parser's own rule for where its recovery cuts a file (engine/lang/parser.py, _BLOCK_START).
BLOCK_START = re.compile(r"^(?=(ruleset|promotion|coupon|presale|guard|warning|test)\b)", re.M)
_AFTER_NEWLINE = re.compile(r"\n(?=(?:ruleset|promotion|coupon|presale|guard|warning|test)\b)")
# What can hold a brace that is not one: strings (as the grammar's STRING) and comments.
_LEXEMES = re.compile(r'"(?:[^"\\\n]|\\["\\nt])*"|#[^\n]*|[{}]')

CHUNK_AVERAGE = 64  # blocks a chunk has, on average
CHUNK_MIN = 16
CHUNK_MAX = 256
BLOCK_PATH = "\x00block\x00"  # the file a block is parsed as, at line 1
WHOLE_PARSE_MIN = 4  # past this many new blocks in a chunk (and half of it), the chunk is parsed whole
BLOCKS_KEPT = 1024  # parses kept beyond the current blocks (undo, redo, a block moved back)


def chunk_key(path: str, text: str, nth: int) -> str:
    """The name of a chunk of `path` whose first block's text is `text`, the `nth` chunk of the
    file that starts with that text: an edit of any other block of the chunk keeps its name."""
    return f"\x00{zlib.crc32(text.encode('utf-8')):08x}.{nth}\x00{path}"


def file_of_key(key: str) -> str:
    return key[key.index("\x00", 1) + 1:]


@dataclass(frozen=True)
class Block:
    """One top-level block, parsed alone as the first lines of file BLOCK_PATH, or cut from the
    parse of a whole chunk (`at`: the lines of the chunk before the block, which its spans count)."""

    text: str
    items: tuple
    comments: tuple[ast.Comment, ...]
    diagnostics: tuple[Diagnostic, ...]
    lines: int  # newlines in the text
    depth: int  # braces opened minus closed, outside strings and comments
    low: int  # the lowest that running count reaches (0 or less)
    cut: bool  # whether a chunk may end after it
    at: int = 0


def _block(text: str, parsed: tuple[tuple, tuple, tuple[Diagnostic, ...]] | None = None, at: int = 0) -> Block:
    if parsed is None:
        whole = parse_source(SourceFile(BLOCK_PATH, text))
        parsed = (whole.file.items, whole.file.comments, whole.diagnostics)
    depth = low = 0
    for lexeme in _LEXEMES.finditer(text):
        brace = lexeme.group()
        if brace == "{":
            depth += 1
        elif brace == "}":
            depth -= 1
            low = min(low, depth)
    items, comments, diagnostics = parsed
    return Block(text, items, comments, diagnostics, text.count("\n"), depth, low, _cut(text), at)


def block_starts(text: str) -> list[int]:
    """0 and where BLOCK_START matches past 0, found as a newline before a keyword (a regex that
    starts with a character is scanned for it: 3 ms a megabyte, against 10 for BLOCK_START)."""
    return [0] + [m.start() + 1 for m in _AFTER_NEWLINE.finditer(text)]


def _cut(text: str) -> bool:
    """Whether a chunk may end after a block of this text."""
    return zlib.crc32(text.encode("utf-8")) % CHUNK_AVERAGE == 0


@dataclass(frozen=True)
class Chunk:
    """Consecutive blocks of one file, as a file of their own named `key`, lines counted from the
    chunk's first; `diagnostics` are the syntax errors of its blocks."""

    key: str
    text: str
    file: ast.File
    diagnostics: tuple[Diagnostic, ...]
    blocks: tuple[str, ...] = ()  # the texts of its blocks
    starts: tuple[tuple[int, int], ...] = ()  # where each block's items and comments start in `file`

    def parts(self, i: int) -> tuple[tuple, tuple]:
        """The items and comments of block `i`, as they are in the chunk."""
        (item, comment), end = self.starts[i], self.starts[i + 1] if i + 1 < len(self.starts) else None
        if end is None:
            return self.file.items[item:], self.file.comments[comment:]
        return self.file.items[item:end[0]], self.file.comments[comment:end[1]]


class _Into:
    """Where a block parsed alone goes: into `key`, `lines` lines down."""

    def __init__(self, key: str, lines: int) -> None:
        self.key, self.lines = key, lines

    def __call__(self, file: str) -> tuple[str, int] | None:
        return (self.key, self.lines) if file == BLOCK_PATH else None


def _chunk(key: str, text: str, blocks: list[Block], old: Chunk | None = None) -> Chunk:
    """The chunk of `blocks` named `key`; the blocks that `old` (the chunk of that name before the
    edit) has at the same line are taken from it as they are, the others moved from their own parse."""
    items: list = []
    comments: list = []
    diags: list[Diagnostic] = []
    starts: list[tuple[int, int]] = []
    reuse: dict[tuple[str, int], int] = {}  # (block text, line in the chunk) -> its index in `old`
    if old is not None and old.key == key:
        line = 0
        for i, t in enumerate(old.blocks):
            reuse.setdefault((t, line), i)
            line += t.count("\n")
    line = 0
    for b in blocks:
        starts.append((len(items), len(comments)))
        same = reuse.get((b.text, line))
        if same is not None and old is not None:
            its, cs = old.parts(same)
            items.extend(its)
            comments.extend(cs)
        else:
            items.extend(rebase(b.items, key, line - b.at))
            comments.extend(rebase(b.comments, key, line - b.at))
        if b.diagnostics:
            diags.extend(rebase_diagnostic(d, _Into(key, line)) for d in b.diagnostics)
        line += b.lines
    return Chunk(key, text, ast.File(key, tuple(items), tuple(comments)), tuple(diags),
                 tuple(b.text for b in blocks), tuple(starts))


class BlockParser:
    """The parses of the blocks and chunks seen lately, by text."""

    def __init__(self) -> None:
        self.blocks: dict[str, Block] = {}
        self.made: dict[tuple[str, str], Chunk] = {}
        self.current: dict[str, list[str]] = {}  # path -> the texts of its blocks, when last cut
        self.named: dict[str, Chunk] = {}  # key -> the current chunk of that name

    def block(self, text: str) -> Block:
        found = self.blocks.get(text)
        if found is None:
            found = self.blocks[text] = _block(text)
        return found

    def chunks(self, path: str, text: str) -> list[tuple[int, Chunk]] | None:
        """`text` of `path` as (lines before it, chunk), in order; None when only a parse of the
        whole text gives `parse_source`'s diagnostics (see the module docstring)."""
        enabled = gc.isenabled()
        gc.disable()  # many small acyclic objects: the collector's passes over a large tree only cost
        try:
            return self._chunks(path, text)
        finally:
            if enabled:
                gc.enable()

    def _chunks(self, path: str, text: str) -> list[tuple[int, Chunk]] | None:
        starts = block_starts(text)
        starts.append(len(text))
        pieces = [text[start:end] for start, end in zip(starts, starts[1:])]
        line = 0
        if not pieces[0].strip():  # only the part before the first block can be blank
            line = pieces[0].count("\n")
            del pieces[0]
        get = self.blocks.get
        known = [get(piece) for piece in pieces]
        lines_before = []
        for b, piece in zip(known, pieces):
            lines_before.append(line)
            line += b.lines if b is not None else piece.count("\n")
        out: list[tuple[int, Chunk]] = []
        seen: dict[str, int] = {}
        made: dict[tuple[str, str], Chunk] = {}
        first = 0
        for i, (b, piece) in enumerate(zip(known, pieces)):
            size = i + 1 - first
            cut = b.cut if b is not None else _cut(piece)
            if i + 1 < len(pieces) and not ((cut and size >= CHUNK_MIN) or size >= CHUNK_MAX):
                continue
            chunk_text = "".join(pieces[first:i + 1])
            crc_key = chunk_key(path, pieces[first], 0)
            nth = seen[crc_key] = seen.get(crc_key, -1) + 1
            key = chunk_key(path, pieces[first], nth) if nth else crc_key
            chunk = self.made.get((key, chunk_text)) or made.get((key, chunk_text))
            if chunk is None:
                new = sum(1 for k in known[first:i + 1] if k is None)
                if new > max(WHOLE_PARSE_MIN, size // 2):  # mostly new blocks (a file opened): one parse
                    chunk = self._parse_chunk(key, chunk_text, pieces[first:i + 1])
                if chunk is None:
                    chunk = _chunk(key, chunk_text, [get(p) or self.block(p) for p in pieces[first:i + 1]],
                                   self.named.get(key))
            made[(key, chunk_text)] = chunk
            out.append((lines_before[first], chunk))
            first = i + 1
        if not self._exact([get(p) or self.block(p) for p in pieces]):
            return None
        if not out:
            key = chunk_key(path, "", 0)
            out.append((0, Chunk(key, "", ast.File(key, ()), ())))
        self._keep(path, made, pieces)
        return out

    def _parse_chunk(self, key: str, text: str, pieces: list[str]) -> Chunk | None:
        """The chunk from one parse of its text, and its blocks cut from it; None when the text
        does not parse, or an item runs from one block into the next (the blocks alone would not parse)."""
        whole = parse_source(SourceFile(key, text))
        if whole.diagnostics:
            return None
        items, comments = whole.file.items, whole.file.comments
        i = j = line = 0
        found = []
        starts = []
        for piece in pieces:
            starts.append((i, j))
            lines = piece.count("\n")
            last = line + lines + (0 if piece.endswith("\n") else 1)  # the block's last line (1-based)
            first_item, first_comment = i, j
            while i < len(items) and items[i].span.line <= last:
                if items[i].span.end_line > last:
                    return None
                i += 1
            while j < len(comments) and comments[j].span.line <= last:
                j += 1
            found.append(_block(piece, (items[first_item:i], comments[first_comment:j], ()), line))
            line += lines
        if i != len(items) or j != len(comments):
            return None
        for b in found:
            self.blocks.setdefault(b.text, b)
        return Chunk(key, text, whole.file, (), tuple(pieces), tuple(starts))

    def _keep(self, path: str, made: dict[tuple[str, str], Chunk], pieces: list[str]) -> None:
        """Keep the current chunks of every file, and up to BLOCKS_KEPT blocks beyond the current ones."""
        self.made = {k: c for k, c in self.made.items() if file_of_key(k[0]) != path}
        self.made.update(made)
        self.named = {k[0]: c for k, c in self.made.items()}
        self.current[path] = pieces
        if len(self.blocks) > sum(len(p) for p in self.current.values()) + BLOCKS_KEPT:
            self.blocks = {t: self.blocks[t] for texts in self.current.values() for t in texts if t in self.blocks}

    def forget(self, path: str) -> None:
        """`path` is no longer part of the ruleset."""
        self.current.pop(path, None)
        self.made = {k: c for k, c in self.made.items() if file_of_key(k[0]) != path}
        self.named = {k[0]: c for k, c in self.made.items()}

    @staticmethod
    def _exact(blocks: list[Block]) -> bool:
        failing = [i for i, b in enumerate(blocks) if b.diagnostics]
        if not failing:
            return True
        if len(failing) > PRECISE_ERRORS:
            return False
        depth, negative, at = 0, False, []
        for b in blocks:
            at.append(depth)
            negative = negative or depth + b.low < 0
            depth += b.depth
        at.append(depth)
        if negative or depth != 0:
            return True
        return any(at[i] == 0 and at[i + 1] == 0 for i in failing)
