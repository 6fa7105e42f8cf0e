"""The gRPC service (`promo serve`): PromotionService, health, reflection, graceful stop, workers.

One process = one grpcio server with its own plan and file watcher. `--workers N` starts N such
processes on one port (SO_REUSEPORT: the kernel spreads connections), because pricing is
CPU-bound Python and one process runs one core. The server does no pricing: it converts, calls
the engine and converts back.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from engine.analyze import analyze
from engine.load import load_sources
from engine.qualify import qualify
from engine.quote import evaluate
from server import convert
from server.gen.promo.v1 import promo_pb2 as pb
from server.gen.promo.v1 import promo_pb2_grpc as pb_grpc
from engine.request import RequestError
from server.interceptors import CallInterceptor, NoRuleset, _status, annotate
from server.reload import RulesetWatcher, Served

SERVICE = pb.DESCRIPTOR.services_by_name["PromotionService"].full_name


@dataclass(frozen=True)
class Settings:
    host: str = "[::]"
    port: int = 50051
    max_lines: int = 10_000  # lines per cart; more is RESOURCE_EXHAUSTED
    max_message_bytes: int = 4 * 1024 * 1024  # received message size; more is RESOURCE_EXHAUSTED
    threads: int = 8  # handler threads per process
    grace: float = 10.0  # seconds in-flight calls get to finish on SIGTERM
    log_format: str = "json"
    reload_interval: float = 0.5


def configure_logging(fmt: str) -> None:
    """structlog to stderr: one JSON object per line, or colourless console lines."""
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )


class PromotionServicer(pb_grpc.PromotionServiceServicer):
    def __init__(self, watcher: RulesetWatcher, settings: Settings):
        self.watcher = watcher
        self.settings = settings

    def _served(self) -> Served:
        served = self.watcher.current  # read once: this call uses this plan to the end
        if served is None:
            raise NoRuleset(f"no ruleset is loaded: `{self.watcher.root}` has not compiled yet")
        annotate(revision=served.plan.revision)
        return served

    def Evaluate(self, request, context):
        plan = self._served().plan
        return convert.evaluate_response(evaluate(plan, convert.to_request(request, plan, self.settings.max_lines)))

    def Qualify(self, request, context):
        plan = self._served().plan
        cart = convert.to_request(request.cart, plan, self.settings.max_lines)
        return convert.qualify_response(qualify(plan, cart), request.operator)

    def ValidateRules(self, request, context):
        loaded = load_sources(convert.source_files(request))
        return pb.ValidateRulesResponse(ok=loaded.ok, diagnostics=[convert.diagnostic(d) for d in loaded.diagnostics])

    def AnalyzePrices(self, request, context):
        """Streams one finding per item (engine/analyze.py prices; this only converts). Errors
        are mapped here: the call interceptor wraps unary calls only."""
        try:
            plan = self._served().plan
            items, options = convert.to_analyze(request, plan, self.settings.max_lines)
        except RequestError as err:
            context.abort_with_status(_status(grpc.StatusCode.INVALID_ARGUMENT, f"{err.field}: {err.message}",
                                              (err.field, err.message), _request_id(context)))
        except convert.LimitExceeded as err:
            context.abort_with_status(_status(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{err.field}: {err.message}",
                                              (err.field, err.message), _request_id(context)))
        except NoRuleset as err:
            context.abort_with_status(_status(grpc.StatusCode.FAILED_PRECONDITION, str(err), None, _request_id(context)))
        for finding in analyze(plan, items, options):
            if not context.is_active():  # the client went away or the deadline passed
                return
            yield convert.price_finding(finding, plan)

    def GetRuleset(self, request, context):
        served = self._served()
        return convert.ruleset_response(served.plan, served.loaded_at)


def _request_id(context) -> str:
    import uuid

    return dict(context.invocation_metadata()).get("x-request-id") or uuid.uuid4().hex


def serve(rules: str, settings: Settings, worker: int = 0) -> int:
    """Run one server process until SIGTERM/SIGINT; 0 after a graceful stop."""
    configure_logging(settings.log_format)
    log = structlog.get_logger().bind(worker=worker)
    health_servicer = health.HealthServicer()
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def serving(_served: Served) -> None:
        for name in ("", SERVICE):
            health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    watcher = RulesetWatcher(rules, log, on_swap=serving, interval=settings.reload_interval)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="rpc"),
        interceptors=[CallInterceptor(log)],
        options=[("grpc.so_reuseport", 1), ("grpc.max_receive_message_length", settings.max_message_bytes)],
        maximum_concurrent_rpcs=settings.threads * 32,  # beyond: RESOURCE_EXHAUSTED instead of an unbounded queue
    )
    pb_grpc.add_PromotionServiceServicer_to_server(PromotionServicer(watcher, settings), server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(f"{settings.host}:{settings.port}")
    except RuntimeError as err:
        log.error("bind_failed", host=settings.host, port=settings.port, error=str(err))
        return 1

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    server.start()  # health says NOT_SERVING until the first ruleset compiles
    log.info("listening", host=settings.host, port=port, threads=settings.threads)
    watcher.start()
    stop.wait()
    log.info("draining", grace_s=settings.grace)
    health_servicer.enter_graceful_shutdown()  # NOT_SERVING, so balancers stop sending
    watcher.stop()
    server.stop(settings.grace).wait()  # new calls refused, calls in flight finish
    log.info("stopped")
    return 0


# ---- several worker processes on one port -----------------------------------------------------


def _reserve(host: str, port: int) -> socket.socket:
    """A bound (not listening) SO_REUSEPORT socket: it fixes the port for `--port 0` and keeps
    other programs off it while the workers bind the same port."""
    bare = host.strip("[]")
    sock = socket.socket(socket.AF_INET6 if ":" in bare else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((bare, port))
    return sock


def run_workers(rules: str, settings: Settings, workers: int) -> int:
    """Start `workers` server processes on one port; forward SIGTERM/SIGINT; if one dies, stop all
    (the process supervisor restarts the service)."""
    if workers <= 1:
        return serve(rules, settings)
    configure_logging(settings.log_format)
    log = structlog.get_logger().bind(worker="main")
    try:
        reservation = _reserve(settings.host, settings.port)
    except OSError as err:
        log.error("bind_failed", host=settings.host, port=settings.port, error=str(err))
        return 1
    port = reservation.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")  # no fork after grpc: start clean interpreters
    procs = [ctx.Process(target=_worker_main, args=(rules, Settings(**{**settings.__dict__, "port": port}), i + 1),
                         name=f"promo-worker-{i + 1}") for i in range(workers)]
    stopping = threading.Event()

    def forward(signum, frame):
        stopping.set()
        for p in procs:
            if p.is_alive() and p.pid:
                p.terminate()  # SIGTERM: the worker drains

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    for p in procs:
        p.start()
    log.info("workers", count=workers, port=port, pids=[p.pid for p in procs])
    code = 0
    while any(p.is_alive() for p in procs):
        for p in procs:
            p.join(0.2)
            if not p.is_alive() and p.exitcode not in (0, None) and not stopping.is_set():
                log.error("worker_died", pid=p.pid, exitcode=p.exitcode)
                code = 1
                forward(signal.SIGTERM, None)
    reservation.close()
    log.info("stopped", exitcode=code)
    return code


def _worker_main(rules: str, settings: Settings, worker: int) -> None:
    sys.exit(serve(rules, settings, worker))
