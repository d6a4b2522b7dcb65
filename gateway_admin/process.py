"""The gateway's admin API as a process (`python -m gateway_admin [serve|migrate]`, common.entrypoint).

serve: a grpc.aio server over mutual TLS with TenantAdminService, on the gateway's database (its own
small pool) and a NATS connection as user `gateway_admin` (dead letters). migrate: the gateway's own
migrations (gateway.process.migrate), so whichever of the two starts first brings the schema up."""

from __future__ import annotations

import asyncio
import logging

from autentikapp.v1 import tenant_admin_pb2, tenant_admin_pb2_grpc
from common import bus, grpc_server, grpc_tls, metrics
from common.config import redact_url
from common.entrypoint import Process
from common.grpc_server import Registration
from common.grpc_tls import DASHBOARD, OPERATOR
from gateway import encryption_keys
from gateway import process as gateway_process
from gateway.tenants import TenantStore, open_pool
from gateway_admin.grpc_api import TenantAdminServicer
from gateway_admin.service import TenantAdmin
from gateway_admin.settings import GatewayAdminSettings

log = logging.getLogger("gateway_admin")
NAME = "gateway_admin"
SERVICE_NAME = tenant_admin_pb2.DESCRIPTOR.services_by_name["TenantAdminService"].full_name
# The brands' dashboard does everything here (for the tenant of its signed-in user); an operator too.
ALLOWED_ROLES = {method: frozenset({DASHBOARD, OPERATOR}) for method in (
    "GetTenant", "ListSecrets", "CreateSecret", "RevokeSecret", "SendTestSale", "ListRefusedRequests",
    "ListDeadLetters", "ReplayDeadLetter")}


async def serve(settings: GatewayAdminSettings) -> None:
    """Serve until SIGTERM: metrics, the pool, NATS, then the gRPC server; drain and close in reverse."""
    tls = grpc_tls.required(settings.tls)
    metrics.serve(settings.metrics_port, settings.bind_host)
    pool = await asyncio.to_thread(open_pool, settings.database_url, min_size=settings.pool_min,
                                   max_size=settings.pool_max)
    store = TenantStore(pool, encryption_keys.from_env())
    connection_log = bus.ConnectionLog(log, while_down="dead letters cannot be listed or replayed until it is back")
    nc = await bus.connect(settings.bus, "autentikapp-gateway-admin", **connection_log.options())
    try:
        service = TenantAdmin(store, pool, nc.jetstream(timeout=settings.timeout_seconds),
                              gateway_url=settings.gateway_url, timeout=settings.timeout_seconds)
        registration = Registration(tenant_admin_pb2_grpc.add_TenantAdminServiceServicer_to_server,
                                    TenantAdminServicer(service), SERVICE_NAME, ALLOWED_ROLES)
        server, port, health = await grpc_server.create_server(
            [registration], f"{settings.bind_host}:{settings.port}", tls, reflection=settings.reflection,
            port_setting="GATEWAY_ADMIN_PORT")
        log.info("gateway_admin listening on %s:%d, %s (database %s, gateway %s)", settings.bind_host, port,
                 "mutual TLS" if tls else "PLAIN TEXT (GRPC_INSECURE)", redact_url(settings.database_url),
                 settings.gateway_url)
        await grpc_server.run_until_signal(server, health, settings.grace_seconds)
    finally:
        connection_log.closing = True
        await nc.close()
        await asyncio.to_thread(store.close)
    log.info("gateway_admin stopped")


PROCESS = Process(
    name=NAME,
    description="Serve the gateway's internal TenantAdminService gRPC API (for the brands' dashboard).",
    read_settings=GatewayAdminSettings.from_env,
    migrate=gateway_process.migrate,
    serve=lambda settings: asyncio.run(serve(settings)),
)
