"""AnalyzePrices: the proto JSON mapping of a PriceFinding is the engine's finding JSON, and the
streaming call over loopback (one finding per item, bad items as BadRequest)."""

from __future__ import annotations

from datetime import datetime

import grpc
import pytest
from google.protobuf import json_format
from server_process import ROOT, ServerProcess
from test_server_api import violation

from engine.apps.analyze.scenarios import Options
from engine.apps.analyze.search import analyze_item
from engine.apps.catalog import CatalogItem
from engine.lang.load import load_ruleset
from engine.plan.compiler import compile_plan
from engine.wire.encode import finding_to_json
from server.gen.promo.v1 import promo_pb2 as pb
from server.service import convert

JSON = dict(preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
AT = "2026-11-11T10:00:00+08:00"


def test_price_finding_json_mapping_is_the_engine_json():
    plan = compile_plan(load_ruleset(ROOT / "examples/double11"))
    options = Options(at=datetime.fromisoformat(AT))
    items = [CatalogItem("hoodie-grey", "S-TEE", 19900, category="apparel", warning_price=15000, cost=9000, ad_cost=800),
             CatalogItem("walnut-2jin", "S-NUTS", 5990, category="nuts", tags=frozenset({"cross"})),
             CatalogItem("nothing", "S-X", 1000, category="books")]
    for item in items:
        engine_json = finding_to_json(analyze_item(plan, item, options), plan)
        assert json_format.MessageToDict(convert.price_finding(analyze_item(plan, item, options), plan), **JSON) == engine_json


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc = ServerProcess("examples/seed/parallel", tmp_path_factory.mktemp("serve") / "log.jsonl")
    try:
        proc.wait_serving()
        yield proc
    finally:
        assert proc.stop() == 0


def test_analyze_prices_streams_one_finding_per_item(server):
    request = pb.AnalyzePricesRequest(at=AT, items=[
        pb.CatalogItem(sku="SKU-110", shop="S1", category="shoes", price="110.00", warning_price="90.00"),
        pb.CatalogItem(sku="OTHER", shop="S2", price="50.00")])
    findings = [json_format.MessageToDict(f, **JSON) for f in server.stub.AnalyzePrices(request, timeout=30)]
    assert [(f["row"], f["sku"]) for f in findings] == [(1, "SKU-110"), (2, "OTHER")]
    plan = compile_plan(load_ruleset(ROOT / "examples/seed/parallel"))
    item = CatalogItem("SKU-110", "S1", 11000, category="shoes", warning_price=9000, row=1)
    assert findings[0] == finding_to_json(analyze_item(plan, item, Options(at=datetime.fromisoformat(AT))), plan)
    # 80.00 (one unit and a 100.00 filler from another shop) < 90.00; progressive: 81.00
    assert findings[0]["lowest_price"] == "80.00" and findings[0]["below_warning"] is True
    assert findings[0]["what_ifs"][-1]["lowest_price"] == "81.00"


def test_analyze_prices_rejects_a_bad_item_before_streaming(server):
    request = pb.AnalyzePricesRequest(at=AT, items=[pb.CatalogItem(sku="A", shop="S1", price="1.234")])
    with pytest.raises(grpc.RpcError) as err:
        list(server.stub.AnalyzePrices(request, timeout=30))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation(err.value) == "items[0].price"
    with pytest.raises(grpc.RpcError) as err:
        list(server.stub.AnalyzePrices(pb.AnalyzePricesRequest(max_units=99), timeout=30))
    assert violation(err.value) == "max_units"
