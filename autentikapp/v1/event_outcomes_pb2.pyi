import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LineItemOutcome(_message.Message):
    __slots__ = ("index", "code", "product_sku", "outcome")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_SKU_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    index: int
    code: str
    product_sku: str
    outcome: str
    def __init__(self, index: _Optional[int] = ..., code: _Optional[str] = ..., product_sku: _Optional[str] = ..., outcome: _Optional[str] = ...) -> None: ...

class EventOutcome(_message.Message):
    __slots__ = ("event_id", "tenant_id", "status", "transaction_id", "event_type", "line_items", "reason", "customer_created", "deliveries", "first_processed_at", "processed_at")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LINE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_CREATED_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    FIRST_PROCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_AT_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    tenant_id: str
    status: str
    transaction_id: str
    event_type: str
    line_items: _containers.RepeatedCompositeFieldContainer[LineItemOutcome]
    reason: str
    customer_created: bool
    deliveries: int
    first_processed_at: _timestamp_pb2.Timestamp
    processed_at: _timestamp_pb2.Timestamp
    def __init__(self, event_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., status: _Optional[str] = ..., transaction_id: _Optional[str] = ..., event_type: _Optional[str] = ..., line_items: _Optional[_Iterable[_Union[LineItemOutcome, _Mapping]]] = ..., reason: _Optional[str] = ..., customer_created: _Optional[bool] = ..., deliveries: _Optional[int] = ..., first_processed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., processed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListEventOutcomesRequest(_message.Message):
    __slots__ = ("tenant_id", "status", "line_item_outcome", "transaction_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LINE_ITEM_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    status: str
    line_item_outcome: str
    transaction_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., status: _Optional[str] = ..., line_item_outcome: _Optional[str] = ..., transaction_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventOutcomesResponse(_message.Message):
    __slots__ = ("outcomes", "next_page_token")
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[EventOutcome]
    next_page_token: str
    def __init__(self, outcomes: _Optional[_Iterable[_Union[EventOutcome, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetEventOutcomeRequest(_message.Message):
    __slots__ = ("tenant_id", "event_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    event_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class GetEventOutcomeResponse(_message.Message):
    __slots__ = ("outcome",)
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    outcome: EventOutcome
    def __init__(self, outcome: _Optional[_Union[EventOutcome, _Mapping]] = ...) -> None: ...
