"""The block-by-block parse (engine/lang/incremental.py) against `parse_source` of the whole text:
over random edits of a rule file (blocks replaced, added, removed, lines moved, single characters
typed or deleted, braces, quotes and `#` included), the chunks, moved to their lines, give the same
items, spans, comments and syntax diagnostics, or say that only a whole parse can (None)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from engine.lang import incremental
from engine.lang.diagnostics import sort_diagnostics
from engine.lang.incremental import BLOCK_START, BlockParser, block_starts
from engine.lang.parser import parse_source
from engine.lang.rebase import rebase, rebase_diagnostic
from engine.lang.source import SourceFile, Span

PATH = "/rules/a_test.promo"

BLOCKS = [
    'ruleset "r" {{\n    timezone "Asia/Shanghai"\n    group "g" max 1\n}}\n',
    'promotion "p{n}" {{\n    level shop\n    scope shop == "S{n}" and tags has "x # not a comment"\n'
    '    active 2026-11-01 .. 2026-11-20\n    discount 10\n}}\n',
    'coupon "c{n}" {{\n    level order\n    group "g"\n    when amount >= 100\n    discount 5\n}}\n',
    '# a comment about p{n} {{\npromotion "q{n}" {{ level item discount 10% max 5 }}\n',
    'presale "ps{n}" {{\n    scope sku == "X{n}"\n    price 100\n    active 2026-11-01 .. 2026-11-03\n}}\n',
    'guard "g{n}" {{\n    floor 60%\n}}\n',
    'test "t{n}" {{\n    at 2026-11-11T10:00\n    line "l" sku "a" price 10 qty 1\n    expect payable 10\n}}\n',
    'promotion "m{n}" {{\n    level item\n    scope sku == "a" or\ntest.x == 1\n    discount 1\n}}\n',  # a cut inside
    'promotion "broken{n}" {{\n    level shop\n    discount\n}}\n',
    'warning "w{n}" {{\n    below 70%\n    scope category == "c{n}"\n}}\n',
]
TYPED = ["{", "}", '"', "#", "\n", " ", "x", "promotion ", "test", "\npromotion", "\ntest.", "}\n", "level "]


def random_block(rng: random.Random) -> str:
    return rng.choice(BLOCKS).format(n=rng.randrange(5))


def edit(rng: random.Random, text: str) -> str:
    blocks = text.split("\n\n")
    kind = rng.random()
    if kind < 0.2:
        blocks[rng.randrange(len(blocks))] = random_block(rng)
    elif kind < 0.35:
        blocks.insert(rng.randrange(len(blocks) + 1), random_block(rng))
    elif kind < 0.45 and len(blocks) > 1:
        del blocks[rng.randrange(len(blocks))]
    elif kind < 0.55:
        i = rng.randrange(len(blocks))
        blocks[i] = "# moved\n" + blocks[i]
    else:
        joined = "\n\n".join(blocks)
        at = rng.randrange(len(joined) + 1)
        if rng.random() < 0.4 and joined:
            return joined[:at] + joined[at + rng.randint(1, 3):]
        return joined[:at] + rng.choice(TYPED) + joined[at:]
    return "\n\n".join(blocks)


def spans(value, out: list) -> list:
    """Every span in `value`, in order (trees compare equal whatever their spans)."""
    if isinstance(value, Span):
        out.append(value)
    elif isinstance(value, tuple):
        for v in value:
            spans(v, out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            spans(getattr(value, f.name), out)
    return out


def assembled(parser: BlockParser, text: str):
    chunks = parser.chunks(PATH, text)
    if chunks is None:
        return None
    where = {c.key: (PATH, lines) for lines, c in chunks}
    items, comments, diags = [], [], []
    for lines, c in chunks:
        items.extend(rebase(c.file.items, PATH, lines))
        comments.extend(rebase(c.file.comments, PATH, lines))
        diags.extend(rebase_diagnostic(d, where.get) for d in c.diagnostics)
    return tuple(items), tuple(comments), sort_diagnostics(diags)


@pytest.mark.parametrize("seed", range(10))
def test_blocks_parse_as_the_whole_file(seed: int, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(incremental, "CHUNK_AVERAGE", 3)  # small chunks: edits cross their ends
    monkeypatch.setattr(incremental, "CHUNK_MIN", 1)
    monkeypatch.setattr(incremental, "CHUNK_MAX", 6)
    rng = random.Random(seed)
    parser = BlockParser()
    text = "\n".join(random_block(rng) for _ in range(rng.randint(3, 14)))
    exact = whole = 0
    for _ in range(60):
        text = edit(rng, text)
        want = parse_source(SourceFile(PATH, text))
        got = assembled(parser, text)
        if got is None:
            whole += 1
            continue
        items, comments, diags = got
        assert items == want.file.items
        assert spans(items, []) == spans(want.file.items, [])
        assert [(c.text, c.span) for c in comments] == [(c.text, c.span) for c in want.file.comments]
        assert diags == sort_diagnostics(want.diagnostics)
        exact += 1
    assert exact > whole


@pytest.mark.parametrize("seed", range(4))
def test_a_new_file_is_parsed_once(seed: int, monkeypatch: pytest.MonkeyPatch):
    """Most blocks new (a file opened): one parse of each chunk's text, cut into its blocks."""
    monkeypatch.setattr(incremental, "CHUNK_AVERAGE", 3)
    monkeypatch.setattr(incremental, "CHUNK_MIN", 1)
    monkeypatch.setattr(incremental, "WHOLE_PARSE_MIN", 0)
    rng = random.Random(seed)
    good = [b for b in BLOCKS if "broken" not in b and "test.x" not in b]
    parsed: list[str] = []
    real = incremental.parse_source
    monkeypatch.setattr(incremental, "parse_source", lambda s: parsed.append(s.text) or real(s))
    for _ in range(10):
        blocks = [rng.choice(good).format(n=rng.randrange(5)) for _ in range(rng.randint(1, 12))]
        text = ("# top\n" if rng.random() < 0.5 else "") + "\n".join(blocks) + rng.choice(["", "\n# end"])
        parsed.clear()
        got = assembled(BlockParser(), text)
        assert "".join(parsed) == text.lstrip("\n")  # each chunk parsed once, whole
        want = real(SourceFile(PATH, text))
        assert got is not None and got[0] == want.file.items and got[2] == []
        assert spans(got[0], []) == spans(want.file.items, [])
        assert [(c.text, c.span) for c in got[1]] == [(c.text, c.span) for c in want.file.comments]
        # an edit after it parses the edited block alone
        edited = text.replace("level", "level ", 1)
        parsed.clear()
        parser = BlockParser()
        assembled(parser, text)
        parsed.clear()
        assembled_after = assembled(parser, edited)
        assert assembled_after is not None and len(parsed) <= 1
        want = real(SourceFile(PATH, edited))
        assert assembled_after[0] == want.file.items and spans(assembled_after[0], []) == spans(want.file.items, [])


def test_a_cut_inside_a_block_is_parsed_whole():
    """`test.x` at the start of a line of a promotion is a cut the parser's recovery would make;
    with a syntax error elsewhere whose braces balance, only a whole parse tells whether it counts."""
    text = 'promotion "m" {\n    level item\n    scope sku == "a" or\ntest.x == 1\n    discount 1\n}\n'
    assert parse_source(SourceFile(PATH, text)).diagnostics == ()
    assert BlockParser().chunks(PATH, text) is None
    broken = text + 'promotion "b" {\n    level\n}\n'
    assert parse_source(SourceFile(PATH, broken)).diagnostics  # the file fails: recovery cuts at `test.x`
    got = assembled(BlockParser(), broken)
    if got is not None:
        assert got[2] == sort_diagnostics(parse_source(SourceFile(PATH, broken)).diagnostics)


def test_an_edit_parses_only_the_blocks_it_changed(monkeypatch: pytest.MonkeyPatch):
    parser = BlockParser()
    text = "\n".join(BLOCKS[1].format(n=n) for n in range(200))
    first = parser.chunks(PATH, text)
    assert first is not None and len(first) > 1
    parsed = []
    real = incremental.parse_source
    monkeypatch.setattr(incremental, "parse_source", lambda s: parsed.append(s.text) or real(s))
    edited = text.replace('"p7"', '"p7x"') + "\n\n"
    after = parser.chunks(PATH, "# a line above\n" + edited)
    assert after is not None and len(parsed) == 3  # the comment above the first block, the edited one, the last one
    assert sum(1 for (_, a), (_, b) in zip(first, after) if a is b) >= len(first) - 3  # the others kept


def test_block_starts_are_the_parsers_cuts():
    rng = random.Random(7)
    parts = ["\n", "test", "promotion", "_", "x", "é", " ", "{", "ruleset", "1", "\nwarning", "\ntest_", "\ntest.",
             "\nguard2", "\nguardé", "\ncoupon", "\npresale("]
    for text in ["", "promotion", "\npromotion\n\ntest\n", "\ntest"] + [
            "".join(rng.choice(parts) for _ in range(30)) for _ in range(2000)]:
        want = [m.start() for m in BLOCK_START.finditer(text)]
        assert block_starts(text) == (want if want[:1] == [0] else [0, *want])
