"""The gRPC service (`promo serve`): PromotionService, health, reflection, graceful stop, workers.

One process = one grpcio server with its own plan and file watcher. `--workers N` starts N such
processes on one port (SO_REUSEPORT: the kernel spreads connections), because pricing is
CPU-bound Python and one process runs one core. Only the workers of one `promo serve` share a
port: `claim_port` refuses a port something already listens on. The server does no pricing: it
converts, calls the engine and converts back.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
from collections.abc import Callable, MutableMapping
from concurrent import futures
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from engine.apps.analyze.search import analyze
from engine.apps.qualify import qualify
from engine.base.text import clip
from engine.lang.load import load_sources
from engine.pricing.limits import BUDGET, Limits
from engine.pricing.quote import evaluate
from server.gen.promo.v1 import promo_pb2 as pb
from server.gen.promo.v1 import promo_pb2_grpc as pb_grpc
from server.ledger.clock import FileClock, utc_now
from server.service import convert, decisions, metrics
from server.service.interceptors import CallInterceptor, Calls, NoRuleset, annotate
from server.service.reload import RulesetWatcher, Served

SERVICE = pb.DESCRIPTOR.services_by_name["PromotionService"].full_name
FLUSH = 0.5  # seconds a stop waits, after the last call ended, for its answer to be written out
HEALTH_THREADS = 2  # health checks' own threads: busy handler threads never keep a probe waiting
# Of the time a call has, the engine leaves this share (at most RESERVE_MAX seconds) to build and
# send the answer: a search that stopped at the deadline itself would answer a client gone.
RESERVE, RESERVE_MAX = 0.2, 0.5


@dataclass(frozen=True)
class TLS:
    """PEM bytes read once by the main process (workers get them, not the paths)."""

    cert: bytes
    key: bytes = field(repr=False)
    client_ca: bytes | None = None  # set: every client must present a certificate this CA signed

    @classmethod
    def load(cls, cert: str | None, key: str | None, client_ca: str | None) -> TLS | None:
        """The files of --tls-cert/--tls-key/--tls-client-ca, checked now (grpcio would only fail
        at the first handshake); None without them. ValueError says what is wrong."""
        if not (cert or key or client_ca):
            return None
        if not (cert and key):
            raise ValueError("--tls-cert and --tls-key go together" + (" (--tls-client-ca needs both)" if client_ca else ""))
        check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:  # a password callback, or OpenSSL would prompt on the terminal for an encrypted key
            check.load_cert_chain(cert, key, password=_no_password)
        except (OSError, ssl.SSLError, ValueError) as err:
            raise ValueError(f"--tls-cert `{cert}` / --tls-key `{key}`: {err}") from None
        try:
            if client_ca:
                check.load_verify_locations(client_ca)
        except (OSError, ssl.SSLError) as err:
            raise ValueError(f"--tls-client-ca `{client_ca}`: {err}") from None
        return cls(Path(cert).read_bytes(), Path(key).read_bytes(), Path(client_ca).read_bytes() if client_ca else None)

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.client_ca,
                                           require_client_auth=self.client_ca is not None)


def _no_password() -> bytes:
    raise ValueError("the key is encrypted; grpcio needs it unencrypted (`openssl pkey -in KEY -out PLAIN`)")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"  # loopback unless told: exposing the service is a decision (docs/service.md)
    port: int = 50051
    max_lines: int = 10_000  # lines per cart; more is RESOURCE_EXHAUSTED
    max_message_bytes: int = 4 * 1024 * 1024  # received message size; more is RESOURCE_EXHAUSTED
    max_wallet: int = convert.MAX_WALLET  # coupons per wallet, repeats collapsed; more is RESOURCE_EXHAUSTED
    max_source_bytes: int = 1024 * 1024  # ValidateRules source per call; more is RESOURCE_EXHAUSTED
    max_diagnostics: int = 100  # ValidateRules diagnostics answered (the first ones; all are counted)
    max_response_bytes: int = 16 * 1024 * 1024  # an answer; larger is RESOURCE_EXHAUSTED
    max_call_seconds: float = 10.0  # the engine's time for one call, whatever deadline the client set
    search_budget: int = BUDGET  # choices one combination search prices before it answers the best found
    threads: int = 8  # handler threads per process
    grace: float = 10.0  # seconds in-flight calls get to finish on SIGTERM
    log_format: str = "json"
    log_level: str = "info"  # health checks are logged at debug
    reload_interval: float = 0.5
    reflection: bool = True
    tls: TLS | None = None
    ledger: str | None = None  # the ledger's database URL (LedgerService, server/service/ledger.py); None: pricing only
    metrics_port: int | None = None  # serve Prometheus /metrics on host:port (server/service/metrics.py); 0: a free port
    decision_log: str | None = None  # one JSON line per Evaluate/Reserve answered (server/service/decisions.py)
    decision_log_max_bytes: int = decisions.MAX_BYTES  # a decision log file's size before it is rotated
    decision_log_keep: int = decisions.KEEP  # rotated decision log files kept
    clock_file: str | None = None  # a test's fake clock (`--clock-file`, server/ledger/clock.py FileClock); None: the real one


LOG_FIELD = 4000  # characters of one log field; a traceback keeps its end


def _bounded(logger: object, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """No field of a log line is unbounded, whatever a request or a rule file held."""
    for key, value in event.items():
        if isinstance(value, str):
            if len(value) > LOG_FIELD:
                event[key] = "…" + value[-LOG_FIELD:] if key == "exception" else clip(value, LOG_FIELD)
        elif isinstance(value, list):
            event[key] = [clip(v, LOG_FIELD) if isinstance(v, str) else v for v in value]
    return event


class _Stamp:
    """structlog's add_log_level, TimeStamper(fmt="iso", utc=True), format_exc_info and `_bounded`
    in one processor, the same fields in the same order (`level`, then `timestamp`): one call
    instead of four on every call's log line, and the date and time to the second formatted once
    a second (3.4 vs 4.5 µs a line)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, logger: object, name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        event["level"] = _LEVEL_NAMES.get(name, name)
        now = time.time()
        second = int(now)
        if second != self._second:  # a race here writes the same text twice
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1e6):06d}Z"
        if "exc_info" in event:
            event = structlog.processors.format_exc_info(logger, name, event)
        return _bounded(logger, name, event)


_LEVEL_NAMES = {"warn": "warning", "exception": "error"}  # add_log_level's renames


def configure_logging(fmt: str, level: str = "info") -> None:
    """structlog to stderr: one JSON object per line, or colourless console lines. Loggers are
    cached on first use and filter by level when made, so a disabled level costs a no-op call."""
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[_Stamp(), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.WriteLoggerFactory(sys.stderr),  # a line in one write: workers share the file
        cache_logger_on_first_use=True,
    )


class PromotionServicer(pb_grpc.PromotionServiceServicer):
    def __init__(self, watcher: RulesetWatcher, settings: Settings, clock: Callable[[], datetime] = utc_now):
        self.watcher = watcher
        self.settings = settings
        self.clock = clock  # a cart's (and AnalyzePrices') `at` when the request has none: the ledger's clock too
        # with a ledger: (plan, cart, field prefix) -> the engine's read-only view of it for the
        # cart (server/service/ledger.py ViewReader); None: pricing only, `user.usage` counts
        self.ledger_view: Callable[..., Any] | None = None

    def _view(self, plan, cart, prefix: str = ""):
        return None if self.ledger_view is None else self.ledger_view(plan, cart, prefix)

    def _sold(self, plan, cart):
        """With a ledger, the cart with its presales' units sold from the ledger (not the request's)."""
        return cart if self.ledger_view is None else self.ledger_view.with_sold(plan, cart)

    def _served(self) -> Served:
        served = self.watcher.current  # read once: this call uses this plan to the end
        if served is None:
            raise NoRuleset(f"no ruleset is loaded: `{self.watcher.root}` has not compiled yet")
        annotate(revision=served.plan.revision)
        return served

    def _limits(self, context) -> Limits:
        """The engine's limits for this call: the search budget, and the call's deadline or the
        server's limit on one call, whichever comes first, less the reserve for the answer."""
        remaining = min(context.time_remaining(), self.settings.max_call_seconds)
        return Limits(budget=self.settings.search_budget,
                      deadline=time.monotonic() + remaining - min(RESERVE * remaining, RESERVE_MAX))

    def _cart(self, request, plan):
        return convert.to_request(request, plan, self.settings.max_lines, self.settings.max_wallet, self.clock)

    def Evaluate(self, request, context):
        plan = self._served().plan
        cart = self._sold(plan, self._cart(request, plan))
        started = time.thread_time()  # the engine's CPU for the call's log line (bench/grpc.py reads it)
        quote = evaluate(plan, cart, self._limits(context), ledger=self._view(plan, cart))
        annotate(engine_ms=round((time.thread_time() - started) * 1000, 3))
        return convert.evaluate_response(quote)

    def Qualify(self, request, context):
        plan = self._served().plan
        cart = self._sold(plan, self._cart(request.cart, plan))
        return convert.qualify_response(qualify(plan, cart, self._limits(context), ledger=self._view(plan, cart, "cart.")),
                                        request.operator)

    def ValidateRules(self, request, context):
        loaded = load_sources(convert.source_files(request, self.settings.max_source_bytes))
        shown = loaded.diagnostics[:self.settings.max_diagnostics]  # the first ones, in file and position order
        return pb.ValidateRulesResponse(ok=loaded.ok, diagnostics=[convert.diagnostic(d) for d in shown],
                                        diagnostics_total=len(loaded.diagnostics))

    def AnalyzePrices(self, request, context):
        """Streams one finding per item (engine/analyze.py prices; this only converts), after
        every item is checked; past the deadline no item is started (DEADLINE_EXCEEDED ends the
        stream after the findings sent)."""
        plan = self._served().plan
        limits = self._limits(context)
        items, options = convert.to_analyze(request, plan, self.settings.max_lines, self.clock)
        for finding in analyze(plan, _until(limits, items), replace(options, limits=limits)):
            if not context.is_active():  # the client went away
                return
            yield convert.price_finding(finding, plan)

    def GetRuleset(self, request, context):
        served = self._served()
        return convert.ruleset_response(served.plan, served.loaded_at)


def _until(limits: Limits, items):
    """`items` one by one while the deadline is ahead; then DeadlineExceeded."""
    for item in items:
        limits.check()
        yield item


@dataclass(frozen=True)
class Service:
    """One process's server, built and bound but not started."""

    server: grpc.Server
    port: int
    watcher: RulesetWatcher
    health: health.HealthServicer
    calls: Calls


def build(rules: str, settings: Settings, log, shared: bool = False) -> Service:
    """The grpcio server with the services and the call interceptor, bound to host:port (with
    SO_REUSEPORT only when `shared`: the port's other sockets are this `promo serve`'s workers).
    RuntimeError if the port cannot be bound."""
    health_servicer = health.HealthServicer()
    calls = Calls()
    for name in ("", SERVICE):
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def serving(_served: Served) -> None:
        for name in ("", SERVICE):
            health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    watcher = RulesetWatcher(rules, log, on_swap=serving, interval=settings.reload_interval)
    health_pool = futures.ThreadPoolExecutor(max_workers=HEALTH_THREADS, thread_name_prefix="health")
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="rpc"),
        interceptors=[CallInterceptor(log, calls, health_pool, max_answer_bytes=settings.max_response_bytes)],
        options=[("grpc.so_reuseport", int(shared)), ("grpc.max_receive_message_length", settings.max_message_bytes),
                 ("grpc.max_send_message_length", settings.max_response_bytes)],
        maximum_concurrent_rpcs=settings.threads * 32,  # beyond: RESOURCE_EXHAUSTED instead of an unbounded queue
    )
    # one clock for every "now" of pricing and the ledger (log lines and GetRuleset's loaded_at keep the real one)
    clock = FileClock(settings.clock_file) if settings.clock_file is not None else utc_now
    promotions = PromotionServicer(watcher, settings, clock)
    pb_grpc.add_PromotionServiceServicer_to_server(decisions.instrument(promotions), server)
    ledger_services: tuple[str, ...] = ()
    if settings.ledger is not None:  # beside the pricing service, on the same handler threads
        from server.service.ledger import attach

        def reading(view) -> None:
            promotions.ledger_view = view

        ledger_services = attach(server, health_servicer, settings.ledger, log, pool_size=settings.threads,
                                 served=promotions._served, limits=promotions._limits, cart=promotions._cart,
                                 on_open=reading, clock=clock, follow_clock=settings.clock_file is not None)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if settings.reflection:
        reflection.enable_server_reflection(
            (SERVICE, *ledger_services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME), server)
    address = f"{settings.host}:{settings.port}"
    port = (server.add_secure_port(address, settings.tls.credentials()) if settings.tls
            else server.add_insecure_port(address))
    return Service(server, port, watcher, health_servicer, calls)


def serve(rules: str, settings: Settings, worker: int = 0) -> int:
    """Run one server process until SIGTERM/SIGINT, then end the process (exit 0) within
    `grace` and a moment; returns 1 only if the port cannot be bound. `worker` 0 is a server
    alone on its port, 1..N the workers of `run_workers`."""
    configure_logging(settings.log_format, settings.log_level)
    log = structlog.get_logger().bind(worker=worker)
    if settings.metrics_port is not None:
        metrics.enable()  # a worker's metrics go to the supervisor's directory (PROMETHEUS_MULTIPROC_DIR)
        if worker == 0 and _export_metrics(settings, log, metrics.multiprocess_directory()) is None:
            return 1
    if settings.decision_log is not None:
        try:
            path = decisions.open_log(settings.decision_log, worker, settings.decision_log_max_bytes,
                                      settings.decision_log_keep)
        except OSError as err:
            log.error("decision_log_failed", path=settings.decision_log, error=str(err))
            return 1
        log.info("decision_log", path=str(path), max_bytes=settings.decision_log_max_bytes,
                 keep=settings.decision_log_keep)
    try:
        service = build(rules, settings, log, shared=worker > 0)
    except RuntimeError as err:
        log.error("bind_failed", host=settings.host, port=settings.port, error=str(err))
        return 1
    server, watcher = service.server, service.watcher

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    server.start()  # health says NOT_SERVING until the first ruleset compiles
    log.info("listening", host=settings.host, port=service.port, threads=settings.threads,
             tls="mutual" if settings.tls and settings.tls.client_ca else "server" if settings.tls else "off",
             reflection=settings.reflection)
    watcher.start()
    stop.wait()
    log.info("draining", grace_s=settings.grace)
    service.health.enter_graceful_shutdown()  # NOT_SERVING, so balancers stop sending
    service.calls.draining = True  # new calls refused
    watcher.stop()
    end = time.monotonic() + settings.grace
    service.calls.wait_idle(settings.grace)  # calls in flight finish and hand over their answers
    time.sleep(min(FLUSH, max(0.0, end - time.monotonic())))  # and the transport writes them out
    # Every call is answered, or out of its grace; what is left open (health Watch streams, a call
    # past the grace) is closed now, not waited for.
    abandoned = service.calls.active
    server.stop(0).wait(0 if abandoned else FLUSH)  # a call past its grace would keep it waiting
    decisions.close()  # every line of the calls answered is written
    log.info("stopped", abandoned=abandoned)
    _exit(0)


def _export_metrics(settings: Settings, log, directory: str | None):
    """Serve /metrics (logged as `metrics_listening` with the port bound); None if it cannot."""
    assert settings.metrics_port is not None
    try:
        exporter = metrics.start_exporter(settings.host, settings.metrics_port, directory)
    except OSError as err:
        log.error("bind_failed", host=settings.host, metrics_port=settings.metrics_port, error=str(err))
        return None
    log.info("metrics_listening", host=settings.host, port=exporter.server_port, multiprocess_directory=directory)
    return exporter


def _exit(code: int) -> NoReturn:
    """End the process now. A handler thread still computing (a call past the grace, or one its
    client left) would hold a normal exit: the interpreter joins concurrent.futures' threads."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# ---- several worker processes on one port -----------------------------------------------------


class PortUnavailable(Exception):
    """The port is in use, or the address cannot be bound."""


def claim_port(host: str, port: int) -> tuple[int, socket.socket]:
    """Check that nothing listens on host:port and lock the port for this `promo serve`. Returns
    the port (the kernel's choice for 0) and the lock, to hold until the process exits.

    The probe binds without SO_REUSEPORT, so the kernel refuses it while any socket listens on
    the port, with SO_REUSEPORT or not (SO_REUSEADDR only lets it past a previous run's
    connections in TIME_WAIT); it is closed before the server binds. The lock, an abstract unix
    socket named after the port (Linux: it goes away with the process, and lives in the network
    namespace, as the port does), covers the moment between the probe and the workers' listen:
    of two `promo serve` started at once, one is refused.
    """
    bare = host.strip("[]")
    with socket.socket(socket.AF_INET6 if ":" in bare else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((bare, port))
        except OSError as err:
            busy = err.errno == errno.EADDRINUSE
            raise PortUnavailable(f"cannot listen on {clip(host)}:{port}: {err.strerror}"
                                  + (" (another `promo serve`, or another program, listens there:"
                                     " stop it or choose another --port)" if busy else "")) from None
        port = probe.getsockname()[1]
        lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lock.bind(f"\0promo-serve:{port}")
        except OSError:
            lock.close()
            raise PortUnavailable(f"cannot listen on port {port}: another `promo serve` is starting on it") from None
    return port, lock


def run_workers(rules: str, settings: Settings, workers: int) -> int:
    """`promo serve`: claim the port, then serve on it alone (workers <= 1), or start `workers`
    server processes on it, forward SIGTERM/SIGINT, and if one dies stop all (the process
    supervisor restarts the service). This process logs as worker 0."""
    configure_logging(settings.log_format, settings.log_level)
    log = structlog.get_logger().bind(worker=0)
    try:
        port, lock = claim_port(settings.host, settings.port)
    except PortUnavailable as err:
        log.error("bind_failed", host=settings.host, port=settings.port, error=str(err))
        return 1
    settings = replace(settings, port=port)
    with lock:
        if workers <= 1:
            return serve(rules, settings)
        return _supervise(rules, settings, workers, log)


def _supervise(rules: str, settings: Settings, workers: int, log) -> int:
    directory = exporter = None
    if settings.metrics_port is not None:  # the workers' metrics in a fresh directory, summed here
        directory = tempfile.mkdtemp(prefix="promo-metrics-")
        os.environ[metrics.MULTIPROC_ENV] = directory  # before the workers start: they inherit it
        exporter = _export_metrics(settings, log, directory)
        if exporter is None:
            shutil.rmtree(directory, ignore_errors=True)
            return 1
    try:
        return _run_supervised(rules, settings, workers, log, directory)
    finally:
        if exporter is not None:
            exporter.shutdown()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _run_supervised(rules: str, settings: Settings, workers: int, log, directory: str | None) -> int:
    ctx = multiprocessing.get_context("spawn")  # no fork after grpc: start clean interpreters
    procs = [ctx.Process(target=_worker_main, args=(rules, settings, i + 1), name=f"promo-worker-{i + 1}")
             for i in range(workers)]
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
    log.info("workers", count=workers, port=settings.port, pids=[p.pid for p in procs])
    code = 0
    dead: set[int] = set()
    while any(p.is_alive() for p in procs):
        for p in procs:
            p.join(0.2)
            if directory is not None and not p.is_alive() and p.pid and p.pid not in dead:
                dead.add(p.pid)
                metrics.process_dead(p.pid, directory)  # its live gauges leave the sum
            if not p.is_alive() and p.exitcode not in (0, None) and not stopping.is_set():
                log.error("worker_died", pid=p.pid, exitcode=p.exitcode)
                code = 1
                forward(signal.SIGTERM, None)
    log.info("stopped", exitcode=code)
    return code


def _worker_main(rules: str, settings: Settings, worker: int) -> None:
    sys.exit(serve(rules, settings, worker))
