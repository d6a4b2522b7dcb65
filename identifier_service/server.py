"""Wiring: which servicers the identifier service registers on its gRPC server."""

from __future__ import annotations

from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from common.grpc_server import Registration
from identifier_service.grpc_api import IdentifierServicer
from identifier_service.service import IdentifierService

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = identifier_pb2.DESCRIPTOR.services_by_name["IdentifierService"].full_name


def registrations(pool: AsyncConnectionPool) -> list[Registration]:
    """The servicers to serve, bound to the pool."""
    return [
        Registration(
            identifier_pb2_grpc.add_IdentifierServiceServicer_to_server,
            IdentifierServicer(IdentifierService(pool)),
            SERVICE_NAME,
        )
    ]
