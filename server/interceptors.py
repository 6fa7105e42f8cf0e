"""Per call, around every unary handler: one structlog line, and exceptions mapped to gRPC status.

Mapping (docs/service.md "Errors"):
  RequestError          -> INVALID_ARGUMENT   + google.rpc.BadRequest naming the field
  LimitExceeded         -> RESOURCE_EXHAUSTED + google.rpc.BadRequest naming the field
  NoRuleset             -> FAILED_PRECONDITION
  deadline already past -> DEADLINE_EXCEEDED (checked before and after the work: a running
                           evaluation cannot be interrupted, but its answer is not sent late)
  anything else         -> INTERNAL, logged with the traceback (a server bug, never the client's)
The request id is the caller's `x-request-id` metadata or a new one; it is sent back as trailing
metadata and appears in the log line.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from engine.request import RequestError
from server.convert import LimitExceeded

# Facts a handler learns during the call (the ruleset revision) for the call's log line.
_CALL: contextvars.ContextVar[dict] = contextvars.ContextVar("promo_call")


class NoRuleset(Exception):
    """No ruleset has compiled yet (FAILED_PRECONDITION)."""


def annotate(**facts) -> None:
    """Add facts to the current call's log line (no-op outside a call)."""
    call = _CALL.get(None)
    if call is not None:
        call.update(facts)


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


class CallInterceptor(grpc.ServerInterceptor):
    def __init__(self, log):
        self.log = log

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:  # streaming (health Watch, reflection)
            return handler
        method = handler_call_details.method
        inner = handler.unary_unary

        def behavior(request, context):
            return self._call(inner, method, request, context)

        return grpc.unary_unary_rpc_method_handler(
            behavior, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)

    def _call(self, inner, method: str, request, context):
        start = time.perf_counter()
        request_id = dict(context.invocation_metadata()).get("x-request-id") or uuid.uuid4().hex
        facts: dict = {}
        token = _CALL.set(facts)
        failure: tuple[grpc.StatusCode, str, tuple[str, str] | None] | None = None
        exc_info: BaseException | None = None
        try:
            if context.time_remaining() <= 0:
                failure = (grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the call started", None)
            else:
                response = inner(request, context)
                if context.time_remaining() <= 0:
                    failure = (grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed during the call", None)
        except RequestError as err:
            failure = (grpc.StatusCode.INVALID_ARGUMENT, f"{err.field}: {err.message}", (err.field, err.message))
        except LimitExceeded as err:
            failure = (grpc.StatusCode.RESOURCE_EXHAUSTED, f"{err.field}: {err.message}", (err.field, err.message))
        except NoRuleset as err:
            failure = (grpc.StatusCode.FAILED_PRECONDITION, str(err), None)
        except Exception as err:
            if type(err) is Exception and context.code() not in (None, grpc.StatusCode.OK):
                # the handler called context.abort itself: keep its status
                self._log(method, request_id, facts, start, context.code())
                raise
            failure = (grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})", None)
            exc_info = err
        finally:
            _CALL.reset(token)
        if failure is not None:
            code, message, violation = failure
            self._log(method, request_id, facts, start, code, message=message, exc_info=exc_info)
            context.abort_with_status(_status(code, message, violation, request_id))
        context.set_trailing_metadata((("x-request-id", request_id),))
        self._log(method, request_id, facts, start, grpc.StatusCode.OK)
        return response

    def _log(self, method, request_id, facts, start, code, exc_info=None, **extra) -> None:
        fields = dict(request_id=request_id, method=method, revision=facts.get("revision"),
                      latency_ms=round((time.perf_counter() - start) * 1000, 3), code=code.name, **extra)
        if code == grpc.StatusCode.INTERNAL:
            self.log.error("call", exc_info=exc_info, **fields)
        else:
            self.log.info("call", **fields)
