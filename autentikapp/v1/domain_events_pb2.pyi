import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IdentifierEvent(_message.Message):
    __slots__ = ("kind", "tenant_id", "code", "customer_id", "event_id", "transaction_id", "at")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[IdentifierEvent.Kind]
        KIND_LINKED: _ClassVar[IdentifierEvent.Kind]
        KIND_RELEASED: _ClassVar[IdentifierEvent.Kind]
    KIND_UNSPECIFIED: IdentifierEvent.Kind
    KIND_LINKED: IdentifierEvent.Kind
    KIND_RELEASED: IdentifierEvent.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    kind: IdentifierEvent.Kind
    tenant_id: str
    code: str
    customer_id: str
    event_id: str
    transaction_id: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[IdentifierEvent.Kind, str]] = ..., tenant_id: _Optional[str] = ..., code: _Optional[str] = ..., customer_id: _Optional[str] = ..., event_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
