"""Mutual TLS on every gRPC hop, and the caller's role (docs/design.md "The internal plane").

Every process that serves or calls gRPC reads three PEM files named by GRPC_TLS_CA_FILE,
GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE: the CA that signs every certificate of the system, and its own
certificate and key. A service presents its certificate and requires the caller's, signed by that CA; a
caller (the processor, the CLI, the dashboard) presents its own and checks the service's. A caller's role
is its certificate's subject common name (ROLES); each service allows each RPC to the roles that need it
(`ALLOWED_ROLES` beside each servicer). Without the files a process refuses to start, unless
GRPC_INSECURE=true says plain text is meant (a one-off experiment, never a deployment).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from common.config import ConfigError, env_bool

CA_ENV = "GRPC_TLS_CA_FILE"
CERT_ENV = "GRPC_TLS_CERT_FILE"
KEY_ENV = "GRPC_TLS_KEY_FILE"
INSECURE_ENV = "GRPC_INSECURE"
REFLECTION_ENV = "GRPC_REFLECTION"

PROCESSOR = "processor"
OPERATOR = "operator"
DASHBOARD = "dashboard"
ROLES = (PROCESSOR, OPERATOR, DASHBOARD)
# Every caller the CA signed may ask a service's health and (when on) reflection: they say nothing of data.
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                 "/grpc.reflection.v1.ServerReflection/")


@dataclass(frozen=True)
class TlsFiles:
    """The CA, certificate and key files of one process (read when credentials are built)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_env(cls) -> "TlsFiles | None":
        """The files the environment names, required: None only when GRPC_INSECURE=true and none is
        named; ConfigError otherwise (see `named` and `required`)."""
        return required(cls.named())

    @classmethod
    def named(cls) -> "TlsFiles | None":
        """The files the environment names, or None when it names none (what a process that makes no
        gRPC call, such as `migrate`, may leave unset); ConfigError when some are missing or unreadable."""
        named = {name: os.environ.get(name, "").strip() for name in (CA_ENV, CERT_ENV, KEY_ENV)}
        if not any(named.values()):
            return None
        missing = [name for name, value in named.items() if not value]
        if missing:
            raise ConfigError(f"{', '.join(missing)} not set: mutual TLS needs {CA_ENV}, {CERT_ENV} and {KEY_ENV}")
        files = cls(Path(named[CA_ENV]), Path(named[CERT_ENV]), Path(named[KEY_ENV]))
        for name, path in zip((CA_ENV, CERT_ENV, KEY_ENV), (files.ca, files.cert, files.key)):
            if not os.access(path, os.R_OK):
                raise ConfigError(f"{name}={path}: no such readable file")
        return files

    def _read(self) -> tuple[bytes, bytes, bytes]:
        """The CA, certificate and key bytes."""
        return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()

    def server_credentials(self) -> grpc.ServerCredentials:
        """A server's: present its certificate, require a caller's signed by the CA."""
        ca, cert, key = self._read()
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """A caller's: present its certificate, trust only servers the CA signed."""
        ca, cert, key = self._read()
        return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)


def required(files: TlsFiles | None) -> TlsFiles | None:
    """`files` when given; None when GRPC_INSECURE=true says plain text is meant; else the ConfigError that
    says what to set. Checked when a process starts serving or calling, not when it only migrates."""
    if files is not None or env_bool(INSECURE_ENV, False):
        return files
    raise ConfigError(f"gRPC runs over mutual TLS: set {CA_ENV}, {CERT_ENV} and {KEY_ENV} (PEM files), "
                      f"or {INSECURE_ENV}=true for plain text on a machine of your own")


def reflection_enabled() -> bool:
    """GRPC_REFLECTION (default false): server reflection, for grpcurl and the like during development."""
    return env_bool(REFLECTION_ENV, False)


def channel(address: str, files: TlsFiles | None, *, aio: bool = False, options=None):
    """A channel to `address`: over mutual TLS with `files`, in plain text when None (GRPC_INSECURE)."""
    module = grpc.aio if aio else grpc
    if files is None:
        return module.insecure_channel(address, options=options)
    return module.secure_channel(address, files.channel_credentials(), options=options)


def role_of(context: grpc.ServicerContext) -> str | None:
    """The caller's role: its certificate's common name; None over plain text or without a certificate."""
    names = (context.auth_context() or {}).get("x509_common_name") or []
    return names[0].decode("utf-8", "replace") if names else None


def refusal(method: str, role: str | None, allowed: Mapping[str, frozenset[str]]) -> str | None:
    """Why a caller of `role` may not call `method` ("/package.Service/Method"; a message for
    PERMISSION_DENIED), or None when it may. Health and reflection are open to every certified caller;
    any other method must be listed in `allowed`."""
    if method.startswith(OPEN_SERVICES):
        return None
    roles = allowed.get(method, frozenset())
    if role in roles:
        return None
    if role is None:
        return f"{method} needs a client certificate of one of the roles {', '.join(sorted(roles)) or '(none)'}"
    return f"the role {role!r} may not call {method} (allowed: {', '.join(sorted(roles)) or 'none'})"
