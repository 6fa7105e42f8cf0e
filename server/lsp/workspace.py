"""The rulesets the editor has open, kept parsed, and their diagnostics kept equal to `promo check`.

A ruleset is the `.promo` files of one directory (docs/language.md §1); the editor's unsaved text
wins over the disk. A file is kept as *units*: the chunks of engine/lang/incremental.py, runs of
about 64 top-level blocks, each a file of its own to the checker (named by a key, its spans
counting from its own first line). An edit parses only the blocks whose text changed, and
re-checks only the units that changed (a 10,000-promotion file is about 125 units, a file of 100
promotions one or two). The checker works on a whole ruleset, and on 10,000 promotions a whole
check takes longer than a keystroke may, so a changed unit is checked with *stubs* of the others,
which carry exactly what the checker reads across blocks:

- the `ruleset` headers, whole (currency, time zone, groups, declared attributes, second header);
- every block of another unit that shares a name with a block of this unit (duplicate names,
  and which one is first, follow the units' order, which the stubs keep);
- the promotions with the same level and scope as one of this unit's (`shadowed-by-exclusive`):
  their `level`, `scope` and `exclusive` clauses;
- the two windows of the other units that end first (`stale-window` compares each window with the
  earliest end of the others);
- for this unit's tests, the promotions and presales they name, or every one of them when a name
  is not found anywhere (the "did you mean" looks through all names).

The checker's diagnostics on the unit are then exactly those of a check of the whole ruleset
(tests/cli/test_lsp_workspace.py compares the two over random edits, of many files and of one
large file). What the edit changes in *other* units (a name that now collides, a window that is
no longer the earliest, a promotion a test names, a diagnostic that names a place in a unit that
is gone) is found by comparing the cross-unit facts of the units replaced with those of the new
ones, and only those units are re-checked the same way. A change to a `ruleset` header re-checks
everything. Each unit's diagnostics are kept in its own lines; a file's are its units' moved to
where the units now are (engine/lang/rebase.py, which also rewrites the `file:line:col` a help
names), so an edit that only moves lines re-checks nothing below it.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from engine.lang import ast
from engine.lang.schema import LEVELS
from engine.lang.source import SourceFile, Span
from server.lsp import front
from server.lsp.front import MAX_FILE_BYTES, BlockParser, Diagnostic, chunk_key, rebase, rebase_diagnostic

SPACE_OF: dict[type, str] = {ast.Promotion: "promotion", ast.Presale: "presale", ast.Guard: "guard",
                             ast.WarningLine: "warning", ast.RuleTest: "test"}
_WINDOW_CLAUSES: dict[type, tuple[type, ...]] = {
    ast.Promotion: (ast.Active,),  # guards' windows never count as stale (the checker's rule)
    ast.Presale: (ast.Active, ast.DepositWindow, ast.BalanceWindow),
}
INTERNAL = "internal-error"
PARSED_KEPT = 16  # parses kept per ruleset beyond the current ones


def _zone(name: str) -> tzinfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _instant(text: str, tz: tzinfo) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


class ScopeKey:
    """(level, scope expression): what `shadowed-by-exclusive` groups promotions by. Its hash is
    worked out once (an expression's hash walks the whole tree)."""

    __slots__ = ("level", "expr", "_hash")

    def __init__(self, level: str, expr: object):
        self.level, self.expr = level, expr
        self._hash = hash((level, expr))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ScopeKey) and self._hash == other._hash and self.level == other.level
                and self.expr == other.expr)


@dataclass
class Facts:
    """What the checker reads of one file when it checks another (see the module docstring)."""

    headers: list[ast.Ruleset]
    header_sig: tuple
    names: dict[tuple[str, str], list[int]]  # (space, name) -> indexes of the file's items
    name_sig: frozenset  # (space, name, kind, span) of every named block
    called: frozenset  # (space, name, kind) of promotions and presales: what tests can name
    keys: dict[ScopeKey, list[int]]  # (level, scope) -> indexes of promotions
    key_sig: dict[ScopeKey, tuple]
    exclusive_keys: frozenset  # the keys of the file's exclusive promotions
    refs: list[tuple[str, tuple[str, ...]]]  # names this file's tests look up, and where
    has_tests: bool
    _windows: dict[object, list[tuple[datetime, int, object]]] = field(default_factory=dict)


def facts_of(tree: ast.File, text: str) -> Facts:
    lines = text.split("\n")
    headers: list[ast.Ruleset] = []
    names: dict[tuple[str, str], list[int]] = {}
    keys: dict[ScopeKey, list[int]] = {}
    refs: list[tuple[str, tuple[str, ...]]] = []
    name_sig: set = set()
    called: set = set()
    key_members: dict[ScopeKey, list[tuple]] = {}
    has_tests = False
    for index, item in enumerate(tree.items):
        if isinstance(item, ast.Ruleset):
            headers.append(item)
            continue
        space = SPACE_OF[type(item)]
        kind = item.kind if isinstance(item, ast.Promotion) else space
        names.setdefault((space, item.name.value), []).append(index)
        name_sig.add((space, item.name.value, kind, item.name.span))
        if space in ("promotion", "presale"):
            called.add((space, item.name.value, kind))
        if isinstance(item, ast.Promotion):
            level = ast.first(item, ast.Level)
            if level is not None and level.value.value in LEVELS:
                scope = ast.first(item, ast.Scope)
                key = ScopeKey(level.value.value, scope.expr if scope is not None else None)
                keys.setdefault(key, []).append(index)
                exclusive = ast.first(item, ast.Exclusive) is not None
                key_members.setdefault(key, []).append((item.name.value, kind, exclusive, item.name.span))
        elif isinstance(item, ast.RuleTest):
            has_tests = True
            for s in item.statements:
                if isinstance(s, (ast.WalletStmt, ast.SelectedStmt)):
                    refs.extend((n.value, ("promotion",)) for n in s.coupons)
                elif isinstance(s, ast.SoldStmt):
                    refs.append((s.presale.value, ("presale",)))
                elif isinstance(s, ast.Expect) and s.subject is not None and s.what != "line":
                    refs.append((s.subject.value, ("promotion", "presale")))
    header_sig = tuple((h.span, tuple(lines[h.span.line - 1:h.span.end_line])) for h in headers)
    exclusive_keys = frozenset(k for k, members in key_members.items() if any(m[2] for m in members))
    return Facts(headers, header_sig, names, frozenset(name_sig), frozenset(called), keys,
                 {k: tuple(v) for k, v in key_members.items()}, exclusive_keys, refs, has_tests)


@dataclass
class FileState:
    path: str
    text: str
    tree: ast.File | None  # None: too large to parse
    syntax: tuple[Diagnostic, ...]
    facts: Facts | None
    disk: tuple[int, int] | None = None  # (mtime_ns, size) when read from disk; None while open

    @classmethod
    def read(cls, path: str, text: str) -> FileState:
        tree, syntax = front.parse(SourceFile(path, text))
        return cls(path, text, tree, syntax, facts_of(tree, text) if tree is not None else None)

    def windows(self, tz: tzinfo) -> list[tuple[datetime, int, object]]:
        """(end, item index, clause) of every window the checker may call stale, earliest first."""
        if self.facts is None or self.tree is None:
            return []
        cached = self.facts._windows.get(tz)
        if cached is None:
            cached = []
            for index, item in enumerate(self.tree.items):
                kinds = _WINDOW_CLAUSES.get(type(item))
                if not kinds:
                    continue
                c: Any
                for c in getattr(item, "clauses", ()):
                    if isinstance(c, kinds):
                        window: ast.Window = c.window  # type: ignore[attr-defined]  # every kind has one
                        start, end = _instant(window.start.text, tz), _instant(window.end.text, tz)
                        if start is not None and end is not None and end > start:
                            cached.append((end, index, c))
            cached.sort(key=lambda w: w[0])
            self.facts._windows[tz] = cached
        return cached


def _path_key(path: str) -> Path:
    return Path(path)


@dataclass
class Document:
    """One file of a ruleset: its text, and the units (chunks, engine/lang/incremental.py) the
    checker works on, each with the lines of the file before it."""

    path: str
    text: str
    units: list[FileState]
    line0: list[int]
    disk: tuple[int, int] | None = None  # (mtime_ns, size) when read from disk; None while open
    builder: Callable[[Document], ast.File | None] | None = field(default=None, repr=False)
    _tree: tuple[ast.File | None] | None = field(default=None, repr=False)

    @property
    def tree(self) -> ast.File | None:
        """The file's tree with its real spans (for hover, definition), None when it is too large
        to parse; built on first use from the units' trees (`Ruleset._real_tree`)."""
        if self._tree is None:
            self._tree = (self.builder(self) if self.builder is not None else None,)
        return self._tree[0]

    def keys(self) -> list[str]:
        return [u.path for u in self.units]


def _mentions(diags: Iterable[Diagnostic]) -> set[str]:
    """The units whose places `diags` name (labels, and `file:line:col` in their texts)."""
    out: set[str] = set()
    for d in diags:
        for label in d.labels:
            out.add(label.span.file)
        for text in (d.message, d.help):
            if text and "\x00" in text:
                out.update(_KEY_IN_TEXT.findall(text))
    return out


_KEY_IN_TEXT = re.compile(r"(\x00[0-9a-f]{8}\.\d+\x00[^\n`]*?):\d+:\d+")


class Ruleset:
    """The files of one directory and the diagnostics last worked out for each."""

    def __init__(self, root: Path | None):
        self.root = root
        self.docs: dict[str, Document] = {}
        self.files: dict[str, FileState] = {}  # unit key -> its state
        self.order: list[str] = []  # unit keys, in ruleset order
        self.where: dict[str, tuple[str, int]] = {}  # unit key -> (its file, lines before it)
        self.unit_diagnostics: dict[str, list[Diagnostic]] = {}  # unit key -> its diagnostics, unit lines
        self.referrers: dict[str, set[str]] = {}  # unit key -> the units whose diagnostics name a place in it
        self.diagnostics: dict[str, list[Diagnostic]] = {}  # file -> its diagnostics, as `promo check`
        self.open: set[str] = set()
        self.parser = BlockParser()
        self.parsed: dict[tuple[str, str], FileState] = {}  # (unit key, text) -> its state
        self._real: dict[str, tuple[FileState, int, tuple, tuple]] = {}  # unit key -> (it, line0, items, comments) in its file

    # ---- the files ---------------------------------------------------------------------------

    def read(self, path: str, text: str) -> Document:
        """`text` as `path`, cut into units; each unit's parse and facts come from the caches
        when its text was seen lately (so an edit parses only the blocks it changed)."""
        if len(text) > MAX_FILE_BYTES // 4 and len(text.encode("utf-8")) > MAX_FILE_BYTES:
            chunks = None
        else:
            chunks = self.parser.chunks(path, text)
        units: list[FileState] = []
        line0: list[int] = []
        if chunks is None:  # too large, or only a parse of the whole text says what `promo check` says
            key = chunk_key(path, text, 0)
            state = self.parsed.get((key, text)) or FileState.read(key, text)
            units, line0 = [state], [0]
        else:
            for lines, chunk in chunks:
                found = self.parsed.get((chunk.key, chunk.text))
                if found is None:
                    found = FileState(chunk.key, chunk.text, chunk.file, chunk.diagnostics,
                                      facts_of(chunk.file, chunk.text))
                units.append(found)
                line0.append(lines)
        for state in units:  # the current units last: the oldest go first
            self.parsed.pop((state.path, state.text), None)
            self.parsed[(state.path, state.text)] = state
        current = sum(len(d.units) for d in self.docs.values()) + len(units)
        while len(self.parsed) > current + PARSED_KEPT:
            self.parsed.pop(next(iter(self.parsed)))
        return Document(path, text, units, line0)

    def _ordered(self) -> list[FileState]:
        return [self.files[k] for k in self.order]

    def _reorder(self) -> None:
        self.order = [u.path for p in sorted(self.docs, key=_path_key) for u in self.docs[p].units]

    def _place(self, doc: Document) -> None:
        doc.builder = self._real_tree
        for state, lines in zip(doc.units, doc.line0):
            self.files[state.path] = state
            self.where[state.path] = (doc.path, lines)

    def _unplace(self, doc: Document, keep: set[str]) -> list[str]:
        gone = []
        for state in doc.units:
            if state.path not in keep:
                gone.append(state.path)
                self.files.pop(state.path, None)
                self.where.pop(state.path, None)
                self.unit_diagnostics.pop(state.path, None)
                self._real.pop(state.path, None)
        return gone

    def sync_disk(self) -> dict[str, list[Diagnostic]]:
        """Read the files of the directory that are not open in the editor and changed on disk."""
        if self.root is None or not self.root.is_dir():
            return {}
        present, fresh = set(), {}
        for p in sorted(self.root.glob("*.promo")):
            if not p.is_file():
                continue
            path = str(p)
            present.add(path)
            if path in self.open:
                continue
            try:
                st = p.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                doc = self.docs.get(path)
                if doc is not None and doc.disk == stamp:
                    continue
                text = p.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
            if doc is not None and doc.text == text:
                doc.disk = stamp
                continue
            fresh[path] = self.read(path, text)
            fresh[path].disk = stamp
        gone = [p for p in self.docs if p not in present and p not in self.open]
        if not fresh and not gone:
            return {}
        if len(fresh) + len(gone) == 1:  # one file changed: as if it were edited
            path = next(iter(fresh)) if fresh else gone[0]
            return self.replace(path, fresh.get(path))
        for path in gone:
            self._unplace(self.docs.pop(path), set())
            self.parser.forget(path)
            self.diagnostics.pop(path, None)
        for path, doc in fresh.items():
            old = self.docs.get(path)
            if old is not None:
                same = {u.path: u for u in doc.units}
                self._unplace(old, {u.path for u in old.units if same.get(u.path) is u})
            self.docs[path] = doc
            self._place(doc)
        self._reorder()
        return {**{path: [] for path in gone}, **self.check_all()}

    def set_text(self, path: str, text: str) -> dict[str, list[Diagnostic]]:
        """The editor's text of `path`: the diagnostics that changed, `path`'s own first."""
        self.open.add(path)
        old = self.docs.get(path)
        if old is not None and old.text == text and path in self.diagnostics:
            return {path: self.diagnostics[path]}
        return self.replace(path, self.read(path, text))

    def close(self, path: str) -> dict[str, list[Diagnostic]]:
        self.open.discard(path)
        if self.docs.get(path) is not None:
            self.docs[path].disk = None  # read again from disk on the next sync
        return self.sync_disk()

    # ---- checking ------------------------------------------------------------------------------

    def tz(self) -> tzinfo:
        """The time zone date-times without an offset are read in: the first header's (the checker's rule)."""
        for state in self._ordered():
            if state.facts is not None and state.facts.headers:
                setting = ast.first(state.facts.headers[0], ast.Timezone)
                zone = _zone(setting.name.value) if setting is not None else None
                return zone or UTC
        return UTC

    def _earliest(self, skip: str | None = None, tz: tzinfo | None = None) -> list[tuple[datetime, str, int, object]]:
        tz = tz or self.tz()
        out: list[tuple[datetime, str, int, object]] = []
        for state in self._ordered():
            if state.path != skip:
                out.extend((end, state.path, index, c) for end, index, c in state.windows(tz)[:2])
        out.sort(key=lambda w: w[0])
        return out[:2]

    def check_all(self, first: str | None = None) -> dict[str, list[Diagnostic]]:
        """A whole check, as `promo check` does it; returns the files whose diagnostics changed
        (and `first`'s, first, whether or not they did)."""
        states = self._ordered()
        found = front.check_files([s.tree for s in states if s.tree is not None])
        self.unit_diagnostics.clear()
        self.referrers.clear()
        return self._store({s.path: list(s.syntax) for s in states}, found, first=first, files=set(self.docs))

    def _store(self, by_unit: dict[str, list[Diagnostic]], found: Iterable[Diagnostic],
               first: str | None = None, files: set[str] | None = None) -> dict[str, list[Diagnostic]]:
        """Keep the diagnostics of the units of `by_unit`, then work out again the diagnostics of
        `files` (and of the files of those units); return the files whose diagnostics changed."""
        for d in found:
            if d.span.file in by_unit:
                by_unit[d.span.file].append(d)
        files = set(files or ())
        for key, diags in by_unit.items():
            for other in _mentions(self.unit_diagnostics.get(key, ())):
                self.referrers.get(other, set()).discard(key)
            self.unit_diagnostics[key] = diags
            for other in _mentions(diags):
                self.referrers.setdefault(other, set()).add(key)
            if key in self.where:
                files.add(self.where[key][0])
        return self._publish(files, first)

    def _publish(self, files: set[str], first: str | None = None) -> dict[str, list[Diagnostic]]:
        where = self.where.get
        changed: dict[str, list[Diagnostic]] = {}
        ordered = ([first] if first is not None and first in self.docs else []) + sorted(files - {first})
        for path in ordered:
            doc = self.docs.get(path)
            if doc is None:
                continue
            diags = front.sort_diagnostics(
                rebase_diagnostic(d, where) for state in doc.units for d in self.unit_diagnostics.get(state.path, ()))
            if path == first or self.diagnostics.get(path) != diags:
                self.diagnostics[path] = diags
                changed[path] = diags
        return changed

    def check_one(self, path: str) -> list[Diagnostic] | None:
        """The diagnostics of the unit `path` from a check of it and the other units' stubs; None
        when the checker failed (the caller checks everything instead)."""
        target = self.files[path]
        if target.tree is None or target.facts is None:
            return list(target.syntax)
        tz = self.tz()
        facts = target.facts
        wanted_names = set(facts.names)
        all_called = False
        for name, spaces in facts.refs:
            wanted_names.update((("promotion", name), ("presale", name)))
            if not any((space, name) in s.facts.names for s in self._ordered() if s.facts is not None
                       for space in spaces):
                all_called = True
        windows = self._earliest(skip=path, tz=tz) if target.windows(tz) else []
        keys = self._shadowing(set(facts.keys))
        stub_files = []
        for state in self._ordered():
            if state.path == path:
                stub_files.append(target.tree)
                continue
            if state.tree is None or state.facts is None:
                continue
            stub_files.append(self._stubs(state, wanted_names, keys, windows, all_called))
        found = front.check_files(stub_files)
        if any(d.code == INTERNAL for d in found):
            return None
        return list(target.syntax) + [d for d in found if d.span.file == path]

    def _shadowing(self, keys: set) -> set:
        """Those of `keys` that some exclusive promotion of the ruleset has: the only groups
        `shadowed-by-exclusive` looks at."""
        if not keys:
            return keys
        exclusive: set = set()
        for state in self._ordered():
            if state.facts is not None:
                exclusive |= state.facts.exclusive_keys & keys
        return exclusive

    @staticmethod
    def _stubs(state: FileState, names: set, keys: set, windows: list, all_called: bool) -> ast.File:
        assert state.tree is not None and state.facts is not None
        items = state.tree.items
        facts = state.facts
        keep: dict[int, set[int] | None] = {}  # item index -> ids of the clauses kept (None: all)
        for h in facts.headers:
            keep[next(i for i, item in enumerate(items) if item is h)] = None
        for key in names & facts.names.keys():
            for i in facts.names[key]:
                keep.setdefault(i, set())
        if all_called:
            for (space, _), indexes in facts.names.items():
                if space in ("promotion", "presale"):
                    for i in indexes:
                        keep.setdefault(i, set())
        for key in keys & facts.keys.keys():
            for i in facts.keys[key]:
                clauses = keep.setdefault(i, set())
                for kind in (ast.Level, ast.Scope, ast.Exclusive):
                    c = ast.first(items[i], kind)
                    if c is not None and clauses is not None:
                        clauses.add(id(c))
        for _, p, i, clause in windows:
            if p == state.path:
                clauses = keep.setdefault(i, set())
                if clauses is not None:
                    clauses.add(id(clause))
        out = []
        item: Any
        for i in sorted(keep):
            item, clauses = items[i], keep[i]
            if clauses is None:
                out.append(item)
            elif isinstance(item, ast.RuleTest):
                out.append(dataclasses.replace(item, statements=()))
            else:
                out.append(dataclasses.replace(item, clauses=tuple(c for c in item.clauses if id(c) in clauses)))
        return ast.File(state.path, tuple(out))

    def replace(self, path: str, new: Document | None) -> dict[str, list[Diagnostic]]:
        """Put `new` in place of `path` (None: the file is gone) and re-check what it changes: the
        units of the file whose text changed, then the other units the change may affect."""
        old = self.docs.get(path)
        tz_before = self.tz()
        earliest_before = [w[0] for w in self._earliest(tz=tz_before)]
        old_units = {u.path: u for u in old.units} if old is not None else {}
        new_units = {u.path: u for u in new.units} if new is not None else {}
        removed = [u for k, u in old_units.items() if new_units.get(k) is not u]
        added = [u for k, u in new_units.items() if old_units.get(k) is not u]
        refs: set[str] = set()
        for u in removed:
            refs |= self.referrers.pop(u.path, set())
        if old is not None:
            self._unplace(old, {k for k, u in old_units.items() if new_units.get(k) is u})
        if new is None:
            self.docs.pop(path, None)
            self.diagnostics.pop(path, None)
            self.parser.forget(path)
        else:
            self.docs[path] = new
            self._place(new)
        self._reorder()
        gone: dict[str, list[Diagnostic]] = {path: []} if new is None else {}
        if (old is None or new is None or any(u.tree is None for u in removed + added)
                or _headers(removed) != _headers(added) or self.tz() != tz_before or len(self.files) == 1):
            return {**gone, **self.check_all(first=path)}
        stored: dict[str, list[Diagnostic]] = {}
        for u in added:
            mine = self.check_one(u.path)
            if mine is None:
                return self.check_all(first=path)
            stored[u.path] = mine
        affected = self._affected(set(stored), removed, added, earliest_before)
        affected |= {k for k in refs if k in self.files and k not in stored}
        if len(affected) > max(8, len(self.files) // 2):
            return self.check_all(first=path)
        position = {k: i for i, k in enumerate(self.order)}
        for key in sorted(affected, key=position.__getitem__):
            diags = self.check_one(key)
            if diags is None:
                return self.check_all(first=path)
            stored[key] = diags
        files = {path}
        before = dict(zip(old_units, old.line0))
        for u, lines in zip(new.units, new.line0):  # a unit that only moved: what names a place in it moved too
            if before.get(u.path, lines) != lines:
                files.update(self.where[r][0] for r in self.referrers.get(u.path, ()) if r in self.where)
        return self._store(stored, (), first=path, files=files)

    def _affected(self, skip: set[str], removed: list[FileState], added: list[FileState],
                  earliest_before: list) -> set[str]:
        """The other units whose diagnostics replacing `removed` by `added` may change."""
        old, new = _merged([u.facts for u in removed]), _merged([u.facts for u in added])
        names = {(space, name) for space, name, _, _ in old.name_sig ^ new.name_sig}
        keys = {k for k in old.key_sig.keys() | new.key_sig.keys() if old.key_sig.get(k) != new.key_sig.get(k)}
        if keys:  # a group without an exclusive member warns about nothing
            keys = {k for k in keys if k in old.exclusive_keys or k in new.exclusive_keys} | self._shadowing(keys)
        tests = old.called != new.called
        windows = [w[0] for w in self._earliest()] != earliest_before
        tz = self.tz()
        out = set()
        for state in self._ordered():
            f = state.facts
            if state.path in skip or f is None:
                continue
            if ((tests and f.has_tests) or (names and not names.isdisjoint(f.names))
                    or (keys and not keys.isdisjoint(f.keys)) or (windows and state.windows(tz))):
                out.add(state.path)
        return out

    def _real_tree(self, doc: Document) -> ast.File | None:
        """`doc`'s tree with its real spans: its units' trees moved to their lines (each unit's
        kept until it moves)."""
        items: list = []
        comments: list = []
        for u, lines in zip(doc.units, doc.line0):
            if u.tree is None:
                return None
            kept = self._real.get(u.path)
            if kept is None or kept[0] is not u or kept[1] != lines:
                kept = (u, lines, rebase(u.tree.items, doc.path, lines), rebase(u.tree.comments, doc.path, lines))
                if self.files.get(u.path) is u:
                    self._real[u.path] = kept
            items.extend(kept[2])
            comments.extend(kept[3])
        return ast.File(doc.path, tuple(items), tuple(comments))

    def unit_at(self, path: str, line: int) -> tuple[ast.File, int] | None:
        """The tree of the unit of `path` that holds `line`, and that line counted in the unit."""
        doc = self.docs.get(path)
        if doc is None or not doc.units:
            return None
        i = max(bisect.bisect_left(doc.line0, line) - 1, 0)  # a unit holds lines line0 + 1 on
        tree = doc.units[i].tree
        return (tree, line - doc.line0[i]) if tree is not None else None

    def lookup_items(self) -> list:
        """Every block, for hover and go-to-definition: the units' trees, the headers moved to their
        real lines (hover says where an attribute is declared); `real_span` places the others."""
        out: list = []
        for state in self._ordered():
            if state.tree is not None:
                path, lines = self.where[state.path]
                out.extend(rebase(item, path, lines) if isinstance(item, ast.Ruleset) else item
                           for item in state.tree.items)
        return out

    def real_span(self, span: Span) -> Span:
        """`span` of a unit's tree, in its file."""
        moved = self.where.get(span.file)
        if moved is None:
            return span
        return Span(moved[0], span.line + moved[1], span.column, span.end_line + moved[1], span.end_column)

    def names(self) -> Iterable[object]:
        """Every block of the ruleset, for what needs only their names and settings (completion):
        the units' trees, whose spans count from each unit's first line."""
        for state in self._ordered():
            if state.tree is not None:
                yield from state.tree.items

    def all_items(self) -> Iterable[tuple[Document, object]]:
        for path in sorted(self.docs, key=_path_key):
            doc = self.docs[path]
            tree = doc.tree
            if tree is not None:
                for item in tree.items:
                    yield doc, item


def _merged(facts: list[Facts | None]) -> Facts:
    """The cross-unit facts of several units together."""
    present = [f for f in facts if f is not None]
    if len(present) == 1:
        return present[0]
    out = facts_of(ast.File("", ()), "")
    for f in present:
        out.headers.extend(f.headers)
        for k, v in f.names.items():
            out.names.setdefault(k, []).extend(v)
        for key, members in f.key_sig.items():
            out.key_sig[key] = out.key_sig.get(key, ()) + members
            out.keys.setdefault(key, []).extend(f.keys.get(key, ()))
        out.refs.extend(f.refs)
        out.has_tests = out.has_tests or f.has_tests
    out.name_sig = frozenset().union(*(f.name_sig for f in present))
    out.called = frozenset().union(*(f.called for f in present))
    out.exclusive_keys = frozenset().union(*(f.exclusive_keys for f in present))
    return out


def _headers(units: list[FileState]) -> list[tuple]:
    """The headers of `units`, where they stand in their unit and as written."""
    return [tuple(((s.line, s.column, s.end_line, s.end_column), lines) for s, lines in u.facts.header_sig)
            for u in units if u.facts is not None and u.facts.headers]


class Workspace:
    """Every ruleset with an open file, by directory."""

    def __init__(self) -> None:
        self.rulesets: dict[str, Ruleset] = {}

    def ruleset_of(self, path: str) -> Ruleset:
        p = Path(path)
        root = p.parent if p.is_absolute() else None
        key = str(root) if root is not None else path
        found = self.rulesets.get(key)
        if found is None:
            found = self.rulesets[key] = Ruleset(root)
        return found

    def open(self, path: str, text: str) -> dict[str, list[Diagnostic]]:
        ruleset = self.ruleset_of(path)
        ruleset.open.add(path)
        changed = ruleset.sync_disk()
        changed.update(ruleset.set_text(path, text))
        return {path: changed.pop(path), **changed} if path in changed else changed

    def change(self, path: str, text: str) -> dict[str, list[Diagnostic]]:
        return self.ruleset_of(path).set_text(path, text)

    def close(self, path: str) -> dict[str, list[Diagnostic]]:
        return self.ruleset_of(path).close(path)

    def sync(self) -> dict[str, list[Diagnostic]]:
        changed: dict[str, list[Diagnostic]] = {}
        for ruleset in self.rulesets.values():
            changed.update(ruleset.sync_disk())
        return changed

    def state(self, path: str) -> Document | None:
        return self.ruleset_of(path).docs.get(path)
