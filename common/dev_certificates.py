"""A throwaway CA and the certificates of every gRPC hop, for `make run`, the tests and Compose (never a
deployment: Kubernetes gets its certificates from cert-manager, docs/operations.md "The internal plane").

One directory holds `ca.crt` and, per name, `<name>.crt` and `<name>.key` (keys mode 0600; the CA's key
is not kept: nothing is signed after creation). Servers' certificates name the service as their common
name and DNS names (its Compose and Kubernetes host names, localhost) and 127.0.0.1, and serve as client
certificates too (a container's health check calls its own service). A caller's certificate names its
role as common name (common/grpc_tls.py ROLES). The processor's serves too (SERVING_ROLES: it answers
EventOutcomeService): its common name stays its role, with a server's DNS names and address.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.grpc_tls import CA_ENV, CERT_ENV, KEY_ENV, PROCESSOR, ROLES

__all__ = ["ROLES", "SERVERS", "SERVING_ROLES", "create", "files_env"]

SERVERS = ("customer-service", "identifier-service", "gateway-admin")
# Roles whose process is also a gRPC server: their certificate is a server's as well as a client's.
SERVING_ROLES = (PROCESSOR,)
VALID_DAYS = 30


def _name(common_name: str) -> x509.Name:
    """A subject or issuer: the common name is the role or the service."""
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "autentikapp (throwaway)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """A private key, readable by its owner only."""
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def create(directory: Path, *, servers: Iterable[str] = SERVERS, roles: Iterable[str] = ROLES,
           days: int = VALID_DAYS) -> Path:
    """Create a new CA and a certificate for each server and role in `directory`; return the CA file."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)  # clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("autentikapp throwaway CA")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(common_name: str, *, server: bool) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH, *([ExtendedKeyUsageOID.SERVER_AUTH] if server else [])]
        builder = (x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(ca_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName(common_name), x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        certificate = builder.sign(ca_key, hashes.SHA256())
        (directory / f"{common_name}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(directory / f"{common_name}.key", key)

    for server in servers:
        issue(server, server=True)
    for role in roles:
        issue(role, server=role in SERVING_ROLES)
    return ca_path


def files_env(directory: Path, name: str) -> dict[str, str]:
    """The GRPC_TLS_* variables of the process whose certificate is `name` in `directory`."""
    return {CA_ENV: str(directory / "ca.crt"), CERT_ENV: str(directory / f"{name}.crt"),
            KEY_ENV: str(directory / f"{name}.key")}
