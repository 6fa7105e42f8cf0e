"""Around every call: the request decoded, one structlog line, and exceptions mapped to gRPC
status. The one place a status is chosen.

Mapping (docs/service.md "Errors"):
  Undecodable           -> INVALID_ARGUMENT   (bytes that are not the message, or nested past
                           protobuf's depth limit; grpcio would answer INTERNAL before any handler)
  RequestError          -> INVALID_ARGUMENT   + google.rpc.BadRequest naming the field
  LimitExceeded         -> RESOURCE_EXHAUSTED + google.rpc.BadRequest naming the field
  NoRuleset             -> FAILED_PRECONDITION
  LedgerError           -> its `status` (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
                           ABORTED, UNAVAILABLE) + google.rpc.BadRequest naming the field
  DeadlineExceeded      -> DEADLINE_EXCEEDED (the engine had nothing worth answering by the deadline)
  deadline already past -> DEADLINE_EXCEEDED (checked before and, for unary calls, after the work:
                           an answer is not sent late)
  an answer too large   -> RESOURCE_EXHAUSTED (past `max_answer_bytes`)
  draining (SIGTERM)    -> UNAVAILABLE (a new call while the server stops; health excepted)
  anything else         -> INTERNAL, logged with the traceback (a server bug, never the client's)
Every handler is run as a stream of answers (a unary call's has one), so streams (AnalyzePrices,
reflection) are mapped the same way and logged when they end. Health calls run on their own
threads (`health_pool`), so busy handler threads never keep a probe waiting; they are not
counted among the calls a stop waits for, and a Watch stays as grpcio drives it, by callbacks,
holding no thread while it is open (it is not logged). The request id is the caller's
`x-request-id` metadata or a new one; it is sent back as trailing metadata and appears in the log
line. Health checks log at debug (probes call every few seconds). What the client sent is clipped
(engine.text.clip) in the status: a trailer past the client's metadata limit would reach it as
RESOURCE_EXHAUSTED instead.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from engine.base.text import clip
from engine.pricing.limits import DeadlineExceeded
from engine.wire.decode import RequestError
from server.ledger.errors import LedgerError
from server.service import metrics
from server.service.convert import LimitExceeded

# Facts a handler learns during the call (the ruleset revision) for the call's log line.
_CALL: contextvars.ContextVar[dict] = contextvars.ContextVar("promo_call")

MESSAGE = 300  # characters of a status message or field violation (engine messages clip values at 64)
REQUEST_ID = 128  # characters of a caller's x-request-id kept (cut, not clipped: it goes back as metadata)
QUIET = "/grpc.health.v1.Health/"  # methods logged at debug


class NoRuleset(Exception):
    """No ruleset has compiled yet (FAILED_PRECONDITION)."""


class Undecodable(Exception):
    """Request bytes that are not the message. The deserializer returns it (raising there would
    fail the call before the interceptor); the handler's first touch raises it."""


class DeadlinePassed(Exception):
    """The call's deadline passed before the call started, or before its (unary) answer was sent."""


class Draining(Exception):
    """The server is stopping (SIGTERM): new calls are refused."""


class AnswerTooLarge(Exception):
    """An answer past the server's `max_answer_bytes`."""


def _lenient(deserialize):
    if deserialize is None:  # a handler that takes the raw bytes
        return None

    def decode(data: bytes):
        try:
            return deserialize(data)
        except DecodeError as err:
            return Undecodable(f"the request cannot be decoded: {err}")
    return decode


def _accept(request):
    if isinstance(request, Undecodable):
        raise request
    return request


def annotate(**facts) -> None:
    """Add facts to the current call's log line (no-op outside a call)."""
    call = _CALL.get(None)
    if call is not None:
        call.update(facts)


def current_request_id() -> str:
    """The current call's request id ("" outside a call): for the decision log."""
    call = _CALL.get(None)
    return "" if call is None else call.get("request_id", "")


def request_id(context) -> str:
    """The caller's `x-request-id` (the last, if sent twice), or 32 random hex digits (as
    uuid4().hex, at a fifth of its cost)."""
    given = ""
    for key, value in context.invocation_metadata():
        if key == "x-request-id":
            given = value
    return given[:REQUEST_ID] or os.urandom(16).hex()


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple


def _status(code: grpc.StatusCode, message: str, violation: tuple[str, str] | None, request_id: str) -> _Status:
    proto = status_pb2.Status(code=code.value[0], message=message)
    if violation is not None:
        field, description = violation
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(
            field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=description)]))
        proto.details.append(detail)
    status = rpc_status.to_status(proto)
    return _Status(status.code, status.details, (*status.trailing_metadata, ("x-request-id", request_id)))


Failure = tuple[grpc.StatusCode, str, "tuple[str, str] | None"]


def _failure(err: Exception, request_id: str) -> Failure:
    """The status of a failed call: the one place an exception becomes a gRPC status (the table above)."""
    if isinstance(err, (RequestError, LimitExceeded)):
        code = grpc.StatusCode.INVALID_ARGUMENT if isinstance(err, RequestError) else grpc.StatusCode.RESOURCE_EXHAUSTED
        field, message = clip(err.field, MESSAGE), clip(err.message, MESSAGE)
        return code, clip(f"{field}: {message}", MESSAGE), (field, message)
    if isinstance(err, LedgerError):  # the ledger's errors carry their status (server/ledger/errors.py)
        field, message = clip(err.field, MESSAGE), clip(err.message, MESSAGE)
        return grpc.StatusCode[err.status], clip(f"{field}: {message}", MESSAGE), (field, message)
    if isinstance(err, Undecodable):  # no field to name: the bytes did not get that far
        return grpc.StatusCode.INVALID_ARGUMENT, clip(str(err), MESSAGE), None
    if isinstance(err, NoRuleset):
        return grpc.StatusCode.FAILED_PRECONDITION, clip(str(err), MESSAGE), None
    if isinstance(err, DeadlineExceeded):
        return (grpc.StatusCode.DEADLINE_EXCEEDED,
                "no answer was ready by the deadline (the call's, or the server's limit on one call)", None)
    if isinstance(err, DeadlinePassed):
        return grpc.StatusCode.DEADLINE_EXCEEDED, str(err), None
    if isinstance(err, Draining):
        return grpc.StatusCode.UNAVAILABLE, str(err), None
    if isinstance(err, AnswerTooLarge):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(err), None
    return grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})", None


def _non_blocking(watch):
    """A handler grpcio drives by callbacks (the health Watch), kept so: only its request is checked."""
    def checked(request, context, send_response_callback):
        if isinstance(request, Undecodable):
            code, message, _ = _failure(request, request_id(context))
            context.abort(code, message)
        return watch(request, context, send_response_callback)

    checked.experimental_non_blocking = True
    return checked


def _deferred(produce):
    """The answers of `produce()`, called at the first step (so that it runs inside the call)."""
    yield from produce()


class Calls:
    """The calls in flight, counted until grpcio reports each terminated (its answer handed to
    the transport), so a stop can wait for them before it closes the connections: grpcio's own
    stop(grace) may close a connection while a large answer is still being written."""

    def __init__(self) -> None:
        self._active = 0
        self._idle = threading.Condition()
        self.draining = False  # set on SIGTERM: new calls are refused (UNAVAILABLE), health excepted

    @property
    def active(self) -> int:
        return self._active

    def begin(self, context) -> None:
        with self._idle:
            self._active += 1
        context.add_callback(self._end)

    def _end(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)


class CallInterceptor(grpc.ServerInterceptor):
    def __init__(self, log, calls: Calls | None = None, health_pool: futures.ThreadPoolExecutor | None = None,
                 max_answer_bytes: int | None = None):
        self.log = log
        self.calls = calls or Calls()
        self.health_pool = health_pool
        self.max_answer_bytes = max_answer_bytes

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.stream_unary is not None:  # no client-streaming method is served
            return handler
        method = handler_call_details.method
        wrap = dict(request_deserializer=_lenient(handler.request_deserializer),
                    response_serializer=handler.response_serializer)
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            def behavior(request, context):
                return self._unary(method, context, inner, request)

            make = grpc.unary_unary_rpc_method_handler
        elif getattr(handler.unary_stream, "experimental_non_blocking", False):  # health Watch
            behavior, make = _non_blocking(handler.unary_stream), grpc.unary_stream_rpc_method_handler
        elif handler.unary_stream is not None:  # AnalyzePrices
            stream = handler.unary_stream

            def behavior(request, context):
                return self._call(method, context, _deferred(lambda: stream(_accept(request), context)))

            make = grpc.unary_stream_rpc_method_handler
        else:  # reflection
            both = handler.stream_stream

            def behavior(requests, context):
                return self._call(method, context, _deferred(lambda: both(map(_accept, requests), context)))

            make = grpc.stream_stream_rpc_method_handler
        if method.startswith(QUIET) and self.health_pool is not None:
            behavior.experimental_thread_pool = self.health_pool  # grpcio runs the call on this pool
        return make(behavior, **wrap)

    def _admit(self, method: str, context, rid: str) -> Failure | None:
        """Why a call is refused before its handler runs (a passed deadline, a stop), or None;
        an admitted call is counted (health calls are not)."""
        if context.time_remaining() <= 0:
            return _failure(DeadlinePassed("the deadline passed before the call started"), rid)
        if method.startswith(QUIET):
            return None  # health answers while draining, and a stop does not wait for it
        if self.calls.draining:
            return _failure(Draining("the server is shutting down: retry on another"), rid)
        self.calls.begin(context)
        return None

    def _checked(self, answer, rid: str) -> Failure | None:
        """Why an answer is not sent: past the server's `max_answer_bytes`, or None."""
        if self.max_answer_bytes is not None and (size := answer.ByteSize()) > self.max_answer_bytes:
            return _failure(AnswerTooLarge(f"the answer is {size:,} bytes, more than this server sends "
                                           f"({self.max_answer_bytes:,}): ask for fewer lines or less "
                                           "explanation"), rid)
        return None

    def _caught(self, err: Exception, method, context, rid, facts, start) -> tuple[Failure, BaseException | None]:
        """What the handler raised, as the call's failure (and the traceback to log, for a bug)."""
        if type(err) is Exception and context.code() not in (None, grpc.StatusCode.OK):
            # the handler called context.abort itself: keep its status
            self._log(method, rid, facts, start, context.code())
            raise err
        failure = _failure(err, rid)
        return failure, err if failure[0] == grpc.StatusCode.INTERNAL else None

    def _end(self, method, context, rid, facts, start, failure: Failure | None, exc_info=None) -> None:
        """Write the call's log line and end the call with its status."""
        if failure is not None:
            code, message, violation = failure
            self._log(method, rid, facts, start, code, message=message, exc_info=exc_info)
            context.abort_with_status(_status(code, message, violation, rid))
        context.set_trailing_metadata((("x-request-id", rid),))
        self._log(method, rid, facts, start, grpc.StatusCode.OK if context.is_active() else grpc.StatusCode.CANCELLED)

    def _unary(self, method: str, context, handler, request):
        """A unary call: `_call`'s steps for one answer, without the generators (the common
        case, so the one kept cheapest)."""
        start = time.perf_counter()
        rid = request_id(context)
        self.log.debug("call_started", request_id=rid, method=method)  # received and decoded (no-op above debug)
        facts: dict = {"request_id": rid}
        exc_info: BaseException | None = None
        answer = None
        failure = self._admit(method, context, rid)
        if failure is None:
            token = _CALL.set(facts)
            try:
                answer = handler(_accept(request), context)
            except Exception as err:
                failure, exc_info = self._caught(err, method, context, rid, facts, start)
            finally:
                _CALL.reset(token)
        if failure is None and context.time_remaining() <= 0:
            failure = _failure(DeadlinePassed("the deadline passed during the call"), rid)
        if failure is None:
            failure = self._checked(answer, rid)
        self._end(method, context, rid, facts, start, failure, exc_info)
        return answer

    def _call(self, method: str, context, answers):
        """Yield the handler's answers (a stream), mapping what it raises; then write the call's
        log line and end the call with its status."""
        start = time.perf_counter()
        rid = request_id(context)
        self.log.debug("call_started", request_id=rid, method=method)  # received and decoded (no-op above debug)
        facts: dict = {"request_id": rid}
        exc_info: BaseException | None = None
        failure = self._admit(method, context, rid)
        while failure is None:
            token = _CALL.set(facts)  # around each step, not the whole stream: grpcio drives the steps
            try:
                answer = next(answers)
            except StopIteration:
                break
            except Exception as err:
                failure, exc_info = self._caught(err, method, context, rid, facts, start)
                break
            finally:
                _CALL.reset(token)
            if (failure := self._checked(answer, rid)) is not None:
                break
            try:
                yield answer
            except GeneratorExit:  # grpcio stopped asking: the client went away mid-stream
                self._log(method, rid, facts, start, grpc.StatusCode.CANCELLED)
                raise
        self._end(method, context, rid, facts, start, failure, exc_info)

    def _log(self, method, request_id, facts, start, code, exc_info=None, **extra) -> None:
        metrics.observe(method, code, time.perf_counter() - start)  # a no-op without --metrics-port
        fields = dict(request_id=request_id, method=method, revision=facts.get("revision"),
                      latency_ms=round((time.perf_counter() - start) * 1000, 3), code=code.name, **extra)
        if "engine_ms" in facts:  # Evaluate: the engine's CPU time (thread time) of the call
            fields["engine_ms"] = facts["engine_ms"]
        if code == grpc.StatusCode.INTERNAL:
            self.log.error("call", exc_info=exc_info, **fields)
        elif method.startswith(QUIET):
            self.log.debug("call", **fields)
        else:
            self.log.info("call", **fields)
