"""Condition evaluation: our compiled predicates against rule-engine, cel-python and zen-engine
(GoRules) evaluating the same conditions on the same seeded inputs.

Ours are taken from a compiled Plan: a promotion's `when` clauses (`Clause.test` on `OrderFacts`)
and its `scope` (on `Line`). Each peer gets the condition in its own syntax and the same values as
plain data (money as integer minor units, as the engine holds it; tags as a list). Inputs are
built once per engine before timing (cel-python's `json_to_cel` activation included), so the
timed loop is evaluation only. Every engine's answers are checked against ours before timing.

Peers are optional: a peer that cannot be imported is reported as such (`make bench` installs
them with the `bench` extra of pyproject.toml).

Run: `.venv/bin/python bench/peers.py [--inputs 1000] [--repeat 5]`. Prints a table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gen import CATEGORIES  # noqa: E402

from engine.base.request import Line, User  # noqa: E402
from engine.lang.load import load_sources  # noqa: E402
from engine.lang.source import SourceFile  # noqa: E402
from engine.plan.compiler import compile_plan  # noqa: E402
from engine.plan.predicates import OrderFacts  # noqa: E402

SKUS = [f"SKU-{i}" for i in range(20)]  # the `in` list: 20 of the 40 SKUs inputs draw from
TAGS = ["hot", "new", "clearance", "gift"]


@dataclass(frozen=True)
class Condition:
    name: str
    kind: str  # order (a `when`, on OrderFacts) | line (a `scope`, on Line)
    ours: str  # as written in a .promo file
    rule_engine: str
    cel: str
    zen: str


_SKU_LIST = "[" + ", ".join(f'"{s}"' for s in SKUS) + "]"
CONDITIONS = (
    Condition("threshold and level", "order", "amount >= 100 and user.level >= 3",
              "amount >= 10000 and user.level >= 3", "amount >= 10000 && user.level >= 3",
              "amount >= 10000 and user.level >= 3"),
    Condition("sku in a list of 20", "line", f"sku in {_SKU_LIST}",
              f"sku in {_SKU_LIST}", f"sku in {_SKU_LIST}", f"sku in {_SKU_LIST}"),
    Condition("tag membership", "line", 'tags has "hot"',
              '"hot" in tags', '"hot" in tags', '"hot" in tags'),
    Condition("shop, category and not a tag", "line",
              'shop == "S1" and category in ["shoes", "tea"] and not (tags has "clearance")',
              'shop == "S1" and category in ["shoes", "tea"] and not ("clearance" in tags)',
              'shop == "S1" && category in ["shoes", "tea"] && !("clearance" in tags)',
              'shop == "S1" and category in ["shoes", "tea"] and not ("clearance" in tags)'),
)
PEERS = ("rule-engine", "cel-python", "cel-python (interpreted)", "zen-engine")


# ---- inputs ----------------------------------------------------------------------------------------


def inputs(n: int, seed: int = 5) -> tuple[list[OrderFacts], list[Line]]:
    rng = random.Random(seed)
    now = __import__("datetime").datetime.fromisoformat("2026-11-11T10:00:00+08:00")
    facts = [OrderFacts(amount=rng.randint(1000, 30000), quantity=rng.randint(1, 5), cart_amount=0, cart_quantity=0,
                        user=User(id="u", level=rng.randint(0, 5)), channel="app", region="CN", now=now)
             for _ in range(n)]
    lines = [Line(id=f"l{i}", sku=f"SKU-{rng.randrange(40)}", shop=f"S{rng.randrange(4)}", category=rng.choice(CATEGORIES),
                  brand="", tags=frozenset(t for t in TAGS if rng.random() < 0.3), price=rng.randint(500, 50000),
                  quantity=1) for i in range(n)]
    return facts, lines


def as_data(kind: str, x) -> dict:
    if kind == "order":
        return {"amount": x.amount, "user": {"level": x.user.level}}
    return {"sku": x.sku, "shop": x.shop, "category": x.category, "tags": sorted(x.tags)}


# ---- engines -------------------------------------------------------------------------------------


def ours(conditions=CONDITIONS) -> dict[str, Callable]:
    """Each condition compiled by the engine, as the Plan holds it."""
    text = 'ruleset "peers" {\n    currency CNY\n}\n'
    for i, c in enumerate(conditions):
        clause = f"when {c.ours}" if c.kind == "order" else f"scope {c.ours}"
        text += f'promotion "c{i}" {{\n    level shop\n    {clause}\n    discount 1\n}}\n'
    loaded = load_sources([SourceFile("peers.promo", text)])
    assert loaded.ok, [d.message for d in loaded.diagnostics if d.is_error]
    plan = compile_plan(loaded)
    out = {}
    for i, c in enumerate(conditions):
        p = plan.by_name[f"c{i}"]
        if c.kind == "line":
            out[c.name] = p.scope
        elif len(p.clauses) == 1:
            out[c.name] = p.clauses[0].test
        else:
            tests = tuple(cl.test for cl in p.clauses)

            def all_clauses(facts, tests=tests):
                for test in tests:
                    if not test(facts):
                        return False
                return True

            out[c.name] = all_clauses
    return out


def peer(name: str, condition: Condition) -> tuple[Callable, Callable]:
    """(prepare one input, evaluate one prepared input) for a peer; ImportError if not installed."""
    if name == "rule-engine":
        import rule_engine

        rule = rule_engine.Rule(condition.rule_engine)
        return (lambda data: data), rule.matches
    if name.startswith("cel-python"):
        import celpy

        # cel-python 0.5.0 caches one parser per process, built with the tree class of the first
        # Environment: the compiled runner's environment must come first (see _cel_env).
        env = _cel_env(compiled=not name.endswith("(interpreted)"))
        program = env.program(env.compile(condition.cel))
        return celpy.json_to_cel, lambda activation: bool(program.evaluate(activation))
    if name == "zen-engine":
        import zen

        expression = zen.compile_expression(condition.zen)
        return (lambda data: data), expression.evaluate
    raise ValueError(name)


def _cel_env(compiled: bool):
    import celpy

    global _CEL_PRIMED
    if not _CEL_PRIMED:
        celpy.Environment(runner_class=celpy.CompiledRunner)  # builds the shared parser with the transpiler's tree
        _CEL_PRIMED = True
    return celpy.Environment(runner_class=celpy.CompiledRunner if compiled else celpy.InterpretedRunner)


_CEL_PRIMED = False


def versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("rule-engine", "cel-python", "zen-engine"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


# ---- timing ------------------------------------------------------------------------------------


def ns_per_eval(fn: Callable, items: list, repeat: int) -> float:
    """Median over `repeat` passes of (time to evaluate every item) / items, in ns."""
    for x in items[:50]:
        fn(x)  # warm up
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for x in items:
            fn(x)
        runs.append((time.perf_counter_ns() - start) / len(items))
    return statistics.median(runs)


def rows(n_inputs: int = 1000, repeat: int = 5, peers=PEERS, conditions=CONDITIONS) -> list[dict]:
    """One row per condition and engine: ns per evaluation, ours ÷ peer, agreement with ours.
    A peer that is not installed gets a row with `error` set."""
    facts, lines = inputs(n_inputs)
    compiled = ours(conditions)
    out = []
    for c in conditions:
        items = facts if c.kind == "order" else lines
        expected = [bool(compiled[c.name](x)) for x in items]
        mine = ns_per_eval(compiled[c.name], items, repeat)
        out.append({"condition": c.name, "engine": "promo (ours)", "expression": c.ours, "ns": mine, "ratio": 1.0,
                    "agree": len(items), "of": len(items), "true": sum(expected), "error": None})
        for name in peers:
            expression = {"rule-engine": c.rule_engine, "zen-engine": c.zen}.get(name, c.cel)
            row = {"condition": c.name, "engine": name, "expression": expression, "ns": None, "ratio": None,
                   "agree": None, "of": len(items), "true": None, "error": None}
            try:
                prepare, evaluate = peer(name, c)
            except ImportError as e:
                row["error"] = f"not installed ({e.name})"
                out.append(row)
                continue
            prepared = [prepare(as_data(c.kind, x)) for x in items]
            answers = [bool(evaluate(p)) for p in prepared]
            row["agree"] = sum(a == e for a, e in zip(answers, expected))
            row["true"] = sum(answers)
            row["ns"] = ns_per_eval(evaluate, prepared, repeat)
            row["ratio"] = mine / row["ns"]
            out.append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="our compiled predicates vs rule-engine, cel-python, zen-engine")
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'condition':<32}{'engine':<26}{'ns/eval':>12}{'ours/peer':>11}{'agree':>12}")
    for r in rows(args.inputs, args.repeat):
        if r["error"]:
            print(f"{r['condition']:<32}{r['engine']:<26}{r['error']}")
            continue
        print(f"{r['condition']:<32}{r['engine']:<26}{r['ns']:>12,.0f}{r['ratio']:>11.3f}{r['agree']:>6}/{r['of']}")


if __name__ == "__main__":
    main()
