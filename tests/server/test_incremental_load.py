"""Incremental reload (server/service/incremental.py): after any edit, the plan rebuilt from cached
parts equals a full compile, the diagnostics equal a full check's, and only the edited files are
parsed and compiled again."""

from __future__ import annotations

import dataclasses
import random
import types
from pathlib import Path

from engine.lang.load import load_ruleset
from engine.plan.compiler import compile_plan
from server.service.incremental import IncrementalLoad

HEADER = '''ruleset "inc" {
    currency CNY
    timezone "Asia/Shanghai"
    group "g" max 1
    attribute user.vip bool
}
'''


def block(rng: random.Random, name: str) -> str:
    kind = rng.choice(["promotion", "coupon"])
    scope = rng.choice(['sku == "A"', 'shop == "S1"', 'category in ["tea", "toys"]', 'shop == "S2" and sku == "B"', ""])
    lines = [f'{kind} "{name}" {{', f"    level {rng.choice(['item', 'shop'])}"]
    if scope:
        lines.append(f"    scope {scope}")
    if rng.random() < 0.4:
        lines.append(f"    when amount >= {rng.randint(10, 300)}" + (" and user.vip" if rng.random() < 0.3 else ""))
    if rng.random() < 0.3:
        lines.append('    group "g"')
    if rng.random() < 0.3:
        lines.append("    active 2026-11-01 .. 2026-11-12")
    if rng.random() < 0.2:
        lines.append(f"    priority {rng.randint(0, 5)}")
    lines.append(rng.choice([f"    discount {rng.randint(1, 20)}", f"    discount {rng.randint(5, 30)}% max 50",
                             f"    price {rng.randint(5, 80)}.90 each", "    discount 5 every 100",
                             "    tiers {\n        amount >= 100: discount 10\n        amount >= 200: discount 25\n    }"]))
    return "\n".join(lines) + "\n}\n"


def extras(rng: random.Random, n: int) -> str:
    out = []
    if rng.random() < 0.3:
        out.append(f'guard "floor-{n}" {{\n    scope shop == "S1"\n    floor 50%\n}}\n')
    if rng.random() < 0.3:
        out.append(f'warning "low-{n}" {{\n    scope sku == "A"\n    below 10%\n}}\n')
    if rng.random() < 0.3:
        out.append(f'presale "pre-{n}" {{\n    scope sku == "P{n}"\n    price 99\n    priority {rng.randint(0, 3)}\n}}\n')
    return "".join(out)


def norm(x, seen=None):
    """A value to compare plans by: dataclasses and objects by their fields, closures by their code
    and what they capture (two compiles make different closures of the same code)."""
    seen = seen if seen is not None else {}
    if isinstance(x, (str, int, float, bool, type(None))):
        return x
    if id(x) in seen:
        return seen[id(x)]
    seen[id(x)] = ("cycle", type(x).__name__)
    if isinstance(x, (list, tuple)):
        out = tuple(norm(v, seen) for v in x)
    elif isinstance(x, (set, frozenset)):
        out = tuple(sorted(repr(norm(v, seen)) for v in x))
    elif isinstance(x, dict):
        out = tuple(sorted((repr(norm(k, seen)), norm(v, seen)) for k, v in x.items()))
    elif isinstance(x, types.FunctionType):
        cells = tuple(norm(c.cell_contents, seen) for c in x.__closure__ or ())
        out = ("fn", x.__code__.co_filename, x.__code__.co_firstlineno, cells, norm(x.__defaults__, seen))
    elif hasattr(x, "__mypyc_env__"):  # a closure compiled by mypyc: its type names its code
        env = x.__mypyc_env__
        out = ("compiled fn", type(x).__name__,
               tuple((a, norm(getattr(env, a), seen)) for a in sorted(dir(env)) if not a.startswith("__")))
    elif isinstance(x, types.MethodType):
        out = ("method", x.__func__.__qualname__, norm(x.__self__, seen))
    elif dataclasses.is_dataclass(x):
        out = (type(x).__name__,) + tuple(norm(getattr(x, f.name), seen) for f in dataclasses.fields(x))
    elif hasattr(x, "__dict__") or hasattr(type(x), "__slots__"):
        names = list(getattr(x, "__dict__", {})) + [s for k in type(x).__mro__ for s in getattr(k, "__slots__", ())]
        out = (type(x).__name__,) + tuple((n, norm(getattr(x, n), seen)) for n in sorted(set(names)) if hasattr(x, n))
    else:
        out = ("value", repr(x))
    seen[id(x)] = out
    return out


def full(root: Path):
    loaded = load_ruleset(root)
    return loaded, (compile_plan(loaded) if loaded.ok else None)


def write_ruleset(root: Path, rng: random.Random, files: int = 5, per: int = 6) -> dict[Path, list[str]]:
    blocks: dict[Path, list[str]] = {}
    (root / "00_header.promo").write_text(HEADER)
    for f in range(files):
        path = root / f"f{f}.promo"
        blocks[path] = [block(rng, f"p{f}-{i}") for i in range(per)] + [extras(rng, f)]
        path.write_text("".join(blocks[path]))
    return blocks


def test_random_edits_equal_a_full_load(tmp_path):
    rng = random.Random(17)
    blocks = write_ruleset(tmp_path, rng)
    inc = IncrementalLoad(tmp_path)
    first = inc.load()
    assert sorted(first.parsed) == sorted(str(p) for p in tmp_path.glob("*.promo"))
    compared = 0
    broken: list[tuple[Path, int]] = []  # an error put in: taken out at the next step
    for step in range(40):
        if broken:
            path, at = broken.pop()
            del blocks[path][at]
            path.write_text("".join(blocks[path]))
            roll = 1.0
        else:
            path = rng.choice(sorted(blocks))
            roll = rng.random()
        texts = blocks[path]
        if roll < 0.1:  # a name that collides with another file's
            texts.append(block(rng, f"p{rng.randrange(5)}-0"))
            broken.append((path, len(texts) - 1))
        elif roll < 0.2:  # a syntax error
            texts.append('promotion "broken" {\n    level item\n')
            broken.append((path, len(texts) - 1))
        elif roll < 0.3:  # an error the checker finds
            texts.append(f'promotion "bad-{step}" {{\n    level item\n    discount 1.234\n}}\n')
            broken.append((path, len(texts) - 1))
        elif roll < 0.4 and len(texts) > 2:
            del texts[rng.randrange(len(texts) - 1)]
        elif roll < 0.5:  # the header: every file compiled again
            header = HEADER.replace("CNY", rng.choice(["CNY", "USD"]))
            (tmp_path / "00_header.promo").write_text(header.replace("Asia/Shanghai", rng.choice(["Asia/Shanghai", "UTC"])))
        elif roll < 0.9:
            texts[rng.randrange(len(texts) - 1)] = block(rng, f"p{sorted(blocks).index(path)}-new-{step}")
        else:  # a second file changed in the same reload
            other = rng.choice(sorted(blocks))
            blocks[other].insert(0, block(rng, f"o-{step}"))
            other.write_text("".join(blocks[other]))
        path.write_text("".join(texts))
        got = inc.load()
        loaded, plan = full(tmp_path)
        assert got.diagnostics == loaded.diagnostics, step
        assert got.sources == loaded.sources
        assert (got.plan is None) == (plan is None), step
        if plan is not None:
            assert got.plan is not None
            assert got.plan.revision == plan.revision
            assert norm(got.plan) == norm(plan), step
            compared += 1
    assert compared >= 10  # the edits leave the ruleset compilable often enough to compare plans


def test_an_unchanged_file_is_not_parsed_or_compiled_again(tmp_path):
    blocks = write_ruleset(tmp_path, random.Random(3), files=4)
    inc = IncrementalLoad(tmp_path)
    first = inc.load()
    assert first.plan is not None and len(first.parsed) == 5 and len(first.compiled) == 5
    edited = sorted(blocks)[1]
    edited.write_text(edited.read_text() + 'promotion "added" {\n    level shop\n    discount 3\n}\n')
    second = inc.load()
    assert second.parsed == [str(edited)] and second.compiled == [str(edited)]
    assert second.plan is not None and "added" in second.plan.by_name
    third = inc.load()  # nothing changed
    assert third.parsed == [] and third.compiled == []
    assert third.plan is not None and third.plan.revision == second.plan.revision


def test_files_added_and_removed(tmp_path):
    rng = random.Random(5)
    write_ruleset(tmp_path, rng, files=3)
    inc = IncrementalLoad(tmp_path)
    inc.load()
    steps = [
        lambda: (tmp_path / "f9.promo").write_text(block(rng, "late-1") + block(rng, "late-2")),
        lambda: (tmp_path / "f1.promo").unlink(),
        lambda: (tmp_path / "f9.promo").write_text(block(rng, "late-1")),
        lambda: (tmp_path / "f0.promo").unlink(),
        lambda: (tmp_path / "f1.promo").write_text(block(rng, "p0-0")),  # a name f0 had
    ]
    for step in steps:
        step()
        got = inc.load()
        loaded, plan = full(tmp_path)
        assert got.diagnostics == loaded.diagnostics
        assert plan is not None and got.plan is not None and norm(got.plan) == norm(plan)
