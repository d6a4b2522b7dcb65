"""``autentikapp tenants country`` and ``autentikapp tenants identity``: a tenant's rules about its buyers'
identity (gateway/buyer_rules.py).

- ``country ID CC``: the country of phone numbers its point of sale sends without a country code
  (``300 123 4567`` from a Colombian brand is +573001234567); ``--clear`` removes it, and such numbers
  are refused again (422).
- ``identity list|add|remove ID --national-id V | --email V | --phone V``: the tenant's own values that
  identify nobody (its store's phone, a cashier's habitual filler), treated like the built-in generic
  anonymous-buyer ids: never matched, never stored, reported in the event's outcome.

Gateways apply a change within GATEWAY_SECRET_CACHE_SECONDS; an event keeps the rules it was accepted
under. Values are shown as stored (normalised): they are a brand's fillers, not a buyer's data.
"""

from __future__ import annotations

import argparse

from cli.output import Output
from cli.rpc import Context
from cli.tenants import open_store
from gateway.buyer_rules import FIELDS, BuyerRules

APPLIES_NOTE = "Gateways apply it within GATEWAY_SECRET_CACHE_SECONDS (default 30 s)."


def add_commands(tenant_commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add ``country`` and ``identity`` to the ``tenants`` group."""
    country = tenant_commands.add_parser(
        "country", parents=[common], help="set the country of phone numbers sent without a country code",
        description="Set the tenant's default country (ISO 3166-1 alpha-2, e.g. CO): its buyers' phone numbers "
        "sent without a country code are read as numbers of that country. Without one they are refused (422).",
    )
    country.add_argument("tenant_id", metavar="ID")
    which = country.add_mutually_exclusive_group(required=True)
    which.add_argument("country", nargs="?", metavar="COUNTRY", help="e.g. CO, MX, CL, PE, AR, EC")
    which.add_argument("--clear", action="store_true", help="remove the default country")
    country.set_defaults(run=run_country)

    identity = tenant_commands.add_parser(
        "identity", help="the tenant's own values that identify no buyer",
        description="List, add or remove the tenant's own values that identify nobody (e.g. the store's phone "
        "number typed when the buyer gives none). Like the built-in anonymous-buyer ids they are never "
        "matched or stored, and the event's outcome reports them.",
    )
    commands = identity.add_subparsers(dest="identity_command", required=True, metavar="COMMAND")
    list_ = commands.add_parser("list", parents=[common], help="show the tenant's rules",
                                description="Show the tenant's default country and its own values.")
    list_.add_argument("tenant_id", metavar="ID")
    list_.set_defaults(run=run_identity_list)
    for name, run, verb in (("add", run_identity_add, "add a value to"), ("remove", run_identity_remove,
                                                                         "remove a value from")):
        command = commands.add_parser(name, parents=[common], help=f"{verb} the tenant's list",
                                      description=f"{verb.capitalize()} the tenant's list (one value).")
        command.add_argument("tenant_id", metavar="ID")
        value = command.add_mutually_exclusive_group(required=True)
        value.add_argument("--national-id", metavar="VALUE")
        value.add_argument("--email", metavar="VALUE")
        value.add_argument("--phone", dest="phone_number", metavar="VALUE")
        command.set_defaults(run=run)


def show(tenant_id: str, rules: BuyerRules, out: Output) -> None:
    """Print the tenant's rules: the default country, then one row per value."""
    out.record({
        "tenant_id": tenant_id,
        "default_country": rules.default_country or None,
        "values": [{"field": field, "value": value} for field in FIELDS for value in rules.values(field)],
    }, table_key="values", columns=("field", "value"))


def _field_and_value(args: argparse.Namespace) -> tuple[str, str]:
    """The one of --national-id, --email, --phone that was given."""
    return next((field, getattr(args, field)) for field in FIELDS if getattr(args, field) is not None)


def run_country(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Set or clear the default country, then show the rules."""
    with open_store(ctx.timeout) as store:
        rules = store.set_default_country(args.tenant_id, "" if args.clear else args.country)
    show(args.tenant_id, rules, out)
    out.note(APPLIES_NOTE)


def run_identity_list(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Show the rules (NOT_FOUND exits 3)."""
    with open_store(ctx.timeout) as store:
        store.get_tenant(args.tenant_id)
        rules = store.buyer_rules(args.tenant_id)
    show(args.tenant_id, rules, out)


def run_identity_add(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Add one value (normalised as a buyer's value is), then show the rules."""
    field, value = _field_and_value(args)
    with open_store(ctx.timeout) as store:
        rules = store.add_unidentifying_value(args.tenant_id, field, value)
    show(args.tenant_id, rules, out)
    out.note(APPLIES_NOTE)


def run_identity_remove(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Remove one value (exit 3 when it is not in the list), then show the rules."""
    field, value = _field_and_value(args)
    with open_store(ctx.timeout) as store:
        rules = store.remove_unidentifying_value(args.tenant_id, field, value)
    show(args.tenant_id, rules, out)
    out.note(APPLIES_NOTE)
