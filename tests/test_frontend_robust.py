"""No input crashes the front end: arbitrary text, random bytes and mutations of the examples
all come back as diagnostics (with real positions), never as an exception."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import render
from engine.load import load_sources
from engine.source import SourceFile
from server import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").rglob("*.promo"))] or [
    'promotion "p" { level shop when amount >= 100 discount 10 }\n'
]

# Fragments of the language, so random text often gets deep into the grammar.
TOKENS = [
    "ruleset", "promotion", "coupon", "presale", "guard", "warning", "test", "{", "}", "(", ")",
    "[", "]", ",", ":", ";", "..", "level", "shop", "item", "platform", "shipping", "scope", "when",
    "discount", "price", "each", "every", "max", "tiers", "nth", "gift", "free_shipping", "amount",
    "quantity", "sku", "user.level", "==", ">=", "<", "and", "or", "not", "in", "has", "10", "99.90",
    "8.8折", "20%", '"x"', '"满100减10"', "2026-11-11", "2026-11-11T00:30", "#c\n", "\n", " ", "deposit",
    "worth", "balance", "floor", "below", "expect", "line", "at", "active", "group", "exclusive",
]


def assert_front_end_survives(text: str) -> None:
    source = SourceFile("fuzz.promo", text)
    loaded = load_sources([source])
    for diag in loaded.diagnostics:
        assert diag.span.line >= 1 and diag.span.column >= 1, diag
        render(diag, loaded.sources)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    assert_front_end_survives(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join))
def test_token_soup(text):
    assert_front_end_survives(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_through_the_cli(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "bytes.promo"
    path.write_bytes(data)
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["check", str(path)])
    assert code in (0, 1)
    assert "Traceback" not in out.getvalue()


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(EXAMPLE_TEXTS),
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), st.sampled_from(TOKENS + ["", "\x00", "\u3000"])), max_size=4),
)
def test_mutated_examples(text, edits):
    for where, remove, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + remove :]
    assert_front_end_survives(text)
