"""The rulesets the editor has open, kept parsed, and their diagnostics kept equal to `promo check`.

A ruleset is the `.promo` files of one directory (docs/language.md §1). Every file is parsed once
per content (`FileState`); the editor's unsaved text wins over the disk. The checker works on a
whole ruleset, and on 10,000 promotions a whole check takes longer than a keystroke may, so an
edit re-checks **only the changed file**: the checker runs on that file plus *stubs* of the other
files, which carry exactly what the checker reads across files:

- the `ruleset` headers, whole (currency, time zone, groups, declared attributes, second header);
- every block of another file that shares a name with a block of this file (duplicate names,
  and which one is first, follow the files' order, which the stubs keep);
- the promotions with the same level and scope as one of this file's (`shadowed-by-exclusive`):
  their `level`, `scope` and `exclusive` clauses;
- the two windows of the other files that end first (`stale-window` compares each window with the
  earliest end of the others);
- for this file's tests, the promotions and presales they name, or every one of them when a name
  is not found anywhere (the "did you mean" looks through all names).

The checker's diagnostics on this file are then exactly those of a check of the whole ruleset
(tests/cli/test_lsp_workspace.py compares the two over random edits). What the edit changes in
*other* files (a name that now collides, a window that is no longer the earliest, a promotion a
test names) is found by comparing the file's cross-file facts before and after, and only those
files are re-checked the same way. A change to a `ruleset` header re-checks everything.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from engine.lang import ast
from engine.lang.schema import LEVELS
from engine.lang.source import SourceFile
from server.lsp import front
from server.lsp.front import Diagnostic

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


class Ruleset:
    """The files of one directory and the diagnostics last worked out for each."""

    def __init__(self, root: Path | None):
        self.root = root
        self.files: dict[str, FileState] = {}
        self.order: list[str] = []
        self.diagnostics: dict[str, list[Diagnostic]] = {}
        self.open: set[str] = set()
        self.parsed: dict[tuple[str, str], FileState] = {}  # (path, text) -> its parse, the last few texts

    def read(self, path: str, text: str) -> FileState:
        """The parse of `text` as `path`, from the cache when the text was seen lately (undo, redo)."""
        key = (path, text)
        state = self.parsed.pop(key, None) or FileState.read(path, text)
        self.parsed[key] = state
        while len(self.parsed) > PARSED_KEPT:
            self.parsed.pop(next(iter(self.parsed)))
        return state

    # ---- the files ---------------------------------------------------------------------------

    def _ordered(self) -> list[FileState]:
        return [self.files[p] for p in self.order]

    def _reorder(self) -> None:
        self.order = sorted(self.files, key=_path_key)

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
                state = self.files.get(path)
                if state is not None and state.disk == stamp:
                    continue
                text = p.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
            if state is not None and state.text == text:
                state.disk = stamp
                continue
            fresh[path] = FileState.read(path, text)
            fresh[path].disk = stamp
        gone = [p for p in self.files if p not in present and p not in self.open]
        if not fresh and not gone:
            return {}
        if len(fresh) + len(gone) == 1:  # one file changed: as if it were edited
            path = next(iter(fresh)) if fresh else gone[0]
            return self.replace(path, fresh.get(path))
        for path in gone:
            self.files.pop(path, None)
            self.diagnostics.pop(path, None)
        self.files.update(fresh)
        self._reorder()
        return {**{path: [] for path in gone}, **self.check_all()}

    def set_text(self, path: str, text: str) -> dict[str, list[Diagnostic]]:
        """The editor's text of `path`: the diagnostics that changed, `path`'s own first."""
        self.open.add(path)
        old = self.files.get(path)
        if old is not None and old.text == text and path in self.diagnostics:
            return {path: self.diagnostics[path]}
        return self.replace(path, self.read(path, text))

    def close(self, path: str) -> dict[str, list[Diagnostic]]:
        self.open.discard(path)
        if self.files.get(path) is not None:
            self.files[path].disk = None  # read again from disk on the next sync
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
        return self._store({s.path: list(s.syntax) for s in states}, found, first=first)

    def _store(self, by_file: dict[str, list[Diagnostic]], found: Iterable[Diagnostic],
               first: str | None = None) -> dict[str, list[Diagnostic]]:
        for d in found:
            if d.span.file in by_file:
                by_file[d.span.file].append(d)
        changed: dict[str, list[Diagnostic]] = {}
        if first is not None and first in by_file:
            by_file = {first: by_file[first], **by_file}
        for path, diags in by_file.items():
            diags = front.sort_diagnostics(diags)
            if path == first or self.diagnostics.get(path) != diags:
                self.diagnostics[path] = diags
                changed[path] = diags
        return changed

    def check_one(self, path: str) -> list[Diagnostic] | None:
        """The diagnostics of `path` from a check of it and the other files' stubs; None when the
        checker failed (the caller checks everything instead)."""
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

    def replace(self, path: str, new: FileState | None) -> dict[str, list[Diagnostic]]:
        """Put `new` in place of `path` (None: the file is gone) and re-check what it changes."""
        old = self.files.get(path)
        tz_before = self.tz()
        earliest_before = [w[0] for w in self._earliest(tz=tz_before)]
        if new is None:
            self.files.pop(path, None)
            self.diagnostics.pop(path, None)
        else:
            self.files[path] = new
        self._reorder()
        old_facts = old.facts if old is not None else None
        new_facts = new.facts if new is not None else None
        gone: dict[str, list[Diagnostic]] = {path: []} if new is None else {}
        if (old is None or new is None or (old.tree is None) != (new.tree is None)
                or _header_sig(old_facts) != _header_sig(new_facts) or self.tz() != tz_before
                or len(self.files) == 1):
            return {**gone, **self.check_all(first=path)}
        mine = self.check_one(path)
        if mine is None:
            return self.check_all(first=path)
        changed = self._store({path: mine}, (), first=path)
        affected = self._affected(path, old_facts, new_facts, earliest_before)
        if len(affected) > max(8, len(self.files) // 2):
            changed.update({p: d for p, d in self.check_all().items() if p != path})
            return changed
        for other in affected:
            diags = self.check_one(other)
            if diags is None:
                changed.update({p: d for p, d in self.check_all().items() if p != path})
                return changed
            changed.update(self._store({other: diags}, ()))
        return changed

    def _affected(self, path: str, old: Facts | None, new: Facts | None, earliest_before: list) -> list[str]:
        """The other files whose diagnostics the change of `path` from `old` to `new` may change."""
        empty = _EMPTY
        old, new = old or empty, new or empty
        names = {(space, name) for space, name, _, _ in old.name_sig ^ new.name_sig}
        keys = {k for k in old.key_sig.keys() | new.key_sig.keys() if old.key_sig.get(k) != new.key_sig.get(k)}
        if keys:  # a group without an exclusive member warns about nothing
            keys = {k for k in keys if k in old.exclusive_keys or k in new.exclusive_keys} | self._shadowing(keys)
        tests = old.called != new.called
        windows = [w[0] for w in self._earliest()] != earliest_before
        tz = self.tz()
        out = []
        for state in self._ordered():
            f = state.facts
            if state.path == path or f is None:
                continue
            if ((tests and f.has_tests) or not names.isdisjoint(f.names) or not keys.isdisjoint(f.keys)
                    or (windows and state.windows(tz))):
                out.append(state.path)
        return out

    def all_items(self) -> Iterable[tuple[FileState, object]]:
        for state in self._ordered():
            if state.tree is not None:
                for item in state.tree.items:
                    yield state, item


_EMPTY = facts_of(ast.File("", ()), "")


def _header_sig(facts: Facts | None) -> tuple:
    return facts.header_sig if facts is not None else ()


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

    def state(self, path: str) -> FileState | None:
        return self.ruleset_of(path).files.get(path)
