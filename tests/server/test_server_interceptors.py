"""The error mapping and call log of server/interceptors.py, in-process with a stand-in context:
the branches a well-behaved client cannot reach over a socket (a server bug, a deadline that
passes during the call, a handler that aborts by itself)."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest
import structlog
from google.rpc import error_details_pb2, status_pb2

from engine.pricing.limits import DeadlineExceeded
from engine.wire.decode import RequestError
from server.service.convert import LimitExceeded
from server.service.interceptors import CallInterceptor, Calls, NoRuleset, annotate


class Aborted(Exception):
    pass


class FakeContext:
    def __init__(self, remaining=(10.0, 10.0), metadata=()):
        self._remaining = list(remaining)
        self._metadata = metadata
        self._code = None
        self.status = None
        self.trailing = None

    def invocation_metadata(self):
        return self._metadata

    def time_remaining(self):
        return self._remaining.pop(0) if len(self._remaining) > 1 else self._remaining[0]

    def code(self):
        return self._code

    def is_active(self):
        return True

    def abort(self, code, details):
        self._code = code
        raise Exception()  # what grpcio's own abort raises

    def abort_with_status(self, status):
        self.status = status
        raise Aborted()

    def set_trailing_metadata(self, md):
        self.trailing = md

    def add_callback(self, callback):
        self.callbacks = [*getattr(self, "callbacks", []), callback]


def call(handler, context, **options):
    """Run `handler` through the interceptor (made with `options`) as grpcio would; returns
    (result, `call` log lines)."""
    with structlog.testing.capture_logs() as logs:
        wrapped = CallInterceptor(structlog.get_logger(), **options).intercept_service(
            lambda details: grpc.unary_unary_rpc_method_handler(handler),
            type("Details", (), {"method": "/promo.v1.PromotionService/Evaluate"})())
        try:
            result = wrapped.unary_unary("request", context)
        except (Aborted, Exception) as err:
            result = err
    assert [e["event"] for e in logs if e["event"] != "call"] == ["call_started"]  # at debug, before the work
    return result, [e for e in logs if e["event"] == "call"]


def rich(context) -> status_pb2.Status:
    status = status_pb2.Status()
    status.ParseFromString(dict(context.status.trailing_metadata)["grpc-status-details-bin"])
    return status


def test_ok_call_logs_one_line_with_revision_and_echoes_the_request_id():
    def handler(request, context):
        annotate(revision="abc")
        return "answer"

    context = FakeContext(metadata=(("x-request-id", "r-1"),))
    result, logs = call(handler, context)
    assert result == "answer" and context.trailing == (("x-request-id", "r-1"),)
    assert len(logs) == 1
    assert {k: logs[0][k] for k in ("event", "request_id", "revision", "code")} == {
        "event": "call", "request_id": "r-1", "revision": "abc", "code": "OK"}


@pytest.mark.parametrize("error, code, field", [
    (RequestError("lines[0].price", "bad"), grpc.StatusCode.INVALID_ARGUMENT, "lines[0].price"),
    (LimitExceeded("lines", "too many"), grpc.StatusCode.RESOURCE_EXHAUSTED, "lines"),
    (NoRuleset("none yet"), grpc.StatusCode.FAILED_PRECONDITION, None),
    (DeadlineExceeded("nothing priced"), grpc.StatusCode.DEADLINE_EXCEEDED, None),
])
def test_known_errors_map_to_their_status(error, code, field):
    def handler(request, context):
        raise error

    context = FakeContext()
    result, logs = call(handler, context)
    assert isinstance(result, Aborted) and context.status.code == code
    assert logs[0]["code"] == code.name
    details = rich(context).details
    if field is None:
        assert not details
    else:
        bad = error_details_pb2.BadRequest()
        assert details[0].Unpack(bad) and bad.field_violations[0].field == field
    assert ("x-request-id", logs[0]["request_id"]) in context.status.trailing_metadata


def test_a_server_bug_is_internal_and_logged_with_its_traceback():
    def handler(request, context):
        return {}["missing"]

    context = FakeContext()
    result, logs = call(handler, context)
    assert context.status.code == grpc.StatusCode.INTERNAL
    assert "missing" not in context.status.details  # internals stay in the log
    assert logs[0]["log_level"] == "error" and isinstance(logs[0]["exc_info"], KeyError)


@pytest.mark.parametrize("remaining", [(0.0,), (5.0, 0.0)], ids=["before", "during"])
def test_a_passed_deadline_is_deadline_exceeded(remaining):
    ran = []

    def handler(request, context):
        ran.append(True)
        return "late answer"

    context = FakeContext(remaining=remaining)
    call(handler, context)
    assert context.status.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert ran == ([] if remaining == (0.0,) else [True])


def test_a_handler_that_aborts_keeps_its_own_status():
    def handler(request, context):
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "no")

    context = FakeContext()
    result, logs = call(handler, context)
    assert context.status is None and logs[0]["code"] == "PERMISSION_DENIED"


def test_health_calls_run_on_their_own_pool_and_a_stop_does_not_wait_for_them():
    pool, calls = futures.ThreadPoolExecutor(1), Calls()
    interceptor = CallInterceptor(structlog.get_logger(), calls, health_pool=pool)

    def handler(method: str) -> grpc.RpcMethodHandler:
        return interceptor.intercept_service(lambda details: grpc.unary_unary_rpc_method_handler(lambda r, c: "ok"),
                                             type("Details", (), {"method": method})())

    check, evaluate = handler("/grpc.health.v1.Health/Check"), handler("/promo.v1.PromotionService/Evaluate")
    assert check.unary_unary.experimental_thread_pool is pool  # grpcio submits the call there
    assert not hasattr(evaluate.unary_unary, "experimental_thread_pool")
    calls.draining = True
    assert check.unary_unary("request", FakeContext()) == "ok" and calls.active == 0
    pool.shutdown()


def test_an_answer_past_the_limit_is_resource_exhausted():
    class Answer:
        def ByteSize(self):
            return 101

    context = FakeContext()
    result, logs = call(lambda request, context: Answer(), context, max_answer_bytes=100)
    assert isinstance(result, Aborted) and context.status.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "101 bytes" in context.status.details and logs[0]["code"] == "RESOURCE_EXHAUSTED"
