"""gRPC bench: Evaluate over loopback against the transport ceiling, with 1 and 2 workers.

The ceiling is an empty handler (this file's `--echo` mode, not part of the product) that takes
the same request bytes and answers with as many bytes as Evaluate does, run with as many
processes on one port. Clients are processes (not threads: one Python process would measure its
own GIL) sending pre-serialized bytes, so both targets cost the client the same. Also printed:
where one call's time goes in-process (proto -> engine, evaluate, engine -> proto).

Run: `.venv/bin/python bench/grpc.py [--calls 2000] [--clients 4] [--pack examples/double11] [--workers 1,2] [--json]`
Bounded: a fixed number of calls per configuration, 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent import futures
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# this file is named grpc.py: keep its folder off the path so `import grpc` is the library
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

METHOD = "/promo.v1.PromotionService/Evaluate"
ECHO = "/bench.Echo/Call"


# ---- the empty handler ---------------------------------------------------------------------------


def echo_server(port: int, answer_size: int) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # delivered to sigwait below
    answer = b"\0" * answer_size
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(lambda request, context: answer)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.so_reuseport", 1)])
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM})
    server.stop(1).wait()


# ---- clients -------------------------------------------------------------------------------------


def client(target: str, method: str, payload: bytes, calls: int) -> tuple[float, float, list[float], int]:
    """`calls` sequential calls on one channel: (start, end, latencies in ms, failures)."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method)  # bytes in, bytes out
        for _ in range(20):  # connect and warm up, not measured
            call(payload, timeout=30)
        latencies, failed = [], 0
        start = time.perf_counter()
        for _ in range(calls):
            t = time.perf_counter()
            try:
                call(payload, timeout=30)
            except grpc.RpcError:
                failed += 1
            latencies.append((time.perf_counter() - t) * 1000)
        return start, time.perf_counter(), latencies, failed


def load(target: str, method: str, payload: bytes, calls: int, clients: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(clients) as pool:
        results = pool.starmap(client, [(target, method, payload, calls // clients)] * clients)
    latencies = sorted(x for r in results for x in r[2])
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    return {"calls": len(latencies), "failed": sum(r[3] for r in results), "per_s": len(latencies) / wall,
            "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1]}


# ---- servers -------------------------------------------------------------------------------------


def start_promo(pack: str, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", pack, "--host", "127.0.0.1", "--port", "0",
                             "--workers", str(workers)], cwd=ROOT, stderr=log.open("w"), stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        loaded = [e for e in events if e["event"] == "ruleset_loaded"]
        if len(loaded) >= workers:
            return proc, next(e["port"] for e in events if e["event"] == "listening")
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"promo serve did not start:\n{log.read_text()}")


def start_echo(workers: int, answer_size: int) -> tuple[list[subprocess.Popen], int, socket.socket]:
    hold = socket.socket()  # fixes a free port for all echo processes (see server/app.py _reserve)
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    hold.bind(("127.0.0.1", 0))
    port = hold.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, __file__, "--echo", str(port), str(answer_size)],
                              stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    return procs, port, hold


def stop(procs) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(30)


# ---- in-process split --------------------------------------------------------------------------


def split(pack: str, request_bytes: bytes, repeat: int = 300) -> dict[str, float]:
    from engine.lang.load import load_ruleset
    from engine.plan.compiler import compile_plan
    from engine.pricing.quote import evaluate
    from server.gen.promo.v1 import promo_pb2 as pb
    from server.service import convert

    plan = compile_plan(load_ruleset(pack))
    message = pb.EvaluateRequest.FromString(request_bytes)
    request = convert.to_request(message, plan, 10_000)
    quote = evaluate(plan, request)

    def median_ms(fn) -> float:
        runs = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            runs.append((time.perf_counter() - t) * 1000)
        return statistics.median(runs)

    return {"proto -> engine": median_ms(lambda: convert.to_request(pb.EvaluateRequest.FromString(request_bytes), plan, 10_000)),
            "evaluate": median_ms(lambda: evaluate(plan, request)),
            "engine -> proto": median_ms(lambda: convert.evaluate_response(quote).SerializeToString())}


def measure(pack: str = "examples/double11", calls: int = 2000, clients: int = 4, workers=(1, 2)) -> dict:
    """Evaluate and the empty handler, `calls` calls from `clients` client processes, per worker
    count: {"rows": [(target, workers, stats)], "request": bytes, "response": bytes, "split": {...}}."""
    from google.protobuf import json_format

    from server.gen.promo.v1 import promo_pb2 as pb

    cart = json.loads((ROOT / pack / "cart.json").read_text(encoding="utf-8"))
    payload = json_format.ParseDict(cart, pb.EvaluateRequest()).SerializeToString()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in workers:
            proc, port = start_promo(pack, n, Path(tmp) / f"serve-{n}.log")
            try:
                with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
                    answer_size = len(ch.unary_unary(METHOD)(payload, timeout=30))
                rows.append(("Evaluate", n, load(f"127.0.0.1:{port}", METHOD, payload, calls, clients)))
            finally:
                stop([proc])
            echoes, port, hold = start_echo(n, answer_size)
            try:
                rows.append(("empty handler", n, load(f"127.0.0.1:{port}", ECHO, payload, calls, clients)))
            finally:
                stop(echoes)
                hold.close()
    return {"rows": rows, "request": len(payload), "response": answer_size, "clients": clients, "calls": calls,
            "split": split(pack, payload)}


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate over loopback vs an empty handler")
    parser.add_argument("--calls", type=int, default=2000, help="calls per configuration")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--pack", default="examples/double11")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma separated")
    parser.add_argument("--json", action="store_true", help="print measure()'s result as JSON (bench/run.py)")
    args = parser.parse_args()

    result = measure(args.pack, args.calls, args.clients, tuple(int(w) for w in args.workers.split(",")))
    if args.json:
        print(json.dumps(result))
        return
    rows = result["rows"]
    print(f"{args.pack}/cart.json: request {result['request']} B, response {result['response']} B; "
          f"{args.clients} client processes, {args.calls} calls per row, {multiprocessing.cpu_count()} CPUs\n")
    print(f"{'target':<14} {'workers':>7} {'calls':>6} {'failed':>6} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, workers, r in rows:
        print(f"{name:<14} {workers:>7} {r['calls']:>6} {r['failed']:>6} {r['per_s']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f}")
    print()
    by = {(name, w): r for name, w, r in rows}
    for w in sorted({w for _, w, _ in rows}):
        ev, echo = by[("Evaluate", w)], by[("empty handler", w)]
        print(f"{w} worker(s): Evaluate runs at {ev['per_s'] / echo['per_s']:.2f}x the empty handler's calls/s, "
              f"p50 {ev['p50'] / echo['p50']:.1f}x")
    print("\nin-process, one call (median ms):")
    for step, ms in result["split"].items():
        print(f"  {step:<16} {ms:8.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--echo":
        echo_server(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
