"""PromotionService over a real loopback socket: one `promo serve examples/seed/parallel` process
for the module. Answers equal the CLI's JSON; bad requests get the documented status and a
google.rpc.BadRequest naming the field; nothing a client sends is UNKNOWN or INTERNAL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import grpc
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from server_process import ROOT, ServerProcess, cart

from engine.lang.load import load_sources
from engine.lang.source import SourceFile
from engine.wire.encode import to_json
from server.gen.promo.v1 import promo_pb2 as pb

RULES = "examples/seed/parallel"
JSON = dict(preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with ServerProcess.serving(RULES, tmp_path_factory.mktemp("serve")) as proc:
        yield proc


def cli_json(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "server.cli", *args, "--json"], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=60)
    return json.loads(out.stdout)


def violation(err: grpc.RpcError) -> str:
    """The one BadRequest field the error names."""
    status = rpc_status.from_call(err)
    assert status is not None, f"no rich status in {err}"
    bad = error_details_pb2.BadRequest()
    assert status.details and status.details[0].Unpack(bad), status
    assert len(bad.field_violations) == 1
    return bad.field_violations[0].field


# ---- standard services -------------------------------------------------------------------------


def test_health_serves_both_the_server_and_the_service(server):
    assert server.status() == health_pb2.HealthCheckResponse.SERVING
    assert server.status("promo.v1.PromotionService") == health_pb2.HealthCheckResponse.SERVING


def test_health_checks_are_not_logged_at_info(server):
    server.status()
    server.stub.GetRuleset(pb.GetRulesetRequest(), timeout=10, metadata=[("x-request-id", "after-health")])
    server.wait_for("call", request_id="after-health")  # lines are written in order: a health line would be here
    assert not [e for e in server.events("call") if e["method"].startswith("/grpc.health.v1.Health/")]


def test_reflection_lists_the_service_and_describes_it(server):
    stub = reflection_pb2_grpc.ServerReflectionStub(server.channel)
    requests = [reflection_pb2.ServerReflectionRequest(list_services=""),
                reflection_pb2.ServerReflectionRequest(file_containing_symbol="promo.v1.PromotionService")]
    listed, described = list(stub.ServerReflectionInfo(iter(requests), timeout=10))
    names = {s.name for s in listed.list_services_response.service}
    assert {"promo.v1.PromotionService", "grpc.health.v1.Health"} <= names
    assert described.file_descriptor_response.file_descriptor_proto  # grpcurl can build requests from it


# ---- Evaluate / Qualify equal the CLI ----------------------------------------------------------


def test_evaluate_is_the_cli_json(server):
    reply = server.stub.Evaluate(cart(), timeout=10)
    assert reply.totals.payable == "170.00"
    assert json_format.MessageToDict(reply, **JSON) == cli_json("eval", RULES, f"{RULES}/cart.json")


def test_evaluate_with_trace_is_the_cli_json(server):
    reply = server.stub.Evaluate(cart(explain="EXPLAIN_TRACE"), timeout=10)
    expected = cli_json("eval", RULES, f"{RULES}/cart.json", "--explain", "trace")
    assert expected["trace"]
    assert json_format.MessageToDict(reply, **JSON) == expected


def test_qualify_is_the_cli_json(server):
    request = pb.QualifyRequest(cart=cart(wallet=[{"coupon": "s1-100-10", "id": "w-1"}, {"coupon": "nope"}]),
                                operator=True)
    reply = server.stub.Qualify(request, timeout=10)
    cart_file = server.log_path.parent / "qualify-cart.json"
    cart_file.write_text(json_format.MessageToJson(request.cart, preserving_proto_field_name=True))
    assert json_format.MessageToDict(reply, **JSON) == cli_json("qualify", RULES, str(cart_file), "--operator")
    assert reply.coupons[1].reason == "UNKNOWN_COUPON" and not reply.coupons[1].usable


def test_qualify_of_100000_wallet_entries_is_refused_at_once_or_answered_once_per_coupon(server):
    distinct = pb.QualifyRequest(cart=cart(wallet=[{"coupon": f"c{i}", "id": str(i)} for i in range(100_000)]))
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Qualify(distinct, timeout=30)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and violation(err.value) == "wallet"
    assert "at most 1000 coupons per wallet, got 100000" in err.value.details()
    repeats = pb.QualifyRequest(cart=cart(wallet=[{"coupon": "s1-100-10", "id": "w-1"}] * 100_000))
    assert [c.id for c in server.stub.Qualify(repeats, timeout=30).coupons] == ["w-1"]


def test_every_answer_names_its_revision_and_the_log_line_has_it(server):
    reply, call = server.stub.Evaluate.with_call(cart(), timeout=10, metadata=[("x-request-id", "req-42")])
    assert ("x-request-id", "req-42") in call.trailing_metadata()
    ruleset = server.stub.GetRuleset(pb.GetRulesetRequest(), timeout=10)
    assert reply.ruleset.revision == ruleset.revision and len(ruleset.revision) == 64
    line = server.wait_for("call", request_id="req-42")
    assert line["method"] == "/promo.v1.PromotionService/Evaluate" and line["worker"] == 0
    assert line["revision"] == ruleset.revision and line["code"] == "OK" and line["latency_ms"] >= 0


# ---- ValidateRules / GetRuleset ----------------------------------------------------------------

BROKEN = 'promotion "满100减10" { level shop  when amount >= 100  discount 9.999 }\n'


def test_validate_rules_reports_diagnostics_without_failing(server):
    reply = server.stub.ValidateRules(pb.ValidateRulesRequest(files=[pb.SourceFile(path="rules.promo", text=BROKEN)]),
                                      timeout=10)
    assert not reply.ok
    first = reply.diagnostics[0]
    assert (first.code, first.severity, first.file, first.line, first.column) == (
        "money-precision", pb.error, "rules.promo", 1, 64)
    expected = [{k: v for k, v in to_json(d).items() if v is not None}
                for d in load_sources([SourceFile("rules.promo", BROKEN)]).diagnostics]
    assert [json_format.MessageToDict(d, **JSON) for d in reply.diagnostics] == expected


def test_validate_rules_syntax_error_and_good_source(server):
    bad = server.stub.ValidateRules(pb.ValidateRulesRequest(files=[pb.SourceFile(path="a.promo", text="promotion {")]),
                                    timeout=10)
    assert not bad.ok and bad.diagnostics[0].code in ("syntax", "unclosed-block") and bad.diagnostics[0].line == 1
    text = (ROOT / RULES / "rules.promo").read_text(encoding="utf-8")
    good = server.stub.ValidateRules(pb.ValidateRulesRequest(files=[pb.SourceFile(path="r.promo", text=text)]),
                                     timeout=10)
    assert good.ok and not [d for d in good.diagnostics if d.severity == pb.error]


def test_get_ruleset(server):
    reply = server.stub.GetRuleset(pb.GetRulesetRequest(), timeout=10)
    assert reply.name == "seed-parallel" and reply.currency == "CNY" and reply.timezone == "Asia/Shanghai"
    assert [(p.name, p.level, p.kind) for p in reply.promotions] == [
        ("sku110-direct", pb.item, pb.promotion), ("s1-100-10", pb.shop, pb.promotion),
        ("cross-200-20", pb.platform, pb.promotion)]
    window = reply.promotions[0].window
    assert datetime.fromisoformat(window.start) < datetime.fromisoformat(window.end)
    assert window.start.startswith("2026-11-01T00:00:00+08:00")
    assert datetime.fromisoformat(reply.loaded_at).tzinfo is not None


# ---- errors ------------------------------------------------------------------------------------


def _line(**changes) -> dict:
    line = {"id": "l1", "sku": "SKU-110", "shop": "S1", "price": "110.00", "quantity": 2}
    line.update(changes)
    return line


@pytest.mark.parametrize("changes, field", [
    ({"lines": [_line(price="1.234")]}, "lines[0].price"),
    ({"lines": [_line(price="-1")]}, "lines[0].price"),
    ({"lines": [_line(price="1e3")]}, "lines[0].price"),
    ({"lines": [_line(quantity=-1)]}, "lines[0].quantity"),
    ({"lines": [_line(quantity=0)]}, "lines[0].quantity"),
    ({"lines": [_line(id="")]}, "lines[0].id"),
    ({"lines": [_line(), _line()]}, "lines[1].id"),
    ({"lines": [_line(sku="")]}, "lines[0].sku"),
    ({"at": "11/11/2026"}, "at"),
    ({"shipping": {"S1": "abc"}}, "shipping.S1"),
    ({"wallet": [{"id": "w-1"}]}, "wallet[0].coupon"),
    ({"selected": [{"coupon": "x", "expires": "soon"}]}, "selected[0].expires"),
])
def test_bad_request_is_invalid_argument_naming_the_field(server, changes, field):
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Evaluate(cart(**changes), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation(err.value) == field


@pytest.mark.parametrize("field", ["stage", "explain"])
def test_unknown_enum_number_is_invalid_argument(server, field):
    request = cart()
    setattr(request, field, 99)  # a number this server does not know (a newer client's value)
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Evaluate(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation(err.value) == field


def test_unknown_enum_name_in_json_is_rejected_before_sending():
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict({"stage": "STAGE_SOMETIME"}, pb.EvaluateRequest())


def test_qualify_bad_cart_names_the_field(server):
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Qualify(pb.QualifyRequest(cart=cart(lines=[_line(price="x")])), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and violation(err.value) == "lines[0].price"


def test_validate_rules_without_a_path_is_invalid_argument(server):
    with pytest.raises(grpc.RpcError) as err:
        server.stub.ValidateRules(pb.ValidateRulesRequest(files=[pb.SourceFile(text="x")]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and violation(err.value) == "files[0].path"


def test_too_many_lines_is_resource_exhausted_naming_lines(server):
    request = cart(lines=[])
    for i in range(100_000):
        request.lines.add(id=f"l{i}", sku="s", price="1", quantity=1)
    assert request.ByteSize() < 4 * 1024 * 1024  # below the size limit: the line limit answers
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Evaluate(request, timeout=30)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert violation(err.value) == "lines"


def test_too_large_message_is_resource_exhausted(server):
    request = cart(lines=[_line(brand="x" * (5 * 1024 * 1024))])
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Evaluate(request, timeout=30)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("where", ["line", "user"])
@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_attribute_is_invalid_argument_naming_it(server, where, number):
    request = cart()
    attributes = request.lines[0].attributes if where == "line" else request.user.attributes
    attributes.update({"size": {"cm": [1, number]}})
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Evaluate(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation(err.value) == ("lines[0]" if where == "line" else "user") + ".attributes.size.cm[1]"


def nested(depth: int) -> pb.EvaluateRequest:
    request = cart()
    inner = request.lines[0].attributes
    for _ in range(depth):
        inner = inner.fields["a"].struct_value
    return request


@pytest.mark.parametrize("method, data", [
    ("Evaluate", b"\xff\xff\xff"),
    ("Evaluate", b"\x0a\x03\xff\xfe\xfd"),  # a string that is not UTF-8
    ("Evaluate", nested(60).SerializeToString()),  # past protobuf's nesting limit
    ("Qualify", b"\x0a"),
    ("ValidateRules", b"\x0a\x02\x12"),
    ("GetRuleset", b"\x08"),
], ids=["garbage", "utf8", "nested-60", "qualify", "validate", "get-ruleset"])
def test_undecodable_request_is_invalid_argument_with_a_call_line(server, method, data):
    call = server.channel.unary_unary(f"/promo.v1.PromotionService/{method}")  # raw bytes, no serializer
    rid = f"undecodable-{method}-{len(data)}"
    with pytest.raises(grpc.RpcError) as err:
        call(data, timeout=10, metadata=[("x-request-id", rid)])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot be decoded" in err.value.details()
    assert server.wait_for("call", request_id=rid)["code"] == "INVALID_ARGUMENT"


def test_undecodable_analyze_request_is_invalid_argument(server):
    call = server.channel.unary_stream("/promo.v1.PromotionService/AnalyzePrices")
    with pytest.raises(grpc.RpcError) as err:
        list(call(b"\xff", timeout=10, metadata=[("x-request-id", "undecodable-analyze")]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert server.wait_for("call", request_id="undecodable-analyze")["code"] == "INVALID_ARGUMENT"


def test_undecodable_reflection_request_is_invalid_argument(server):
    call = server.channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    with pytest.raises(grpc.RpcError) as err:
        list(call(iter([b"\xff\xff"]), timeout=10))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_struct_nested_below_the_limit_is_answered(server):
    assert server.stub.Evaluate(nested(20), timeout=10).totals.payable == "170.00"


def test_a_duplicated_10kb_line_id_is_a_short_invalid_argument(server):
    long_id = "x" * 10_000
    with pytest.raises(grpc.RpcError) as err:  # not RESOURCE_EXHAUSTED: the trailer fits the client's limit
        server.stub.Evaluate(cart(lines=[_line(id=long_id), _line(id=long_id)]), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violation(err.value) == "lines[1].id"
    assert len(err.value.details()) < 400
    assert len(rpc_status.from_call(err.value).SerializeToString()) < 1000


def test_a_duplicated_2mb_line_id_makes_no_long_log_line(server):
    long_id = "x" * 1_900_000
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Evaluate(cart(lines=[_line(id=long_id), _line(id=long_id)]), timeout=30,
                             metadata=[("x-request-id", "two-megabyte-id")])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    server.wait_for("call", request_id="two-megabyte-id")
    assert max(map(len, server.log_path.read_text(encoding="utf-8").splitlines())) < 4000


def test_a_long_request_id_is_cut_in_the_trailer_and_the_log(server):
    rid = "r" * 6000  # below the 8 KB metadata limit grpcio enforces on the way in
    _, call = server.stub.GetRuleset.with_call(pb.GetRulesetRequest(), timeout=10, metadata=[("x-request-id", rid)])
    assert ("x-request-id", rid[:128]) in call.trailing_metadata()
    assert server.wait_for("call", request_id=rid[:128])["code"] == "OK"


def test_no_client_input_above_made_the_server_fail(server):
    # runs last in this module: every call logged so far ended with a client-side code
    codes = {e["code"] for e in server.events("call")}
    assert codes and not codes & {"UNKNOWN", "INTERNAL"}


# ---- a server without reflection, logging at debug ---------------------------------------------


@pytest.fixture(scope="module")
def quiet_server(tmp_path_factory):
    with ServerProcess.serving(RULES, tmp_path_factory.mktemp("serve"), "--no-reflection", "--log-level", "debug") as proc:
        yield proc


def test_no_reflection_leaves_the_reflection_service_out(quiet_server):
    assert quiet_server.wait_for("listening")["reflection"] is False
    stub = reflection_pb2_grpc.ServerReflectionStub(quiet_server.channel)
    with pytest.raises(grpc.RpcError) as err:
        list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert quiet_server.stub.Evaluate(cart(), timeout=10).totals.payable == "170.00"


def test_health_checks_are_logged_at_debug(quiet_server):
    quiet_server.health.Check(health_pb2.HealthCheckRequest(), timeout=5, metadata=[("x-request-id", "probe-1")])
    line = quiet_server.wait_for("call", request_id="probe-1")
    assert line["level"] == "debug" and line["method"] == "/grpc.health.v1.Health/Check" and line["code"] == "OK"
