from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    STAGE_DEPOSIT: _ClassVar[Stage]
    STAGE_BALANCE: _ClassVar[Stage]

class Explain(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPLAIN_UNSPECIFIED: _ClassVar[Explain]
    EXPLAIN_OFF: _ClassVar[Explain]
    EXPLAIN_REASONS: _ClassVar[Explain]
    EXPLAIN_TRACE: _ClassVar[Explain]

class Level(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LEVEL_UNSPECIFIED: _ClassVar[Level]
    item: _ClassVar[Level]
    shop: _ClassVar[Level]
    platform: _ClassVar[Level]
    shipping: _ClassVar[Level]

class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KIND_UNSPECIFIED: _ClassVar[Kind]
    promotion: _ClassVar[Kind]
    coupon: _ClassVar[Kind]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    error: _ClassVar[Severity]
    warning: _ClassVar[Severity]
STAGE_UNSPECIFIED: Stage
STAGE_DEPOSIT: Stage
STAGE_BALANCE: Stage
EXPLAIN_UNSPECIFIED: Explain
EXPLAIN_OFF: Explain
EXPLAIN_REASONS: Explain
EXPLAIN_TRACE: Explain
LEVEL_UNSPECIFIED: Level
item: Level
shop: Level
platform: Level
shipping: Level
KIND_UNSPECIFIED: Kind
promotion: Kind
coupon: Kind
SEVERITY_UNSPECIFIED: Severity
error: Severity
warning: Severity

class RulesetRef(_message.Message):
    __slots__ = ("name", "revision")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: str
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[str] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("id", "level", "tags", "new", "usage", "attributes")
    class UsageEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    NEW_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    level: int
    tags: _containers.RepeatedScalarFieldContainer[str]
    new: bool
    usage: _containers.ScalarMap[str, int]
    attributes: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., level: _Optional[int] = ..., tags: _Optional[_Iterable[str]] = ..., new: _Optional[bool] = ..., usage: _Optional[_Mapping[str, int]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Line(_message.Message):
    __slots__ = ("id", "sku", "shop", "category", "brand", "tags", "price", "quantity", "attributes")
    ID_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    sku: str
    shop: str
    category: str
    brand: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    price: str
    quantity: int
    attributes: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., sku: _Optional[str] = ..., shop: _Optional[str] = ..., category: _Optional[str] = ..., brand: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., price: _Optional[str] = ..., quantity: _Optional[int] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class WalletCoupon(_message.Message):
    __slots__ = ("coupon", "id", "expires", "code")
    COUPON_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    coupon: str
    id: str
    expires: str
    code: str
    def __init__(self, coupon: _Optional[str] = ..., id: _Optional[str] = ..., expires: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("at", "user", "channel", "region", "lines", "shipping", "wallet", "selected", "stage", "presale_sold", "explain")
    class ShippingEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class PresaleSoldEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    AT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PRESALE_SOLD_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    at: str
    user: User
    channel: str
    region: str
    lines: _containers.RepeatedCompositeFieldContainer[Line]
    shipping: _containers.ScalarMap[str, str]
    wallet: _containers.RepeatedCompositeFieldContainer[WalletCoupon]
    selected: _containers.RepeatedCompositeFieldContainer[WalletCoupon]
    stage: Stage
    presale_sold: _containers.ScalarMap[str, int]
    explain: Explain
    def __init__(self, at: _Optional[str] = ..., user: _Optional[_Union[User, _Mapping]] = ..., channel: _Optional[str] = ..., region: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[Line, _Mapping]]] = ..., shipping: _Optional[_Mapping[str, str]] = ..., wallet: _Optional[_Iterable[_Union[WalletCoupon, _Mapping]]] = ..., selected: _Optional[_Iterable[_Union[WalletCoupon, _Mapping]]] = ..., stage: _Optional[_Union[Stage, str]] = ..., presale_sold: _Optional[_Mapping[str, int]] = ..., explain: _Optional[_Union[Explain, str]] = ...) -> None: ...

class Totals(_message.Message):
    __slots__ = ("list", "discount", "shipping", "payable")
    LIST_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    SHIPPING_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_FIELD_NUMBER: _ClassVar[int]
    list: str
    discount: str
    shipping: str
    payable: str
    def __init__(self, list: _Optional[str] = ..., discount: _Optional[str] = ..., shipping: _Optional[str] = ..., payable: _Optional[str] = ...) -> None: ...

class LineDiscount(_message.Message):
    __slots__ = ("promotion", "amount")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    amount: str
    def __init__(self, promotion: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class LineQuote(_message.Message):
    __slots__ = ("id", "quantity", "list", "base", "final", "discounts", "gift_of")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    LIST_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    DISCOUNTS_FIELD_NUMBER: _ClassVar[int]
    GIFT_OF_FIELD_NUMBER: _ClassVar[int]
    id: str
    quantity: int
    list: str
    base: str
    final: str
    discounts: _containers.RepeatedCompositeFieldContainer[LineDiscount]
    gift_of: str
    def __init__(self, id: _Optional[str] = ..., quantity: _Optional[int] = ..., list: _Optional[str] = ..., base: _Optional[str] = ..., final: _Optional[str] = ..., discounts: _Optional[_Iterable[_Union[LineDiscount, _Mapping]]] = ..., gift_of: _Optional[str] = ...) -> None: ...

class Applied(_message.Message):
    __slots__ = ("promotion", "level", "kind", "amount", "coupon_id", "capped", "detail")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COUPON_ID_FIELD_NUMBER: _ClassVar[int]
    CAPPED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    level: Level
    kind: Kind
    amount: str
    coupon_id: str
    capped: bool
    detail: _struct_pb2.Struct
    def __init__(self, promotion: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., kind: _Optional[_Union[Kind, str]] = ..., amount: _Optional[str] = ..., coupon_id: _Optional[str] = ..., capped: _Optional[bool] = ..., detail: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class NotApplied(_message.Message):
    __slots__ = ("promotion", "reason", "message", "message_zh", "detail")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ZH_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    reason: str
    message: str
    message_zh: str
    detail: _struct_pb2.Struct
    def __init__(self, promotion: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., message_zh: _Optional[str] = ..., detail: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Hint(_message.Message):
    __slots__ = ("promotion", "missing_amount", "missing_quantity", "would_save", "message", "message_zh")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    MISSING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MISSING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    WOULD_SAVE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ZH_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    missing_amount: str
    missing_quantity: int
    would_save: str
    message: str
    message_zh: str
    def __init__(self, promotion: _Optional[str] = ..., missing_amount: _Optional[str] = ..., missing_quantity: _Optional[int] = ..., would_save: _Optional[str] = ..., message: _Optional[str] = ..., message_zh: _Optional[str] = ...) -> None: ...

class PresaleLine(_message.Message):
    __slots__ = ("line", "stage", "deposit", "deposit_worth", "balance_due", "ships")
    LINE_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_WORTH_FIELD_NUMBER: _ClassVar[int]
    BALANCE_DUE_FIELD_NUMBER: _ClassVar[int]
    SHIPS_FIELD_NUMBER: _ClassVar[int]
    line: str
    stage: str
    deposit: str
    deposit_worth: str
    balance_due: str
    ships: str
    def __init__(self, line: _Optional[str] = ..., stage: _Optional[str] = ..., deposit: _Optional[str] = ..., deposit_worth: _Optional[str] = ..., balance_due: _Optional[str] = ..., ships: _Optional[str] = ...) -> None: ...

class BetterSet(_message.Message):
    __slots__ = ("coupons", "payable", "would_save")
    COUPONS_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_FIELD_NUMBER: _ClassVar[int]
    WOULD_SAVE_FIELD_NUMBER: _ClassVar[int]
    coupons: _containers.RepeatedScalarFieldContainer[str]
    payable: str
    would_save: str
    def __init__(self, coupons: _Optional[_Iterable[str]] = ..., payable: _Optional[str] = ..., would_save: _Optional[str] = ...) -> None: ...

class EvaluateResponse(_message.Message):
    __slots__ = ("ruleset", "currency", "stacking", "totals", "lines", "applied", "not_applied", "hints", "presale", "better_set", "trace", "search")
    RULESET_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STACKING_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    NOT_APPLIED_FIELD_NUMBER: _ClassVar[int]
    HINTS_FIELD_NUMBER: _ClassVar[int]
    PRESALE_FIELD_NUMBER: _ClassVar[int]
    BETTER_SET_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    ruleset: RulesetRef
    currency: str
    stacking: str
    totals: Totals
    lines: _containers.RepeatedCompositeFieldContainer[LineQuote]
    applied: _containers.RepeatedCompositeFieldContainer[Applied]
    not_applied: _containers.RepeatedCompositeFieldContainer[NotApplied]
    hints: _containers.RepeatedCompositeFieldContainer[Hint]
    presale: _containers.RepeatedCompositeFieldContainer[PresaleLine]
    better_set: BetterSet
    trace: _struct_pb2.ListValue
    search: Search
    def __init__(self, ruleset: _Optional[_Union[RulesetRef, _Mapping]] = ..., currency: _Optional[str] = ..., stacking: _Optional[str] = ..., totals: _Optional[_Union[Totals, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[LineQuote, _Mapping]]] = ..., applied: _Optional[_Iterable[_Union[Applied, _Mapping]]] = ..., not_applied: _Optional[_Iterable[_Union[NotApplied, _Mapping]]] = ..., hints: _Optional[_Iterable[_Union[Hint, _Mapping]]] = ..., presale: _Optional[_Iterable[_Union[PresaleLine, _Mapping]]] = ..., better_set: _Optional[_Union[BetterSet, _Mapping]] = ..., trace: _Optional[_Union[_struct_pb2.ListValue, _Mapping]] = ..., search: _Optional[_Union[Search, _Mapping]] = ...) -> None: ...

class Search(_message.Message):
    __slots__ = ("optimal", "stopped", "choices_priced")
    OPTIMAL_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    CHOICES_PRICED_FIELD_NUMBER: _ClassVar[int]
    optimal: bool
    stopped: str
    choices_priced: int
    def __init__(self, optimal: _Optional[bool] = ..., stopped: _Optional[str] = ..., choices_priced: _Optional[int] = ...) -> None: ...

class QualifyRequest(_message.Message):
    __slots__ = ("cart", "operator")
    CART_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    cart: EvaluateRequest
    operator: bool
    def __init__(self, cart: _Optional[_Union[EvaluateRequest, _Mapping]] = ..., operator: _Optional[bool] = ...) -> None: ...

class CouponStatus(_message.Message):
    __slots__ = ("coupon", "id", "usable", "in_best", "saving_alone", "saving_in_best", "reason", "message", "message_zh", "missing_amount", "missing_quantity", "would_save", "detail")
    COUPON_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    USABLE_FIELD_NUMBER: _ClassVar[int]
    IN_BEST_FIELD_NUMBER: _ClassVar[int]
    SAVING_ALONE_FIELD_NUMBER: _ClassVar[int]
    SAVING_IN_BEST_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ZH_FIELD_NUMBER: _ClassVar[int]
    MISSING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MISSING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    WOULD_SAVE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    coupon: str
    id: str
    usable: bool
    in_best: bool
    saving_alone: str
    saving_in_best: str
    reason: str
    message: str
    message_zh: str
    missing_amount: str
    missing_quantity: int
    would_save: str
    detail: _struct_pb2.Struct
    def __init__(self, coupon: _Optional[str] = ..., id: _Optional[str] = ..., usable: _Optional[bool] = ..., in_best: _Optional[bool] = ..., saving_alone: _Optional[str] = ..., saving_in_best: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., message_zh: _Optional[str] = ..., missing_amount: _Optional[str] = ..., missing_quantity: _Optional[int] = ..., would_save: _Optional[str] = ..., detail: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class QualifyResponse(_message.Message):
    __slots__ = ("ruleset", "currency", "payable_without_coupons", "payable_best", "coupons", "search")
    RULESET_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_WITHOUT_COUPONS_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_BEST_FIELD_NUMBER: _ClassVar[int]
    COUPONS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    ruleset: RulesetRef
    currency: str
    payable_without_coupons: str
    payable_best: str
    coupons: _containers.RepeatedCompositeFieldContainer[CouponStatus]
    search: Search
    def __init__(self, ruleset: _Optional[_Union[RulesetRef, _Mapping]] = ..., currency: _Optional[str] = ..., payable_without_coupons: _Optional[str] = ..., payable_best: _Optional[str] = ..., coupons: _Optional[_Iterable[_Union[CouponStatus, _Mapping]]] = ..., search: _Optional[_Union[Search, _Mapping]] = ...) -> None: ...

class SourceFile(_message.Message):
    __slots__ = ("path", "text")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    path: str
    text: str
    def __init__(self, path: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ValidateRulesRequest(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[SourceFile]
    def __init__(self, files: _Optional[_Iterable[_Union[SourceFile, _Mapping]]] = ...) -> None: ...

class Diagnostic(_message.Message):
    __slots__ = ("code", "severity", "message", "file", "line", "column", "end_line", "end_column", "help")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    END_LINE_FIELD_NUMBER: _ClassVar[int]
    END_COLUMN_FIELD_NUMBER: _ClassVar[int]
    HELP_FIELD_NUMBER: _ClassVar[int]
    code: str
    severity: Severity
    message: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    help: str
    def __init__(self, code: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., message: _Optional[str] = ..., file: _Optional[str] = ..., line: _Optional[int] = ..., column: _Optional[int] = ..., end_line: _Optional[int] = ..., end_column: _Optional[int] = ..., help: _Optional[str] = ...) -> None: ...

class ValidateRulesResponse(_message.Message):
    __slots__ = ("ok", "diagnostics", "diagnostics_total")
    OK_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    DIAGNOSTICS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    diagnostics: _containers.RepeatedCompositeFieldContainer[Diagnostic]
    diagnostics_total: int
    def __init__(self, ok: _Optional[bool] = ..., diagnostics: _Optional[_Iterable[_Union[Diagnostic, _Mapping]]] = ..., diagnostics_total: _Optional[int] = ...) -> None: ...

class GetRulesetRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Window(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class PromotionInfo(_message.Message):
    __slots__ = ("name", "title", "level", "kind", "priority", "window")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    level: Level
    kind: Kind
    priority: int
    window: Window
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., level: _Optional[_Union[Level, str]] = ..., kind: _Optional[_Union[Kind, str]] = ..., priority: _Optional[int] = ..., window: _Optional[_Union[Window, _Mapping]] = ...) -> None: ...

class GetRulesetResponse(_message.Message):
    __slots__ = ("name", "revision", "loaded_at", "currency", "timezone", "stacking", "files", "promotions")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    LOADED_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    STACKING_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    PROMOTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    revision: str
    loaded_at: str
    currency: str
    timezone: str
    stacking: str
    files: _containers.RepeatedScalarFieldContainer[str]
    promotions: _containers.RepeatedCompositeFieldContainer[PromotionInfo]
    def __init__(self, name: _Optional[str] = ..., revision: _Optional[str] = ..., loaded_at: _Optional[str] = ..., currency: _Optional[str] = ..., timezone: _Optional[str] = ..., stacking: _Optional[str] = ..., files: _Optional[_Iterable[str]] = ..., promotions: _Optional[_Iterable[_Union[PromotionInfo, _Mapping]]] = ...) -> None: ...

class CatalogItem(_message.Message):
    __slots__ = ("sku", "shop", "category", "brand", "tags", "price", "warning_price", "cost", "ad_cost", "attributes")
    SKU_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    WARNING_PRICE_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    AD_COST_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    sku: str
    shop: str
    category: str
    brand: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    price: str
    warning_price: str
    cost: str
    ad_cost: str
    attributes: _struct_pb2.Struct
    def __init__(self, sku: _Optional[str] = ..., shop: _Optional[str] = ..., category: _Optional[str] = ..., brand: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., price: _Optional[str] = ..., warning_price: _Optional[str] = ..., cost: _Optional[str] = ..., ad_cost: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AnalyzePricesRequest(_message.Message):
    __slots__ = ("at", "items", "max_units", "user", "channel", "skip_what_ifs")
    AT_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    MAX_UNITS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SKIP_WHAT_IFS_FIELD_NUMBER: _ClassVar[int]
    at: str
    items: _containers.RepeatedCompositeFieldContainer[CatalogItem]
    max_units: int
    user: User
    channel: str
    skip_what_ifs: bool
    def __init__(self, at: _Optional[str] = ..., items: _Optional[_Iterable[_Union[CatalogItem, _Mapping]]] = ..., max_units: _Optional[int] = ..., user: _Optional[_Union[User, _Mapping]] = ..., channel: _Optional[str] = ..., skip_what_ifs: _Optional[bool] = ...) -> None: ...

class PromotionShare(_message.Message):
    __slots__ = ("promotion", "amount", "share")
    PROMOTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    promotion: str
    amount: str
    share: str
    def __init__(self, promotion: _Optional[str] = ..., amount: _Optional[str] = ..., share: _Optional[str] = ...) -> None: ...

class Filler(_message.Message):
    __slots__ = ("amount", "unit_price", "quantity", "shop")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    amount: str
    unit_price: str
    quantity: int
    shop: str
    def __init__(self, amount: _Optional[str] = ..., unit_price: _Optional[str] = ..., quantity: _Optional[int] = ..., shop: _Optional[str] = ...) -> None: ...

class PriceScenario(_message.Message):
    __slots__ = ("family", "quantity", "unit_price", "line_list", "line_final", "promotions", "coupons", "shares", "filler")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    LINE_LIST_FIELD_NUMBER: _ClassVar[int]
    LINE_FINAL_FIELD_NUMBER: _ClassVar[int]
    PROMOTIONS_FIELD_NUMBER: _ClassVar[int]
    COUPONS_FIELD_NUMBER: _ClassVar[int]
    SHARES_FIELD_NUMBER: _ClassVar[int]
    FILLER_FIELD_NUMBER: _ClassVar[int]
    family: str
    quantity: int
    unit_price: str
    line_list: str
    line_final: str
    promotions: _containers.RepeatedScalarFieldContainer[str]
    coupons: _containers.RepeatedScalarFieldContainer[str]
    shares: _containers.RepeatedCompositeFieldContainer[PromotionShare]
    filler: Filler
    def __init__(self, family: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ..., line_list: _Optional[str] = ..., line_final: _Optional[str] = ..., promotions: _Optional[_Iterable[str]] = ..., coupons: _Optional[_Iterable[str]] = ..., shares: _Optional[_Iterable[_Union[PromotionShare, _Mapping]]] = ..., filler: _Optional[_Union[Filler, _Mapping]] = ...) -> None: ...

class PriceWhatIf(_message.Message):
    __slots__ = ("kind", "subject", "lowest_price", "change", "below_warning", "best")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    LOWEST_PRICE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    BELOW_WARNING_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    kind: str
    subject: str
    lowest_price: str
    change: str
    below_warning: bool
    best: PriceScenario
    def __init__(self, kind: _Optional[str] = ..., subject: _Optional[str] = ..., lowest_price: _Optional[str] = ..., change: _Optional[str] = ..., below_warning: _Optional[bool] = ..., best: _Optional[_Union[PriceScenario, _Mapping]] = ...) -> None: ...

class WarningPrice(_message.Message):
    __slots__ = ("price", "source")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    price: str
    source: str
    def __init__(self, price: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class Margin(_message.Message):
    __slots__ = ("cost", "per_unit", "percent")
    COST_FIELD_NUMBER: _ClassVar[int]
    PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    cost: str
    per_unit: str
    percent: str
    def __init__(self, cost: _Optional[str] = ..., per_unit: _Optional[str] = ..., percent: _Optional[str] = ...) -> None: ...

class OrderProfit(_message.Message):
    __slots__ = ("ad_cost", "units", "profit")
    AD_COST_FIELD_NUMBER: _ClassVar[int]
    UNITS_FIELD_NUMBER: _ClassVar[int]
    PROFIT_FIELD_NUMBER: _ClassVar[int]
    ad_cost: str
    units: int
    profit: str
    def __init__(self, ad_cost: _Optional[str] = ..., units: _Optional[int] = ..., profit: _Optional[str] = ...) -> None: ...

class SplitOrders(_message.Message):
    __slots__ = ("units", "one_order", "split_orders")
    UNITS_FIELD_NUMBER: _ClassVar[int]
    ONE_ORDER_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ORDERS_FIELD_NUMBER: _ClassVar[int]
    units: int
    one_order: str
    split_orders: str
    def __init__(self, units: _Optional[int] = ..., one_order: _Optional[str] = ..., split_orders: _Optional[str] = ...) -> None: ...

class PriceFinding(_message.Message):
    __slots__ = ("row", "sku", "shop", "category", "price", "lowest_price", "discount_rate", "below_warning", "best", "scenarios", "what_ifs", "warning", "margin", "profit_per_order", "split", "guard")
    ROW_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    SHOP_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    LOWEST_PRICE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_RATE_FIELD_NUMBER: _ClassVar[int]
    BELOW_WARNING_FIELD_NUMBER: _ClassVar[int]
    BEST_FIELD_NUMBER: _ClassVar[int]
    SCENARIOS_FIELD_NUMBER: _ClassVar[int]
    WHAT_IFS_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    PROFIT_PER_ORDER_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    GUARD_FIELD_NUMBER: _ClassVar[int]
    row: int
    sku: str
    shop: str
    category: str
    price: str
    lowest_price: str
    discount_rate: str
    below_warning: bool
    best: PriceScenario
    scenarios: int
    what_ifs: _containers.RepeatedCompositeFieldContainer[PriceWhatIf]
    warning: WarningPrice
    margin: Margin
    profit_per_order: OrderProfit
    split: SplitOrders
    guard: HoldingGuard
    def __init__(self, row: _Optional[int] = ..., sku: _Optional[str] = ..., shop: _Optional[str] = ..., category: _Optional[str] = ..., price: _Optional[str] = ..., lowest_price: _Optional[str] = ..., discount_rate: _Optional[str] = ..., below_warning: _Optional[bool] = ..., best: _Optional[_Union[PriceScenario, _Mapping]] = ..., scenarios: _Optional[int] = ..., what_ifs: _Optional[_Iterable[_Union[PriceWhatIf, _Mapping]]] = ..., warning: _Optional[_Union[WarningPrice, _Mapping]] = ..., margin: _Optional[_Union[Margin, _Mapping]] = ..., profit_per_order: _Optional[_Union[OrderProfit, _Mapping]] = ..., split: _Optional[_Union[SplitOrders, _Mapping]] = ..., guard: _Optional[_Union[HoldingGuard, _Mapping]] = ...) -> None: ...

class HoldingGuard(_message.Message):
    __slots__ = ("name", "floor")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FLOOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    floor: str
    def __init__(self, name: _Optional[str] = ..., floor: _Optional[str] = ...) -> None: ...
