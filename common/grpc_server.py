"""gRPC server plumbing shared by the services: mutual TLS, health, reflection (when asked for), one
interceptor, graceful stop.

The interceptor is the one boundary every call crosses: it refuses a caller whose certificate's role may
not call the method (PERMISSION_DENIED; common/grpc_tls.py), translates errors, logs, and counts each
call by method and status code, with its duration and, for a batch call, its items (SERVER_METRICS).

`create_server(...)` builds and starts a server and returns `(server, port)` so tests can bind port 0;
`run_until_signal(...)` is what a service's entrypoint awaits in production.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection as server_reflection

from autentikapp.v1 import errors_pb2
from common import errors, grpc_tls, ids, logs
from common.metrics import RpcMetrics

log = logging.getLogger("grpc")

SERVER_METRICS = RpcMetrics("server")
# Metadata a caller of a single-item RPC may send to name the event it acts for (batch items carry it
# inside each item instead, since one call serves many events).
EVENT_ID_METADATA = "x-event-id"

_STATUS_FOR = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_for(exc: errors.DomainError) -> grpc.StatusCode:
    """The gRPC status code that means the same as a domain error."""
    for kind in type(exc).__mro__:
        if kind in _STATUS_FOR:
            return _STATUS_FOR[kind]
    return grpc.StatusCode.UNKNOWN


def item_error(exc: errors.DomainError) -> errors_pb2.ItemError:
    """A domain error as the ItemError of one item of a batch call (same code as the single-item RPC)."""
    return errors_pb2.ItemError(code=status_for(exc).value[0], message=str(exc))


def event_id_of(given: str, context: grpc.aio.ServicerContext | None = None) -> str:
    """The event an item is about, for the service's log line: the id the item carries, else (for a
    single-item RPC, given its `context`) the caller's x-event-id metadata; "" when neither is a
    well-formed event id (a caller's text never reaches a log line unchecked)."""
    candidates = [given]
    if context is not None:
        candidates += [value for key, value in context.invocation_metadata() or () if key == EVENT_ID_METADATA]
    return next((value for value in candidates if isinstance(value, str) and ids.is_event_id(value)), "")


def log_item_refused(logger: logging.Logger, what: str, event_id: str, tenant_id: str,
                     exc: errors.DomainError) -> None:
    """One INFO line for a batch item a service refused: its status and field, never the error's
    message (it may echo the value sent, e.g. a malformed e-mail)."""
    code = status_for(exc).name
    field = getattr(exc, "field", None) or ""
    tenant = tenant_id if ids.is_tenant_id(tenant_id) else ""
    logger.info("event %s: %s refused: %s%s", event_id or "-", what, code, f" ({field})" if field else "",
                extra=logs.event_extra(event_id, tenant, result="refused", code=code, field=field))


def describe_unexpected(exc: BaseException) -> str:
    """An unexpected error for the log, without its message when that may quote stored data: a Postgres
    error's text and detail can ("Key (tenant_id, email)=(t1, ana@example.com) already exists",
    "Failing row contains (...)"), so only its type and SQLSTATE are kept."""
    if isinstance(exc, psycopg.Error):
        return f"{type(exc).__name__} (SQLSTATE {exc.sqlstate or '?'})"
    return f"{type(exc).__name__}: {exc}"


class BoundaryInterceptor(grpc.aio.ServerInterceptor):
    """Checks the caller's role, translates domain errors into gRPC statuses, logs one line per call
    (method, code, time) and records it in SERVER_METRICS.

    A caller's mistake is never INTERNAL: only an unexpected exception becomes INTERNAL, logged with
    its stack trace here and answered with a generic message (no internals leak to the caller).
    `allowed_roles` (full method path -> roles) is enforced over TLS; None (plain text, GRPC_INSECURE) checks
    no role, since no caller is authenticated then.
    """

    def __init__(self, allowed_roles: dict[str, frozenset[str]] | None = None):
        self._allowed_roles = allowed_roles

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        inner = handler.unary_unary

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            try:
                if self._allowed_roles is not None:
                    refused = grpc_tls.refusal(method, grpc_tls.role_of(context), self._allowed_roles)
                    if refused is not None:
                        code = grpc.StatusCode.PERMISSION_DENIED
                        await context.abort(code, refused)
                return await inner(request, context)
            except errors.DomainError as exc:
                code = status_for(exc)
                await context.abort(code, str(exc))
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception as exc:  # noqa: BLE001 - the boundary: anything unexpected is INTERNAL
                code = grpc.StatusCode.INTERNAL
                log.error("unexpected error in %s: %s\n%s", method, describe_unexpected(exc),
                          "".join(traceback.format_tb(exc.__traceback__)))
                await context.abort(code, "internal error")
            finally:
                elapsed = time.perf_counter() - started
                code_name = getattr(code, "name", str(code))
                level = logging.DEBUG if code == grpc.StatusCode.OK else logging.INFO
                log.log(level, "rpc %s %s %.1fms", method, code_name, elapsed * 1000)
                SERVER_METRICS.observe(method, code_name, elapsed, request)

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


@dataclass
class Registration:
    """A servicer and the generated function that adds it to a server, plus its full service name."""

    add_to_server: Callable[[Any, grpc.aio.Server], None]
    servicer: Any
    full_name: str
    allowed_roles: dict[str, frozenset[str]]  # method name -> the roles that may call it


async def create_server(registrations: Iterable[Registration], address: str, tls: grpc_tls.TlsFiles | None, *,
                        reflection: bool = False,
                        port_setting: str = "") -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Build, register and start a server on `address` (port 0 picks a free one): over mutual TLS with
    `tls` (plain text when None: GRPC_INSECURE), with server reflection only when `reflection`. A port that
    cannot be bound is an OSError naming the address and `port_setting`, the variable that chose it (the
    process then stops with that one line: common.entrypoint.startup_failure).

    Returns the server, the bound port and the health servicer, already SERVING for "" and each service.
    """
    registrations = list(registrations)
    allowed = {f"/{r.full_name}/{method}": roles for r in registrations for method, roles in r.allowed_roles.items()}
    server = grpc.aio.server(
        interceptors=[BoundaryInterceptor(allowed if tls is not None else None)],
        options=[
            ("grpc.max_receive_message_length", 8 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
        ],
    )
    for registration in registrations:
        registration.add_to_server(registration.servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [r.full_name for r in registrations]
    if reflection:
        server_reflection.enable_server_reflection(
            [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, server_reflection.SERVICE_NAME],
            server)
    try:
        port = (server.add_secure_port(address, tls.server_credentials()) if tls is not None
                else server.add_insecure_port(address))
    except RuntimeError as exc:  # grpcio's "Failed to bind to address ..." (older ones answered port 0)
        if "bind" not in str(exc):
            raise
        port = 0
    if port == 0:
        where = f" ({port_setting})" if port_setting else ""
        raise OSError(f"cannot listen on {address}{where}: the port is taken or not ours")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port, health_servicer


async def run_until_signal(
    server: grpc.aio.Server,
    health_servicer: health.aio.HealthServicer,
    grace_seconds: float,
    on_stopped: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then report NOT_SERVING, drain in-flight RPCs and clean up."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serving = asyncio.ensure_future(server.wait_for_termination())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    log.info("shutting down: draining in-flight calls for up to %.0fs", grace_seconds)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(grace_seconds)
    serving.cancel()
    stopping.cancel()
    if on_stopped is not None:
        await on_stopped()
