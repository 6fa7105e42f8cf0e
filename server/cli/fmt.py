"""`promo fmt`: format rule files in place, or say which would change (`--check`) or how
(`--diff`). The file I/O of the canonical printer (engine/lang/printer.py) lives here.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from pathlib import Path

from engine.lang import ast
from engine.lang.diagnostics import render
from engine.lang.parser import parse_source, parse_text
from engine.lang.printer import format_file
from engine.lang.source import read_sources, ruleset_roots


def format_paths(path: str | Path, check: bool = False, diff: bool = False) -> int:
    """`promo fmt`: format a file, or every `*.promo` file in a directory and below it.

    Default: rewrite the files that change, in place. `check`: print the names of the files
    that would change. `diff`: print a unified diff. Both leave files alone. Returns 1 if any
    file would change under `check`/`diff`, or if any file could not be formatted (syntax
    errors, printed with their diagnostics, or not UTF-8), 2 if there are no `.promo` files,
    else 0."""
    sources = [source for root in ruleset_roots(path) for source in read_sources(root)]
    if not sources:
        print(f"error: no .promo files at `{path}`", file=sys.stderr)
        return 2
    status = 0
    for source in sources:
        try:
            Path(source.path).read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            print(f"{source.path}: error: not valid UTF-8 ({err.reason} at byte {err.start}); "
                  "left unchanged", file=sys.stderr)
            status = 1
            continue
        parsed = parse_source(source)
        if parsed.diagnostics:
            for diag in parsed.diagnostics:
                print(render(diag, {source.path: source}) + "\n", file=sys.stderr)
            print(f"{source.path}: not formatted: it has syntax errors", file=sys.stderr)
            status = 1
            continue
        new = _checked_format(parsed.file, source.text)
        if new is None:
            status = 1
            continue
        if new == source.text:
            continue
        if diff:
            sys.stdout.write(unified_diff(source.text, new, source.path))
            status = 1
        elif check:
            print(source.path)
            status = 1
        else:
            write_atomically(Path(source.path), new)
    return status


def _checked_format(file: ast.File, old: str) -> str | None:
    """The canonical text of `file`, or None (reported) if the formatter fails or its output would
    not parse back to the same tree."""
    try:
        new = format_file(file)
        again = parse_text(new, file.path) if new != old else None
        if again is None or (not again.diagnostics and again.file == file):
            return new
        problem = "formatting would change the file's meaning"
    except Exception as err:  # a bug here must not crash `promo fmt`
        problem = f"the formatter failed ({type(err).__name__})"
    print(f"{file.path}: internal error: {problem}; left unchanged (please report this)", file=sys.stderr)
    return None


def unified_diff(old: str, new: str, path: str) -> str:
    """A `diff -u` style patch from `old` to `new` (lines split on `\\n` only)."""
    out = []
    for line in difflib.unified_diff(_lines(old), _lines(new), f"a/{path}", f"b/{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` atomically, keeping its permissions."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(text.encode("utf-8"))
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
