import datetime

from autentikapp.v1 import customer_pb2 as _customer_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebhookEvent(_message.Message):
    __slots__ = ("schema_version", "event_id", "tenant_id", "received_at", "sale", "raw_body", "buyer_rules", "release")
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    SALE_FIELD_NUMBER: _ClassVar[int]
    RAW_BODY_FIELD_NUMBER: _ClassVar[int]
    BUYER_RULES_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    schema_version: int
    event_id: str
    tenant_id: str
    received_at: _timestamp_pb2.Timestamp
    sale: Sale
    raw_body: bytes
    buyer_rules: _customer_pb2.BuyerIdentityRules
    release: Release
    def __init__(self, schema_version: _Optional[int] = ..., event_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sale: _Optional[_Union[Sale, _Mapping]] = ..., raw_body: _Optional[bytes] = ..., buyer_rules: _Optional[_Union[_customer_pb2.BuyerIdentityRules, _Mapping]] = ..., release: _Optional[_Union[Release, _Mapping]] = ...) -> None: ...

class Sale(_message.Message):
    __slots__ = ("event_type", "event_timestamp", "customer", "transaction_id", "currency", "total_amount", "line_items")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LINE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    event_timestamp: _timestamp_pb2.Timestamp
    customer: _customer_pb2.CustomerData
    transaction_id: str
    currency: str
    total_amount: str
    line_items: _containers.RepeatedCompositeFieldContainer[LineItem]
    def __init__(self, event_type: _Optional[str] = ..., event_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., customer: _Optional[_Union[_customer_pb2.CustomerData, _Mapping]] = ..., transaction_id: _Optional[str] = ..., currency: _Optional[str] = ..., total_amount: _Optional[str] = ..., line_items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ...) -> None: ...

class LineItem(_message.Message):
    __slots__ = ("product_sku", "product_name", "quantity", "unit_price", "autentikapp_code")
    PRODUCT_SKU_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_PRICE_FIELD_NUMBER: _ClassVar[int]
    AUTENTIKAPP_CODE_FIELD_NUMBER: _ClassVar[int]
    product_sku: str
    product_name: str
    quantity: int
    unit_price: str
    autentikapp_code: str
    def __init__(self, product_sku: _Optional[str] = ..., product_name: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_price: _Optional[str] = ..., autentikapp_code: _Optional[str] = ...) -> None: ...

class Release(_message.Message):
    __slots__ = ("kind", "event_timestamp", "transaction_id", "refund_id", "codes")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Release.Kind]
        KIND_REFUND: _ClassVar[Release.Kind]
        KIND_VOID: _ClassVar[Release.Kind]
    KIND_UNSPECIFIED: Release.Kind
    KIND_REFUND: Release.Kind
    KIND_VOID: Release.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    kind: Release.Kind
    event_timestamp: _timestamp_pb2.Timestamp
    transaction_id: str
    refund_id: str
    codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kind: _Optional[_Union[Release.Kind, str]] = ..., event_timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transaction_id: _Optional[str] = ..., refund_id: _Optional[str] = ..., codes: _Optional[_Iterable[str]] = ...) -> None: ...
