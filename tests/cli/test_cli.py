"""The `promo` command as a user runs it: the installed script as a subprocess, on a pipe and on
a pseudo-terminal of 80 columns. Bad input is a message and an exit code, never a traceback."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMO = [str(Path(sys.executable).parent / "promo")]
SEED = "examples/seed/progressive-coupon"
SEED_CART = ROOT / SEED / "cart.json"
BOX = re.compile("[┏┃━│└─]")


def promo(*args: str, stdin: str | None = None, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run(PROMO + list(args), cwd=ROOT, input=stdin, capture_output=True, text=True, env=env,
                          timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    return done


def on_terminal(*args: str, columns: int = 80) -> str:
    """What the command shows on a terminal `columns` wide, without colour codes."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(PROMO + list(args), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
                            env={**os.environ, "COLUMNS": str(columns), "TERM": "xterm"})
    os.close(terminal)
    out = b""
    while True:
        try:
            chunk = os.read(controller, 1 << 16)
        except OSError:  # EIO: the command has exited and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(controller)
    assert proc.wait(60) == 0
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.decode("utf-8")).replace("\r\n", "\n")
    assert "Traceback" not in text, text
    return text


def test_version_and_bare_promo_prints_help():
    done = promo("--version")
    assert done.returncode == 0 and re.fullmatch(r"promo \d+\.\d+\.\d+\n", done.stdout)
    bare = promo()
    assert bare.returncode == 0 and bare.stdout.startswith("usage: promo") and "analyze" in bare.stdout


def test_help_shows_the_defaults():
    out = promo("analyze", "-h", columns=200).stdout
    assert "(default: 3)" in out and "(default: all)" in out and "(default: one per core)" in out
    assert "(default: None)" not in out and "(default: False)" not in out
    assert "(default: text)" in promo("check", "-h", columns=200).stdout


@pytest.mark.parametrize("command", ["eval", "qualify"])
def test_a_cart_on_stdin(command):
    done = promo(command, SEED, "-", "--json", stdin=SEED_CART.read_text(encoding="utf-8"))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["totals"]["payable"] == "180.00" if command == "eval" else answer["payable_best"] == "180.00"


@pytest.mark.parametrize("cart,message", [
    ({"wallett": []}, 'field `wallett`: unknown field (did you mean "wallet"?)'),
    ({"lines": [{"id": "l1", "sku": "A", "price": "1.00", "qty": 2}]},
     'field `lines[0].qty`: unknown field (did you mean "quantity"?)'),
    ({"lines": [{"id": "l1", "sku": "A", "price": "9" * 5000, "quantity": 1}]}, "field `lines[0].price`: `999"),
    ({"lines": [{"id": "l1", "sku": "A", "price": "１００", "quantity": 1}]}, "is not a decimal amount"),
    ({"lines": [{"id": "l1", "sku": "A", "price": "1.230", "quantity": 1}]}, "has more than 2 decimals"),
])
def test_a_bad_cart_names_the_field(cart, message):
    done = promo("eval", SEED, "-", stdin=json.dumps(cart))
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr) < 300  # quoted values are clipped


@pytest.mark.parametrize("text", ['{"lines": [], "user": {"attributes": {"x": NaN}}}', '{"at": ' + "1" * 5000 + "}",
                                  "[" * 100_000, "{"])
def test_what_is_not_json_cannot_be_read(text):
    done = promo("eval", SEED, "-", stdin=text)
    assert done.returncode == 2 and done.stderr.startswith("error: cannot read `-`:"), done.stderr


def test_a_directory_of_rulesets_is_not_a_ruleset():
    done = promo("eval", "examples", str(SEED_CART))
    assert done.returncode == 2
    assert done.stderr.startswith("error: no .promo files directly in `examples` (rulesets below it: `examples/double11`")


@pytest.mark.parametrize("args", [["eval", SEED, str(SEED_CART), "--json", "--explain", "trace"],
                                  ["qualify", SEED, str(SEED_CART)], ["test", SEED], ["check", "examples"]])
def test_a_closed_pipe_exits_quietly(args):
    reader, writer = os.pipe()
    os.close(reader)  # `| head` gone before the first line: every write fails (EPIPE)
    done = subprocess.run(PROMO + args, cwd=ROOT, stdout=writer, stderr=subprocess.PIPE, timeout=60)
    os.close(writer)
    assert (done.returncode, done.stderr) == (1, b"")


def test_the_trace_is_in_the_table_view_with_money_as_decimals():
    out = promo("eval", SEED, str(SEED_CART), "--explain", "trace").stdout
    assert "trace step=search, chosen=[], payable=180.00, result=best so far" in out
    assert 'trace step=apply, promotion=s1-100-10, base=200.00, discount=10.00, placed=10.00, lines=["l1"]' in out


def test_on_a_pipe_plain_lines_never_wrapped():
    out = promo("qualify", "examples/double11", "examples/double11/cart.json", columns=40).stdout
    assert not BOX.search(out)
    assert "GROUP_LIMIT: cannot be combined with `plat-1000-100`, which was applied / 不能与已使用的「plat-1000-100」同时使用" in out
    tests = promo("test", "examples/seed", columns=40).stdout.splitlines()
    assert tests[0] == "PASS seed, parallel: both order-level promotions on the 200.00 base"
    assert all(line.startswith("PASS ") for line in tests[:-1]) and tests[-1] == "6 passed, 0 failed"


def _column(out: str, title: str, index: int) -> str:
    """The text of column `index` of the boxed table under `title`, its folded pieces joined."""
    rows = out.split(f"\n{title}")[1].split("└")[0].splitlines()
    return "".join(row.split("│")[index].strip() for row in rows if row.startswith("│"))


def test_on_an_80_column_terminal_long_cells_are_folded_not_cut():
    out = on_terminal("eval", SEED, str(SEED_CART))
    assert "…" not in out and BOX.search(out)
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "已为您选择更优惠的组合，比使用此券多省10.00元" in _column(out, "not applied", 3)
    wallet = on_terminal("qualify", "examples/double11", "examples/double11/cart.json")
    assert "…" not in wallet and "不能与已使用的「plat-1000-100」同时使用" in _column(wallet, "wallet", 5)


def test_on_an_80_column_terminal_each_pass_is_one_line():
    lines = on_terminal("test", "examples/seed").splitlines()
    assert [line.split(" ")[0] for line in lines if line] == ["PASS"] * 6 + ["6"]
