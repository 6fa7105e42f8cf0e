"""`promo serve --metrics-port P` and `--decision-log PATH` (docs/service.md "Metrics", "Decision
log"): /metrics scraped over HTTP from a `promo serve` subprocess and parsed with
prometheus_client's parser, alone and with two workers (multiprocess mode: every worker's calls
in the one scrape); a rejected reload counted while the old revision serves on; no label that
could carry an id; the decision log's lines are the answers, and its files stay bounded.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import grpc
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from server_process import ROOT, ServerProcess, cart

from server.gen.promo.v1 import promo_pb2 as pb
from server.gen.promo.v1 import promo_pb2_grpc as pb_grpc
from server.service import decisions, metrics

EVALUATE = "promo.v1.PromotionService/Evaluate"
# label names that would take unbounded values (ids of buyers, orders, carts, ...)
FORBIDDEN = {"user", "user_id", "buyer", "buyer_id", "order", "order_id", "cart", "cart_id", "reservation",
             "reservation_id", "request_id", "coupon_id", "code", "line", "line_id", "sku"}
ALLOWED_CODE = "code"  # the gRPC status code: bounded (the status names)


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def labels_of(samples) -> set[str]:
    return {k for (_, labels) in samples for k, _ in labels}


def invalid_cart() -> pb.EvaluateRequest:
    request = cart()
    request.lines[0].price = "not money"
    return request


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    rules = folder / "rules"
    shutil.copytree(ROOT / "examples/seed/parallel", rules)
    log = folder / "decisions.jsonl"
    server = ServerProcess(rules, folder / "log.jsonl", "--no-ledger", "--metrics-port", "0",
                           "--decision-log", str(log))
    server.wait_serving()
    exporting = server.wait_for("metrics_listening")
    assert exporting["multiprocess_directory"] is None  # alone: its own registry
    server.metrics_port = exporting["port"]
    server.rules, server.decisions = rules, log
    try:
        yield server
    finally:
        assert server.stop() == 0


def test_calls_are_counted_by_method_and_code_with_their_latencies(alone):
    before = scrape(alone.metrics_port)
    answers = [alone.stub.Evaluate(cart(), timeout=10) for _ in range(3)]
    assert {a.totals.payable for a in answers} == {"170.00"}
    with pytest.raises(grpc.RpcError) as refused:
        alone.stub.Evaluate(invalid_cart(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = scrape(alone.metrics_port)

    def added(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("promo_calls_total", method=EVALUATE, code="OK") == 3
    assert added("promo_calls_total", method=EVALUATE, code="INVALID_ARGUMENT") == 1
    assert added("promo_call_duration_seconds_count", method=EVALUATE) == 4
    assert added("promo_call_duration_seconds_bucket", method=EVALUATE, le="+Inf") == 4
    assert added("promo_call_duration_seconds_sum", method=EVALUATE) > 0
    revision = answers[0].ruleset.revision
    assert value(after, "promo_ruleset_info", revision=revision) == 1
    assert value(after, "promo_ruleset_reloads_total", outcome="loaded") == 1
    assert value(after, "promo_ruleset_reloads_total", outcome="rejected") == 0


def test_a_rejected_reload_is_counted_and_the_old_revision_still_served(alone):
    revision = alone.stub.Evaluate(cart(), timeout=10).ruleset.revision
    rejected = len(alone.events("ruleset_rejected"))
    broken = alone.rules / "broken.promo"
    broken.write_text('promotion "broken" { level item discount }\n', encoding="utf-8")
    try:
        alone.wait_for("ruleset_rejected", count=rejected + 1)
        samples = scrape(alone.metrics_port)
        assert value(samples, "promo_ruleset_reloads_total", outcome="rejected") == rejected + 1
        assert value(samples, "promo_ruleset_reloads_total", outcome="loaded") == 1
        assert value(samples, "promo_ruleset_info", revision=revision) == 1
        assert [k for k in samples if k[0] == "promo_ruleset_info"] == [("promo_ruleset_info", (("revision", revision),))]
        assert alone.stub.Evaluate(cart(), timeout=10).ruleset.revision == revision
    finally:
        recovered = len(alone.events("reload_recovered"))
        broken.unlink()
        alone.wait_for("reload_recovered", count=recovered + 1)


def test_no_metric_has_a_label_that_could_hold_an_id(alone):
    alone.stub.Evaluate(cart(), timeout=10)
    samples = scrape(alone.metrics_port)
    names = labels_of(samples)
    assert {"method", "code", "revision", "outcome"} <= names
    assert not (names - {ALLOWED_CODE}) & FORBIDDEN, names
    assert not (names - {ALLOWED_CODE}) & FORBIDDEN
    codes = {dict(labels)["code"] for (name, labels) in samples if name == "promo_calls_total"}
    assert codes <= {c.name for c in grpc.StatusCode}  # `code` is a status name, nothing else
    assert all(name.startswith(("promo_", "process_", "python_")) for name, _ in samples)
    assert not any(name.startswith("promo_ledger") or name == "promo_budget_remaining" for name, _ in samples)  # no ledger


def test_the_decision_log_has_one_line_per_answer(alone):
    sent = {}
    for i in range(3):
        rid = f"decision-{i}"
        answer, call = alone.stub.Evaluate.with_call(cart(), metadata=(("x-request-id", rid),), timeout=10)
        sent[rid] = answer
    with pytest.raises(grpc.RpcError):
        alone.stub.Evaluate(invalid_cart(), metadata=(("x-request-id", "decision-refused"),), timeout=10)
    # the writer is a thread of the server: wait for its lines (written in order, one flush a batch)
    alone.wait_for("call", request_id="decision-refused")
    lines = wait_lines(alone.decisions, lambda found: set(sent) <= set(found))
    for rid, answer in sent.items():
        line = lines[rid]
        assert line["method"] == "Evaluate"
        assert line["revision"] == answer.ruleset.revision
        assert line["payable"] == answer.totals.payable == "170.00"
        assert line["applied"] == [{"promotion": a.promotion, "amount": a.amount} for a in answer.applied]
        assert line["not_applied"] == [{"promotion": n.promotion, "reason": n.reason} for n in answer.not_applied]
    assert "decision-refused" not in lines  # no answer, no decision


def wait_lines(path: Path, done, timeout: float = 30.0) -> dict[str, dict]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = {}
        if path.exists():
            for text in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(text)
                found[entry["request_id"]] = entry
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_two_workers_are_counted_in_one_scrape(tmp_path):
    log = tmp_path / "decisions.jsonl"
    server = ServerProcess("examples/seed/parallel", tmp_path / "log.jsonl", "--no-ledger", "--workers", "2",
                           "--metrics-port", "0", "--decision-log", str(log))
    try:
        exporting = server.wait_for("metrics_listening", worker=0)
        port, directory = exporting["port"], Path(exporting["multiprocess_directory"])
        assert directory.is_dir()
        server.wait_for("ruleset_loaded", worker=1)
        server.wait_for("ruleset_loaded", worker=2)
        calls = 24
        for i in range(calls):  # each new channel a new connection: the kernel spreads them over the workers
            with grpc.insecure_channel(server.target) as channel:
                stub = pb_grpc.PromotionServiceStub(channel)
                assert stub.Evaluate(cart(), metadata=(("x-request-id", f"w-{i}"),), timeout=10).totals.payable == "170.00"
        served_by = {e["worker"] for e in server.events("call") if e["method"] == "/" + EVALUATE}
        assert served_by == {1, 2}
        samples = scrape(port)
        assert value(samples, "promo_calls_total", method=EVALUATE, code="OK") == calls
        assert value(samples, "promo_call_duration_seconds_count", method=EVALUATE) == calls
        assert value(samples, "promo_ruleset_reloads_total", outcome="loaded") == 2  # one a worker
        revisions = [dict(k[1])["revision"] for k, v in samples.items() if k[0] == "promo_ruleset_info" and v == 1]
        assert len(revisions) == 1
    finally:
        assert server.stop() == 0
    # each worker wrote its own file; a graceful stop loses no line
    found = {}
    for worker in (1, 2):
        for text in Path(f"{log}.worker-{worker}").read_text(encoding="utf-8").splitlines():
            found[json.loads(text)["request_id"]] = worker
    assert set(found) == {f"w-{i}" for i in range(calls)}
    assert set(found.values()) == {1, 2}
    assert not log.exists()
    assert not directory.exists()  # the supervisor's multiprocess directory goes with it


# ---- in-process ------------------------------------------------------------------------------------


def test_the_decision_log_rotates_and_stays_bounded(tmp_path):
    path = tmp_path / "d.jsonl"
    log = decisions.DecisionLog(path, max_bytes=1000, keep=2)
    for i in range(200):
        log.put({"request_id": f"r{i:03d}", "payable": "1.00"})
    log.close()  # writes every queued line
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["d.jsonl", "d.jsonl.1", "d.jsonl.2"]
    assert all(f.stat().st_size <= 1000 for f in files)
    kept = [json.loads(t)["request_id"] for f in (files[2], files[1], files[0]) for t in f.read_text().splitlines()]
    assert kept == [f"r{i:03d}" for i in range(200 - len(kept), 200)]  # the newest, in order


def test_metrics_are_off_unless_enabled():
    assert not metrics.enabled()
    metrics.observe("/x/Y", grpc.StatusCode.OK, 0.1)  # no-ops
    metrics.rejected()
    metrics.ledger_operation("reserve", "ok")
    assert metrics.watch_ledger(None, lambda: None, None) is None
    servicer = object()
    assert metrics.instrument_ledger(servicer) is servicer


def test_ledger_operations_are_counted_by_outcome():
    from server.ledger.errors import FailedPrecondition

    registry = CollectorRegistry()
    metrics.enable(registry)
    try:
        class Servicer:
            def Commit(self, request, context):
                if request == "late":
                    raise FailedPrecondition("reservation_id", "expired")
                return "ok"

        servicer = metrics.instrument_ledger(Servicer())
        assert servicer.Commit("now", None) == "ok"
        with pytest.raises(FailedPrecondition):
            servicer.Commit("late", None)
        assert registry.get_sample_value("promo_ledger_operations_total", {"operation": "commit", "outcome": "ok"}) == 1
        assert registry.get_sample_value("promo_ledger_operations_total",
                                         {"operation": "commit", "outcome": "failed_precondition"}) == 1
    finally:
        metrics.disable()


def test_budget_remaining_is_in_currency_units_per_promotion_with_a_budget():
    from engine.lang.load import load_sources
    from engine.lang.source import SourceFile
    from engine.plan.compiler import compile_plan
    from server.ledger.types import Count, CounterKey, Metric, Usage

    text = ('ruleset "b" { currency CNY  timezone "Asia/Shanghai"  stacking parallel }\n'
            'coupon "capped" { level platform  discount 3  budget 10 }\n'
            'coupon "free" { level platform  discount 3 }\n')
    loaded = load_sources([SourceFile("b.promo", text)])
    if not loaded.ok:
        pytest.skip("this build's language has no `budget` clause yet")
    plan = compile_plan(loaded)
    if not hasattr(plan.by_name["capped"], "budgets"):
        pytest.skip("this build's plan has no budgets yet")

    def read(query):
        assert query.promotions == ("capped",)
        return Usage(None, {None: ""}, {CounterKey("capped", Metric.SPEND, "", ""): Count(650, 300, 1000)}, {})

    assert metrics.budgets_remaining(plan, read) == {"capped": 3.5}


# ---- with a ledger ---------------------------------------------------------------------------------

BUDGET_RULES = """\
ruleset "metrics-ledger" { currency CNY  timezone "Asia/Shanghai"  stacking parallel }
coupon "budget-3" { level platform  discount 3  budget 10 }
coupon "plain-2" { level shop  discount 2 }
"""


def wait_scrape(port: int, done, timeout: float = 30.0):
    """Scrapes until `done(samples)` (the ledger's gauges are read by a thread of the server)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(port)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


@pytest.mark.parametrize("workers", [1, 2])
def test_ledger_operations_held_reservations_and_budget_left(tmp_path, workers):
    from google.protobuf import json_format

    from engine.lang.load import load_sources
    from engine.lang.source import SourceFile
    from server.gen.promo.v1 import ledger_pb2 as lpb
    from server.gen.promo.v1 import ledger_pb2_grpc as lpb_grpc

    if not load_sources([SourceFile("b.promo", BUDGET_RULES)]).ok:
        pytest.skip("this build's language has no `budget` clause yet")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "rules.promo").write_text(BUDGET_RULES, encoding="utf-8")
    log = tmp_path / "decisions.jsonl"
    server = ServerProcess(tmp_path / "rules", tmp_path / "log.jsonl", "--ledger", f"sqlite:///{tmp_path}/ledger.db",
                           "--metrics-port", "0", "--decision-log", str(log), "--workers", str(workers))
    try:
        server.wait_serving()
        port = server.wait_for("metrics_listening")["port"]
        for worker in range(1, workers + 1) if workers > 1 else ():
            server.wait_for("ruleset_loaded", worker=worker)
        stub = lpb_grpc.LedgerServiceStub(server.channel)
        request = json_format.ParseDict(
            {"at": "2026-11-11T10:00:00+08:00", "user": {"id": "buyer-1"},
             "lines": [{"id": "l1", "sku": "A", "shop": "S1", "price": "100.00", "quantity": 1}],
             "wallet": [{"coupon": "budget-3", "id": "w1"}, {"coupon": "plain-2", "id": "w2"}]}, pb.EvaluateRequest())
        held = stub.Reserve(lpb.ReserveRequest(order_id="order-1", idempotency_key="k1", ttl_seconds=600, cart=request),
                            metadata=(("x-request-id", "reserve-1"),), timeout=30)
        assert held.quote.totals.payable == "95.00"
        samples = wait_scrape(port, lambda s: value(s, "promo_ledger_reservations_held") == 1
                              and value(s, "promo_budget_remaining", promotion="budget-3") == 7)
        assert value(samples, "promo_ledger_operations_total", operation="reserve", outcome="ok") == 1
        assert value(samples, "promo_ledger_reservations_held") == 1
        assert value(samples, "promo_budget_remaining", promotion="budget-3") == 7.0  # 10 - 3, currency units
        assert [k for k in samples if k[0] == "promo_budget_remaining"] == [
            ("promo_budget_remaining", (("promotion", "budget-3"),))]  # only promotions with a budget
        with pytest.raises(grpc.RpcError) as missing:
            stub.Commit(lpb.CommitRequest(reservation_id="no-such", idempotency_key="c0"), timeout=30)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        stub.Commit(lpb.CommitRequest(reservation_id=held.reservation_id, idempotency_key="c1"), timeout=30)
        samples = wait_scrape(port, lambda s: value(s, "promo_ledger_reservations_held") == 0)
        assert value(samples, "promo_ledger_reservations_held") == 0
        assert value(samples, "promo_budget_remaining", promotion="budget-3") == 7.0  # committed: still spent
        assert value(samples, "promo_ledger_operations_total", operation="commit", outcome="ok") == 1
        assert value(samples, "promo_ledger_operations_total", operation="commit", outcome="not_found") == 1
        assert value(samples, "promo_calls_total", method="promo.v1.LedgerService/Commit", code="NOT_FOUND") == 1
        assert not (labels_of(samples) - {ALLOWED_CODE}) & FORBIDDEN
    finally:
        assert server.stop() == 0
    files = [log] if workers == 1 else [Path(f"{log}.worker-{w}") for w in range(1, workers + 1)]
    (line,) = [json.loads(t) for f in files if f.exists() for t in f.read_text(encoding="utf-8").splitlines()]
    assert line["method"] == "Reserve" and line["request_id"] == "reserve-1"
    assert line["order_id"] == "order-1" and line["reservation_id"] == held.reservation_id
    assert line["payable"] == "95.00" and line["state"] == "held"
    assert line["applied"] == [{"promotion": a.promotion, "amount": a.amount, **({"coupon_id": a.coupon_id})}
                               for a in held.quote.applied]
