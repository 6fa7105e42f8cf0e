"""Hot reload through a live server: NOT_SERVING until the rules first compile, a changed file
swapped in while a client keeps calling (no failed call, one switch, never a mixed answer), a
broken edit that leaves the last good ruleset serving, and its undoing logged.
"""

from __future__ import annotations

import os
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2
from server_process import ROOT, ServerProcess, cart

from server.gen.promo.v1 import promo_pb2 as pb

GOOD = (ROOT / "examples/seed/parallel/rules.promo").read_text(encoding="utf-8")
CHANGED = GOOD.replace("discount 10 each", "discount 15 each")  # 170.00 -> 180.00 (190.00 misses the 200 threshold)
BROKEN = GOOD.replace("discount 10 each", "discount 10.001 each")


def write(path, text: str) -> None:
    """Replace the file in one step, as deploy tools do (a reader never sees half of it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rules")
    rules = folder / "rules.promo"
    write(rules, BROKEN)
    server = ServerProcess(folder, folder.parent / "log.jsonl")
    try:
        yield server, rules
    finally:
        assert server.stop() == 0


def test_not_serving_until_the_rules_compile(live):
    server, rules = live
    server.wait_for("ruleset_rejected")
    assert server.status() == health_pb2.HealthCheckResponse.NOT_SERVING
    for call, request in ((server.stub.Evaluate, cart()), (server.stub.GetRuleset, pb.GetRulesetRequest())):
        with pytest.raises(grpc.RpcError) as err:
            call(request, timeout=10)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    write(rules, GOOD)
    server.wait_serving()
    assert server.stub.Evaluate(cart(), timeout=10).totals.payable == "170.00"


def test_a_change_is_swapped_in_while_calls_keep_coming(live):
    server, rules = live
    server.wait_serving()
    old = server.stub.GetRuleset(pb.GetRulesetRequest(), timeout=10).revision
    seen: list[tuple[str, str]] = []
    failures: list[Exception] = []
    stop = threading.Event()

    def client():
        while not stop.is_set() and len(seen) < 100_000:
            try:
                reply = server.stub.Evaluate(cart(), timeout=10)
                seen.append((reply.ruleset.revision, reply.totals.payable))
            except grpc.RpcError as err:
                failures.append(err)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        while len(seen) < 20 and thread.is_alive():
            time.sleep(0.01)
        write(rules, CHANGED)
        loaded = server.wait_for("ruleset_loaded", previous=old)
        after = len(seen)
        deadline = time.monotonic() + 30
        while len(seen) < after + 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(30)
    assert not failures
    new = loaded["revision"]
    revisions = [r for r, _ in seen]
    switches = sum(1 for a, b in zip(revisions, revisions[1:]) if a != b)
    assert revisions[0] == old and revisions[-1] == new and switches == 1
    # every answer is wholly one ruleset's: its revision goes with its price
    assert set(seen) == {(old, "170.00"), (new, "180.00")}


def test_a_broken_edit_keeps_the_last_good_ruleset(live):
    server, rules = live
    serving = server.stub.GetRuleset(pb.GetRulesetRequest(), timeout=10).revision
    rejected = len(server.events("ruleset_rejected"))
    write(rules, BROKEN)
    event = server.wait_for("ruleset_rejected", count=rejected + 1)
    assert event["serving"] == serving and "money-precision" in event["diagnostics"][0]
    assert server.status() == health_pb2.HealthCheckResponse.SERVING
    reply = server.stub.Evaluate(cart(), timeout=10)
    assert reply.ruleset.revision == serving and reply.totals.payable == "180.00"


def test_undoing_a_broken_edit_logs_that_the_serving_ruleset_is_back(live):
    # after the test above: BROKEN on disk, CHANGED serving
    server, rules = live
    serving = server.stub.GetRuleset(pb.GetRulesetRequest(), timeout=10).revision
    assert server.events()[-1]["event"] != "reload_recovered"
    write(rules, CHANGED)
    event = server.wait_for("reload_recovered")
    assert event["revision"] == serving and event["level"] == "info"
    assert not [e for e in server.events("ruleset_loaded") if e["revision"] == serving and e["previous"] == serving]
