"""What one call may ask of `promo serve` (docs/service.md "Limits"), over a real socket: one
server for the module with small limits, so that each is reached with a small request."""

from __future__ import annotations

import grpc
import pytest
from server_process import ServerProcess, cart
from test_server_api import violation

from engine.lang.load import load_sources
from engine.lang.source import SourceFile
from server.gen.promo.v1 import promo_pb2 as pb

LIMITS = dict(wallet=5, source=2_000, diagnostics=3, response=20_000, call_seconds=0.5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    flags = ("--max-wallet", str(LIMITS["wallet"]), "--max-source-bytes", str(LIMITS["source"]),
             "--max-diagnostics", str(LIMITS["diagnostics"]), "--max-response-bytes", str(LIMITS["response"]),
             "--max-call-seconds", str(LIMITS["call_seconds"]))
    with ServerProcess.serving("examples/seed/parallel", tmp_path_factory.mktemp("serve"), *flags) as proc:
        yield proc


def exhausted(call, request) -> str:
    """The field a RESOURCE_EXHAUSTED answer names."""
    with pytest.raises(grpc.RpcError) as err:
        call(request, timeout=30)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, err.value
    return violation(err.value)


def wallet(*names: str) -> list[dict]:
    return [{"coupon": name, "id": f"id-{name}"} for name in names]


def test_a_wallet_of_more_coupons_than_the_limit_is_resource_exhausted(server):
    assert exhausted(server.stub.Evaluate, cart(wallet=wallet(*"abcdef"))) == "wallet"
    assert exhausted(server.stub.Qualify, pb.QualifyRequest(cart=cart(wallet=wallet(*"abcdef")))) == "wallet"
    assert exhausted(server.stub.Evaluate, cart(wallet=wallet("a"), selected=wallet(*"abcdef"))) == "selected"


def test_repeated_wallet_entries_count_once_and_are_answered_once(server):
    reply = server.stub.Qualify(pb.QualifyRequest(cart=cart(wallet=wallet("a", "b") * 50)), timeout=30)
    assert [(c.coupon, c.id) for c in reply.coupons] == [("a", "id-a"), ("b", "id-b")]


def test_validate_rules_source_past_the_limit_is_resource_exhausted(server):
    request = pb.ValidateRulesRequest(files=[pb.SourceFile(path="a.promo", text="#" * 1_000),
                                             pb.SourceFile(path="b.promo", text="#" * 1_000)])
    assert exhausted(server.stub.ValidateRules, request) == "files"
    long_path = pb.ValidateRulesRequest(files=[pb.SourceFile(path="p" * 1_025 + ".promo", text="")])
    assert exhausted(server.stub.ValidateRules, long_path) == "files[0].path"


def test_validate_rules_answers_the_first_diagnostics_and_counts_them_all(server):
    text = "".join(f'promotion "p{i}" {{ level shop }}\n' for i in range(10))  # 10 missing-benefit
    reply = server.stub.ValidateRules(pb.ValidateRulesRequest(files=[pb.SourceFile(path="r.promo", text=text)]), timeout=30)
    everything = load_sources([SourceFile("r.promo", text)]).diagnostics
    assert not reply.ok and reply.diagnostics_total == len(everything) >= 10
    assert [(d.code, d.line) for d in reply.diagnostics] == [(d.code, d.span.line) for d in everything[:LIMITS["diagnostics"]]]


def test_an_answer_past_the_response_limit_is_resource_exhausted_and_logged_so(server):
    big = cart()
    line = big.lines[0]
    for i in range(300):  # about 100 bytes of answer a line
        big.lines.add().CopyFrom(line)
        big.lines[-1].id = f"x{i}"
    with pytest.raises(grpc.RpcError) as err:
        server.stub.Evaluate(big, timeout=30, metadata=[("x-request-id", "too-big")])
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"more than this server sends ({LIMITS['response']:,})" in err.value.details()
    assert server.wait_for("call", request_id="too-big")["code"] == "RESOURCE_EXHAUSTED"
    assert server.stub.Evaluate(cart(), timeout=30).totals.payable == "170.00"  # a small one is answered


def test_analyze_prices_stops_streaming_at_the_servers_limit_on_one_call(server):
    # thousands of items take seconds; the server gives one call 0.5 s without a client deadline
    items = [pb.CatalogItem(sku=f"SKU-{i}", shop="S1", price="110.00") for i in range(3_000)]
    stream = server.stub.AnalyzePrices(pb.AnalyzePricesRequest(at="2026-11-11T10:00:00+08:00", items=items),
                                       metadata=[("x-request-id", "long-analysis")])
    found = []
    with pytest.raises(grpc.RpcError) as err:
        for finding in stream:
            found.append(finding)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0 < len(found) < len(items) and [f.row for f in found] == list(range(1, len(found) + 1))
    line = server.wait_for("call", request_id="long-analysis")
    assert line["code"] == "DEADLINE_EXCEEDED" and line["latency_ms"] < 10_000
