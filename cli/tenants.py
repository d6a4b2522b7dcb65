"""``autentikapp tenants``: create tenants (brands), list and show them, add and revoke their webhook
secrets (their own `whsec_` ones and their store platforms'), and re-seal every stored secret under the
first key of GATEWAY_ENCRYPTION_KEYS (key rotation).

The gateway owns the tenants tables; this is its admin tool and talks to GATEWAY_DATABASE_URL (else
DATABASE_URL) directly through gateway.tenants, applying the gateway's migrations first when needed.
Like the gateway, it needs GATEWAY_ENCRYPTION_KEYS (secrets are encrypted at rest).
A secret is printed only when it is created (``create``, ``secrets add``); nothing else shows it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from datetime import datetime

import psycopg

from cli.args import int_in_range, secret_from
from cli.errors import EXIT_NOT_FOUND, CliError
from cli.output import Output
from cli.rpc import Context
from common import migrations
from common.config import redact_url
from common.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from gateway import encryption_keys
from gateway.senders import PLATFORMS, SHOPIFY, WEBHOOK
from gateway.settings import gateway_database_url, public_base_url
from gateway.tenants import MIGRATIONS, TenantStore

SECRET_COLUMNS = ("id", "platform", "created_at", "revoked_at")
TENANT_COLUMNS = ("id", "name", "created_at", "active_secrets")
ONLY_TIME_NOTE = "Store the secret now: it is not shown again (`tenants secrets add` issues another)."


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``tenants`` group and its commands."""
    group = subparsers.add_parser(
        "tenants",
        help="create tenants, manage their webhook secrets and their buyer rules",
        description="Create tenants (brands), list and show them, add and revoke their webhook secrets, set "
        "their buyer rules (default country, values that identify nobody). Uses GATEWAY_DATABASE_URL (else "
        "DATABASE_URL).",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser(
        "create",
        parents=[common],
        help="create a tenant and its first secret",
        description="Create a tenant; print its id, its webhook endpoint URL and its secret (the only time "
        "the secret is shown).",
    )
    create.add_argument("--name", required=True, help="the brand's name")
    create.add_argument("--id", dest="tenant_id", metavar="ID", help="the tenant id (default: generated)")
    create.set_defaults(run=run_create)

    list_ = commands.add_parser("list", parents=[common], help="list tenants", description="List every tenant.")
    list_.set_defaults(run=run_list)

    show = commands.add_parser(
        "show", parents=[common], help="show a tenant", description="Show a tenant and its secrets' metadata."
    )
    show.add_argument("tenant_id", metavar="ID")
    show.set_defaults(run=run_show)

    secrets = commands.add_parser(
        "secrets", help="add or revoke a tenant's secrets",
        description="Rotate a tenant's secret: add a new one, switch the sender to it, revoke the old one. "
        "A revoked secret stops working within GATEWAY_SECRET_CACHE_SECONDS.",
    )
    secret_commands = secrets.add_subparsers(dest="secret_command", required=True, metavar="COMMAND")
    add = secret_commands.add_parser(
        "add", parents=[common], help="issue one more secret, or store a platform's",
        description="Issue one more active whsec_ secret and print it; or, with --platform, store the secret a "
        "store platform signs with: Shopify's app secret (from --secret-file or --secret-env), or WooCommerce's "
        "(given the same way, or generated and printed to paste into WooCommerce).",
    )
    add.add_argument("tenant_id", metavar="ID")
    add.add_argument("--platform", choices=PLATFORMS, help="the platform the secret is for (default: the "
                     "tenant's own whsec_ secret)")
    given = add.add_mutually_exclusive_group()
    given.add_argument("--secret-file", metavar="FILE", help="a file holding the platform's secret")
    given.add_argument("--secret-env", metavar="NAME", help="an environment variable holding the platform's secret")
    add.set_defaults(run=run_secret_add)
    revoke = secret_commands.add_parser(
        "revoke", parents=[common], help="revoke a secret", description="Revoke one of a tenant's secrets."
    )
    revoke.add_argument("tenant_id", metavar="ID")
    revoke.add_argument("secret_id", type=int_in_range(1, 2**63 - 1), metavar="SECRET_ID")
    revoke.set_defaults(run=run_secret_revoke)
    reseal = secret_commands.add_parser(
        "reseal", parents=[common], help="re-encrypt every stored secret under the first key",
        description="Re-encrypt every stored secret (revoked ones too, and any still in plain text) under "
        "the first key of GATEWAY_ENCRYPTION_KEYS. Key rotation: put the new key first in "
        "GATEWAY_ENCRYPTION_KEYS everywhere, run this, then remove the old key. Safe to repeat.",
    )
    reseal.set_defaults(run=run_secret_reseal)

    from cli import tenant_identity, tenant_senders  # they build on open_store, defined below

    tenant_identity.add_commands(commands, common)
    tenant_senders.add_commands(commands, common)


@contextlib.contextmanager
def open_store(timeout: float) -> Iterator[TenantStore]:
    """The tenants store on the gateway database (migrated first); failures become one-line CliErrors."""
    url = gateway_database_url()
    keyring = encryption_keys.from_env()
    try:
        migrations.apply(url, MIGRATIONS)
        store = TenantStore.open(url, keyring=keyring, min_size=1, max_size=1, timeout=timeout)
    except migrations.MigrationError as exc:
        raise CliError(f"gateway database {redact_url(url)}: {exc}") from None
    except (psycopg.Error, Unavailable) as exc:
        raise CliError(f"cannot use the gateway database at {redact_url(url)} ({type(exc).__name__}); "
                       "set GATEWAY_DATABASE_URL (or DATABASE_URL)") from None
    try:
        yield store
    except NotFound as exc:
        raise CliError(str(exc), EXIT_NOT_FOUND) from None
    except (AlreadyExists, InvalidArgument, Unavailable) as exc:
        raise CliError(str(exc)) from None
    finally:
        store.close()


def endpoint_url(tenant_id: str) -> str:
    """Where the tenant's sender posts its webhooks."""
    return f"{public_base_url()}/v1/webhooks/inbound/{tenant_id}"


def _time(value: datetime | None) -> str | None:
    """RFC 3339 text, or None."""
    return value.isoformat() if value is not None else None


def run_create(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Create the tenant and print its id, endpoint URL and secret."""
    with open_store(ctx.timeout) as store:
        tenant, secret = store.create_tenant(args.name, args.tenant_id)
    out.mapping({
        "tenant_id": tenant.id,
        "name": tenant.name,
        "endpoint_url": endpoint_url(tenant.id),
        "secret_id": secret.id,
        "secret": secret.secret,
        "created_at": _time(tenant.created_at),
    })
    out.note(ONLY_TIME_NOTE)


def run_list(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print every tenant with its count of active secrets."""
    with open_store(ctx.timeout) as store:
        tenants = store.list_tenants()
    rows = [{"id": t.id, "name": t.name, "created_at": _time(t.created_at), "active_secrets": t.active_secrets}
            for t in tenants]
    out.records(rows, TENANT_COLUMNS, noun="tenants")


def run_show(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print one tenant (NOT_FOUND exits 3) and its secrets' ids and dates, never their values."""
    with open_store(ctx.timeout) as store:
        tenant = store.get_tenant(args.tenant_id)
        secrets = store.list_secrets(args.tenant_id)
        senders = store.senders(args.tenant_id, with_secrets=False)
    out.record({
        "tenant_id": tenant.id,
        "name": tenant.name,
        "endpoint_url": endpoint_url(tenant.id),
        "created_at": _time(tenant.created_at),
        "active_secrets": tenant.active_secrets,
        "require_timestamped": senders.require_timestamped,
        "secrets": [{"id": s.id, "platform": s.platform, "created_at": _time(s.created_at),
                     "revoked_at": _time(s.revoked_at)} for s in secrets],
    }, table_key="secrets", columns=SECRET_COLUMNS)


def run_secret_add(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Issue and print one more secret, or store a platform's (printed only when generated here)."""
    platform = args.platform or WEBHOOK
    given = secret_from(args.secret_file, args.secret_env)
    if platform == WEBHOOK and (args.secret_file or args.secret_env):
        raise CliError("whsec_ secrets are generated, never given: --secret-file and --secret-env need --platform")
    if platform == SHOPIFY and given is None:
        raise CliError("Shopify issues the secret it signs with (the app's client secret): give it with "
                       "--secret-file FILE or --secret-env NAME")
    with open_store(ctx.timeout) as store:
        secret = store.add_secret(args.tenant_id, platform, given)
    shown = {"tenant_id": secret.tenant_id, "secret_id": secret.id, "platform": secret.platform,
             "created_at": _time(secret.created_at)}
    if given is None:
        shown["secret"] = secret.secret
    out.mapping(shown)
    if given is None:
        out.note(ONLY_TIME_NOTE)


def run_secret_revoke(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Revoke one secret and say how many remain active."""
    with open_store(ctx.timeout) as store:
        revoked = store.revoke_secret(args.tenant_id, args.secret_id)
        remaining = sum(1 for s in store.list_secrets(args.tenant_id) if s.active and s.platform == revoked.platform)
    out.mapping({
        "tenant_id": revoked.tenant_id,
        "secret_id": revoked.id,
        "platform": revoked.platform,
        "revoked_at": _time(revoked.revoked_at),
        "active_secrets": remaining,
    })
    out.note("Gateways stop accepting it within GATEWAY_SECRET_CACHE_SECONDS (default 30 s).")
    if remaining == 0:
        whose = "its own" if revoked.platform == WEBHOOK else f"its {revoked.platform} store's"
        out.note(f"The tenant has no active {revoked.platform} secret left: {whose} webhooks are refused until "
                 "one is added.")


def run_secret_reseal(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Re-seal every stored secret under the first key; exit 1 when some row could not be read."""
    with open_store(ctx.timeout) as store:
        report = store.reseal()
    out.mapping({
        "key_id": report.key_id,
        "resealed": report.resealed,
        "unchanged": report.unchanged,
        "failed": list(report.failed),
    })
    if report.failed:
        raise CliError(f"{len(report.failed)} secrets could not be re-sealed (first: {report.failed[0]}); "
                       "put the key they name back into GATEWAY_ENCRYPTION_KEYS and run this again")
    out.note(f"Every secret is sealed under key {report.key_id!r}; keys after it in GATEWAY_ENCRYPTION_KEYS "
             "may now be removed.")
