"""One test per language form: source text -> the syntax tree it must give, with spans."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from lark import Lark

from engine.lang import ast, parser
from engine.lang.diagnostics import render
from engine.lang.grammar_table import OPTIONS, grammar_text, table_key
from engine.lang.parser import parse_text
from engine.lang.source import SourceFile
from grammar import promo_table


def N(text: str) -> ast.Number:
    return ast.Number(D(text), text)


def only_item(text: str):
    parsed = parse_text(text, "t.promo")
    assert parsed.diagnostics == (), parsed.diagnostics
    (item,) = parsed.file.items
    return item


def clause(text: str):
    item = only_item(f'promotion "p" {{ {text} }}')
    (c,) = item.clauses
    return c


def expr(text: str):
    return clause(f"when {text}").expr


CLAUSES = [
    ('title "单品直降10元"', ast.Title(ast.Name("单品直降10元"))),
    ("level shop", ast.Level(ast.Name("shop"))),
    ("active 2026-11-01 .. 2026-11-12T00:30",
        ast.Active(ast.Window(ast.DateTime("2026-11-01"), ast.DateTime("2026-11-12T00:30")))),
    ('group "platform-coupon"', ast.GroupRef(ast.Name("platform-coupon"))),
    ("priority 10", ast.Priority(N("10"))),
    ("exclusive", ast.Exclusive()),
    ("limit 1 per user", ast.Limit(N("1"), ast.Name("user"))),
    ("discount 10", ast.DiscountAmount(N("10"))),
    ("discount 10 each", ast.DiscountAmount(N("10"), each=True)),
    ("discount 20%", ast.DiscountPercent(D(20))),
    ("discount 20% max 50", ast.DiscountPercent(D(20), cap=N("50"))),
    ("discount 8.8折 max 1000", ast.DiscountPercent(D("12.0"), zhe=N("8.8"), cap=N("1000"))),
    ("discount 20 every 200", ast.DiscountEvery(N("20"), N("200"))),
    ("discount 50 every 300 max 500", ast.DiscountEvery(N("50"), N("300"), N("500"))),
    ("price 19.90 each", ast.PriceEach(N("19.90"))),
    (
        "tiers { amount >= 300: discount 60; amount >= 200: discount 30 }",
        ast.Tiers((
            ast.Tier(ast.Compare(">=", ast.Path(("amount",)), N("300")), ast.DiscountAmount(N("60"))),
            ast.Tier(ast.Compare(">=", ast.Path(("amount",)), N("200")), ast.DiscountAmount(N("30"))),
        )),
    ),
    (
        "tiers { quantity >= 3: discount 20% quantity >= 2: discount 10% }",
        ast.Tiers((
            ast.Tier(ast.Compare(">=", ast.Path(("quantity",)), N("3")), ast.DiscountPercent(D(20))),
            ast.Tier(ast.Compare(">=", ast.Path(("quantity",)), N("2")), ast.DiscountPercent(D(10))),
        )),
    ),
    ("nth 2 discount 50%", ast.Nth(N("2"), ast.DiscountPercent(D(50)))),
    ("nth 3 price 0.01 each", ast.Nth(N("3"), ast.PriceEach(N("0.01")))),
    ('gift "SKU-GIFT"', ast.Gift(ast.Name("SKU-GIFT"))),
    ('gift "SKU-GIFT" qty 2', ast.Gift(ast.Name("SKU-GIFT"), N("2"))),
    ("free_shipping", ast.FreeShipping()),
]


@pytest.mark.parametrize("text,expected", CLAUSES, ids=[t for t, _ in CLAUSES])
def test_promotion_clause(text, expected):
    assert clause(text) == expected


sku = ast.Path(("sku",))
EXPRESSIONS = [
    ('sku == "a"', ast.Compare("==", sku, ast.String("a"))),
    ("user.level >= 3", ast.Compare(">=", ast.Path(("user", "level")), N("3"))),
    ('a != "x" or b < 1 and not c', ast.Or((
        ast.Compare("!=", ast.Path(("a",)), ast.String("x")),
        ast.And((ast.Compare("<", ast.Path(("b",)), N("1")), ast.Not(ast.Path(("c",))))),
    ))),
    ("(a or b) and c", ast.And((ast.Or((ast.Path(("a",)), ast.Path(("b",)))), ast.Path(("c",))))),
    # a chain of one operator is one node; a parenthesized chain first in a chain is spliced in
    ("a or b or c", ast.Or(tuple(ast.Path((n,)) for n in "abc"))),
    ("(a or b) or c", ast.Or(tuple(ast.Path((n,)) for n in "abc"))),
    ("a or (b or c)", ast.Or((ast.Path(("a",)), ast.Or((ast.Path(("b",)), ast.Path(("c",))))))),
    ("a and b and c or d", ast.Or((ast.And(tuple(ast.Path((n,)) for n in "abc")), ast.Path(("d",))))),
    ("(a - 1) - 2 + b > 0", ast.Compare(">", ast.Arith((ast.Path(("a",)), N("1"), N("2"), ast.Path(("b",))),
                                                       ("-", "-", "+")), N("0"))),
    ("a - (1 - 2) > 0", ast.Compare(">", ast.Arith((ast.Path(("a",)), ast.Arith((N("1"), N("2")), ("-",))), ("-",)),
                                    N("0"))),
    ('sku in ["a", "b"]', ast.In(sku, ast.ListLit((ast.String("a"), ast.String("b"))))),
    ('tags has "hot"', ast.Has(ast.Path(("tags",)), ast.String("hot"))),
    ("amount - 10 + 2 > price",
        ast.Compare(">", ast.Arith((ast.Path(("amount",)), N("10"), N("2")), ("-", "+")), ast.Path(("price",)))),
    ("now <= 2026-11-11T00:30:00+08:00",
        ast.Compare("<=", ast.Path(("now",)), ast.DateTime("2026-11-11T00:30:00+08:00"))),
    ("user.new == true or false",
        ast.Or((ast.Compare("==", ast.Path(("user", "new")), ast.Bool(True)), ast.Bool(False)))),
    ("x >= 20%", ast.Compare(">=", ast.Path(("x",)), ast.Percent(D(20)))),
    ("line.material in []", ast.In(ast.Path(("line", "material")), ast.ListLit(()))),
    ('s == "tab\\t\\"q\\""', ast.Compare("==", ast.Path(("s",)), ast.String('tab\t"q"'))),
]


@pytest.mark.parametrize("text,expected", EXPRESSIONS, ids=[t for t, _ in EXPRESSIONS])
def test_expression(text, expected):
    assert expr(text) == expected


def test_keywords_are_attribute_names_inside_expressions():
    # `price` and `level` are clause keywords, but plain attributes where an operand is expected.
    item = only_item('promotion "p" { scope price > 10 and level == "x" price 9 each }')
    assert item.clauses[0].expr == ast.And((
        ast.Compare(">", ast.Path(("price",)), N("10")), ast.Compare("==", ast.Path(("level",)), ast.String("x"))
    ))
    assert item.clauses[1] == ast.PriceEach(N("9"))


def test_ruleset_header():
    item = only_item(
        'ruleset "双11" { currency CNY timezone "Asia/Shanghai" stacking progressive rounding half_even '
        'min_payment 0.01 group "g" max 1 attribute line.material string }'
    )
    assert item == ast.Ruleset(ast.Name("双11"), (
        ast.Currency(ast.Name("CNY")), ast.Timezone(ast.Name("Asia/Shanghai")), ast.Stacking(ast.Name("progressive")),
        ast.Rounding(ast.Name("half_even")), ast.MinPayment(N("0.01")), ast.GroupDecl(ast.Name("g"), N("1")),
        ast.AttributeDecl(ast.Path(("line", "material")), ast.Name("string")),
    ))


def test_coupon_is_a_promotion_of_kind_coupon():
    assert only_item('coupon "c" { discount 5 }').kind == "coupon"


def test_presale():
    item = only_item(
        'presale "phone-x" { title "定金" scope sku == "phone-x" price 3999 deposit 100 worth 200 '
        "balance discount 50 deposit_window 2026-10-20 .. 2026-11-01 balance_window 2026-11-01 .. 2026-11-04 "
        "ships 2026-11-15 }"
    )
    assert item.clauses[2:] == (
        ast.PresalePrice(N("3999")),
        ast.Deposit(N("100"), N("200")),
        ast.BalanceDiscount(N("50")),
        ast.DepositWindow(ast.Window(ast.DateTime("2026-10-20"), ast.DateTime("2026-11-01"))),
        ast.BalanceWindow(ast.Window(ast.DateTime("2026-11-01"), ast.DateTime("2026-11-04"))),
        ast.Ships(ast.DateTime("2026-11-15")),
    )


def test_presale_price_tiers_by_units_sold():
    item = only_item('presale "p" { price 2000 tiers { sold >= 100: 1600; sold >= 50: 1800 } }')
    sold = ast.Path(("sold",))
    assert item.clauses == (ast.PresalePrice(N("2000"), (
        ast.PresaleTier(ast.Compare(">=", sold, N("100")), N("1600")),
        ast.PresaleTier(ast.Compare(">=", sold, N("50")), N("1800")),
    )),)


def test_guards_and_warnings():
    assert only_item('guard "g" { floor 60% }').clauses == (ast.FloorPercent(N("60")),)
    assert only_item('guard "g" { floor 9.90 each }').clauses == (ast.FloorEach(N("9.90")),)
    assert only_item('warning "w" { below 70% }').clauses == (ast.BelowPercent(N("70")),)
    assert only_item('warning "w" { scope category == "nuts" below 5 each }').clauses[1] == ast.BelowEach(N("5"))


def test_test_block_statements():
    item = only_item(
        'test "t" { at 2026-11-11T10:00 user { id "u1" level 3 tags ["new"] new true } channel "app" region "CN-ZJ" '
        'line "l1" sku "SKU-110" price 110 qty 2 shipping "S1" 8 wallet "a" "b" selected "a" stage balance '
        'sold "phone-x" 120 expect payable 170 expect discount 50 expect shipping 0 expect applied "x" 20 '
        'expect applied "y" expect not_applied "z" NOT_IN_WALLET expect line "l1" final 85 '
        'expect hint "t" missing 30.01 }'
    )
    kinds = [type(s).__name__ for s in item.statements]
    assert kinds == ["AtStmt", "UserStmt", "ChannelStmt", "RegionStmt", "LineStmt", "ShippingStmt", "WalletStmt",
                     "SelectedStmt", "StageStmt", "SoldStmt"] + ["Expect"] * 8
    user = item.statements[1]
    assert [f.name.value for f in user.fields] == ["id", "level", "tags", "new"]
    assert user.fields[2].value == ast.ListLit((ast.String("new"),))
    line = item.statements[4]
    assert line.id.value == "l1" and [f.value for f in line.fields] == [ast.String("SKU-110"), N("110"), N("2")]
    expects = [(e.what, e.subject and e.subject.value, e.value and e.value.value,
        e.code and e.code.value) for e in item.statements[10:]]
    assert expects == [
        ("payable", None, 170, None), ("discount", None, 50, None), ("shipping", None, 0, None),
        ("applied", "x", 20, None), ("applied", "y", None, None), ("not_applied", "z", None, "NOT_IN_WALLET"),
        ("line", "l1", 85, None), ("hint", "t", D("30.01"), None),
    ]


def test_spans_point_at_keywords_and_tokens():
    text = 'promotion "满减" {\n    title "店铺满减"  when amount >= 100\n    discount 10\n}\n'
    item = only_item(text)
    title, when, benefit = item.clauses
    assert (item.span.line, item.span.column, item.span.end_line, item.span.end_column) == (1, 1, 4, 2)
    assert (title.span.line, title.span.column, title.span.end_column) == (2, 5, 17)
    assert (when.span.line, when.span.column) == (2, 19)
    assert (when.expr.right.span.column, when.expr.right.span.end_column) == (34, 37)
    assert (benefit.span.line, benefit.span.column, benefit.span.end_column) == (3, 5, 16)
    assert item.name.span.column == 11


def test_comments_are_collected_with_positions():
    parsed = parse_text('# head\npromotion "p" { # inside\n discount 1 } # tail\n')
    assert [(c.text, c.span.line, c.span.column) for c in parsed.file.comments] == [
        ("# head", 1, 1), ("# inside", 2, 17), ("# tail", 3, 15),
    ]


def test_syntax_errors_in_several_blocks_are_all_reported_and_good_blocks_kept():
    parsed = parse_text(
        'promotion "a" { discount 1 }\npromotion "b" { levl shop discount 1 }\n'
        'promotion "c" { discount 2 }\ncoupon "d" { title "x }\n',
        "t.promo",
    )
    assert [i.name.value for i in parsed.file.items] == ["a", "c"]
    assert [(d.code, d.span.line, d.span.column) for d in parsed.diagnostics] == [
        ("syntax", 2, 17), ("unterminated-string", 4, 20),
    ]
    assert parsed.diagnostics[0].help == "did you mean `level`?"


def test_unclosed_block_is_reported_at_the_end_of_the_block():
    parsed = parse_text('promotion "a" {\n  discount 1\n\npromotion "b" { discount 2 }\n', "t.promo")
    assert [i.name.value for i in parsed.file.items] == ["b"]
    assert [(d.code, d.span.line) for d in parsed.diagnostics] == [("unclosed-block", 2)]


# ---- the parser table ships with the package -----------------------------------------------------

PROMO = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "promo")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_shipped_parser_table_is_the_grammar_s():
    assert promo_table.KEY == table_key(grammar_text()), (
        "grammar/promo.lark (or Lark) changed: run `.venv/bin/python -m engine.lang.grammar_table`")
    assert parser.grammar_parser().source_path == "<deserialized>"  # loaded from the table, not built


def test_the_shipped_table_parses_like_a_parser_built_from_the_grammar(monkeypatch):
    texts = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.rglob("*.promo"))]
    texts += [p.read_text(encoding="utf-8") for p in
        sorted((Path(__file__).resolve().parents[1] / "golden").rglob("*.promo"))]
    shipped = [parse_text(t) for t in texts]
    built = Lark(grammar_text(), **OPTIONS, **parser.builder_hooks())
    monkeypatch.setattr(parser, "grammar_parser", lambda: built)
    again = [parse_text(t) for t in texts]
    assert [(p.file, p.file.comments, p.diagnostics) for p in shipped] == \
        [(p.file, p.file.comments, p.diagnostics) for p in again]


class _Plant:
    """Unpickling this creates `marker`: the code an attacker would run."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_lark_cache_planted_in_tmpdir_is_never_loaded(tmp_path):
    """Lark's `cache=True` unpickles `$TMPDIR/.lark_cache_<user>_<hash>_<python>.tmp`; promo must
    never read (nor write) such a file."""
    tmpdir, marker = tmp_path / "tmp", tmp_path / "code-ran"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    lark_with_cache = ("from lark import Lark; from engine.lang.grammar_table import OPTIONS, grammar_text; "
                       "Lark(grammar_text(), **OPTIONS, cache=True)")
    # Lark writes its cache file at the path it would read, then the attacker's pickle replaces it
    subprocess.run([sys.executable, "-c", lark_with_cache], env=env, check=True)
    (cache,) = tmpdir.glob(".lark_cache_*.tmp")
    key = cache.read_bytes().split(b"\n", 1)[0]
    cache.write_bytes(key + b"\n" + pickle.dumps(_Plant(str(marker))))
    planted = sorted(tmpdir.iterdir())
    # the plant is armed: the old way of building the parser runs it
    subprocess.run([sys.executable, "-c", lark_with_cache], env=env)
    assert marker.exists()
    marker.unlink()
    checked = subprocess.run([PROMO, "check", str(EXAMPLES / "seed")], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not marker.exists()
    assert sorted(tmpdir.iterdir()) == planted  # and nothing was written there


# ---- diagnostics a new user meets ------------------------------------------------------------------

UNQUOTED = [
    # (text, (line, column, end column) of the unquoted word)
    ("promotion 满300减30 { level shop discount 30 }", (1, 11, 18)),
    ("coupon abc { level shop discount 3 }", (1, 8, 11)),
    ("promotion 100减10 { level shop discount 10 }", (1, 11, 17)),
    ('promotion "p" {\n  title 满100减10\n  level shop discount 1 }', (2, 9, 16)),
    ('ruleset "r" { group platform-coupon max 1 }', (1, 21, 36)),
    ('test "t" { wallet s1-100-10 }', (1, 19, 28)),
]


@pytest.mark.parametrize("text,where", UNQUOTED, ids=[t for t, _ in UNQUOTED])
def test_a_word_where_a_string_must_stand_is_an_unquoted_string(text, where):
    (diag,) = parse_text(text, "t.promo").diagnostics
    assert (diag.code, diag.span.line, diag.span.column, diag.span.end_column) == ("unquoted-string", *where)
    word = text.splitlines()[where[0] - 1][where[1] - 1 : where[2] - 1]
    assert f'"{word}"' in diag.help  # the quoted form


def test_a_missing_brace_points_at_the_brace_it_leaves_open():
    (diag,) = parse_text('promotion "a" {\n  discount 1\n\npromotion "b" { discount 2 }\n', "t.promo").diagnostics
    assert (diag.code, diag.span.line) == ("unclosed-block", 2)
    assert [(label.span.line, label.span.column, label.span.end_column) for label in diag.labels] == [(1, 15, 16)]


def test_every_brace_left_open_is_labelled_outermost_first():
    text = 'promotion "p" {\n    level shop\n    tiers {\n        amount >= 300: discount 30;\n'
    (diag,) = parse_text(text, "t.promo").diagnostics
    assert diag.code == "unclosed-block"
    assert [(label.span.line, label.span.column) for label in diag.labels] == [(1, 15), (3, 11)]


def test_labels_render_with_their_own_line_and_caret_aligned_with_the_primary():
    text = 'promotion "a" {\n' + "\n" * 9 + "  discount 1\n"
    parsed = parse_text(text, "t.promo")
    shown = render(parsed.diagnostics[0], {"t.promo": SourceFile("t.promo", text)}).splitlines()
    assert shown[1:5] == ["11 |   discount 1", "   |             ^",
        ' 1 | promotion "a" {', "   |               ^ block opened here"]
