"""The language conformance suite (tests/conformance/v1, docs/conformance.md): every case through
every route, compared on the same expectation fields.

Each route answers all its cases once per session (`answers`); each (route, case) is then its own
test item. Skips need a reason (runner.ROUTE_SKIPS); known engine bugs keep the correct
expectation and run as strict xfails (runner.KNOWN_ENGINE_BUGS).
"""

from __future__ import annotations

import copy
import re

import pytest
from conformance.runner import (
    KNOWN_ENGINE_BUGS,
    ROUTE_SKIPS,
    ROUTES,
    Case,
    Outcome,
    compare,
    grpc_available,
    known_bug,
    load_cases,
    route_skip,
    run_cli_subprocess,
    run_route,
    sample,
)

from engine.base.enums import NOT_APPLIED_REASONS
from engine.lang.diagnostics import CODES, INTERNAL_ERROR

CASES = load_cases()
BY_ID = {c.id: c for c in CASES}


class Answers:
    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.cache: dict[str, dict[str, Outcome]] = {}

    def get(self, route: str) -> dict[str, Outcome]:
        if route not in self.cache:
            if route == "grpc" and (why := grpc_available()):
                pytest.skip(why)
            cases = [c for c in CASES if not route_skip(route, c)]
            self.cache[route] = run_route(route, cases, self.tmp.mktemp(f"conformance-{route}"))
        return self.cache[route]


@pytest.fixture(scope="session")
def answers(tmp_path_factory) -> Answers:
    return Answers(tmp_path_factory)


def _params():
    out = []
    for route in ROUTES:
        for case in CASES:
            marks = []
            if why := route_skip(route, case):
                marks.append(pytest.mark.skip(reason=f"{route}: {why}"))
            elif why := known_bug(route, case):
                marks.append(pytest.mark.xfail(strict=True, reason=f"known engine bug: {why}"))
            out.append(pytest.param(route, case, id=f"{route}::{case.id}", marks=marks))
    return out


@pytest.mark.parametrize("route,case", _params())
def test_case(route: str, case: Case, answers: Answers):
    outcome = answers.get(route).get(case.id)
    assert outcome is not None, f"{route} gave no answer for {case.id}"
    problems = compare(case, outcome)
    assert not problems, f"{case.path}: {case.name} ({route})\n  " + "\n  ".join(problems)


SAMPLE = sample(CASES)


def test_cli_through_the_real_executable(tmp_path):
    """One case per case file through `promo eval --json` / `promo check --format json` as a
    separate process per invocation: the JSON the command prints gives the same answers."""
    cases = [c for c in SAMPLE if not route_skip("cli", c) and not known_bug("cli", c)]
    results = run_cli_subprocess(cases, tmp_path)
    failures = {c.id: compare(c, results[c.id]) for c in cases}
    assert {k: v for k, v in failures.items() if v} == {}


# ---- the suite itself ----------------------------------------------------------------------------


def test_enough_cases_in_every_feature():
    assert len(CASES) >= 150
    features = {c.feature for c in CASES}
    assert {"benefits", "stacking", "allocation", "guards", "min_payment", "rounding", "presale", "windows",
            "reasons", "hints", "combinations", "shipping", "diagnostics", "expressions"} <= features


# Reasons only a ledger's snapshot gives: the conformance routes price without a ledger, so these
# are pinned by tests/pricing/test_ledger_view.py and tests/server/test_ledger_engine.py instead.
LEDGER_REASONS = {"BUDGET_EXHAUSTED", "CODE_UNKNOWN", "CODE_USED"}


def test_every_reason_code_and_capped_is_expected_somewhere():
    seen = {code for c in CASES for code in {**c.expect.get("reasons", {}), **c.expect.get("not_applied", {})}.values()}
    assert set(NOT_APPLIED_REASONS) - seen == LEDGER_REASONS
    assert any(c.expect.get("capped") for c in CASES), "no case expects CAPPED"


def test_every_diagnostic_code_is_expected_somewhere():
    seen = {d["code"] for c in CASES for d in c.expect.get("diagnostics", [])}
    # only a bug produces `internal-error`; `file-too-large` takes 8 MiB of rules (tests/lang/test_input_limits.py)
    assert set(CODES) - seen - {INTERNAL_ERROR, "file-too-large"} == set()


def test_skips_and_known_bugs_name_real_cases_and_give_reasons():
    for table in (ROUTE_SKIPS, KNOWN_ENGINE_BUGS):
        assert set(table) <= set(ROUTES)
        for route, entries in table.items():
            for key, reason in entries.items():
                assert reason and reason.strip(), f"{route} {key}: a skip needs a reason"
                if key.endswith("::*"):
                    assert any(c.id.startswith(key[:-1]) for c in CASES), key
                else:
                    assert key in BY_ID, key


def test_pricing_cases_have_a_fixed_time_and_comments():
    """A case without an `at` would depend on the clock; a hand-computed case shows its arithmetic."""
    for case in CASES:
        if case.kind == "pricing":
            assert re.match(r"\d{4}-\d\d-\d\dT", case.request["at"]), case.id
    for path in {c.path for c in CASES}:
        text = path.read_text(encoding="utf-8")
        names = len(re.findall(r"^- name:", text, re.M))
        commented = len(re.findall(r"^- name:.*\n  #", text, re.M))
        assert commented == names, f"{path}: every case starts with a comment holding its arithmetic"


@pytest.mark.parametrize("field,value", [("payable", "0.01"), ("applied", {"nobody": "1.00"}),
                                         ("reasons", {"nobody": "ZERO_BENEFIT"}), ("hints", [])])
def test_a_wrong_expectation_fails(field, value):
    """The comparison is real: changing an expectation of a passing case makes it fail."""
    case = BY_ID["stacking/modes.yaml::seed-progressive"]
    outcome = run_route("inprocess", [case])[case.id]
    assert compare(case, outcome) == []
    wrong = copy.deepcopy(case.expect)
    wrong[field] = value
    assert compare(Case(**{**case.__dict__, "expect": wrong}), outcome) != []


def test_a_wrong_diagnostic_position_fails():
    case = next(c for c in CASES if c.kind == "diagnostics")
    outcome = run_route("inprocess", [case])[case.id]
    assert compare(case, outcome) == []
    wrong = copy.deepcopy(case.expect)
    wrong["diagnostics"][0]["column"] += 1
    assert compare(Case(**{**case.__dict__, "expect": wrong}), outcome) != []
