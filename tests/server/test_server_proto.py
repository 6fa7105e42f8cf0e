"""The proto contract in-process: the committed generated code is what `make proto` makes, and
the proto3 JSON mapping of the messages is the engine's JSON for every example cart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format

from engine.apps.qualify import qualify
from engine.lang.load import load_ruleset
from engine.plan.compiler import compile_plan
from engine.pricing.quote import evaluate
from engine.wire.decode import request_from_json
from engine.wire.encode import qualification_to_json, quote_to_json
from server.gen.promo.v1 import promo_pb2 as pb
from server.service import convert

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "server" / "gen"
JSON = dict(preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
PACKS = ["examples/seed/parallel", "examples/seed/parallel-coupon", "examples/seed/progressive",
         "examples/seed/progressive-coupon", "examples/double11"]


def test_generated_code_is_up_to_date(tmp_path):
    subprocess.run([sys.executable, "proto/generate.py", str(tmp_path)], cwd=ROOT, check=True,
                   capture_output=True, timeout=120)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {p.relative_to(GEN): p.read_bytes() for p in GEN.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert sorted(fresh) == sorted(committed), "run `make proto`"
    stale = [str(p) for p in fresh if fresh[p] != committed[p]]
    assert not stale, f"stale generated code {stale}: run `make proto`"


@pytest.mark.parametrize("pack", PACKS)
@pytest.mark.parametrize("explain", ["EXPLAIN_OFF", "EXPLAIN_REASONS", "EXPLAIN_TRACE"])
def test_evaluate_json_mapping_is_the_engine_json(pack, explain):
    plan = compile_plan(load_ruleset(ROOT / pack))
    data = json.loads((ROOT / pack / "cart.json").read_text(encoding="utf-8"))
    data["explain"] = explain
    message = json_format.ParseDict(data, pb.EvaluateRequest())
    assert json_format.MessageToDict(message, **JSON) == data  # the cart file is the request's JSON
    engine_json = quote_to_json(evaluate(plan, request_from_json(data, plan.digits, plan.timezone)))
    served = convert.evaluate_response(evaluate(plan, convert.to_request(message, plan, 10_000)))
    assert json_format.MessageToDict(served, **JSON) == engine_json


@pytest.mark.parametrize("pack", PACKS)
@pytest.mark.parametrize("operator", [False, True])
def test_qualify_json_mapping_is_the_engine_json(pack, operator):
    plan = compile_plan(load_ruleset(ROOT / pack))
    data = json.loads((ROOT / pack / "cart.json").read_text(encoding="utf-8"))
    engine_json = qualification_to_json(qualify(plan, request_from_json(data, plan.digits, plan.timezone)), operator)
    served = convert.qualify_response(qualify(plan, convert.to_request(
        json_format.ParseDict(data, pb.EvaluateRequest()), plan, 10_000)), operator)
    assert json_format.MessageToDict(served, **JSON) == engine_json


def test_selected_coupons_and_better_set_map_both_ways():
    pack = "examples/double11"
    plan = compile_plan(load_ruleset(ROOT / pack))
    data = json.loads((ROOT / pack / "cart.json").read_text(encoding="utf-8"))
    data["selected"] = [{"coupon": "plat-300-30", "id": "w-4"}]
    engine_json = quote_to_json(evaluate(plan, request_from_json(data, plan.digits, plan.timezone)))
    assert "better_set" in engine_json  # the case this test is about
    served = convert.evaluate_response(evaluate(plan, convert.to_request(
        json_format.ParseDict(data, pb.EvaluateRequest()), plan, 10_000)))
    assert json_format.MessageToDict(served, **JSON) == engine_json


def test_enum_values_are_spelled_as_the_engine_spells_them():
    assert [v.name for v in pb.Level.DESCRIPTOR.values] == ["LEVEL_UNSPECIFIED", "item", "shop", "platform", "shipping"]
    assert [v.name for v in pb.Kind.DESCRIPTOR.values] == ["KIND_UNSPECIFIED", "promotion", "coupon"]
    assert [v.name for v in pb.Severity.DESCRIPTOR.values] == ["SEVERITY_UNSPECIFIED", "error", "warning"]
    from engine.lang.diagnostics import CODES
    from engine.plan.plan import LEVEL_ORDER
    assert set(LEVEL_ORDER) == {v.name for v in pb.Level.DESCRIPTOR.values[1:]}
    assert {severity for severity, _ in CODES.values()} == {v.name for v in pb.Severity.DESCRIPTOR.values[1:]}
