import datetime

from autentikapp.v1 import errors_pb2 as _errors_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssignOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGN_OUTCOME_UNSPECIFIED: _ClassVar[AssignOutcome]
    ASSIGN_OUTCOME_ASSIGNED: _ClassVar[AssignOutcome]
    ASSIGN_OUTCOME_ALREADY_ASSIGNED: _ClassVar[AssignOutcome]
    ASSIGN_OUTCOME_CONFLICT: _ClassVar[AssignOutcome]
    ASSIGN_OUTCOME_UNKNOWN_CODE: _ClassVar[AssignOutcome]
    ASSIGN_OUTCOME_RELEASED: _ClassVar[AssignOutcome]

class ReleaseKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELEASE_KIND_UNSPECIFIED: _ClassVar[ReleaseKind]
    RELEASE_KIND_REFUND: _ClassVar[ReleaseKind]
    RELEASE_KIND_VOID: _ClassVar[ReleaseKind]

class ReleaseOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELEASE_OUTCOME_UNSPECIFIED: _ClassVar[ReleaseOutcome]
    RELEASE_OUTCOME_RELEASED: _ClassVar[ReleaseOutcome]
    RELEASE_OUTCOME_NOT_HELD: _ClassVar[ReleaseOutcome]
    RELEASE_OUTCOME_UNKNOWN_CODE: _ClassVar[ReleaseOutcome]

class HistoryAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HISTORY_ACTION_UNSPECIFIED: _ClassVar[HistoryAction]
    HISTORY_ACTION_LINKED: _ClassVar[HistoryAction]
    HISTORY_ACTION_RELEASED: _ClassVar[HistoryAction]
ASSIGN_OUTCOME_UNSPECIFIED: AssignOutcome
ASSIGN_OUTCOME_ASSIGNED: AssignOutcome
ASSIGN_OUTCOME_ALREADY_ASSIGNED: AssignOutcome
ASSIGN_OUTCOME_CONFLICT: AssignOutcome
ASSIGN_OUTCOME_UNKNOWN_CODE: AssignOutcome
ASSIGN_OUTCOME_RELEASED: AssignOutcome
RELEASE_KIND_UNSPECIFIED: ReleaseKind
RELEASE_KIND_REFUND: ReleaseKind
RELEASE_KIND_VOID: ReleaseKind
RELEASE_OUTCOME_UNSPECIFIED: ReleaseOutcome
RELEASE_OUTCOME_RELEASED: ReleaseOutcome
RELEASE_OUTCOME_NOT_HELD: ReleaseOutcome
RELEASE_OUTCOME_UNKNOWN_CODE: ReleaseOutcome
HISTORY_ACTION_UNSPECIFIED: HistoryAction
HISTORY_ACTION_LINKED: HistoryAction
HISTORY_ACTION_RELEASED: HistoryAction

class Identifier(_message.Message):
    __slots__ = ("code", "tenant_id", "customer_id", "assigned_at", "transaction_id", "product_sku", "product_name", "event_id", "registered_at", "sold_at")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_SKU_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    code: str
    tenant_id: str
    customer_id: str
    assigned_at: _timestamp_pb2.Timestamp
    transaction_id: str
    product_sku: str
    product_name: str
    event_id: str
    registered_at: _timestamp_pb2.Timestamp
    sold_at: _timestamp_pb2.Timestamp
    def __init__(self, code: _Optional[str] = ..., tenant_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., assigned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., transaction_id: _Optional[str] = ..., product_sku: _Optional[str] = ..., product_name: _Optional[str] = ..., event_id: _Optional[str] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterIdentifiersRequest(_message.Message):
    __slots__ = ("tenant_id", "codes")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tenant_id: _Optional[str] = ..., codes: _Optional[_Iterable[str]] = ...) -> None: ...

class RegisterIdentifiersResponse(_message.Message):
    __slots__ = ("registered", "already_registered")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    ALREADY_REGISTERED_FIELD_NUMBER: _ClassVar[int]
    registered: int
    already_registered: int
    def __init__(self, registered: _Optional[int] = ..., already_registered: _Optional[int] = ...) -> None: ...

class GetIdentifierRequest(_message.Message):
    __slots__ = ("tenant_id", "code")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    code: str
    def __init__(self, tenant_id: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class GetIdentifierResponse(_message.Message):
    __slots__ = ("identifier",)
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("transaction_id", "product_sku", "product_name", "event_id", "sold_at")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_SKU_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    product_sku: str
    product_name: str
    event_id: str
    sold_at: _timestamp_pb2.Timestamp
    def __init__(self, transaction_id: _Optional[str] = ..., product_sku: _Optional[str] = ..., product_name: _Optional[str] = ..., event_id: _Optional[str] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AssignIdentifierRequest(_message.Message):
    __slots__ = ("tenant_id", "code", "customer_id", "provenance")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    code: str
    customer_id: str
    provenance: Provenance
    def __init__(self, tenant_id: _Optional[str] = ..., code: _Optional[str] = ..., customer_id: _Optional[str] = ..., provenance: _Optional[_Union[Provenance, _Mapping]] = ...) -> None: ...

class AssignIdentifierResponse(_message.Message):
    __slots__ = ("outcome", "identifier")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    outcome: AssignOutcome
    identifier: Identifier
    def __init__(self, outcome: _Optional[_Union[AssignOutcome, str]] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...

class AssignIdentifiersRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[AssignIdentifierRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[AssignIdentifierRequest, _Mapping]]] = ...) -> None: ...

class AssignIdentifiersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[AssignIdentifierResult]
    def __init__(self, results: _Optional[_Iterable[_Union[AssignIdentifierResult, _Mapping]]] = ...) -> None: ...

class AssignIdentifierResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: AssignIdentifierResponse
    error: _errors_pb2.ItemError
    def __init__(self, response: _Optional[_Union[AssignIdentifierResponse, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class ListIdentifiersRequest(_message.Message):
    __slots__ = ("tenant_id", "customer_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    customer_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListIdentifiersResponse(_message.Message):
    __slots__ = ("identifiers", "next_page_token")
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    next_page_token: str
    def __init__(self, identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class TransactionRelease(_message.Message):
    __slots__ = ("tenant_id", "transaction_id", "codes", "event_id", "kind", "released_at")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RELEASED_AT_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    transaction_id: str
    codes: _containers.RepeatedScalarFieldContainer[str]
    event_id: str
    kind: ReleaseKind
    released_at: _timestamp_pb2.Timestamp
    def __init__(self, tenant_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., codes: _Optional[_Iterable[str]] = ..., event_id: _Optional[str] = ..., kind: _Optional[_Union[ReleaseKind, str]] = ..., released_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CodeRelease(_message.Message):
    __slots__ = ("code", "outcome", "customer_id")
    CODE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    code: str
    outcome: ReleaseOutcome
    customer_id: str
    def __init__(self, code: _Optional[str] = ..., outcome: _Optional[_Union[ReleaseOutcome, str]] = ..., customer_id: _Optional[str] = ...) -> None: ...

class TransactionReleaseResponse(_message.Message):
    __slots__ = ("codes",)
    CODES_FIELD_NUMBER: _ClassVar[int]
    codes: _containers.RepeatedCompositeFieldContainer[CodeRelease]
    def __init__(self, codes: _Optional[_Iterable[_Union[CodeRelease, _Mapping]]] = ...) -> None: ...

class ReleaseIdentifiersRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[TransactionRelease]
    def __init__(self, items: _Optional[_Iterable[_Union[TransactionRelease, _Mapping]]] = ...) -> None: ...

class ReleaseIdentifiersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TransactionReleaseResult]
    def __init__(self, results: _Optional[_Iterable[_Union[TransactionReleaseResult, _Mapping]]] = ...) -> None: ...

class TransactionReleaseResult(_message.Message):
    __slots__ = ("response", "error")
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    response: TransactionReleaseResponse
    error: _errors_pb2.ItemError
    def __init__(self, response: _Optional[_Union[TransactionReleaseResponse, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class IdentifierHistoryEntry(_message.Message):
    __slots__ = ("tenant_id", "code", "action", "customer_id", "transaction_id", "event_id", "at", "recorded_at", "kind")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    code: str
    action: HistoryAction
    customer_id: str
    transaction_id: str
    event_id: str
    at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    kind: ReleaseKind
    def __init__(self, tenant_id: _Optional[str] = ..., code: _Optional[str] = ..., action: _Optional[_Union[HistoryAction, str]] = ..., customer_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., event_id: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[_Union[ReleaseKind, str]] = ...) -> None: ...

class ListIdentifierHistoryRequest(_message.Message):
    __slots__ = ("tenant_id", "code", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    code: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., code: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListIdentifierHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[IdentifierHistoryEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[IdentifierHistoryEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
