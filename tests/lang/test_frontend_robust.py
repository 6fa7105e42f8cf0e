"""No input crashes the front end: arbitrary text, random bytes and mutations of the examples
all come back as diagnostics (with real positions), never as an exception."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.lang import ast
from engine.lang.diagnostics import render
from engine.lang.load import load_sources
from engine.lang.parser import parse_text
from engine.lang.printer import format_file
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan
from engine.pricing.quote import evaluate
from engine.wire.decode import request_from_json
from server.cli import main as cli
from server.cli.fmt import format_paths

ROOT = Path(__file__).resolve().parents[2]
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
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3),
        st.sampled_from(TOKENS + ["", "\x00", "\u3000"])), max_size=4),
)
def test_mutated_examples(text, edits):
    for where, remove, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + remove :]
    assert_front_end_survives(text)


# ---- long chains and deep nesting -----------------------------------------------------------------
# A chain of one operator (`a or b or c ...`) is one node however long, so nothing walks it
# recursively; real nesting is refused past ast.MAX_NESTING levels with `nesting-too-deep`.

PROMO = str(ROOT / ".venv" / "bin" / "promo")
LIMIT = ast.MAX_NESTING
CART = {"at": "2026-11-11T10:00:00+08:00", "channel": "c-last", "user": {"id": "u1", "new": True},
        "lines": [{"id": "a", "sku": "A", "shop": "S1", "price": "100.00", "quantity": 1}]}


def _depth() -> int:
    frame, n = sys._getframe(), 0
    while frame is not None:
        frame, n = frame.f_back, n + 1
    return n


@contextlib.contextmanager
def stack_budget(frames: int):
    """Python's recursion limit `frames` above the caller: a walk that recursed once per operand
    of a long chain, or without bound on nesting, fails inside."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def promotion(when: str) -> str:
    return f'promotion "p" {{ level shop when {when} discount 10 }}\n'


def any_channel(n: int) -> str:
    return " or ".join([*(f'channel == "c{i}"' for i in range(n - 1)), 'channel == "c-last"'])


def priced_payable(text: str) -> str:
    """check, format (the output parses back to the same tree), compile and price `text`."""
    loaded = load_sources([SourceFile("r.promo", text)])
    assert loaded.ok, loaded.diagnostics[:3]
    again = parse_text(format_file(loaded.files[0]), "r.promo")
    assert again.diagnostics == () and again.file == loaded.files[0]
    plan = compile_plan(loaded)
    quote = evaluate(plan, request_from_json(CART, plan.digits, plan.timezone))
    return f"{quote.payable / 100:.2f}"


LONG_CHAINS = {
    "or-600": any_channel(600),
    "or-5000": any_channel(5000),
    "or-10000": any_channel(10_000),
    "and-10000": " and ".join(f'channel != "c{i}"' for i in range(10_000)),
    "plus-10000": "amount" + " + 1 - 1" * 5000 + " >= 100",
    "parentheses-5000": "(" * 5000 + "user.new" + ")" * 5000,
}


@pytest.mark.parametrize("when", LONG_CHAINS.values(), ids=LONG_CHAINS.keys())
def test_a_long_chain_is_checked_formatted_and_priced_without_recursion(when):
    with stack_budget(60):  # a trivial rule needs about 20 frames; chains add none
        assert priced_payable(promotion(when)) == "90.00"


def test_a_long_chain_that_does_not_hold_takes_nothing_off():
    with stack_budget(60):
        assert priced_payable(promotion(any_channel(10_000).replace('"c-last"', '"other"'))) == "100.00"


NESTED_TO_THE_LIMIT = {
    "not": "not " * LIMIT + "user.new",  # an even number of `not`: true
    "parenthesized-or": '(channel == "x" or ' * (LIMIT - 1) + 'channel == "c-last"' + ")" * (LIMIT - 1),
    "parenthesized-plus": "amount >= " + "0 + (" * (LIMIT - 2) + "100" + ")" * (LIMIT - 2),
}


@pytest.mark.parametrize("when", NESTED_TO_THE_LIMIT.values(), ids=NESTED_TO_THE_LIMIT.keys())
def test_nesting_up_to_the_limit_runs_on_a_bounded_stack(when):
    with stack_budget(450):  # about 3 frames per level at most, far below Python's 1,000
        assert priced_payable(promotion(when)) == "90.00"


def nested_not(levels: int) -> str:
    return "not " * levels + "user.new"


# (when, offset in `when` of the first operator past the limit): level k of `not not ...` is the
# k-th `not`; `(a or (b and ...` puts two levels in every 13 characters, each at its `(`;
# `amount - (...)` is a comparison (level 1) of sums, the k-th sum (level k + 1) at its `(`;
# `sku in [[...` is an `in` (level 1) of lists.
TOO_DEEP = {
    "not-101": (nested_not(LIMIT + 1), 4 * LIMIT),
    "not-330": (nested_not(330), 4 * LIMIT),
    "not-2000": (nested_not(2000), 4 * LIMIT),
    "parenthesized-and-or-2000": ("(a or (b and " * 1000 + "c" + "))" * 1000, 13 * (LIMIT // 2)),
    "parenthesized-minus-2000": ("amount - (" * 2000 + "1" + ")" * 2000 + " > 0", 10 * (LIMIT - 1) - 1),
    "lists-2000": ("sku in " + "[" * 2000 + '"a"' + "]" * 2000, len("sku in ") + LIMIT - 1),
}


@pytest.mark.parametrize("when,offset", TOO_DEEP.values(), ids=TOO_DEEP.keys())
def test_nesting_past_the_limit_is_a_diagnostic_at_the_first_level_too_many(when, offset):
    head = 'promotion "p" { level shop when '
    text = head + when + " discount 10 }\n" + 'coupon "c" { level shop when amont >= 1 discount 1 }\n'
    with stack_budget(200):
        loaded = load_sources([SourceFile("r.promo", text)])
    found = [(d.code, d.span.line, d.span.column) for d in loaded.diagnostics]
    # the deep block is refused; the next block is still checked
    assert found == [("nesting-too-deep", 1, len(head) + 1 + offset), ("unknown-attribute", 2, 30)]


def test_a_deep_list_in_a_test_field_is_refused_too():
    text = 'test "t" { user { tags ' + "[" * 500 + '"x"' + "]" * 500 + " } }\n"
    loaded = load_sources([SourceFile("r_test.promo", text)])
    assert [d.code for d in loaded.diagnostics] == ["nesting-too-deep"]


def test_a_type_error_deep_in_a_long_chain_points_at_its_operand_in_a_short_snippet():
    terms = ["amount"] + ["1"] * 9998 + ['"x"']
    text = promotion(" + ".join(terms) + " >= 100")
    loaded = load_sources([SourceFile("r.promo", text)])
    column = text.index('"x"') + 1
    assert [(d.code, d.span.column) for d in loaded.diagnostics] == [("type-mismatch", column)]
    _, shown, carets = render(loaded.diagnostics[0], loaded.sources).splitlines()[:3]
    assert len(shown) < 300  # not the 40,000-character line
    assert shown.index('"x"') == carets.index("^") and carets.count("^") == 3


# The public surfaces, as a user runs them.

def promo(*args: str):
    return subprocess.run([PROMO, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("deep")
    files = {
        "or600": promotion(any_channel(600)),
        "or5000": promotion(any_channel(5000)),
        "plus10000": promotion(LONG_CHAINS["plus-10000"]),
        "parens2000": promotion("(" * 2000 + "user.new" + ")" * 2000),
        "not330": promotion(nested_not(330)),
        "not2000": promotion(nested_not(2000)),
    }
    for name, text in files.items():
        (root / f"{name}.promo").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("name", ["or600", "or5000", "plus10000", "parens2000"])
def test_promo_check_and_fmt_accept_long_chains(rule_files, name):
    path = str(rule_files / f"{name}.promo")
    checked = promo("check", path)
    assert (checked.returncode, checked.stderr) == (0, "")
    assert "0 errors" in checked.stdout
    formatted = promo("fmt", "--diff", path)
    assert "Traceback" not in formatted.stderr and formatted.returncode in (0, 1)


@pytest.mark.parametrize("name", ["not330", "not2000"])
def test_promo_check_and_fmt_report_deep_nesting_without_a_traceback(rule_files, name):
    path = rule_files / f"{name}.promo"
    before = path.read_text(encoding="utf-8")
    column = len('promotion "p" { level shop when ') + 1 + 4 * LIMIT
    checked = promo("check", str(path))
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert f"{path}:1:{column}: error[nesting-too-deep]" in checked.stdout
    formatted = promo("fmt", str(path))
    assert formatted.returncode == 1 and "Traceback" not in formatted.stderr
    assert f"{path}:1:{column}: error[nesting-too-deep]" in formatted.stderr
    assert path.read_text(encoding="utf-8") == before


# ---- a bug in the front end is a diagnostic, never a traceback ---------------------------------------


def _raise(*args, **kwargs):
    raise RecursionError("maximum recursion depth exceeded")


@pytest.mark.parametrize("target", ["engine.lang.checker._run", "engine.lang.parser._parse_source"])
def test_a_front_end_bug_is_an_internal_error_diagnostic(target, monkeypatch, tmp_path, capsys):
    path = tmp_path / "r.promo"
    path.write_text(promotion("user.new"), encoding="utf-8")
    monkeypatch.setattr(target, _raise)
    assert cli.main(["check", str(path)]) == 1
    assert f"{path}:1:1: error[internal-error]" in capsys.readouterr().out
    loaded = load_sources([SourceFile("r.promo", promotion("user.new"))])  # ValidateRules' path
    assert [(d.code, d.span.line) for d in loaded.diagnostics] == [("internal-error", 1)]


def test_a_formatter_bug_leaves_the_file_alone_and_says_so(monkeypatch, tmp_path, capsys):
    path = tmp_path / "r.promo"
    text = 'promotion "p" {level shop discount 10}\n'
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr("server.cli.fmt.format_file", _raise)
    assert format_paths(path) == 1
    assert f"{path}: internal error: the formatter failed (RecursionError)" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == text
