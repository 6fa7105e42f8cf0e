"""`promo serve` as a process: the harness the other server tests use (a subprocess on a free
loopback port, its JSON log in a file), plus what only a process shows: several workers on one
port, a busy port refused, and a graceful stop on SIGTERM that lets the call in flight finish.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2
from server_process import ROOT, ServerProcess, cart, cpu_seconds

from server.gen.promo.v1 import promo_pb2_grpc as pb_grpc


def test_two_workers_share_one_port_and_stop_together(tmp_path):
    server = ServerProcess("examples/seed/parallel", tmp_path / "log.jsonl", "--workers", "2")
    try:
        server.wait_for("ruleset_loaded", worker=1)
        server.wait_for("ruleset_loaded", worker=2)
        ports = {server.wait_for("listening", worker=w)["port"] for w in (1, 2)}
        assert ports == {server.port}
        # each new channel is a new connection; the kernel spreads connections over the workers
        for _ in range(24):
            with grpc.insecure_channel(server.target) as channel:
                reply = pb_grpc.PromotionServiceStub(channel).Evaluate(cart(), timeout=10)
                assert reply.totals.payable == "170.00"
        served_by = {e["worker"] for e in server.events("call")}
        assert served_by == {1, 2}
    finally:
        code = server.stop()
    assert code == 0
    # 0: the main process (the whole log in the message: this has failed once under load, unexplained)
    assert {e["worker"] for e in server.events("stopped")} == {0, 1, 2}, server.log_path.read_text()
    assert {type(e["worker"]) for e in server.events()} == {int}


def serve_again(port: int, *args: str) -> subprocess.CompletedProcess:
    """A second `promo serve` on `port`, run to its end (a refused one ends within seconds)."""
    return subprocess.run([sys.executable, "-m", "server.cli", "serve", "examples/seed/parallel", "--host", "127.0.0.1",
                           "--port", str(port), *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("first, second", [((), ()), (("--workers", "2"), ("--workers", "2")), ((), ("--workers", "2"))],
                         ids=["alone-alone", "workers-workers", "alone-workers"])
def test_a_second_serve_on_a_busy_port_exits_with_a_clear_error(tmp_path, first, second):
    server = ServerProcess("examples/seed/parallel", tmp_path / "log.jsonl", *first)
    try:
        server.wait_serving()
        again = serve_again(server.port, *second)
        assert again.returncode == 1
        refusal = json.loads(again.stderr.splitlines()[-1])
        assert refusal["event"] == "bind_failed" and refusal["worker"] == 0
        assert f"cannot listen on 127.0.0.1:{server.port}: Address already in use" in refusal["error"]
        assert "choose another --port" in refusal["error"]
        for _ in range(8):  # new connections, which the kernel would have split between the two
            with grpc.insecure_channel(server.target) as channel:
                assert pb_grpc.PromotionServiceStub(channel).Evaluate(cart(), timeout=10).totals.payable == "170.00"
    finally:
        assert server.stop() == 0


def test_a_port_another_serve_is_claiming_is_refused():
    # the moment between one serve's probe and its workers' listen: it holds the port's lock
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with socket.socket(socket.AF_UNIX) as lock:
        lock.bind(f"\0promo-serve:{port}")
        again = serve_again(port)
    assert again.returncode == 1
    assert "another `promo serve` is starting on it" in json.loads(again.stderr.splitlines()[-1])["error"]


def test_sigterm_lets_the_call_in_flight_finish(tmp_path):
    server = ServerProcess("examples/double11", tmp_path / "log.jsonl", "--grace", "120", "--max-lines", "40000",
                           "--max-call-seconds", "200",
                           "--log-level", "debug")
    try:
        server.wait_serving()
        big = cart("examples/double11/cart.json")
        lines = list(big.lines)
        del big.lines[:]
        for i in range(40_000):  # seconds of pricing: still running when SIGTERM arrives
            big.lines.add().CopyFrom(lines[i % len(lines)])
            big.lines[-1].id = f"l{i}"
        pending = server.stub.Evaluate.future(big, timeout=240)
        # the request is in (a signal while the client still sends it would not be about an
        # accepted call), and the server has then spent CPU on it: it is pricing
        server.wait_for("call_started", timeout=120, method="/promo.v1.PromotionService/Evaluate")
        busy = cpu_seconds(server.proc.pid)
        while cpu_seconds(server.proc.pid) < busy + 0.3:
            time.sleep(0.02)
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for("draining")
        # while it drains: health answers NOT_SERVING, a new call is refused so it can go elsewhere
        assert server.status() == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.RpcError) as refused:
            server.stub.Evaluate(cart("examples/double11/cart.json"), timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        reply = pending.result()
        assert len(reply.lines) >= 40_000  # and gift lines
        assert server.proc.wait(60) == 0
    finally:
        server.kill()
    names = [e["event"] for e in server.events()
             if e["event"] in ("draining", "stopped") or e["event"] == "call" and e["method"].endswith("/Evaluate")]
    assert names == ["draining", "call", "call", "stopped"]  # the refused one, then the one that ended in the drain
