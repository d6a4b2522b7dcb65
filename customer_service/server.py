"""Wiring: which servicers the customer service registers on its gRPC server."""

from __future__ import annotations

from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from autentikapp.v1 import customer_pb2, customer_pb2_grpc
from common.grpc_server import Registration
from customer_service.grpc_api import CustomerServicer
from customer_service.service import CustomerService

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = customer_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name


def registrations(pool: AsyncConnectionPool) -> list[Registration]:
    """The servicers to serve, bound to the pool."""
    return [Registration(customer_pb2_grpc.add_CustomerServiceServicer_to_server, CustomerServicer(CustomerService(pool)), SERVICE_NAME)]
