"""No diagnostic text outside engine/lang/messages.py.

The parser, the loader, the checker and its passes and lints say what is wrong through the
functions of messages.py. This reads their syntax trees and fails on a diagnostic built in place
(`diagnostic(...)`, `Diagnostic(...)`, `Label(...)`), or on text written where a message is made:
a string literal or f-string given to `emit`, to a function of messages.py, or to a checker
helper that passes a `what` / `where` on into a message (e.g. `st.whole(n, "a `limit`")`). Text
that only chooses (a token type compared, a dict key) is not message text: only what could end
up in the message is looked at (the argument itself, both branches of `x if c else y`, the
operands of `or` and `+`).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import engine.lang.messages as messages

LANG = Path(messages.__file__).parent
SCANNED = sorted([LANG / "checker.py", LANG / "parser.py", LANG / "load.py", *(LANG / "check").glob("*.py")])
MESSAGE_FUNCTIONS = frozenset(name for name, f in vars(messages).items() if not name.startswith("_")
                              and inspect.isfunction(f) and f.__module__ == messages.__name__)
CONSTRUCTORS = frozenset({"diagnostic", "Diagnostic", "Label"})
TEXT_PARAMS = frozenset({"what", "where"})


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _text(expr: ast.expr) -> list[ast.expr]:
    """The literals of `expr` that could become message text."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str) or isinstance(expr, ast.JoinedStr):
        return [expr]
    if isinstance(expr, ast.IfExp):
        return _text(expr.body) + _text(expr.orelse)
    if isinstance(expr, ast.BoolOp):
        return [x for value in expr.values for x in _text(value)]
    if isinstance(expr, ast.BinOp):
        return _text(expr.left) + _text(expr.right)
    return []


def _text_helpers(trees: list[ast.Module]) -> set[str]:
    """Functions of the checker's passes that take a `what` or `where`: what they are given is
    text (the parser's `what` is the syntax tree's, the kind of an `expect`)."""
    return {node.name for tree in trees for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef)
            and TEXT_PARAMS & {a.arg for a in node.args.args + node.args.kwonlyargs}}


def inline_text(source: str, path: str, helpers: set[str] | None = None) -> list[str]:
    """`path:line: what` for each diagnostic built in place or message text written inline."""
    tree = ast.parse(source, filename=path)
    sinks = MESSAGE_FUNCTIONS | {"emit"} | (helpers if helpers is not None else _text_helpers([tree]))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in CONSTRUCTORS:
            found.append(f"{path}:{node.lineno}: `{name}(...)` outside messages.py")
        elif name in sinks:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                found += [f"{path}:{x.lineno}: text given to `{name}`: {ast.unparse(x)}" for x in _text(arg)]
    return found


def _trees(paths: list[Path] = SCANNED) -> list[ast.Module]:
    return [ast.parse(p.read_text(encoding="utf-8")) for p in paths]


def test_no_message_text_outside_messages_py() -> None:
    helpers = _text_helpers(_trees(sorted((LANG / "check").glob("*.py"))))
    assert {"whole", "positive", "enum", "_fields", "_percent_of_price"} <= helpers  # the walk sees them
    found = [x for p in SCANNED for x in inline_text(p.read_text(encoding="utf-8"), str(p.relative_to(LANG)), helpers)]
    assert found == []


def test_the_front_end_says_everything_through_messages_py() -> None:
    calls = [node for tree in _trees() for node in ast.walk(tree)
             if isinstance(node, ast.Call) and _name(node.func) in MESSAGE_FUNCTIONS]
    assert len(calls) > 80  # the scan reaches the modules that report


@pytest.mark.parametrize(("snippet", "count"), [
    ('st.emit(m.no_benefit(p.name.span, "promotion", name))', 1),
    ('self.emit(diagnostic("missing-benefit", span, f"{kind} has no benefit"))', 1),
    ('return diagnostic("syntax", span, message)', 1),
    ('st.emit(m.unknown_value(span, what or "level", v, LEVELS))', 1),
    ('st.whole(c.value, "`priority`")', 1),
    ('st.whole(c.value, m.PRIORITY if x else f"`{y}`")', 1),
    ('labels = [Label(s, "block opened here")]', 1),
    ('st.emit(m.unexpected_token(span, str(tok), wanted, tok.type == "RBRACE", help))', 0),
    ('st.emit(m.not_whole(num, m.field_name(f.name.value), minimum=1 if f.name.value == "qty" else 0))', 0),
])
def test_the_scan_finds_inline_text(snippet: str, count: int) -> None:
    source = f"def whole(num, what, minimum=0):\n    pass\n\n\ndef f():\n    {snippet}\n"
    assert len(inline_text(source, "x.py")) == count


def test_every_message_function_is_used() -> None:
    """A message no front-end module calls is dead text (or a call that bypasses it)."""
    sources = "\n".join(p.read_text(encoding="utf-8") for p in [*SCANNED, LANG / "messages.py"])
    helpers = {"did_you_mean", "show", "a", "written", "field_name", "terminal", "expected"}
    unused = {name for name in MESSAGE_FUNCTIONS - helpers if not re.search(rf"\bm\.{name}\(", sources)}
    assert unused == set()


def test_messages_follow_the_style() -> None:
    """Cedar's style: lower-case, no final period (help may end in `?`, as did-you-mean does)."""
    source = (LANG / "messages.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _name(node.func) == "diagnostic" and len(node.args) >= 3:
            message = node.args[2]
            first = message.values[0] if isinstance(message, ast.JoinedStr) else message
            if isinstance(first, ast.Constant) and first.value:
                assert not first.value[0].isupper(), ast.unparse(message)
            last = message.values[-1] if isinstance(message, ast.JoinedStr) else message
            if isinstance(last, ast.Constant):
                assert not str(last.value).endswith("."), ast.unparse(message)
