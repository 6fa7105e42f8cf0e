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

ROOT = Path(__file__).resolve().parents[2]
DECLARED = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["promo"]["compiled"]
# every module mypyc compiles (setup.py): the declared modules, and each module of a declared package
COMPILED = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for entry in DECLARED
                  for p in (sorted((ROOT / entry).glob("[!_]*.py")) if (ROOT / entry).is_dir() else [ROOT / entry]))
CARTS = sorted(str(p) for p in ROOT.glob("examples/**/cart.json"))

# prints, per cart, the full answer with the trace (every clause, every search decision)
PRICE_ALL = """
import importlib, json, sys
from pathlib import Path
files = {m: importlib.import_module(m).__file__ for m in sys.argv[1].split(",")}
from engine.lang.load import load_ruleset
from engine.plan.compiler import compile_plan
from engine.pricing.quote import evaluate
from engine.wire.decode import request_from_json
from engine.wire.encode import quote_to_json
out = {}
for cart in sys.argv[2:]:
    plan = compile_plan(load_ruleset(str(Path(cart).parent)))
    for explain in ("EXPLAIN_OFF", "EXPLAIN_TRACE"):
        data = {**json.loads(Path(cart).read_text(encoding="utf-8")), "explain": explain}
        out[cart + ":" + explain] = quote_to_json(evaluate(plan, request_from_json(data, plan.digits, plan.timezone)))
print(json.dumps({"files": files, "answers": out}, sort_keys=True))
"""


def _price_all(pythonpath: Path) -> tuple[dict[str, str], dict]:
    """(the file each compiled module was imported from, the answers) in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PRICE_ALL, ",".join(COMPILED), *CARTS], cwd=pythonpath,
                          capture_output=True, text=True, env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
                          check=True)
    result = json.loads(done.stdout)
    return result["files"], result["answers"]


def test_the_compiled_modules_are_the_ones_imported():
    import importlib

    if not list((ROOT / "engine").glob("_compiled__mypyc.*.so")):
        pytest.skip("installed with PROMO_PURE_PYTHON=1: nothing is compiled")
    assert len(COMPILED) > len(DECLARED)  # the package's modules are listed one by one
    for name in COMPILED:
        assert importlib.import_module(name).__file__.endswith(".so"), f"{name} is not compiled"


def test_compiled_and_interpreted_give_the_same_answers(tmp_path):
    pure = tmp_path / "pure"
    for package in ("engine", "grammar"):  # sources only: no extension modules beside them
        shutil.copytree(ROOT / package, pure / package, ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    files, interpreted = _price_all(pure)
    assert all(file.startswith(str(pure)) and file.endswith(".py") for file in files.values())
    assert len(interpreted) == 2 * len(CARTS) >= 10
    files, compiled = _price_all(ROOT)
    assert all(file.endswith(".so") for file in files.values()) or not list((ROOT / "engine").glob("*.so"))
    assert compiled == interpreted
