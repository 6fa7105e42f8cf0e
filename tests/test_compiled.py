"""The compiled pricing core (mypyc, see setup.py) against the same source run interpreted:
every example cart, coupon search and trace included, gives the same answer both ways."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPILED = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["promo"]["compiled"]
CARTS = sorted(str(p) for p in ROOT.glob("examples/**/cart.json"))

# prints, per cart, the full answer with the trace (every clause, every search decision)
PRICE_ALL = """
import json, sys
from pathlib import Path
import engine.evaluate
from engine.compiler import compile_plan
from engine.load import load_ruleset
from engine.quote import evaluate, quote_to_json
from engine.request import request_from_json
out = {}
for cart in sys.argv[1:]:
    plan = compile_plan(load_ruleset(str(Path(cart).parent)))
    for explain in ("EXPLAIN_OFF", "EXPLAIN_TRACE"):
        data = {**json.loads(Path(cart).read_text(encoding="utf-8")), "explain": explain}
        out[cart + ":" + explain] = quote_to_json(evaluate(plan, request_from_json(data, plan.digits, plan.timezone)))
print(json.dumps({"module": engine.evaluate.__file__, "answers": out}, sort_keys=True))
"""


def _price_all(pythonpath: Path) -> tuple[str, dict]:
    """(the file engine.evaluate was imported from, the answers) in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PRICE_ALL, *CARTS], cwd=pythonpath, capture_output=True, text=True,
                          env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"}, check=True)
    result = json.loads(done.stdout)
    return result["module"], result["answers"]


def test_the_compiled_modules_are_the_ones_imported():
    import importlib

    if not list((ROOT / "engine").glob("_compiled__mypyc.*.so")):
        pytest.skip("installed with PROMO_PURE_PYTHON=1: nothing is compiled")
    for path in COMPILED:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert module.__file__.endswith(".so"), f"{path} is not compiled"


def test_compiled_and_interpreted_give_the_same_answers(tmp_path):
    pure = tmp_path / "pure"
    for package in ("engine", "grammar"):  # sources only: no extension modules beside them
        shutil.copytree(ROOT / package, pure / package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    module, interpreted = _price_all(pure)
    assert module == str(pure / "engine" / "evaluate.py")
    assert len(interpreted) == 2 * len(CARTS) >= 10
    module, compiled = _price_all(ROOT)
    assert module.endswith(".so") or not list((ROOT / "engine").glob("*.so"))
    assert compiled == interpreted
