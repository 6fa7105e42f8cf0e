"""An evaluate frees everything it made by reference counting: no reference cycle is left for the
garbage collector, whose passes a serving process would otherwise pay every few calls (a pause on
the call that triggers one). Every example cart, with and without the trace."""

from __future__ import annotations

import gc
import json
from collections import Counter
from pathlib import Path

import pytest

from engine.lang.load import load_ruleset
from engine.plan.compiler import compile_plan
from engine.pricing.quote import evaluate
from engine.wire.decode import request_from_json

ROOT = Path(__file__).resolve().parents[2]
CARTS = sorted(ROOT.glob("examples/**/cart.json"))


@pytest.mark.parametrize("explain", ["EXPLAIN_OFF", "EXPLAIN_TRACE"])
@pytest.mark.parametrize("cart", CARTS, ids=lambda p: p.parent.name)
def test_an_evaluate_leaves_no_reference_cycle(cart: Path, explain: str):
    plan = compile_plan(load_ruleset(str(cart.parent)))
    request = request_from_json({**json.loads(cart.read_text(encoding="utf-8")), "explain": explain},
                                plan.digits, plan.timezone)
    evaluate(plan, request)  # caches filled once
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            evaluate(plan, request)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not left, left.most_common(8)
