"""gRPC bench: what the service costs per Evaluate call besides the engine, its throughput per
worker, and its latency at a fixed offered load.

One run measures, on the double11 cart:
- the engine alone: CPU per `evaluate` in this process (the request converted once);
- the empty handler (this file's `--echo` mode, not part of the product): a server that takes the
  same request bytes and answers as many bytes as Evaluate does, its process CPU per call; on the
  sync grpcio server `promo serve` runs, and on grpc.aio (`--echo-aio`), the other server model;
- Evaluate through `promo serve`: the server's CPU per call (the whole process tree, from
  /proc/PID/stat, less what it burns idle over the same time), and the engine's inside it (each
  call's log line has `engine_ms`, the handler thread's CPU time in `evaluate`), hence the
  service's own CPU per call = server CPU - engine CPU on the same calls, and its ratio to the
  engine's (issue 17's goal: <= 0.25). The engine in the server takes more CPU than in a loop
  of its own (caches shared with the transport, the clients and other work on the cores): the
  loop's figure is printed beside it;
- the clients' own CPU per call (their processes' CPU time over the calls): they run on the same
  cores as the servers, so what they take is a share of the machine the server does not get;
- calls/s with as many client processes as `--clients` (closed loop: the most it serves), per
  worker count, and p50/p99 with the clients sending at half that rate (open loop: latency from
  the time each call was due, so a server that falls behind is not hidden);
- where one call's time goes in-process (proto -> engine, evaluate, engine -> proto).
Clients are processes (not threads: one Python process would measure its own GIL) sending
pre-serialized bytes, so every target costs the client the same.

Run: `.venv/bin/python bench/grpc.py [--calls 2000] [--clients 4] [--pack examples/double11] [--workers 1,2] [--json]`
Bounded: a fixed number of calls per configuration, 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
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


def echo_server_aio(port: int, answer_size: int) -> None:
    """The empty handler on grpc.aio (one event loop, no handler threads): the other server model."""
    import asyncio

    answer = b"\0" * answer_size

    async def call(request, context):
        return answer

    async def main() -> None:
        handler = grpc.method_handlers_generic_handler("bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call)})
        server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
        server.add_generic_rpc_handlers((handler,))
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        print("ready", flush=True)
        stopped = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
        await stopped.wait()
        await server.stop(1)

    asyncio.run(main())


# ---- clients -------------------------------------------------------------------------------------


def client(target: str, method: str, payload: bytes, calls: int) -> tuple[float, float, list[float], int, float]:
    """`calls` sequential calls on one channel: (start, end, latencies in ms, failures, this
    client process's CPU seconds over the calls: what it takes of the cores the server shares)."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method)  # bytes in, bytes out
        for _ in range(20):  # connect and warm up, not measured
            call(payload, timeout=30)
        latencies, failed = [], 0
        cpu = time.process_time()
        start = time.perf_counter()
        for _ in range(calls):
            t = time.perf_counter()
            try:
                call(payload, timeout=30)
            except grpc.RpcError:
                failed += 1
            latencies.append((time.perf_counter() - t) * 1000)
        return start, time.perf_counter(), latencies, failed, time.process_time() - cpu


def paced(target: str, method: str, payload: bytes, calls: int, rate: float, offset: float,
          start_at: float) -> tuple[list[float], int]:
    """`calls` calls at `rate` calls/s from `start_at` (time.time()) + `offset` s, each sent when
    it is due without waiting for the one before (open loop): (latencies in ms from when each was
    due, failures)."""
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(method)
        for _ in range(20):
            call(payload, timeout=30)
        base = time.perf_counter() + (start_at - time.time()) + offset
        latencies: list[float] = []
        failed = [0]

        def done(future, due: float) -> None:
            if future.exception() is not None:
                failed[0] += 1
            latencies.append((time.perf_counter() - due) * 1000)

        pending = []
        for i in range(calls):
            due = base + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            future = call.future(payload, timeout=30)
            future.add_done_callback(lambda f, due=due: done(f, due))
            pending.append(future)
        for future in pending:
            future.exception()  # waits for it
        deadline = time.monotonic() + 10
        while len(latencies) < calls and time.monotonic() < deadline:  # the last callbacks
            time.sleep(0.01)
        return latencies, failed[0]


def load(target: str, method: str, payload: bytes, calls: int, clients: int) -> dict:
    """Closed loop: `clients` processes calling back to back; calls/s over the wall time from the
    first call to the last."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(clients) as pool:
        results = pool.starmap(client, [(target, method, payload, calls // clients)] * clients)
    latencies = sorted(x for r in results for x in r[2])
    wall = max(r[1] for r in results) - min(r[0] for r in results)
    return {"calls": len(latencies), "failed": sum(r[3] for r in results), "per_s": len(latencies) / wall,
            "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1],
            "client_cpu_ms": sum(r[4] for r in results) / len(latencies) * 1000}


def measured_load(target: str, method: str, payload: bytes, calls: int, clients: int, pids: list[int],
                  log: Path | None = None) -> dict:
    """`load`, with the server's CPU per call: its processes' CPU (each with its descendants) over
    the run, less their idle CPU over the same wall time (measured just before). The calls of
    the clients' warm-up are counted in (20 a client). With the server's `log`: the engine's CPU
    per call inside the server too (the mean `engine_ms` of the run's `call` lines)."""
    cpu_now = lambda: sum(tree_cpu(pid) for pid in pids)  # noqa: E731
    idle_from, idle_cpu = time.perf_counter(), cpu_now()
    time.sleep(1.0)
    idle_rate = (cpu_now() - idle_cpu) / (time.perf_counter() - idle_from)
    logged = len(log.read_text(encoding="utf-8").splitlines()) if log else 0
    wall_from, cpu_from = time.perf_counter(), cpu_now()
    result = load(target, method, payload, calls, clients)
    cpu = cpu_now() - cpu_from - idle_rate * (time.perf_counter() - wall_from)
    served = result["calls"] + 20 * clients
    out = {**result, "cpu_ms": cpu / served * 1000, "idle_cpu_per_s": idle_rate}
    if log:
        time.sleep(0.5)  # the last lines
        engine = [e["engine_ms"] for e in map(_event, log.read_text(encoding="utf-8").splitlines()[logged:])
                  if e.get("event") == "call" and "engine_ms" in e]
        out["engine_in_server_ms"] = statistics.fmean(engine)
        out["engine_lines"] = len(engine)
    return out


def _event(line: str) -> dict:
    try:
        return json.loads(line)
    except json.JSONDecodeError:  # not a log line (a traceback from outside the logger)
        return {}


def offered_load(target: str, method: str, payload: bytes, calls: int, clients: int, rate: float) -> dict:
    """Open loop at `rate` calls/s in all from `clients` processes (staggered): p50/p99 from when
    each call was due."""
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # after every client has started and warmed up
    with ctx.Pool(clients) as pool:
        results = pool.starmap(paced, [(target, method, payload, calls // clients, rate / clients, k / rate, start_at)
                                       for k in range(clients)])
    latencies = sorted(x for r in results for x in r[0])
    return {"rate": rate, "calls": len(latencies), "failed": sum(r[1] for r in results),
            "p50": statistics.median(latencies), "p99": latencies[int(len(latencies) * 0.99) - 1]}


# ---- CPU of a process tree -------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process, from /proc/PID/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after the command, which may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` and every descendant alive now (a `--workers N` server's workers)."""
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p))) is not None}
    tree, total, grew = {pid}, 0.0, True
    while grew:
        grew = False
        for child, (parent, _) in stats.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    for p in tree:
        total += stats[p][1] if p in stats else 0.0
    return total


# ---- servers -------------------------------------------------------------------------------------


def start_promo(pack: str, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    # pricing only (--no-ledger): with a ledger Evaluate also reads it, which bench/ledger.py measures
    proc = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", pack, "--host", "127.0.0.1", "--port", "0",
                             "--workers", str(workers), "--no-ledger"], cwd=ROOT, stderr=log.open("w"),
                            stdout=subprocess.DEVNULL)
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


def start_echo(workers: int, answer_size: int, aio: bool = False) -> tuple[list[subprocess.Popen], int, socket.socket]:
    hold = socket.socket()  # fixes a free port for all echo processes (see server/app.py _reserve)
    hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    hold.bind(("127.0.0.1", 0))
    port = hold.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, __file__, "--echo-aio" if aio else "--echo", str(port), str(answer_size)],
                              stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    return procs, port, hold


def stop(procs) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(30)


# ---- in-process -----------------------------------------------------------------------------------


def in_process(pack: str, request_bytes: bytes, repeat: int = 300) -> dict:
    """The engine's CPU per evaluate (mean over `repeat` calls, this process's CPU clock), and the
    split of one call (median ms): proto -> engine, evaluate, engine -> proto."""
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

    def cpu_ms(fn) -> float:
        for _ in range(20):
            fn()
        start = time.process_time()
        for _ in range(repeat):
            fn()
        return (time.process_time() - start) / repeat * 1000

    engine = cpu_ms(lambda: evaluate(plan, request))
    split = {"proto -> engine": median_ms(lambda: convert.to_request(pb.EvaluateRequest.FromString(request_bytes),
                                                                    plan, 10_000)),
             "evaluate": median_ms(lambda: evaluate(plan, request)),
             "engine -> proto": median_ms(lambda: convert.evaluate_response(quote).SerializeToString())}
    return {"engine_cpu_ms": engine, "split": split}


def measure(pack: str = "examples/double11", calls: int = 2000, clients: int = 4, workers=(1, 2)) -> dict:
    """Evaluate and the empty handler, `calls` calls from `clients` client processes, per worker
    count, then Evaluate at half the calls/s it reached; and the engine in-process: {"rows":
    [(target, workers, stats)], "offered": [(workers, stats)], "engine_cpu_ms", "split", ...}."""
    from google.protobuf import json_format

    from server.gen.promo.v1 import promo_pb2 as pb

    cart = json.loads((ROOT / pack / "cart.json").read_text(encoding="utf-8"))
    payload = json_format.ParseDict(cart, pb.EvaluateRequest()).SerializeToString()
    engine = in_process(pack, payload)  # first, while the machine holds no server
    rows, offered = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in workers:
            log = Path(tmp) / f"serve-{n}.log"
            proc, port = start_promo(pack, n, log)
            target = f"127.0.0.1:{port}"
            try:
                with grpc.insecure_channel(target) as ch:
                    answer_size = len(ch.unary_unary(METHOD)(payload, timeout=30))
                evaluate_row = measured_load(target, METHOD, payload, calls, clients, [proc.pid], log)
                rows.append(("Evaluate", n, evaluate_row))
                offered.append((n, offered_load(target, METHOD, payload, calls, clients, evaluate_row["per_s"] / 2)))
            finally:
                stop([proc])
            for name, aio in (("empty handler", False), ("empty handler, grpc.aio", True)):
                echoes, port, hold = start_echo(n, answer_size, aio)
                try:
                    rows.append((name, n, measured_load(f"127.0.0.1:{port}", ECHO, payload, calls, clients,
                                                        [p.pid for p in echoes])))
                finally:
                    stop(echoes)
                    hold.close()
    return {"rows": rows, "offered": offered, "request": len(payload), "response": answer_size, "clients": clients,
            "calls": calls, **engine}


def summary(result: dict) -> dict:
    """The figures issue 17 asks for, from `measure`'s result: per worker count, the service's own
    CPU per call and its ratio to the engine's, calls/s per worker, and Evaluate's calls/s with
    one worker against the best a Python server can do (1 / (empty handler + engine) CPU)."""
    by = {(name, w): r for name, w, r in result["rows"]}
    out = {}
    for w in sorted({w for _, w, _ in result["rows"]}):
        ev, echo, aio = by[("Evaluate", w)], by[("empty handler", w)], by.get(("empty handler, grpc.aio", w))
        engine = ev["engine_in_server_ms"]  # what `evaluate` took in the server, on the same calls
        own = ev["cpu_ms"] - engine
        out[w] = {"evaluate_cpu_ms": ev["cpu_ms"], "empty_cpu_ms": echo["cpu_ms"], "engine_cpu_ms": engine,
                  "engine_alone_cpu_ms": result["engine_cpu_ms"], "empty_aio_cpu_ms": aio["cpu_ms"] if aio else None,
                  "own_cpu_ms": own, "own_ratio": own / engine, "own_beyond_empty_ms": own - echo["cpu_ms"],
                  "per_s": ev["per_s"], "per_s_per_worker": ev["per_s"] / w,
                  "best_per_s": 1000 / (echo["cpu_ms"] + engine), "of_best": ev["per_s"] / w / (1000 / (echo["cpu_ms"] + engine)),
                  "best_alone_per_s": 1000 / (echo["cpu_ms"] + result["engine_cpu_ms"])}
    return out


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
        print(json.dumps({**result, "summary": summary(result)}))
        return
    print(f"{args.pack}/cart.json: request {result['request']} B, response {result['response']} B; "
          f"{args.clients} client processes, {args.calls} calls per row, {multiprocessing.cpu_count()} CPUs\n")
    print(f"{'target':<14} {'workers':>7} {'calls':>6} {'failed':>6} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'server CPU ms/call':>19} {'client CPU ms/call':>19}")
    for name, workers, r in result["rows"]:
        print(f"{name:<14} {workers:>7} {r['calls']:>6} {r['failed']:>6} {r['per_s']:>9.0f} {r['p50']:>8.2f} "
              f"{r['p99']:>8.2f} {r['cpu_ms']:>19.3f} {r['client_cpu_ms']:>19.3f}")
    print(f"\nengine alone (evaluate in a loop in this process): {result['engine_cpu_ms']:.3f} ms CPU per call")
    for w, s in summary(result).items():
        print(f"{w} worker(s): engine in the server {s['engine_cpu_ms']:.3f} ms; "
              f"service's own CPU per call {s['own_cpu_ms']:.3f} ms = {s['own_ratio']:.2f}x the engine's "
              f"(goal <= 0.25; the empty handler alone {s['empty_cpu_ms']:.3f} ms); {s['per_s_per_worker']:.0f} calls/s "
              f"per worker = {s['of_best']:.2f}x 1/(empty + engine CPU) = {s['best_per_s']:.0f}/s")
    for w, r in result["offered"]:
        print(f"{w} worker(s) at {r['rate']:.0f} calls/s offered (half the max): p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms "
              f"(p99/p50 {r['p99'] / r['p50']:.1f}), {r['failed']} failed of {r['calls']}")
    print("\nin-process, one call (median ms):")
    for step, ms in result["split"].items():
        print(f"  {step:<16} {ms:8.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--echo":
        echo_server(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--echo-aio":
        echo_server_aio(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
