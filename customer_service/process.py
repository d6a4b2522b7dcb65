"""The customer service as a process (`python -m customer_service [serve|migrate]`): its migrations and
the servicers it registers on its gRPC server."""

from __future__ import annotations

from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from common.config import CUSTOMER_SERVICE_DEFAULT_PORT, ServiceSettings
from common.entrypoint import grpc_service
from common.grpc_server import Registration
from common.grpc_tls import DASHBOARD, OPERATOR, PROCESSOR
from customer_service.grpc_api import CustomerServicer
from customer_service.service import CustomerService

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = customer_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name
# Who may call what (the caller's certificate names its role; common/grpc_tls.py). Buyers are written by
# the processor (one at a time also by an operator); read by operators and the brands' dashboard;
# erased only by an operator.
ALLOWED_ROLES = {
    "UpsertCustomers": frozenset({PROCESSOR}),
    "UpsertCustomer": frozenset({PROCESSOR, OPERATOR}),
    "GetCustomer": frozenset({OPERATOR, DASHBOARD}),
    "FindCustomer": frozenset({OPERATOR, DASHBOARD}),
    "ListCustomers": frozenset({OPERATOR, DASHBOARD}),
    "ListCustomerHistory": frozenset({OPERATOR, DASHBOARD}),
    "EraseCustomer": frozenset({OPERATOR}),
}


def registrations(pool: AsyncConnectionPool) -> list[Registration]:
    """The servicers to serve, bound to the pool."""
    return [Registration(customer_pb2_grpc.add_CustomerServiceServicer_to_server, CustomerServicer(CustomerService(pool)),
                         SERVICE_NAME, ALLOWED_ROLES)]


def read_settings() -> ServiceSettings:
    """CUSTOMER_SERVICE_DATABASE_URL, CUSTOMER_SERVICE_PORT, CUSTOMER_SERVICE_POOL_MIN/_MAX and the shared settings."""
    return ServiceSettings.from_env("CUSTOMER_SERVICE", CUSTOMER_SERVICE_DEFAULT_PORT)


PROCESS = grpc_service("customer_service", "Serve the CustomerService gRPC API (the brands' buyers).",
                       read_settings, MIGRATIONS, registrations)
