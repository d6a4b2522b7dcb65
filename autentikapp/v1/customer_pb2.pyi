import datetime

from autentikapp.v1 import errors_pb2 as _errors_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Customer(_message.Message):
    __slots__ = ("id", "tenant_id", "national_id", "email", "phone_number", "first_name", "last_name", "whatsapp_number", "created_at", "updated_at", "data_observed_at", "erased_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NATIONAL_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    WHATSAPP_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DATA_OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    ERASED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    national_id: str
    email: str
    phone_number: str
    first_name: str
    last_name: str
    whatsapp_number: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    data_observed_at: _timestamp_pb2.Timestamp
    erased_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., national_id: _Optional[str] = ..., email: _Optional[str] = ..., phone_number: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., whatsapp_number: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., data_observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., erased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CustomerData(_message.Message):
    __slots__ = ("national_id", "email", "phone_number", "first_name", "last_name", "whatsapp_number")
    NATIONAL_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    WHATSAPP_NUMBER_FIELD_NUMBER: _ClassVar[int]
    national_id: str
    email: str
    phone_number: str
    first_name: str
    last_name: str
    whatsapp_number: str
    def __init__(self, national_id: _Optional[str] = ..., email: _Optional[str] = ..., phone_number: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., whatsapp_number: _Optional[str] = ...) -> None: ...

class BuyerIdentityRules(_message.Message):
    __slots__ = ("default_country", "ignored_national_ids", "ignored_emails", "ignored_phone_numbers")
    DEFAULT_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    IGNORED_NATIONAL_IDS_FIELD_NUMBER: _ClassVar[int]
    IGNORED_EMAILS_FIELD_NUMBER: _ClassVar[int]
    IGNORED_PHONE_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    default_country: str
    ignored_national_ids: _containers.RepeatedScalarFieldContainer[str]
    ignored_emails: _containers.RepeatedScalarFieldContainer[str]
    ignored_phone_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, default_country: _Optional[str] = ..., ignored_national_ids: _Optional[_Iterable[str]] = ..., ignored_emails: _Optional[_Iterable[str]] = ..., ignored_phone_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class UpsertCustomerRequest(_message.Message):
    __slots__ = ("tenant_id", "data", "observed_at", "event_id", "rules")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    data: CustomerData
    observed_at: _timestamp_pb2.Timestamp
    event_id: str
    rules: BuyerIdentityRules
    def __init__(self, tenant_id: _Optional[str] = ..., data: _Optional[_Union[CustomerData, _Mapping]] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_id: _Optional[str] = ..., rules: _Optional[_Union[BuyerIdentityRules, _Mapping]] = ...) -> None: ...

class UpsertCustomersRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[UpsertCustomerRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[UpsertCustomerRequest, _Mapping]]] = ...) -> None: ...

class UpsertCustomersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[UpsertCustomerResult]
    def __init__(self, results: _Optional[_Iterable[_Union[UpsertCustomerResult, _Mapping]]] = ...) -> None: ...

class UpsertCustomerResult(_message.Message):
    __slots__ = ("upserted", "error")
    UPSERTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    upserted: UpsertCustomerResponse
    error: _errors_pb2.ItemError
    def __init__(self, upserted: _Optional[_Union[UpsertCustomerResponse, _Mapping]] = ..., error: _Optional[_Union[_errors_pb2.ItemError, _Mapping]] = ...) -> None: ...

class Clash(_message.Message):
    __slots__ = ("field", "other_customer_id")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    OTHER_CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    field: str
    other_customer_id: str
    def __init__(self, field: _Optional[str] = ..., other_customer_id: _Optional[str] = ...) -> None: ...

class IgnoredValue(_message.Message):
    __slots__ = ("field", "reason")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    field: str
    reason: str
    def __init__(self, field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class UpsertCustomerResponse(_message.Message):
    __slots__ = ("customer", "created", "clashes", "ignored", "unidentified")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CLASHES_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    UNIDENTIFIED_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    created: bool
    clashes: _containers.RepeatedCompositeFieldContainer[Clash]
    ignored: _containers.RepeatedCompositeFieldContainer[IgnoredValue]
    unidentified: bool
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., created: _Optional[bool] = ..., clashes: _Optional[_Iterable[_Union[Clash, _Mapping]]] = ..., ignored: _Optional[_Iterable[_Union[IgnoredValue, _Mapping]]] = ..., unidentified: _Optional[bool] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("tenant_id", "customer_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    customer_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., customer_id: _Optional[str] = ...) -> None: ...

class GetCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class FindCustomerRequest(_message.Message):
    __slots__ = ("tenant_id", "national_id", "email", "phone_number")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NATIONAL_ID_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    national_id: str
    email: str
    phone_number: str
    def __init__(self, tenant_id: _Optional[str] = ..., national_id: _Optional[str] = ..., email: _Optional[str] = ..., phone_number: _Optional[str] = ...) -> None: ...

class FindCustomerResponse(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ...) -> None: ...

class ListCustomersRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCustomersResponse(_message.Message):
    __slots__ = ("customers", "next_page_token")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[Customer]
    next_page_token: str
    def __init__(self, customers: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EraseCustomerRequest(_message.Message):
    __slots__ = ("tenant_id", "customer_id", "requested_by", "reason")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    customer_id: str
    requested_by: str
    reason: str
    def __init__(self, tenant_id: _Optional[str] = ..., customer_id: _Optional[str] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EraseCustomerResponse(_message.Message):
    __slots__ = ("customer", "already_erased", "erased_fields", "identity_digests")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    ALREADY_ERASED_FIELD_NUMBER: _ClassVar[int]
    ERASED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    IDENTITY_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    already_erased: bool
    erased_fields: _containers.RepeatedScalarFieldContainer[str]
    identity_digests: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., already_erased: _Optional[bool] = ..., erased_fields: _Optional[_Iterable[str]] = ..., identity_digests: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCustomerHistoryRequest(_message.Message):
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

class CustomerHistoryEntry(_message.Message):
    __slots__ = ("field", "value", "value_erased", "event_id", "observed_at", "recorded_at")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VALUE_ERASED_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    field: str
    value: str
    value_erased: bool
    event_id: str
    observed_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    def __init__(self, field: _Optional[str] = ..., value: _Optional[str] = ..., value_erased: _Optional[bool] = ..., event_id: _Optional[str] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListCustomerHistoryResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[CustomerHistoryEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[CustomerHistoryEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
