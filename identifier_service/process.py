"""The identifier service as a process (`python -m identifier_service [serve|migrate]`): its migrations and
the servicers it registers on its gRPC server."""

from __future__ import annotations

from pathlib import Path

from psycopg_pool import AsyncConnectionPool

from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from common.config import IDENTIFIER_SERVICE_DEFAULT_PORT, ServiceSettings
from common.entrypoint import grpc_service
from common.grpc_server import Registration
from common.grpc_tls import DASHBOARD, OPERATOR, PROCESSOR
from identifier_service.grpc_api import IdentifierServicer
from identifier_service.service import IdentifierService

MIGRATIONS = Path(__file__).parent / "migrations"
SERVICE_NAME = identifier_pb2.DESCRIPTOR.services_by_name["IdentifierService"].full_name
# Who may call what (common/grpc_tls.py). A link is permanent until a release, so only the processor and
# operators may assign or release; codes are registered by operators; the dashboard only reads.
ALLOWED_ROLES = {
    "AssignIdentifiers": frozenset({PROCESSOR}),
    "AssignIdentifier": frozenset({PROCESSOR, OPERATOR}),
    "ReleaseIdentifiers": frozenset({PROCESSOR, OPERATOR}),
    "RegisterIdentifiers": frozenset({OPERATOR}),
    "GetIdentifier": frozenset({OPERATOR, DASHBOARD}),
    "ListIdentifiers": frozenset({OPERATOR, DASHBOARD}),
    "ListIdentifierHistory": frozenset({OPERATOR, DASHBOARD}),
}


def registrations(pool: AsyncConnectionPool) -> list[Registration]:
    """The servicers to serve, bound to the pool."""
    return [
        Registration(
            identifier_pb2_grpc.add_IdentifierServiceServicer_to_server,
            IdentifierServicer(IdentifierService(pool)),
            SERVICE_NAME,
            ALLOWED_ROLES,
        )
    ]


def read_settings() -> ServiceSettings:
    """IDENTIFIER_SERVICE_DATABASE_URL, IDENTIFIER_SERVICE_PORT, IDENTIFIER_SERVICE_POOL_MIN/_MAX and the shared settings."""
    return ServiceSettings.from_env("IDENTIFIER_SERVICE", IDENTIFIER_SERVICE_DEFAULT_PORT)


PROCESS = grpc_service("identifier_service", "Serve the IdentifierService gRPC API (product codes and their links).",
                       read_settings, MIGRATIONS, registrations)
