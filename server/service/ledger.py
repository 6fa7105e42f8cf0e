"""`promo.v1.LedgerService` (ledger.md §7) over `Ledger` (server/ledger): requests checked and
converted, the cart priced as Evaluate prices it (server/service/ledger_pricer.py), answers
converted back. The ledger's errors carry their status (server/ledger/errors.py) and the field
they name; the call interceptor maps them. A database that cannot be reached is UNAVAILABLE.

`attach` registers the service on a `promo serve` process's grpcio server, beside the pricing
service and on its worker pool, and starts the sweep of expired reservations.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

from grpc_health.v1 import health_pb2
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from engine.base.money import format_money
from engine.plan.plan import Plan
from engine.wire.decode import RequestError, parse_datetime
from server.gen.promo.v1 import ledger_pb2 as lpb
from server.gen.promo.v1 import ledger_pb2_grpc as lpb_grpc
from server.gen.promo.v1 import promo_pb2 as pb
from server.ledger import validate
from server.ledger.clock import from_us, to_us, utc_now
from server.ledger.errors import InvalidArgument, LedgerError, NotFound
from server.ledger.issue import LENGTHS
from server.ledger.ledger import Ledger
from server.ledger.presale import ParentOrder
from server.ledger.stats import PresaleStats, PromotionStats, promotion_json, stats_json
from server.ledger.types import Count, CounterKey, Metric, Outcome, Reservation, ReserveRequest, ReturnLine, UsageQuery
from server.service import convert, decisions, metrics
from server.service.ledger_pricer import LedgerSnapshot, QuotePricer, cached_clauses, clauses, ledger_view
from server.service.presale_view import sold_query, with_sold

LEDGER_SERVICE = lpb.DESCRIPTOR.services_by_name["LedgerService"].full_name
DEFAULT_TTL = 900
DEFAULT_LENGTH = 12
SWEEP_INTERVAL = 5.0  # seconds between sweeps of expired reservations (each process, with jitter)
CLOCK_POLL = 0.1  # under a fake clock (--clock-file): seconds between looks at it; a moved clock is swept at once
SWEEP_BATCH = 1_000

F = TypeVar("F", bound=Callable[..., Any])


class LedgerUnavailable(LedgerError):
    """The ledger's database cannot be reached or is busy past its timeout: retry."""

    status = "UNAVAILABLE"


def _unavailable(error: Exception) -> LedgerUnavailable:
    kind = type(getattr(error, "orig", None) or error).__name__
    return LedgerUnavailable("ledger", f"the ledger database is unavailable ({kind}): retry")


def _database(handler: F) -> F:
    """A database error below the ledger becomes UNAVAILABLE (for a stream, while it streams)."""
    @wraps(handler)
    def unary(self, request, context):
        try:
            return handler(self, request, context)
        except (OperationalError, PoolTimeout) as error:
            raise _unavailable(error) from error
        except DBAPIError as error:
            if error.connection_invalidated:
                raise _unavailable(error) from error
            raise

    return unary  # type: ignore[return-value]


def _streamed(handler: F) -> F:
    @wraps(handler)
    def stream(self, request, context):
        try:
            yield from handler(self, request, context)
        except (OperationalError, PoolTimeout) as error:
            raise _unavailable(error) from error

    return stream  # type: ignore[return-value]


def _in_cart(error: RequestError | convert.LimitExceeded) -> Exception:
    """A cart's error names its field inside the Reserve request (`cart.lines[0].price`)."""
    return type(error)(f"cart.{error.field}", error.message)


def stored_answer(quote) -> dict[str, str]:
    """What the reservation keeps of the quote, for a replay to answer it again byte for byte:
    the EvaluateResponse as its (compatible as the proto evolves) protobuf bytes."""
    return {"quote": base64.b64encode(convert.evaluate_response(quote).SerializeToString()).decode()}


def _quote(answer: Any) -> pb.EvaluateResponse:
    if not isinstance(answer, dict) or "quote" not in answer:
        return pb.EvaluateResponse()
    return pb.EvaluateResponse.FromString(base64.b64decode(answer["quote"]))


def _fingerprint(cart: pb.EvaluateRequest) -> str:
    return hashlib.sha256(cart.SerializeToString(deterministic=True)).hexdigest()


def _instant(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


class LedgerServicer(lpb_grpc.LedgerServiceServicer):
    """`served()` is the plan being served (NoRuleset before one loads), `limits(context)` the
    engine's limits for a call and `cart(message, plan)` the engine's request: the pricing
    service's own, so that Reserve prices a cart exactly as Evaluate does."""

    def __init__(self, ledger: Ledger, served: Callable[[], Any], limits: Callable[[Any], Any],
                 cart: Callable[[pb.EvaluateRequest, Plan], Any]) -> None:
        self.ledger = ledger
        self._served = served
        self._limits = limits
        self._cart = cart

    def _plan(self) -> Plan:
        return self._served().plan

    @_database
    def Reserve(self, request: lpb.ReserveRequest, context) -> lpb.ReserveResponse:
        validate.name(request.order_id, "order_id")
        validate.name(request.idempotency_key, "idempotency_key")
        ttl = request.ttl_seconds or DEFAULT_TTL
        validate.count(ttl, "ttl_seconds", most=validate.MAX_TTL)
        validate.name(request.parent_order_id or None, "parent_order_id", optional=True)
        if not request.HasField("cart"):
            raise InvalidArgument("cart", "the cart to price is required (an EvaluateRequest)")
        plan = self._plan()
        try:
            cart = self._cart(request.cart, plan)
        except (RequestError, convert.LimitExceeded) as error:
            raise _in_cart(error) from None
        if not cart.user.id:
            raise InvalidArgument("cart.user.id", "the buyer is required: per-buyer limits count their uses")
        validate.name(cart.user.id, "cart.user.id")
        for i, line in enumerate(cart.lines):
            validate.name(line.id, f"cart.lines[{i}].id")
        pricer = QuotePricer(plan, cart, self._limits(context), cart.user.id, stored_answer)
        if self.ledger.prices_first:  # outside the transaction: it prices again only if the ledger moved
            pricer.prime(self.ledger.get_usage)
        reservation = self.ledger.reserve(ReserveRequest(
            order_id=request.order_id, idempotency_key=request.idempotency_key, buyer=cart.user.id,
            timezone=str(plan.timezone), ttl_seconds=ttl,
            at=cart.at if request.cart.at else None,  # no `at`: now, by the ledger's clock (and a replay matches)
            parent_order_id=request.parent_order_id or None, fingerprint=_fingerprint(request.cart)), pricer)
        return reserve_response(reservation, plan.digits)

    @_database
    def Commit(self, request: lpb.CommitRequest, context) -> lpb.CommitResponse:
        change = self.ledger.commit(request.reservation_id, request.idempotency_key)
        return lpb.CommitResponse(reservation_id=change.reservation_id, state=str(change.state),
                                  order_id=change.order_id)

    @_database
    def Cancel(self, request: lpb.CancelRequest, context) -> lpb.CancelResponse:
        change = self.ledger.cancel(request.reservation_id, request.idempotency_key)
        return lpb.CancelResponse(reservation_id=change.reservation_id, state=str(change.state),
                                  order_id=change.order_id)

    @_database
    def Return(self, request: lpb.ReturnRequest, context) -> lpb.ReturnResponse:
        digits = self._plan().digits
        refund = self.ledger.return_(request.order_id, request.idempotency_key,
                                     [ReturnLine(line.id, line.quantity) for line in request.lines])
        money = lambda v: format_money(v, digits)  # noqa: E731
        return lpb.ReturnResponse(
            order_id=refund.order_id, refund=money(refund.refund), state=str(refund.state),
            lines=[lpb.LineRefund(id=x.id, quantity=x.quantity, refund=money(x.refund)) for x in refund.lines])

    @_streamed
    def IssueCodes(self, request: lpb.IssueCodesRequest, context) -> Iterator[lpb.IssuedCode]:
        plan = self._plan()
        if request.coupon:
            coupon = plan.by_name.get(request.coupon)
            if coupon is None or not coupon.is_coupon:
                raise InvalidArgument("coupon", f"`{request.coupon[:64]}` is not a coupon of the served ruleset")
            if hasattr(coupon, "codes") and not clauses(coupon).codes:
                raise InvalidArgument("coupon", f"`{request.coupon[:64]}` has no `codes` clause")
        length = request.length or DEFAULT_LENGTH
        if not LENGTHS.start <= length < LENGTHS.stop:
            raise InvalidArgument("length", f"must be from {LENGTHS.start} to {LENGTHS.stop - 1}")
        codes = self.ledger.issue_codes(request.coupon, request.count, request.idempotency_key,
                                        prefix=request.prefix, length=length)
        for code in codes:
            if not context.is_active():
                return  # the client left: what was issued stays, the same key resumes
            yield lpb.IssuedCode(code=code)

    @_database
    def GetUsage(self, request: lpb.GetUsageRequest, context) -> lpb.GetUsageResponse:
        validate.name(request.promotion, "promotion")
        validate.name(request.buyer or None, "buyer", optional=True)
        plan = self._plan()
        at = parse_datetime(request.at, "at", plan.timezone) if request.at else None
        usage = self.ledger.get_usage(UsageQuery((request.promotion,), buyer=request.buyer or None, at=at,
                                                 timezone=str(plan.timezone)))
        promotion = plan.by_name.get(request.promotion)
        if promotion is None and not usage.counters:
            raise NotFound("promotion", f"`{request.promotion[:64]}` is in neither the served ruleset nor the ledger")
        return usage_response(request.promotion, usage.counters, plan, cached_clauses(plan).get(request.promotion))


    @_database
    def GetStats(self, request: lpb.GetStatsRequest, context) -> lpb.GetStatsResponse:
        if request.promotion and request.presale:
            raise InvalidArgument("promotion", "give `promotion` or `presale`, not both")
        plan = self._plan()
        bounds = [to_us(parse_datetime(getattr(request, f), f, plan.timezone)) if getattr(request, f) else None
                  for f in ("from", "to")]
        timezone = str(plan.timezone)
        if request.promotion:
            validate.name(request.promotion, "promotion")
            found = cached_clauses(plan).get(request.promotion)
            known = request.promotion in plan.by_name
            # the served ruleset's budgets (none without a clause); a promotion it no longer has: the counters'
            budgets = found.budgets if found is not None else () if known else None
            found_stats = self.ledger.promotion_stats(request.promotion, bounds[0], bounds[1], timezone=timezone,
                                                      budgets=budgets)
            if not known and not (found_stats.orders or found_stats.returned or found_stats.cancelled
                                  or found_stats.budgets):
                raise NotFound("promotion", f"`{request.promotion[:64]}` is in neither the served ruleset nor the "
                                            "ledger")
            return lpb.GetStatsResponse(promotion=promotion_message(found_stats, plan.digits))
        validate.name(request.presale, "presale")
        served = next((x for x in plan.presales if x.name == request.presale), None)
        figures = self.ledger.presale_stats(request.presale, bounds[0], bounds[1],
                                            served.stock if served is not None else None, timezone=timezone)
        if served is None and not (figures.deposit_orders or figures.deposits_held or figures.cancelled):
            raise NotFound("presale", f"`{request.presale[:64]}` is in neither the served ruleset nor the ledger")
        return lpb.GetStatsResponse(presale=stats_message(figures, plan.digits))

    @_database
    def GetOrder(self, request: lpb.GetOrderRequest, context) -> lpb.GetOrderResponse:
        return order_response(self.ledger.get_order(request.order_id), self._plan().digits)


# ---- answers -------------------------------------------------------------------------------------


def stats_message(figures: PresaleStats, digits: int) -> lpb.PresaleStats:
    """The presale's figures as stats_json gives them (`promo stats --json`), as the message."""
    data = stats_json(figures, digits)
    out = lpb.PresaleStats(
        presale=figures.presale, deposit_orders=figures.deposit_orders, deposit_units=figures.deposit_units,
        deposit_amount=data["deposits"]["amount"], deposits_held=figures.deposits_held,
        balances_paid=figures.balances_paid, balance_amount=data["balances_paid"]["amount"],
        forfeited_orders=figures.forfeited_orders, forfeited_deposits=data["forfeited"]["deposits"],
        cancelled=figures.cancelled, returned=figures.returned, sold=figures.sold, gmv=data["gmv"],
        timezone=figures.timezone,
        days=[lpb.PresaleDay(day=d["day"], deposit_orders=d["deposits"]["orders"], deposit_units=d["deposits"]["units"],
                             deposit_amount=d["deposits"]["amount"], balances_paid=d["balances_paid"]["orders"],
                             balance_amount=d["balances_paid"]["amount"]) for d in data["days"]])
    if data["conversion"] is not None:
        out.conversion = data["conversion"]
    if data["average_order_value"] is not None:
        out.average_order_value = data["average_order_value"]
    if figures.stock is not None:
        out.stock = figures.stock
    if figures.stock_left is not None:
        out.stock_left = figures.stock_left
    return out


def promotion_message(figures: PromotionStats, digits: int) -> lpb.PromotionStats:
    """The promotion's figures as promotion_json gives them (`promo stats --json`), as the message."""
    data = promotion_json(figures, digits)
    out = lpb.PromotionStats(
        promotion=figures.promotion, uses=figures.uses, orders=figures.orders, spend=data["spend"], gmv=data["gmv"],
        returned=figures.returned, cancelled=figures.cancelled, timezone=figures.timezone,
        budgets=[lpb.BudgetFigure(**b) for b in data["budgets"]])
    if data["average_order_value"] is not None:
        out.average_order_value = data["average_order_value"]
    for d in data["days"]:
        day = out.days.add(day=d["day"], uses=d["uses"], orders=d["orders"], spend=d["spend"], gmv=d["gmv"])
        if d["average_order_value"] is not None:
            day.average_order_value = d["average_order_value"]
    return out


def order_response(order: ParentOrder, digits: int) -> lpb.GetOrderResponse:
    out = lpb.GetOrderResponse(order_id=order.order_id, presale=order.presale, line=order.line_id,
                               units=order.units, state=order.state)
    if order.ship_us is not None:
        out.ships = _instant(from_us(order.ship_us))
    if order.balance_closes_us is not None:
        out.balance_closes = _instant(from_us(order.balance_closes_us))
    for child in order.children:
        out.children.add(kind=child.kind, reservation_id=child.reservation_id, order_id=child.order_id,
                         state=child.state, payable=format_money(child.payable, digits))
    return out


def _reserved(outcome: Outcome, digits: int) -> lpb.ReservedPromotion:
    out = lpb.ReservedPromotion(promotion=outcome.promotion, granted=outcome.granted,
                                reason=str(outcome.reason) if outcome.reason else "",
                                desired=format_money(outcome.desired, digits),
                                spend=format_money(outcome.spend if outcome.granted else 0, digits))
    if outcome.code is not None:
        out.code = outcome.code
    return out


def reserve_response(reservation: Reservation, digits: int) -> lpb.ReserveResponse:
    return lpb.ReserveResponse(
        reservation_id=reservation.reservation_id, state=str(reservation.state),
        expires_at=_instant(reservation.expires_at), quote=_quote(reservation.answer),
        order_id=reservation.order_id,
        promotions=[_reserved(o, digits) for o in sorted(reservation.outcomes, key=lambda o: o.promotion)])


def usage_response(name: str, counters: Mapping[CounterKey, Count], plan: Plan, found) -> lpb.GetUsageResponse:
    digits = plan.digits
    out = lpb.GetUsageResponse(promotion=name, spend=format_money(0, digits), spend_held=format_money(0, digits))
    limits = [x.count for x in found.limits if not x.per_user and x.period is None] if found else []
    budgets = [x.amount for x in found.budgets if x.period is None] if found else []
    total = counters.get(CounterKey(name, Metric.USES, "", ""))
    spend = counters.get(CounterKey(name, Metric.SPEND, "", ""))
    if total is not None:
        out.uses, out.uses_held = total.used, total.held
    if spend is not None:
        out.spend, out.spend_held = format_money(spend.used, digits), format_money(spend.held, digits)
    if limits or total is not None:
        out.limit_total = min(limits) if limits else total.cap  # type: ignore[union-attr]
    if budgets or spend is not None:
        out.budget = format_money(min(budgets) if budgets else spend.cap, digits)  # type: ignore[union-attr]
    for key in sorted(counters, key=lambda k: (str(k.metric), k.subject, k.period)):
        count = counters[key]
        money = (lambda v: format_money(v, digits)) if key.metric is Metric.SPEND else str
        period, _, period_key = key.period.partition(":")
        out.counters.add(metric=str(key.metric), buyer=key.subject, period=period, key=period_key,
                         used=money(count.used), held=money(count.held), cap=money(count.cap))
    return out


# ---- in `promo serve` ----------------------------------------------------------------------------


class Sweeper:
    """Marks held reservations past their expiry `expired` and releases their holds, every
    `interval` seconds (with jitter, so the workers and replicas of one ledger spread out).
    Reads never wait for it: an expired hold counts as released at once. With `follow_clock`
    (a fake clock, `promo serve --clock-file`) it also looks at the ledger's clock every
    CLOCK_POLL seconds and sweeps as soon as it has moved: a test that moves the clock waits a
    fraction of a second for the sweep, not `interval`."""

    def __init__(self, ledger: Ledger, log, interval: float = SWEEP_INTERVAL, *, follow_clock: bool = False) -> None:
        self.ledger = ledger
        self.log = log
        self.interval = interval
        self.follow_clock = follow_clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _pause(self) -> float:
        return self.interval * random.uniform(0.8, 1.2)

    def _run(self) -> None:
        if not self.follow_clock:
            while not self._stop.wait(self._pause()):
                self.sweep()
            return
        seen, due = self.ledger.now(), time.monotonic() + self._pause()
        while not self._stop.wait(CLOCK_POLL):
            now = self.ledger.now()
            if now != seen or time.monotonic() >= due:
                seen, due = now, time.monotonic() + self._pause()
                self.sweep()

    def sweep(self) -> int:
        try:
            swept = 0
            while (batch := self.ledger.sweep(SWEEP_BATCH)) > 0:
                swept += batch
                if batch < SWEEP_BATCH or self._stop.is_set():
                    break
        except Exception as error:  # noqa: BLE001 - the database may be away for a moment: the next sweep retries
            self.log.warning("ledger_sweep_failed", error=f"{type(error).__name__}: {str(error)[:300]}")
            return 0
        if swept:
            self.log.info("ledger_swept", expired=swept)
        return swept


def redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - only for a log line
        return "(unparsable URL)"


class ViewReader:
    """What Evaluate and Qualify of PromotionService price with when the server has a ledger:
    the engine's view of the ledger for one cart, read in a read-only snapshot (None when no
    promotion of the cart has a ledger clause). A database error is UNAVAILABLE naming `ledger`;
    a buyer id the ledger cannot hold is INVALID_ARGUMENT naming `<prefix>user.id`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __call__(self, plan: Plan, cart: Any, prefix: str = "") -> LedgerSnapshot | None:
        return self._reading(lambda: ledger_view(plan, cart, self.ledger.get_usage), prefix)

    def with_sold(self, plan: Plan, cart: Any) -> Any:
        """The cart with its presales' units sold read from the ledger (the request's `presale_sold`
        ignored), as Reserve prices them; the cart itself when it has no presale line."""
        presales = sold_query(plan, cart)
        if not presales:
            return cart
        query = UsageQuery((), at=cart.at, timezone=str(plan.timezone), presales=presales)
        return with_sold(cart, self._reading(lambda: self.ledger.get_usage(query), "").sold)

    def _reading(self, read: Callable[[], Any], prefix: str) -> Any:
        try:
            return read()
        except InvalidArgument as error:
            if error.field == "buyer":
                raise InvalidArgument(f"{prefix}user.id", error.message) from None
            raise
        except (OperationalError, PoolTimeout) as error:
            raise _unavailable(error) from error
        except DBAPIError as error:
            if error.connection_invalidated:
                raise _unavailable(error) from error
            raise


def attach(server, health_servicer, url: str, log, *, pool_size: int, served: Callable[[], Any],
           limits: Callable[[Any], Any], cart: Callable[[pb.EvaluateRequest, Plan], Any],
           sweep_interval: float = SWEEP_INTERVAL,
           on_open: Callable[[ViewReader], None] | None = None,
           clock: Callable[[], datetime] = utc_now, follow_clock: bool = False) -> tuple[str, ...]:
    """Open the ledger at `url` (a database at the migration head: `promo serve` migrated or
    refused it before starting the workers), register LedgerService on `server` beside the
    pricing service, pricing with its `served` plan, its `limits` and its `cart` conversion, and
    start the sweep; `on_open` gets the ledger's `ViewReader` (the pricing service's Evaluate and
    Qualify read the ledger through it). `clock` is the ledger's (the server's one clock: a fake
    one under `--clock-file`, which the sweep then follows, `follow_clock`). Returns the service
    names, for reflection."""
    ledger = Ledger(url, clock=clock, pool_size=pool_size)
    if on_open is not None:
        on_open(ViewReader(ledger))
    servicer = decisions.instrument_ledger(LedgerServicer(ledger, served, limits, cart))  # Reserve logged
    lpb_grpc.add_LedgerServiceServicer_to_server(metrics.instrument_ledger(servicer), server)  # operations counted
    health_servicer.set(LEDGER_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    Sweeper(ledger, log, sweep_interval, follow_clock=follow_clock).start()
    metrics.watch_ledger(ledger, served, log)  # reservations held, budgets left
    log.info("ledger_open", url=redacted(url), backend=make_url(ledger.url).get_backend_name())
    return (LEDGER_SERVICE,)
