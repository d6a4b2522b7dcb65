"""``autentikapp tenants signing`` and ``autentikapp tenants platform``: how a tenant's senders sign and
where its store platforms keep the codes (gateway/senders.py).

- ``signing ID --require-timestamped | --accept-guide-signature``: require Standard Webhooks signatures
  (replay-safe: timestamped) on the tenant's endpoint, or accept the guide's X-Autentikapp-Signature too.
- ``platform ID shopify|woocommerce [--code-key K] [--national-id-key K]``: where the tenant's store keeps
  the Autentikapp code of a product (a line-item property, a line-item meta key) and the buyer's national
  id (an order note attribute, an order meta key); prints the platform's endpoint URL.

A platform's secret is added with ``autentikapp tenants secrets add ID --platform shopify|woocommerce``.
Gateways apply a change within GATEWAY_SECRET_CACHE_SECONDS.
"""

from __future__ import annotations

import argparse

from cli.output import Output
from cli.rpc import Context
from cli.tenants import open_store
from gateway.senders import PLATFORMS
from gateway.settings import public_base_url

APPLIES_NOTE = "Gateways apply it within GATEWAY_SECRET_CACHE_SECONDS (default 30 s)."


def add_commands(tenant_commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``signing`` and ``platform`` to the ``tenants`` group."""
    signing = tenant_commands.add_parser(
        "signing", parents=[common], help="require timestamped (Standard Webhooks) signatures, or not",
        description="Require Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature) on "
        "the tenant's endpoint: a captured request cannot be replayed after the tolerance, and the guide's "
        "X-Autentikapp-Signature alone is refused (401 saying so). Or accept both again.",
    )
    signing.add_argument("tenant_id", metavar="ID")
    choice = signing.add_mutually_exclusive_group(required=True)
    choice.add_argument("--require-timestamped", dest="required", action="store_true",
                        help="accept only Standard Webhooks signatures")
    choice.add_argument("--accept-guide-signature", dest="required", action="store_false",
                        help="accept X-Autentikapp-Signature too (the default)")
    signing.set_defaults(run=run_signing)

    platform = tenant_commands.add_parser(
        "platform", parents=[common], help="show or set where a store platform keeps the codes",
        description="Show or set where the tenant's Shopify or WooCommerce store keeps each product's "
        "Autentikapp code and the buyer's national id, and print the platform's endpoint URL.",
    )
    platform.add_argument("tenant_id", metavar="ID")
    platform.add_argument("platform", choices=PLATFORMS)
    platform.add_argument("--code-key", metavar="NAME", help="Shopify: the line-item property; WooCommerce: the "
                          "line-item meta key (default autentikapp_code)")
    platform.add_argument("--national-id-key", metavar="NAME", help="Shopify: the order note attribute; "
                          "WooCommerce: the order meta key (default national_id)")
    platform.set_defaults(run=run_platform)


def platform_endpoint_url(tenant_id: str, platform: str) -> str:
    """Where the tenant's store on `platform` posts its webhooks."""
    return f"{public_base_url()}/v1/webhooks/{platform}/{tenant_id}"


def run_signing(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Set the requirement and print it."""
    with open_store(ctx.timeout) as store:
        senders = store.set_require_timestamped(args.tenant_id, args.required)
    out.mapping({"tenant_id": args.tenant_id, "require_timestamped": senders.require_timestamped})
    out.note(APPLIES_NOTE)


def run_platform(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Set what was given (nothing: just show) and print the platform's settings and endpoint."""
    with open_store(ctx.timeout) as store:
        if args.code_key is not None or args.national_id_key is not None:
            store.set_platform_keys(args.tenant_id, args.platform, code_key=args.code_key,
                                    national_id_key=args.national_id_key)
        else:
            store.get_tenant(args.tenant_id)  # NotFound (exit 3) for an unknown tenant
        settings = store.senders(args.tenant_id, with_secrets=False).platform(args.platform)
        active = sum(1 for s in store.list_secrets(args.tenant_id) if s.active and s.platform == args.platform)
    out.mapping({
        "tenant_id": args.tenant_id,
        "platform": args.platform,
        "endpoint_url": platform_endpoint_url(args.tenant_id, args.platform),
        "code_key": settings.code_key,
        "national_id_key": settings.national_id_key,
        "active_secrets": active,
    })
    if active == 0:
        out.note(f"No {args.platform} secret yet: add it with `autentikapp tenants secrets add {args.tenant_id} "
                 f"--platform {args.platform} --secret-file FILE`.")
