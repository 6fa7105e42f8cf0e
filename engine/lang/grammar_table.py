"""The LALR table of grammar/promo.lark, shipped with the package instead of built at startup.

Building the table from the grammar takes about 0.3 s, more than a whole `promo check` of the
examples. Lark's own `cache=True` saves that by `pickle.load`ing a file at a predictable path
in `$TMPDIR`, so anyone who can write there runs code as the next `promo` user. The table is
therefore written once, as JSON (loading it runs no code), into grammar/promo_table.py, which
installs with the package like any module and needs no writable directory at run time:

    .venv/bin/python -m engine.lang.grammar_table     # after editing grammar/promo.lark

The table records a key of what it was built from (the grammar, the options, the Lark version);
when the key does not match, the parser is built from the grammar as before, only slower, and
tests/lang/test_parser.py fails until the table is written again. The file is not the same byte for
byte from one writing to the next (Lark numbers the states in an order that varies between
runs); every writing is a table of the same grammar, which the tests check by parsing with both.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import lark
from lark import Lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

OPTIONS = {"parser": "lalr", "lexer": "contextual", "strict": True, "keep_all_tokens": True}
_MODULE = "promo_table.py"


def grammar_text() -> str:
    return resources.files("grammar").joinpath("promo.lark").read_text(encoding="utf-8")


def table_key(grammar: str) -> str:
    """What a table is built from: the grammar, the parser options and the Lark version."""
    return hashlib.sha256(f"{grammar}\n{sorted(OPTIONS.items())}\n{lark.__version__}".encode()).hexdigest()


def build_parser(**hooks) -> Lark:
    """The promo parser with `hooks` (transformer, lexer_callbacks): from the shipped table when
    it is the grammar's, else from the grammar."""
    grammar = grammar_text()
    table = shipped_table(table_key(grammar))
    if table is None:
        return Lark(grammar, **OPTIONS, **hooks)
    # the loader Lark's standalone parsers use; it takes the same hooks
    return Lark._load_from_dict(table["data"], table["memo"], **hooks)


def shipped_table(key: str) -> dict | None:
    """The shipped table if it was built for `key`."""
    try:
        from grammar import promo_table
    except ImportError:
        return None
    if promo_table.KEY != key:
        return None
    return json.loads(promo_table.TABLE, object_hook=_int_keys)


def _int_keys(obj: dict) -> dict:
    """JSON keys are strings; the table numbers its states, tokens and memo entries with ints."""
    return {int(k) if k.isdigit() else k: v for k, v in obj.items()}


def table_json(grammar: str) -> str:
    data, memo = Lark(grammar, **OPTIONS).memo_serialize([TerminalDef, Rule])
    return json.dumps({"data": data, "memo": memo}, sort_keys=True, separators=(",", ":"))


def write_table() -> Path:
    grammar = grammar_text()
    path = Path(str(resources.files("grammar").joinpath(_MODULE)))
    path.write_text(
        f'"""The LALR table of promo.lark, written by `python -m engine.lang.grammar_table`; do not edit."""\n\n'
        f"KEY = {table_key(grammar)!r}\n"
        f"TABLE = {table_json(grammar)!r}\n",
        encoding="utf-8",
    )
    return path


if __name__ == "__main__":
    print(f"wrote {write_table()}")
