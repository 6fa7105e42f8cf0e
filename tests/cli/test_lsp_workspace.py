"""The language server's incremental check (server/lsp/workspace.py) against a whole `promo check`:
after every edit of one file of a multi-file ruleset, every file's diagnostics are exactly those
of checking the whole ruleset, though only the changed file (and the files it affects) was checked."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engine.lang.load import load_ruleset
from server.lsp.workspace import Workspace

N = 6  # names drawn from a small range, so blocks of different files collide


def block(rng: random.Random, test_file: bool) -> str:
    n = rng.randrange(N)
    if test_file or rng.random() < 0.1:
        return (f'test "t{n}" {{\n    at 2026-11-11T10:00\n    line "l" sku "a" price 10 qty 1\n'
                f'    wallet "c{rng.randrange(N)}"\n    expect applied "p{rng.randrange(N + 2)}" 1\n'
                f'    sold "ps{rng.randrange(N)}" 3\n    expect not_applied "c{n}" NOT_IN_WALLET\n}}\n')
    kind = rng.random()
    month = rng.choice(["01", "06", "10", "11"])
    if kind < 0.4:
        extra = rng.choice(["", "    exclusive\n", "    priority 2\n"])
        return (f'promotion "p{n}" {{\n    level shop\n    scope shop == "S{rng.randrange(3)}"\n'
                f'    active 2026-{month}-01 .. 2026-{month}-20\n{extra}    discount 10\n}}\n')
    if kind < 0.6:
        group = rng.choice(["g", "gx"])
        return (f'coupon "c{n}" {{\n    level shop\n    scope shop == "S{rng.randrange(3)}"\n    group "{group}"\n'
                f'    when amount >= 100\n    discount {rng.choice([10, 100])}\n}}\n')
    if kind < 0.75:
        return (f'presale "ps{n}" {{\n    scope sku == "X{n}"\n    price 100\n'
                f'    active 2026-{month}-01 .. 2026-{month}-03\n}}\n')
    if kind < 0.85:
        return f'guard "p{n}" {{\n    floor 60%\n}}\n'
    if kind < 0.92:
        return 'promotion "broken" {\n    level shop\n    discount\n}\n'  # a syntax error
    return f'warning "w{n}" {{\n    below 70%\n    scope category == "c{n}"\n}}\n'


def file_text(rng: random.Random, name: str) -> str:
    return "\n".join(block(rng, name.endswith("_test.promo")) for _ in range(rng.randint(0, 4)))


HEADERS = ['ruleset "r" {\n    timezone "Asia/Shanghai"\n    group "g" max 1\n}\n',
           'ruleset "r" {\n    group "g" max 1\n    currency JPY\n}\n', ""]


def expected(root: Path) -> dict[str, list]:
    loaded = load_ruleset(root)
    out: dict[str, list] = {path: [] for path in loaded.sources}
    for d in loaded.diagnostics:
        out[d.span.file].append(d)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_incremental_equals_whole_check(tmp_path: Path, seed: int):
    rng = random.Random(seed)
    names = ["00_header.promo", "a.promo", "b.promo", "c.promo", "d_test.promo", "e.promo"]
    for name in names:
        text = rng.choice(HEADERS) if name == "00_header.promo" else file_text(rng, name)
        (tmp_path / name).write_text(text)
    ws = Workspace()
    first = str(tmp_path / "a.promo")
    ws.open(first, (tmp_path / "a.promo").read_text())
    ruleset = ws.ruleset_of(first)
    assert ruleset.diagnostics == expected(tmp_path)
    checks = 0
    for _ in range(25):
        name = rng.choice(names[1:] if rng.random() < 0.9 else names)
        text = rng.choice(HEADERS) if name == "00_header.promo" else file_text(rng, name)
        if rng.random() < 0.3 and text:  # an edit that only moves the file's lines
            text = "# moved\n" + text
        (tmp_path / name).write_text(text)
        changed = ws.change(str(tmp_path / name), text)
        assert next(iter(changed)) == str(tmp_path / name)  # the edited file is published first
        want = expected(tmp_path)
        assert ruleset.diagnostics == want, name
        checks += 1
    assert checks == 25


ONE_FILE_EDITS = ['promotion "p{n}" {{\n    level shp\n    discount 10\n}}\n',  # unknown level
                  'promotion "p{n}" {{\n    level shop\n    discount\n}}\n',  # a syntax error
                  "# a comment\n", "\n", 'promotion "x" {{\n', "}}\n"]


@pytest.mark.parametrize("seed", range(10))
def test_one_file_edits_equal_whole_check(tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch):
    """One large file (its header in it): an edit re-parses the blocks it changed and re-checks the
    chunks they are in and the chunks they affect; the diagnostics stay those of `promo check`."""
    from engine.lang import incremental

    monkeypatch.setattr(incremental, "CHUNK_AVERAGE", 3)  # many small chunks, as 10,000 promotions have
    monkeypatch.setattr(incremental, "CHUNK_MIN", 1)
    monkeypatch.setattr(incremental, "CHUNK_MAX", 5)
    rng = random.Random(seed)
    name = "rules_test.promo" if seed % 3 == 0 else "rules.promo"
    path = tmp_path / name
    blocks = [rng.choice(HEADERS[:2])] + [block(rng, False) for _ in range(rng.randint(8, 24))]
    if seed % 3 == 0:
        blocks += [block(rng, True) for _ in range(3)]
    text = "\n".join(blocks)
    path.write_text(text)
    ws = Workspace()
    ws.open(str(path), text)
    ruleset = ws.ruleset_of(str(path))
    assert ruleset.diagnostics == expected(tmp_path)
    for _ in range(30):
        parts = text.split("\n\n")
        i = rng.randrange(len(parts))
        kind = rng.random()
        if kind < 0.35:
            parts[i] = block(rng, seed % 3 == 0 and rng.random() < 0.3)
        elif kind < 0.5:
            parts.insert(i, block(rng, False))
        elif kind < 0.6 and len(parts) > 2 and i > 0:
            del parts[i]
        elif kind < 0.95:
            parts[i] = rng.choice(ONE_FILE_EDITS).format(n=rng.randrange(N)) + parts[i]
        elif i == 0:
            parts[0] = rng.choice(HEADERS[:2])
        text = "\n\n".join(parts)
        path.write_text(text)
        changed = ws.change(str(path), text)
        assert next(iter(changed)) == str(path)
        assert ruleset.diagnostics == expected(tmp_path)
        tree = ws.state(str(path)).tree  # the file's tree for hover and definition: real spans
        if tree is not None and not any(d.code.startswith(("syntax", "unclosed")) for d in ruleset.diagnostics[str(path)]):
            want = load_ruleset(tmp_path).files[0]
            assert tree.items == want.items
            assert [i.span for i in tree.items] == [i.span for i in want.items]
