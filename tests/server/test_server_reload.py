"""Hot reload through a live server: NOT_SERVING until the rules first compile, a changed file
swapped in while a client keeps calling (no failed call, one switch, never a mixed answer), a
broken edit that leaves the last good ruleset serving, and its undoing logged. With several
files, an edit parses and compiles only its file (`parsed_files=1` in the log), no call fails
during the swap, and a broken edit that only the check across files finds keeps the plan.
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


def swap_under_load(server, path) -> dict:
    """Write CHANGED to `path` while a client calls Evaluate back to back; checks that no call
    failed, the revision switched once and every answer is wholly one ruleset's (its revision
    goes with its price). Returns the `ruleset_loaded` event of the swap."""
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
        write(path, CHANGED)
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
    assert set(seen) == {(old, "170.00"), (new, "180.00")}
    return loaded


def test_a_change_is_swapped_in_while_calls_keep_coming(live):
    server, rules = live
    swap_under_load(server, rules)


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


# ---- a ruleset of several files: only the edited file is parsed, checked and compiled again ----

EXTRAS = 3  # files beside rules.promo, with promotions the test cart never meets


def extra(n: int) -> str:
    return "".join(f'promotion "extra-{n}-{i}" {{\n    level item\n    scope sku == "NOPE-{n}"\n'
                   f"    discount 1 each\n}}\n" for i in range(4))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("several")
    rules = folder / "rules.promo"
    write(rules, GOOD)
    for n in range(EXTRAS):
        write(folder / f"extra-{n}.promo", extra(n))
    server = ServerProcess(folder, folder.parent / "several.jsonl")
    try:
        yield server, folder
    finally:
        assert server.stop() == 0


def test_the_first_load_parses_every_file(files):
    server, _ = files
    server.wait_serving()
    loaded = server.events("ruleset_loaded")[0]
    assert loaded["parsed_files"] == loaded["compiled_files"] == EXTRAS + 1


def test_an_edit_reparses_only_its_file_and_no_call_fails(files):
    server, folder = files
    loaded = swap_under_load(server, folder / "rules.promo")
    # the three unchanged files were neither parsed nor compiled again
    assert loaded["parsed_files"] == 1 and loaded["compiled_files"] == 1


def test_a_broken_edit_of_another_file_keeps_the_plan(files):
    # after the test above: CHANGED serving. A name that another file has too: an error only
    # the check across files finds
    server, folder = files
    serving = server.stub.GetRuleset(pb.GetRulesetRequest(), timeout=10).revision
    rejected = len(server.events("ruleset_rejected"))
    duplicate = 'promotion "sku110-direct" {\n    level item\n    scope sku == "NOPE-1"\n    discount 1 each\n}\n'
    write(folder / "extra-1.promo", extra(1) + duplicate)
    event = server.wait_for("ruleset_rejected", count=rejected + 1)
    assert event["serving"] == serving and event["parsed_files"] == 1
    assert "duplicate" in " ".join(event["diagnostics"])
    reply = server.stub.Evaluate(cart(), timeout=10)
    assert reply.ruleset.revision == serving and reply.totals.payable == "180.00"
    write(folder / "extra-1.promo", extra(1))
    event = server.wait_for("reload_recovered")
    assert event["revision"] == serving and event["parsed_files"] == 1
