"""Builds promo with its pricing core compiled to C by mypyc (the same Python source, typed).

The modules in pyproject's `[tool.promo] compiled` (the package engine/pricing/, money, the
request's and the plan's types, benefits and predicates) run on every request; compiled they price a cart in about two
thirds of the time. `PROMO_PURE_PYTHON=1 pip install .` skips the compiler (for a machine
without one): the same code then runs interpreted, with identical results.
"""

import os
import tempfile
import tomllib
from pathlib import Path

from setuptools import setup

ext_modules = []
if os.environ.get("PROMO_PURE_PYTHON") != "1":
    from mypyc.build import mypycify

    with open("pyproject.toml", "rb") as f:
        declared = tomllib.load(f)["tool"]["promo"]["compiled"]
    # a package is its modules: its __init__ stays Python (mypyc would give it a wrong __path__)
    compiled = [str(p) for entry in declared
                for p in (sorted(Path(entry).glob("[!_]*.py")) if Path(entry).is_dir() else [Path(entry)])]
    # the other modules are read for their types only; the compiled ones must type-check. The
    # build reads an empty mypy configuration: pyproject's [tool.mypy] (strict on this set, read by
    # `make test`) is a lint, and an unannotated helper must not stop the tests from running.
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as config:
        config.write("[mypy]\n")
    try:
        # one shared runtime library, inside the package so an editable install finds it
        ext_modules = mypycify([f"--config-file={config.name}", "--follow-imports=silent", *compiled], opt_level="3",
                               group_name="engine._compiled")
    finally:
        os.unlink(config.name)

setup(ext_modules=ext_modules)
