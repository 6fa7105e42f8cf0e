"""The editor package, editors/vscode/: its TextMate grammar (syntaxes/promo.tmLanguage.json)
tested with vscode-tmgrammar-test from the npm registry, installed from the package's own
package.json and package-lock.json by `npm ci` (again whenever the lock file is newer than the
install), and the small extension that starts `promo lsp`.

- editors/vscode/test/*.promo: annotated samples (`#   ^^^ scope` lines under a source line) that
  assert every scope the grammar emits and the tricky spots; all but recovery.promo are real promo
  (they parse with grammar/promo.lark);
- every example file (examples/**/*.promo) against its snapshot in editors/vscode/test/snap/
  (vscode-tmgrammar-snap), and no non-blank text of an example left without a scope;
- the grammar knows every keyword of grammar/promo.lark and every enumerated value the checker
  accepts, so a new keyword cannot land without its highlighting.

Node.js and npm are required: without them this module fails, it does not skip (CI must not
pass without running it). After a deliberate grammar change, or when an example file changed:
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/lang/test_editor_grammar.py`, then read the diff
of editors/vscode/test/snap/ before committing it.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import lark
import pytest

ROOT = Path(__file__).resolve().parents[2]
EDITOR = ROOT / "editors" / "vscode"
PACKAGE = EDITOR / "package.json"
LOCK = EDITOR / "package-lock.json"
INSTALLED = EDITOR / "node_modules" / ".package-lock.json"  # written by npm at the end of an install
GRAMMAR = EDITOR / "syntaxes" / "promo.tmLanguage.json"
SAMPLES = sorted((EDITOR / "test").glob("*.promo"))
NOT_PROMO = {"recovery.promo"}  # malformed on purpose: how the highlighting recovers
SNAPSHOTS = EDITOR / "test" / "snap"
EXAMPLES = ROOT / "examples"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
ENV = os.environ | {"NO_COLOR": "1", "FORCE_COLOR": "0", "npm_config_update_notifier": "false"}


def executable(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"`{name}` is not on PATH: the editor grammar tests need Node.js (18 or later) and "
                    "npm (https://nodejs.org); they fail rather than skip, so that CI runs them", pytrace=False)
    return found


def run(command: list[str], cwd: Path = EDITOR, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)


def output(done: subprocess.CompletedProcess) -> str:
    return f"`{' '.join(done.args)}` exited {done.returncode}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def npx() -> str:
    """`npx`, once `npm ci` has installed editors/vscode/node_modules from the lock file."""
    npm, npx, _ = executable("npm"), executable("npx"), executable("node")
    # one install at a time: two test runs in one worktree must not both rewrite node_modules
    lock_path = Path(tempfile.gettempdir()) / f"promo-editor-npm-{hashlib.sha1(bytes(EDITOR)).hexdigest()[:12]}.lock"
    with open(lock_path, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        newest = max(LOCK.stat().st_mtime, PACKAGE.stat().st_mtime)
        if not INSTALLED.exists() or INSTALLED.stat().st_mtime < newest:
            done = run([npm, "ci", "--no-audit", "--no-fund"], timeout=600)
            assert done.returncode == 0, output(done)
    return npx


def tool(npx: str, *args: str, cwd: Path = EDITOR) -> subprocess.CompletedProcess:
    return run([npx, "--no-install", *args], cwd=cwd)


# ---- the grammar test tool ---------------------------------------------------------------------

def test_the_annotated_samples_pass(npx):
    done = tool(npx, "vscode-tmgrammar-test", "--compact", "test/*.promo")
    assert done.returncode == 0, output(done)
    passed = re.findall(r"^✓ (\S+) run successfuly", done.stdout, re.M)
    assert sorted(passed) == [f"test/{p.name}" for p in SAMPLES], output(done)


def test_a_wrong_scope_makes_the_tool_fail(npx, tmp_path):
    """The tool does fail: a sample whose assertion the grammar does not meet exits non-zero."""
    sample = tmp_path / "wrong.promo"
    source = 'promotion "p" { level shop }'
    caret = "#" + " " * (source.index("level") - 1) + "^^^^^ keyword.control.promotion.promo"
    sample.write_text(f'# SYNTAX TEST "source.promo"\n{source}\n{caret}\n', encoding="utf-8")
    done = tool(npx, "vscode-tmgrammar-test", "--compact", "--config", str(PACKAGE), str(sample))
    assert done.returncode != 0, output(done)
    assert "Missing required scopes: [ keyword.control.promotion.promo ]" in done.stdout, output(done)


def example_copies(tmp_path: Path, with_snapshots: bool) -> tuple[Path, list[Path]]:
    """The example files copied under tmp_path (the tool writes and reads `<file>.snap` beside
    each file), with their committed snapshots beside them if asked."""
    tree = tmp_path / "examples"
    examples = sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*.promo"))
    for rel in examples:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EXAMPLES / rel, tree / rel)
        snap = SNAPSHOTS / f"{rel}.snap"
        if with_snapshots and snap.exists():
            shutil.copyfile(snap, tree / f"{rel}.snap")
    return tree, examples


def test_every_example_matches_its_snapshot(npx, tmp_path):
    tree, examples = example_copies(tmp_path, with_snapshots=True)
    assert len(examples) >= 10
    committed = sorted(p.relative_to(SNAPSHOTS) for p in SNAPSHOTS.rglob("*.snap"))
    expected = [Path(f"{rel}.snap") for rel in examples]
    if not UPDATE:
        hint = "run `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/lang/test_editor_grammar.py` and review the diff"
        assert (not set(expected) - set(committed)), (
            f"examples without a snapshot: {sorted(set(expected) - set(committed))}; {hint}")
        assert (not set(committed) - set(expected)), (
            f"snapshots of files no longer in examples/: {sorted(set(committed) - set(expected))}; {hint}")
    done = tool(npx, "vscode-tmgrammar-snap", "--config", str(PACKAGE), *(["--updateSnapshot"] if UPDATE else []),
                f"{tree}/**/*.promo")
    assert done.returncode == 0, output(done) + (
        "\nAn example file or the grammar changed: if the new scopes are right, run "
        "`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/lang/test_editor_grammar.py` and review the diff.")
    if UPDATE:
        shutil.rmtree(SNAPSHOTS, ignore_errors=True)
        for snap in expected:
            (SNAPSHOTS / snap).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tree / snap, SNAPSHOTS / snap)


def snapshot_tokens(text: str):
    """(source line, token text, scopes) for every token of a vscode-tmgrammar-snap snapshot."""
    source = ""
    for line in text.split("\n"):
        if line.startswith(">"):
            source = line[1:]
        elif line.startswith("#"):
            start = line.index("^")
            end = line.index(" ", start)
            yield source, source[start - 1:end - 1], line[end + 1:].split()


def test_no_text_of_an_example_is_left_without_a_scope(npx, tmp_path):
    tree, examples = example_copies(tmp_path, with_snapshots=False)
    done = tool(npx, "vscode-tmgrammar-snap", "--config", str(PACKAGE), f"{tree}/**/*.promo")  # writes fresh snapshots
    assert done.returncode == 0, output(done)
    bare, lines = [], 0
    for rel in examples:
        snap = (tree / f"{rel}.snap").read_text(encoding="utf-8")
        lines += snap.count("\n>") + 1
        for source, text, scopes in snapshot_tokens(snap):
            if text.strip() and all(s == "source.promo" or s.startswith("meta.") for s in scopes):
                bare.append(f"{rel}: {text!r} in {source.strip()!r}")
    assert lines == sum(len((EXAMPLES / rel).read_text(encoding="utf-8").split("\n")) for rel in examples)
    assert not bare, "\n".join(bare)


# ---- the grammar against the language ------------------------------------------------------------

def grammar_json() -> dict:
    return json.loads(GRAMMAR.read_text(encoding="utf-8"))


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def regexes() -> str:
    return "\n".join(r[k] for r in walk(grammar_json()) for k in ("match", "begin", "end") if isinstance(r.get(k), str))


def engine_constants(*names: str) -> dict[str, object]:
    """The values of module-level constants of engine/ (wherever they live), read from the source:
    tuples and lists of strings, the keys of dicts; a name inside a tuple is its module's string.
    A constant computed from an enum (`tuple(c for c in ReasonCode ...)`) is read from its module."""
    found: dict[str, object] = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        module = ast.parse(path.read_text(encoding="utf-8"))
        strings = {t.id: n.value.value for n in module.body if isinstance(n, ast.Assign)
                   for t in n.targets if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)}
        for node in module.body:
            target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
            if isinstance(target, ast.Name) and target.id in names and getattr(node, "value", None) is not None:
                value = node.value
                if isinstance(value, ast.Dict):
                    found[target.id] = [k.value for k in value.keys if isinstance(k, ast.Constant)]
                elif isinstance(value, (ast.Tuple, ast.List)):
                    found[target.id] = [e.value if isinstance(e, ast.Constant) else strings[e.id] for e in value.elts]
                elif isinstance(value, ast.Call):
                    module_name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                    found[target.id] = [str(v) for v in getattr(importlib.import_module(module_name), target.id)]
    assert set(found) == set(names), f"not found in engine/: {sorted(set(names) - set(found))}"
    return found


def test_the_grammar_knows_every_keyword_and_value_of_the_language():
    lark_text = (ROOT / "grammar" / "promo.lark").read_text(encoding="utf-8")
    keywords = set(re.findall(r'"([a-z_]+)"', lark_text))
    assert {"ruleset", "promotion", "expect", "not_applied", "free_shipping", "balance_window"} <= keywords
    constants = engine_constants("LEVELS", "STACKING_MODES", "ROUNDING_MODES", "LIMIT_PER", "TEST_STAGES",
                                 "ATTRIBUTE_TYPES", "NOT_APPLIED_REASONS", "BUILTIN")
    values = {v for values in constants.values() for v in values if "." not in v}  # paths: any NAME.NAME
    assert {"item", "half_even", "datetime", "THRESHOLD_NOT_MET", "ZERO_BENEFIT", "sold"} <= values
    text = regexes()
    missing = sorted(w for w in keywords | values if not re.search(rf"(?<![A-Za-z0-9_]){w}(?![A-Za-z0-9_])", text))
    assert not missing, f"not in {GRAMMAR.relative_to(ROOT)}: {missing}"


def emitted_scopes() -> set[str]:
    grammar, scopes = grammar_json(), set()
    for rule in walk([grammar["patterns"], grammar["repository"]]):
        for key in ("name", "contentName"):
            if isinstance(rule.get(key), str):
                scopes |= set(rule[key].split())
    return scopes - {"source.promo"}


def asserted_scopes() -> set[str]:
    found = set()
    for sample in SAMPLES:
        for line in sample.read_text(encoding="utf-8").splitlines():
            assertion = re.match(r"#\s*(?:\^+|<~*-+)\s+(.*)$", line)
            if assertion:
                words = assertion.group(1).split()
                found |= set(words[:words.index("-")] if "-" in words else words)
    return found


def test_the_samples_assert_every_scope_the_grammar_emits():
    emitted = emitted_scopes()
    assert len(emitted) > 50
    assert not emitted - asserted_scopes(), f"scopes no sample asserts: {sorted(emitted - asserted_scopes())}"
    assert not asserted_scopes() - emitted - {"source.promo"}, "samples assert scopes the grammar never emits"


def test_the_samples_are_real_promo():
    parser = lark.Lark((ROOT / "grammar" / "promo.lark").read_text(encoding="utf-8"), parser="lalr", lexer="contextual")
    assert {p.name for p in SAMPLES} > NOT_PROMO and len(SAMPLES) >= 5
    for sample in SAMPLES:
        text = sample.read_text(encoding="utf-8")
        if sample.name in NOT_PROMO:
            with pytest.raises(lark.exceptions.LarkError):
                parser.parse(text)
        else:
            parser.parse(text)  # the assertion lines are comments


# ---- the package ---------------------------------------------------------------------------------

def test_the_package_registers_the_language_and_pins_its_tools():
    package = json.loads(PACKAGE.read_text(encoding="utf-8"))
    (language,) = package["contributes"]["languages"]
    (grammar,) = package["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "promo" and language["extensions"] == [".promo"]
    assert (EDITOR / grammar["path"]).resolve() == GRAMMAR
    assert grammar["scopeName"] == grammar_json()["scopeName"] == "source.promo"
    configuration = json.loads((EDITOR / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"] == {"lineComment": "#"}
    assert ["{", "}"] in configuration["brackets"] and configuration["folding"]["markers"]
    assert (EDITOR / package["main"]).is_file()
    assert package["contributes"]["configuration"]["properties"]["promo.serverPath"]["default"] == "promo"
    pinned = package["dependencies"] | package["devDependencies"]
    assert {"vscode-languageclient", "vscode-tmgrammar-test"} <= set(pinned)
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in pinned.values()), f"not exact versions: {pinned}"
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    for name, version in pinned.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert "editors/vscode/node_modules/" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_extension_starts_promo_lsp_over_stdio(npx):
    done = run([executable("node"), "test/extension.test.js"])
    assert done.returncode == 0, output(done)
