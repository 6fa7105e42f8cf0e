from server.gen.promo.v1 import promo_pb2 as _promo_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReserveRequest(_message.Message):
    __slots__ = ("order_id", "idempotency_key", "ttl_seconds", "parent_order_id", "cart")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PARENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CART_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    idempotency_key: str
    ttl_seconds: int
    parent_order_id: str
    cart: _promo_pb2.EvaluateRequest
    def __init__(self, order_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., ttl_seconds: _Optional[int] = ..., parent_order_id: _Optional[str] = ..., cart: _Optional[_Union[_promo_pb2.EvaluateRequest, _Mapping]] = ...) -> None: ...

class ReservedPromotion(_message.Message):
    __slots__ = ("promotion", "granted", "reason", "desired", "spend", "code")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DESIRED_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    granted: bool
    reason: str
    desired: str
    spend: str
    code: str
    def __init__(self, promotion: _Optional[str] = ..., granted: _Optional[bool] = ..., reason: _Optional[str] = ..., desired: _Optional[str] = ..., spend: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("reservation_id", "state", "expires_at", "quote", "order_id", "promotions")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROMOTIONS_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    state: str
    expires_at: str
    quote: _promo_pb2.EvaluateResponse
    order_id: str
    promotions: _containers.RepeatedCompositeFieldContainer[ReservedPromotion]
    def __init__(self, reservation_id: _Optional[str] = ..., state: _Optional[str] = ..., expires_at: _Optional[str] = ..., quote: _Optional[_Union[_promo_pb2.EvaluateResponse, _Mapping]] = ..., order_id: _Optional[str] = ..., promotions: _Optional[_Iterable[_Union[ReservedPromotion, _Mapping]]] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("reservation_id", "idempotency_key")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    idempotency_key: str
    def __init__(self, reservation_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("reservation_id", "state", "order_id")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    state: str
    order_id: str
    def __init__(self, reservation_id: _Optional[str] = ..., state: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("reservation_id", "idempotency_key")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    idempotency_key: str
    def __init__(self, reservation_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("reservation_id", "state", "order_id")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    state: str
    order_id: str
    def __init__(self, reservation_id: _Optional[str] = ..., state: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class ReturnLine(_message.Message):
    __slots__ = ("id", "quantity")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    id: str
    quantity: int
    def __init__(self, id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class ReturnRequest(_message.Message):
    __slots__ = ("order_id", "idempotency_key", "lines")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    idempotency_key: str
    lines: _containers.RepeatedCompositeFieldContainer[ReturnLine]
    def __init__(self, order_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[ReturnLine, _Mapping]]] = ...) -> None: ...

class LineRefund(_message.Message):
    __slots__ = ("id", "quantity", "refund")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    id: str
    quantity: int
    refund: str
    def __init__(self, id: _Optional[str] = ..., quantity: _Optional[int] = ..., refund: _Optional[str] = ...) -> None: ...

class ReturnResponse(_message.Message):
    __slots__ = ("order_id", "refund", "lines", "state")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    refund: str
    lines: _containers.RepeatedCompositeFieldContainer[LineRefund]
    state: str
    def __init__(self, order_id: _Optional[str] = ..., refund: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[LineRefund, _Mapping]]] = ..., state: _Optional[str] = ...) -> None: ...

class IssueCodesRequest(_message.Message):
    __slots__ = ("coupon", "count", "prefix", "length", "idempotency_key")
    COUPON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    coupon: str
    count: int
    prefix: str
    length: int
    idempotency_key: str
    def __init__(self, coupon: _Optional[str] = ..., count: _Optional[int] = ..., prefix: _Optional[str] = ..., length: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class IssuedCode(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("promotion", "buyer", "at")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    BUYER_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    buyer: str
    at: str
    def __init__(self, promotion: _Optional[str] = ..., buyer: _Optional[str] = ..., at: _Optional[str] = ...) -> None: ...

class UsageCounter(_message.Message):
    __slots__ = ("metric", "buyer", "period", "key", "used", "held", "cap")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    BUYER_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    metric: str
    buyer: str
    period: str
    key: str
    used: str
    held: str
    cap: str
    def __init__(self, metric: _Optional[str] = ..., buyer: _Optional[str] = ..., period: _Optional[str] = ..., key: _Optional[str] = ..., used: _Optional[str] = ..., held: _Optional[str] = ..., cap: _Optional[str] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("promotion", "uses", "uses_held", "limit_total", "spend", "spend_held", "budget", "counters")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    USES_HELD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    SPEND_HELD_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    uses: int
    uses_held: int
    limit_total: int
    spend: str
    spend_held: str
    budget: str
    counters: _containers.RepeatedCompositeFieldContainer[UsageCounter]
    def __init__(self, promotion: _Optional[str] = ..., uses: _Optional[int] = ..., uses_held: _Optional[int] = ..., limit_total: _Optional[int] = ..., spend: _Optional[str] = ..., spend_held: _Optional[str] = ..., budget: _Optional[str] = ..., counters: _Optional[_Iterable[_Union[UsageCounter, _Mapping]]] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class ChildOrder(_message.Message):
    __slots__ = ("kind", "reservation_id", "order_id", "state", "payable")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    reservation_id: str
    order_id: str
    state: str
    payable: str
    def __init__(self, kind: _Optional[str] = ..., reservation_id: _Optional[str] = ..., order_id: _Optional[str] = ..., state: _Optional[str] = ..., payable: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order_id", "presale", "line", "units", "state", "ships", "balance_closes", "children")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PRESALE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SHIPS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_CLOSES_FIELD_NUMBER: _ClassVar[int]
    CHILDREN_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    presale: str
    line: str
    units: int
    state: str
    ships: str
    balance_closes: str
    children: _containers.RepeatedCompositeFieldContainer[ChildOrder]
    def __init__(self, order_id: _Optional[str] = ..., presale: _Optional[str] = ..., line: _Optional[str] = ..., units: _Optional[int] = ..., state: _Optional[str] = ..., ships: _Optional[str] = ..., balance_closes: _Optional[str] = ..., children: _Optional[_Iterable[_Union[ChildOrder, _Mapping]]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("promotion", "presale", "to")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    PRESALE_FIELD_NUMBER: _ClassVar[int]
    FROM_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    presale: str
    to: str
    def __init__(self, promotion: _Optional[str] = ..., presale: _Optional[str] = ..., to: _Optional[str] = ..., **kwargs) -> None: ...

class PromotionDay(_message.Message):
    __slots__ = ("day", "uses", "orders", "spend", "gmv", "average_order_value")
    DAY_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    GMV_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_ORDER_VALUE_FIELD_NUMBER: _ClassVar[int]
    day: str
    uses: int
    orders: int
    spend: str
    gmv: str
    average_order_value: str
    def __init__(self, day: _Optional[str] = ..., uses: _Optional[int] = ..., orders: _Optional[int] = ..., spend: _Optional[str] = ..., gmv: _Optional[str] = ..., average_order_value: _Optional[str] = ...) -> None: ...

class BudgetFigure(_message.Message):
    __slots__ = ("period", "key", "budget", "used", "held", "left")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    period: str
    key: str
    budget: str
    used: str
    held: str
    left: str
    def __init__(self, period: _Optional[str] = ..., key: _Optional[str] = ..., budget: _Optional[str] = ..., used: _Optional[str] = ..., held: _Optional[str] = ..., left: _Optional[str] = ...) -> None: ...

class PromotionStats(_message.Message):
    __slots__ = ("promotion", "uses", "orders", "spend", "gmv", "average_order_value", "returned", "cancelled", "budgets", "timezone", "days")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    GMV_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_ORDER_VALUE_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    BUDGETS_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    uses: int
    orders: int
    spend: str
    gmv: str
    average_order_value: str
    returned: int
    cancelled: int
    budgets: _containers.RepeatedCompositeFieldContainer[BudgetFigure]
    timezone: str
    days: _containers.RepeatedCompositeFieldContainer[PromotionDay]
    def __init__(self, promotion: _Optional[str] = ..., uses: _Optional[int] = ..., orders: _Optional[int] = ..., spend: _Optional[str] = ..., gmv: _Optional[str] = ..., average_order_value: _Optional[str] = ..., returned: _Optional[int] = ..., cancelled: _Optional[int] = ..., budgets: _Optional[_Iterable[_Union[BudgetFigure, _Mapping]]] = ..., timezone: _Optional[str] = ..., days: _Optional[_Iterable[_Union[PromotionDay, _Mapping]]] = ...) -> None: ...

class PresaleDay(_message.Message):
    __slots__ = ("day", "deposit_orders", "deposit_units", "deposit_amount", "balances_paid", "balance_amount")
    DAY_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_UNITS_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCES_PAID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    day: str
    deposit_orders: int
    deposit_units: int
    deposit_amount: str
    balances_paid: int
    balance_amount: str
    def __init__(self, day: _Optional[str] = ..., deposit_orders: _Optional[int] = ..., deposit_units: _Optional[int] = ..., deposit_amount: _Optional[str] = ..., balances_paid: _Optional[int] = ..., balance_amount: _Optional[str] = ...) -> None: ...

class PresaleStats(_message.Message):
    __slots__ = ("presale", "deposit_orders", "deposit_units", "deposit_amount", "deposits_held", "balances_paid", "balance_amount", "conversion", "forfeited_orders", "forfeited_deposits", "cancelled", "stock", "sold", "stock_left", "gmv", "average_order_value", "timezone", "days", "returned")
    PRESALE_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_UNITS_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DEPOSITS_HELD_FIELD_NUMBER: _ClassVar[int]
    BALANCES_PAID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_FIELD_NUMBER: _ClassVar[int]
    FORFEITED_ORDERS_FIELD_NUMBER: _ClassVar[int]
    FORFEITED_DEPOSITS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    STOCK_FIELD_NUMBER: _ClassVar[int]
    SOLD_FIELD_NUMBER: _ClassVar[int]
    STOCK_LEFT_FIELD_NUMBER: _ClassVar[int]
    GMV_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_ORDER_VALUE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    presale: str
    deposit_orders: int
    deposit_units: int
    deposit_amount: str
    deposits_held: int
    balances_paid: int
    balance_amount: str
    conversion: str
    forfeited_orders: int
    forfeited_deposits: str
    cancelled: int
    stock: int
    sold: int
    stock_left: int
    gmv: str
    average_order_value: str
    timezone: str
    days: _containers.RepeatedCompositeFieldContainer[PresaleDay]
    returned: int
    def __init__(self, presale: _Optional[str] = ..., deposit_orders: _Optional[int] = ..., deposit_units: _Optional[int] = ..., deposit_amount: _Optional[str] = ..., deposits_held: _Optional[int] = ..., balances_paid: _Optional[int] = ..., balance_amount: _Optional[str] = ..., conversion: _Optional[str] = ..., forfeited_orders: _Optional[int] = ..., forfeited_deposits: _Optional[str] = ..., cancelled: _Optional[int] = ..., stock: _Optional[int] = ..., sold: _Optional[int] = ..., stock_left: _Optional[int] = ..., gmv: _Optional[str] = ..., average_order_value: _Optional[str] = ..., timezone: _Optional[str] = ..., days: _Optional[_Iterable[_Union[PresaleDay, _Mapping]]] = ..., returned: _Optional[int] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("presale", "promotion")
    PRESALE_FIELD_NUMBER: _ClassVar[int]
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    presale: PresaleStats
    promotion: PromotionStats
    def __init__(self, presale: _Optional[_Union[PresaleStats, _Mapping]] = ..., promotion: _Optional[_Union[PromotionStats, _Mapping]] = ...) -> None: ...
