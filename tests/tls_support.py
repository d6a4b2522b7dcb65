"""The test session's throwaway CA and certificates for gRPC's mutual TLS (common/dev_certificates.py),
created once and removed at exit: a service in a test presents its own certificate (customer-service,
identifier-service), an in-process processor the processor's, and the tests call as the operator. A
whole system (system_support.start_system) makes a CA of its own, as `make run` does."""

from __future__ import annotations

from pathlib import Path

import grpc

from common import dev_certificates, grpc_tls
from devstack.system import throwaway_certificates

TLS_DIR = throwaway_certificates(None)


def tls_env(name: str) -> dict[str, str]:
    """The GRPC_TLS_* variables of the session's certificate `name` (a role or a service)."""
    return dev_certificates.files_env(TLS_DIR, name)


def tls_files(name: str) -> grpc_tls.TlsFiles:
    """The session's certificate `name` as TlsFiles."""
    return grpc_tls.TlsFiles(TLS_DIR / "ca.crt", TLS_DIR / f"{name}.crt", TLS_DIR / f"{name}.key")


def _allowed_roles() -> dict[str, frozenset[str]]:
    """Every method of both services -> the roles allowed to call it, as the services enforce it."""
    from customer_service import process as customers
    from identifier_service import process as identifiers

    return {f"/{module.SERVICE_NAME}/{method}": roles
            for module in (customers, identifiers) for method, roles in module.ALLOWED_ROLES.items()}


class RoleRoutingChannel(grpc.Channel):
    """A channel for tests that call a service as whoever may: each method goes over the channel of a role
    allowed to call it (the operator when it may, else the processor, else the dashboard), so a test
    that registers codes (an operator's call) and assigns them (the processor's) uses one stub, while the
    services enforce their roles exactly as in production."""

    PREFERENCE = (grpc_tls.OPERATOR, grpc_tls.PROCESSOR, grpc_tls.DASHBOARD)

    def __init__(self, address: str, tls_dir: Path = TLS_DIR):
        self._channels = {role: grpc_tls.channel(address, grpc_tls.TlsFiles(
            tls_dir / "ca.crt", tls_dir / f"{role}.crt", tls_dir / f"{role}.key")) for role in self.PREFERENCE}
        self._allowed = _allowed_roles()

    def _for(self, method: str) -> grpc.Channel:
        roles = self._allowed.get(method, frozenset({grpc_tls.OPERATOR}))
        return self._channels[next((role for role in self.PREFERENCE if role in roles), grpc_tls.OPERATOR)]

    def unary_unary(self, method, *args, **kwargs):
        return self._for(method).unary_unary(method, *args, **kwargs)

    def unary_stream(self, method, *args, **kwargs):
        return self._for(method).unary_stream(method, *args, **kwargs)

    def stream_unary(self, method, *args, **kwargs):
        return self._for(method).stream_unary(method, *args, **kwargs)

    def stream_stream(self, method, *args, **kwargs):
        return self._for(method).stream_stream(method, *args, **kwargs)

    def subscribe(self, callback, try_to_connect=False):
        self._channels[grpc_tls.OPERATOR].subscribe(callback, try_to_connect)

    def unsubscribe(self, callback):
        self._channels[grpc_tls.OPERATOR].unsubscribe(callback)

    def close(self):
        for channel in self._channels.values():
            channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
