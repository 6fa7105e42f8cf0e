"""The canonical printer: golden before/after files, comments, expressions, `promo fmt`, and
property tests over random rule files.

Golden cases live in tests/golden/fmt/: `NAME.in` is what an author wrote, `NAME.out` the
canonical form (not `*.promo`, so `promo fmt`/`promo check` over the repository skip them).
Regenerate the `.out` files with `UPDATE_GOLDEN=1 pytest tests/lang/test_formatter.py`, then read
the diff by eye before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from engine.lang import ast
from engine.lang.load import FormatError, format_text
from engine.lang.parser import parse_text
from engine.lang.printer import expr_text, format_file, quote
from server.cli.fmt import format_paths
from server.cli.main import main

try:
    from tests.strategies import rule_files
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import rule_files

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "fmt"
CASES = sorted(p.stem for p in GOLDEN.glob("*.in"))
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _comments(text: str) -> list[str]:
    return [c.text.rstrip() for c in parse_text(text).file.comments]


def assert_formats_safely(text: str) -> str:
    """Format `text` and check the formatter's three promises; return the result."""
    before = parse_text(text)
    assert not before.diagnostics, before.diagnostics
    out = format_text(text)
    after = parse_text(out)
    assert not after.diagnostics, (out, after.diagnostics)
    assert after.file == before.file, out  # the same tree (spans do not take part)
    assert format_text(out) == out  # idempotent
    assert _comments(out) == _comments(text)  # every comment, in order
    assert out == "" or out.endswith("\n") and not out.endswith("\n\n")
    assert all(line == line.rstrip() for line in out.split("\n")), "trailing whitespace"
    assert "\t" not in "".join(line[: len(line) - len(line.lstrip())] for line in out.split("\n"))
    return out


# ---- golden files ----------------------------------------------------------------------------------


def test_golden_cases_exist():
    assert len(CASES) >= 12
    missing = [c for c in CASES if not (GOLDEN / f"{c}.out").exists()]
    assert UPDATE or not missing, f"run with UPDATE_GOLDEN=1 to create {missing}"


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    source = (GOLDEN / f"{case}.in").read_text(encoding="utf-8")
    expected_path = GOLDEN / f"{case}.out"
    out = assert_formats_safely(source)
    if UPDATE:
        expected_path.write_text(out, encoding="utf-8", newline="\n")
    assert out == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_golden_output_is_canonical(case):
    expected = (GOLDEN / f"{case}.out").read_text(encoding="utf-8")
    assert format_text(expected) == expected


# ---- layout decisions, one at a time ---------------------------------------------------------------


def test_one_clause_per_line_and_blocks_in_paragraphs():
    text = 'promotion "p" { level shop  when amount >= 100  discount 10 }\nwarning "w" { below 70% }'
    assert format_text(text) == (
        'promotion "p" {\n    level shop\n    when amount >= 100\n    discount 10\n}\n'
        '\nwarning "w" {\n    below 70%\n}\n'
    )


def test_order_of_blocks_and_clauses_is_kept():
    text = 'coupon "b" { discount 1 level shop title "t" }\npromotion "a" { when x  scope y  discount 2 }'
    out = format_text(text)
    assert out.index('coupon "b"') < out.index('promotion "a"')
    assert out.index("discount 1") < out.index("level shop") < out.index('title "t"')
    assert out.index("when x") < out.index("scope y")


def test_numbers_zhe_and_datetimes_are_kept_as_written():
    text = ('promotion "p" { active 2026-11-11T00:30 .. 2026-11-12T00:00:00+08:00 '
            'when amount >= 99.90 and quantity >= 007 discount 8.8折 max 1000.0 }')
    out = format_text(text)
    for written in ["99.90", "007", "8.8折", "1000.0", "2026-11-11T00:30 ..", "2026-11-12T00:00:00+08:00"]:
        assert written in out
    assert "12%" not in out


def test_percent_spacing_is_normalized():
    assert "discount 20% max 5\n" in format_text('promotion "p" { discount 20 % max 5 }')
    assert "floor 60%\n" in format_text('guard "g" { floor 60 % }')


@pytest.mark.parametrize(
    "value, literal",
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("two\nlines", '"two\\nlines"'),
        ("tab\there", '"tab\\there"'),
        ("满100减10 🎁", '"满100减10 🎁"'),
        ("", '""'),
    ],
)
def test_quote(value, literal):
    assert quote(value) == literal
    parsed = parse_text(f'promotion {literal} {{}}').file.items[0]
    assert parsed.name.value == value


def test_raw_tab_in_a_string_is_written_as_an_escape():
    out = format_text('promotion "a\tb" {}')
    assert out == 'promotion "a\\tb" {}\n'


def _when(out: str) -> str:
    return out.split("when ", 1)[1].split("\n", 1)[0]


@pytest.mark.parametrize(
    "written, canonical",
    [
        ("(a or b) and c", "(a or b) and c"),
        ("a or (b and c)", "a or b and c"),
        ("(a or b) or c", "a or b or c"),
        ("a or (b or c)", "a or (b or c)"),
        ("(a and b) and c", "a and b and c"),
        ("a and (b and c)", "a and (b and c)"),
        ("not (a and b)", "not (a and b)"),
        ("not (a == b)", "not a == b"),
        ("(not a) == b", "(not a) == b"),
        ("not not a", "not not a"),
        ("(a == b) == c", "(a == b) == c"),
        ("a == (b == c)", "a == (b == c)"),
        ("(a in b) has c", "(a in b) has c"),
        ("amount - (10 - 5) > 0", "amount - (10 - 5) > 0"),
        ("(amount - 10) - 5 > 0", "amount - 10 - 5 > 0"),
        ("(a + b) == (c - d)", "a + b == c - d"),
        ("((((x))))", "x"),
        ("[ (a or b) , not c,[ ]]   has  d", "[a or b, not c, []] has d"),
        ("x in ([1,2])", "x in [1, 2]"),
        ("user  .  level>=3", "user.level >= 3"),
        ("20 % < 30%", "20% < 30%"),
    ],
)
def test_expressions_get_minimal_parentheses(written, canonical):
    text = f'promotion "p" {{ when {written} discount 1 }}'
    out = assert_formats_safely(text)
    assert _when(out) == canonical


def test_expr_text_parenthesizes_by_tree_not_by_source():
    a, b, c = (ast.Path((n,)) for n in "abc")
    assert expr_text(ast.And((ast.Or((a, b)), c))) == "(a or b) and c"
    assert expr_text(ast.Or((a, ast.Or((b, c))))) == "a or (b or c)"
    assert expr_text(ast.Arith((a, ast.Arith((b, c), ("+",))), ("-",))) == "a - (b + c)"
    assert expr_text(ast.Arith((a, b, c), ("-", "+"))) == "a - b + c"
    assert expr_text(ast.Not(ast.Or((a, b)))) == "not (a or b)"
    assert expr_text(ast.Compare("==", ast.Compare("<", a, b), c)) == "(a < b) == c"
    assert expr_text(ast.ListLit((ast.Or((a, b)),))) == "[a or b]"


def test_user_stays_on_one_line_when_short_and_without_comments():
    out = format_text('test "t" { user {\n id "u1"\n level 3 } }')
    assert '    user { id "u1" level 3 }\n' in out
    long = 'test "t" { user { id "' + "x" * 90 + '" level 3 } }'
    assert '    user {\n        id "' in format_text(long)
    with_comment = 'test "t" { user { id "u1"  # who\n } }'
    assert '        id "u1"  # who\n' in format_text(with_comment)


# ---- comments --------------------------------------------------------------------------------------


def test_trailing_comment_stays_on_the_line_of_its_clause_with_two_spaces():
    out = format_text('promotion "p" {\n    level shop          # aligned far away\n    discount 1\n}\n')
    assert "    level shop  # aligned far away\n" in out


def test_comment_on_its_own_line_stays_above_the_next_clause_at_its_indentation():
    out = format_text('promotion "p" {\nlevel shop\n        # why\ndiscount 1\n}\n')
    assert out == 'promotion "p" {\n    level shop\n    # why\n    discount 1\n}\n'


def test_comment_after_last_clause_stays_inside_the_block():
    out = format_text('promotion "p" { discount 1\n# the end of p\n}')
    assert out == 'promotion "p" {\n    discount 1\n    # the end of p\n}\n'


def test_comment_in_the_middle_of_a_clause_moves_above_it():
    text = 'promotion "p" {\n    when a  # first\n        and b\n    discount 1\n}\n'
    assert format_text(text) == 'promotion "p" {\n    # first\n    when a and b\n    discount 1\n}\n'


def test_comment_after_a_one_line_block_moves_to_its_first_line():
    assert format_text('warning "w" { below 70% }  # note') == 'warning "w" {  # note\n    below 70%\n}\n'
    assert format_text('guard "g" {}  # empty') == 'guard "g" {}  # empty\n'


def test_comments_at_the_end_of_the_file_stay_at_the_end():
    out = format_text('promotion "p" { discount 1 }\n\n# end one\n# end two\n')
    assert out.endswith("}\n\n# end one\n# end two\n")


def test_comment_text_is_kept_except_trailing_whitespace():
    out = format_text("#tight   \n##  double\n")
    assert out == "#tight\n##  double\n"


def test_crlf_input_becomes_lf():
    text = 'promotion "p" {\r\n    discount 1  # c\r\n}\r\n'
    assert format_text(text) == 'promotion "p" {\n    discount 1  # c\n}\n'


# ---- refusing files that do not parse --------------------------------------------------------------


def test_format_text_refuses_a_syntax_error():
    with pytest.raises(FormatError) as err:
        format_text('promotion "p" { discount }', "bad.promo")
    assert err.value.diagnostics and err.value.diagnostics[0].code == "syntax"


def test_format_file_of_an_empty_file_is_empty():
    assert format_file(ast.File("x.promo", ())) == ""


# ---- promo fmt ---------------------------------------------------------------------------------------

MESSY = 'promotion "p" { level shop  discount 10 }'
TIDY = 'promotion "p" {\n    level shop\n    discount 10\n}\n'


@pytest.fixture
def rules(tmp_path):
    (tmp_path / "a.promo").write_text(MESSY, encoding="utf-8")
    (tmp_path / "b.promo").write_text(TIDY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(MESSY, encoding="utf-8")
    return tmp_path


def test_fmt_rewrites_changed_files_in_place(rules, capsys):
    b_mtime = (rules / "b.promo").stat().st_mtime_ns
    assert main(["fmt", str(rules)]) == 0
    assert (rules / "a.promo").read_text(encoding="utf-8") == TIDY
    assert (rules / "b.promo").stat().st_mtime_ns == b_mtime  # unchanged files are not touched
    assert (rules / "notes.txt").read_text(encoding="utf-8") == MESSY
    assert main(["fmt", str(rules), "--check"]) == 0


def test_fmt_formats_every_ruleset_below_a_directory(rules, capsys):
    (rules / "pack" / "deeper").mkdir(parents=True)
    (rules / "pack" / "deeper" / "c.promo").write_text(MESSY, encoding="utf-8")
    assert main(["fmt", str(rules), "--check"]) == 1
    assert capsys.readouterr().out.splitlines() == [str(rules / "a.promo"), str(rules / "pack" / "deeper" / "c.promo")]
    assert main(["fmt", str(rules)]) == 0
    assert (rules / "pack" / "deeper" / "c.promo").read_text(encoding="utf-8") == TIDY


def test_fmt_a_single_file(rules):
    assert main(["fmt", str(rules / "a.promo")]) == 0
    assert (rules / "a.promo").read_text(encoding="utf-8") == TIDY


def test_fmt_check_lists_files_that_would_change_and_writes_nothing(rules, capsys):
    assert main(["fmt", str(rules), "--check"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [str(rules / "a.promo")]
    assert (rules / "a.promo").read_text(encoding="utf-8") == MESSY


def test_fmt_check_passes_on_formatted_files(rules, capsys):
    assert main(["fmt", str(rules / "b.promo"), "--check"]) == 0
    assert capsys.readouterr().out == ""


def test_fmt_diff_prints_a_unified_diff_and_writes_nothing(rules, capsys):
    assert main(["fmt", str(rules), "--diff"]) == 1
    out = capsys.readouterr().out
    path = str(rules / "a.promo")
    assert f"--- a/{path}\n+++ b/{path}\n" in out
    assert "-promotion \"p\" { level shop  discount 10 }\n\\ No newline at end of file\n" in out
    assert "+    level shop\n" in out
    assert "b.promo" not in out
    assert (rules / "a.promo").read_text(encoding="utf-8") == MESSY


def test_fmt_never_rewrites_a_file_with_syntax_errors(tmp_path, capsys):
    bad = 'promotion "p" { discount 10 }\npromotion "q" { level }\n'
    (tmp_path / "bad.promo").write_text(bad, encoding="utf-8")
    (tmp_path / "good.promo").write_text(MESSY, encoding="utf-8")
    assert main(["fmt", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'bad.promo'}:2:" in err and "error[syntax]" in err and "^" in err
    assert (tmp_path / "bad.promo").read_text(encoding="utf-8") == bad
    assert (tmp_path / "good.promo").read_text(encoding="utf-8") == TIDY  # the others still are
    assert main(["fmt", str(tmp_path), "--check"]) == 1


def test_fmt_leaves_a_file_that_is_not_utf8_alone(tmp_path, capsys):
    raw = b'promotion "p" { discount 10 } # caf\xe9\n'
    (tmp_path / "latin1.promo").write_bytes(raw)
    assert main(["fmt", str(tmp_path)]) == 1
    assert "not valid UTF-8" in capsys.readouterr().err
    assert (tmp_path / "latin1.promo").read_bytes() == raw


def test_fmt_refuses_to_write_output_that_would_change_the_tree(rules, capsys, monkeypatch):
    import server.cli.fmt as formatter

    monkeypatch.setattr(formatter, "format_file", lambda file: 'promotion "p" {\n    discount 11\n}\n')
    assert main(["fmt", str(rules / "a.promo")]) == 1
    assert "internal error" in capsys.readouterr().err
    assert (rules / "a.promo").read_text(encoding="utf-8") == MESSY


def test_fmt_keeps_file_permissions(rules):
    path = rules / "a.promo"
    path.chmod(0o640)
    assert main(["fmt", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o640


def test_fmt_on_a_directory_without_rule_files(tmp_path, capsys):
    assert format_paths(tmp_path) == 2
    assert "no .promo files" in capsys.readouterr().err


# ---- properties over random files --------------------------------------------------------------------

_PROPERTY = settings(max_examples=120, deadline=None, database=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_PROPERTY
@given(rule_files())
def test_random_messy_files_format_idempotently_and_keep_tree_and_comments(text):
    assert_formats_safely(text)


@settings(_PROPERTY, max_examples=40)
@given(rule_files(messy=False))
def test_random_tidy_files_format_idempotently_and_keep_tree_and_comments(text):
    assert_formats_safely(text)


def _features(node, out: set) -> None:
    """Every AST class name in `node`, plus the optional parts that are set."""
    if isinstance(node, (list, tuple)):
        for item in node:
            _features(item, out)
        return
    if not hasattr(node, "__dataclass_fields__"):
        return
    name = type(node).__name__
    out.add(name)
    if isinstance(node, ast.Expect):
        out.add(f"Expect.{node.what}")
        if node.value is not None:
            out.add(f"Expect.{node.what}.value")
    if isinstance(node, ast.Promotion):
        out.add(f"Promotion.{node.kind}")
    for attr in ("zhe", "cap", "qty", "worth", "each"):
        if getattr(node, attr, None):
            out.add(f"{name}.{attr}")
    if isinstance(node, ast.PresalePrice) and node.tiers:
        out.add("PresalePrice.tiers")
    for field_name in node.__dataclass_fields__:
        if field_name != "span":
            _features(getattr(node, field_name), out)


def test_strategy_covers_the_whole_grammar():
    """The random files reach every node type and optional part (so the properties mean
    something, and others can rely on `rule_files()` for fuzzing)."""
    seen: set[str] = set()

    @settings(max_examples=500, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(rule_files(messy=False, max_blocks=12))
    def collect(text):
        _features(parse_text(text).file.items, seen)

    collect()
    expected = {
        name for name, value in vars(ast).items()
        if isinstance(value, type) and hasattr(value, "__dataclass_fields__")
        and value.__module__ == ast.__name__ and name not in {"File", "Comment"}
    }
    expected |= {f"Expect.{w}" for w in ("payable", "discount", "shipping", "applied", "not_applied",
                                          "line", "hint")}
    expected |= {"Expect.applied.value", "Expect.hint.value", "Promotion.promotion", "Promotion.coupon",
                 "DiscountPercent.zhe", "DiscountPercent.cap", "DiscountEvery.cap", "Gift.qty",
                 "Deposit.worth", "DiscountAmount.each", "PresalePrice.tiers"}
    missing = sorted(expected - seen)
    assert not missing, missing


@pytest.mark.parametrize(
    "text",
    [
        'promotion  # between keyword and name\n "p"  # between name and brace\n { discount 1 }',
        'promotion "p"\n{  # brace on its own line\n    discount 1\n}\n',
        'promotion "p" { tiers { amount > 1: discount 1\n ;  # lone semicolon\n amount > 0: discount 2 } }',
        'promotion "p" { scope sku in [  # inside a list\n "a",\n # own line in a list\n "b" ] discount 1 }',
        'promotion "p" { scope user  # inside a path\n . level > 1 discount 1 }',
        'test "t" { line "l1"  # before the fields\n sku "a" # between fields\n qty 2 expect payable 1 }',
        'test "t" { user { id "u1" } # after user\n user { # empty user with a comment\n } }',
        'promotion "a" { discount 1 } promotion "b" { discount 2 }  # two blocks on one line',
        'presale "p" { price 10  # before tiers\n tiers { sold > 1: 9 } }',
        '# only a comment, no newline at the end',
        '\n\n\n',
    ],
)
def test_odd_layouts_format_safely(text):
    assert_formats_safely(text)
