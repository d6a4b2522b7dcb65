"""``autentikapp certs create DIR``: a throwaway CA and the certificate of every gRPC hop, for Docker
Compose (its one-shot `certs` service writes them into a volume that every container mounts read-only).
`make run` and the tests make their own the same way (common/dev_certificates.py); Kubernetes gets real
ones from cert-manager. Certificates still valid for a day or more are kept, so the command is safe to
run at every `docker compose up`.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from cli.args import int_in_range
from cli.errors import CliError
from cli.output import Output
from cli.rpc import Context
from common import dev_certificates


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``certs`` group and its command."""
    group = subparsers.add_parser("certs", help="throwaway certificates for gRPC's mutual TLS (Compose)",
                                  description="Certificates for development stacks, never for production.")
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = commands.add_parser(
        "create", parents=[common], help="create a CA and every certificate in DIR (kept while valid)",
        description="Create a throwaway CA and a certificate for each service ("
        + ", ".join(dev_certificates.SERVERS) + ") and each role (" + ", ".join(dev_certificates.ROLES)
        + ") in DIR, unless the ones there are valid for at least another day and fit their use.",
    )
    create.add_argument("directory", metavar="DIR", type=Path)
    create.add_argument("--days", type=int_in_range(2, 3650), default=365, help="validity (default 365)")
    create.set_defaults(run=run_create)


def still_valid(directory: Path) -> bool:
    """True when every certificate in `directory` exists, is valid for at least one more day, and can
    serve when its process serves (a processor certificate made before it served gRPC cannot)."""
    tomorrow = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    names = ["ca", *dev_certificates.SERVERS, *dev_certificates.ROLES]
    try:
        certificates = {name: x509.load_pem_x509_certificate((directory / f"{name}.crt").read_bytes())
                        for name in names}
    except (OSError, ValueError):
        return False
    serving = [*dev_certificates.SERVERS, *dev_certificates.SERVING_ROLES]
    return (all(c.not_valid_after_utc > tomorrow for c in certificates.values())
            and all(_serves(certificates[name]) for name in serving))


def _serves(certificate: x509.Certificate) -> bool:
    """True when the certificate may authenticate a TLS server."""
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.SERVER_AUTH in usages


def run_create(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Create them (or keep valid ones) and say which."""
    kept = still_valid(args.directory)
    if not kept:
        try:
            dev_certificates.create(args.directory, days=args.days)
        except OSError as exc:
            raise CliError(f"cannot write the certificates in {args.directory}: {exc.strerror or exc}") from None
    out.mapping({"directory": str(args.directory), "created": not kept,
                 "certificates": ["ca", *dev_certificates.SERVERS, *dev_certificates.ROLES]})
