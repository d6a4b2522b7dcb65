"""``autentikapp customers``: look up a tenant's customers (the brand's buyers), show one's history, and
erase one on request.

``history`` prints ListCustomerHistory with the values masked (common.logs' masks for national ids,
e-mails and phone numbers; a name as its first letter and ``***``) unless ``--show-values`` is given, in
the table and in ``--json`` alike: an operator looking at when a customer changed seldom needs the data.

``erase`` calls EraseCustomer, then removes the tenant's dead letters that hold the buyer
(processor.dead_letter_admin.purge_buyer, through NATS_URL like ``autentikapp dlq``); docs/design.md
"Erasure" says what is erased where. Running it again is safe: the service answers the same erasure
(with its digests) and the purge finds what is left.
"""

from __future__ import annotations

import argparse
import asyncio

from autentikapp.v1 import customer_pb2
from cli.args import add_paging, add_tenant
from cli.errors import CliError
from cli.output import Output, to_dict
from cli.rpc import CUSTOMERS, Context
from common import logs
from common.bus import BusSettings
from common.errors import DomainError
from processor import dead_letter_admin

LIST_COLUMNS = ("id", "national_id", "email", "phone_number", "first_name", "last_name", "updated_at")
HISTORY_COLUMNS = ("recorded_at", "field", "value", "event_id", "observed_at")
ERASED_VALUE = "(erased)"


def mask_name(value: str) -> str:
    """A***: the first letter of a name, then the mask."""
    return f"{value[0]}{logs.MASK}" if value else ""


# The mask of each field of a customer's history; a field not listed here is masked whole.
HISTORY_MASKS = {**logs.CONTACT_MASKS, "first_name": mask_name, "last_name": mask_name}


def mask_value(field: str, value: str) -> str:
    """A history value as shown without --show-values."""
    return HISTORY_MASKS.get(field, lambda v: logs.MASK if v else "")(value)


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``customers`` group and its commands."""
    group = subparsers.add_parser(
        "customers", help="look up customers", description="Look up a tenant's customers (its buyers)."
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    find = commands.add_parser(
        "find",
        parents=[common],
        help="find a customer by a contact field",
        description="Find a customer by exactly one of national id, e-mail or phone number.",
    )
    add_tenant(find)
    key = find.add_mutually_exclusive_group(required=True)
    key.add_argument("--national-id", metavar="X")
    key.add_argument("--email", metavar="X")
    key.add_argument("--phone", metavar="X", help="phone number (E.164, e.g. +56912345678)")
    find.set_defaults(run=run_find)

    get = commands.add_parser(
        "get", parents=[common], help="show a customer by id", description="Show one customer by id."
    )
    add_tenant(get)
    get.add_argument("customer_id", metavar="CUSTOMER_ID")
    get.set_defaults(run=run_get)

    list_ = commands.add_parser(
        "list",
        parents=[common],
        help="list customers",
        description="List a tenant's customers, oldest first.",
    )
    add_tenant(list_)
    add_paging(list_)
    list_.set_defaults(run=run_list)

    history = commands.add_parser(
        "history",
        parents=[common],
        help="show a customer's history",
        description="Show a customer's history, oldest first: every field an upsert set or changed, with "
        "its new value, the event that made the change and the event's time. Values are masked (j***@x.co, "
        "***4567, A***) unless --show-values is given, in --json too; an erased customer's values are gone "
        "and show as (erased). Exit 3 when the tenant has no such customer.",
    )
    add_tenant(history)
    history.add_argument("customer_id", metavar="CUSTOMER_ID")
    history.add_argument("--show-values", action="store_true",
                         help="print the values as stored (personal data) instead of masked")
    add_paging(history)
    history.set_defaults(run=run_history)

    erase = commands.add_parser(
        "erase",
        parents=[common],
        help="erase a customer's personal data on request",
        description="Erase a customer's personal data on the person's request (habeas data, GDPR art. 17): "
        "the customer becomes an anonymous tombstone (same id, so its product codes stay linked to it), its "
        "identity values go on the tenant's suppression list as digests, so replaying an older sale does not "
        "bring them back, and the tenant's dead letters that hold the buyer are removed (uses NATS_URL). "
        "Safe to run again: an erased customer is answered as such and the purge runs again. "
        "Exit 3 when the tenant has no such customer.",
    )
    add_tenant(erase)
    erase.add_argument("customer_id", metavar="CUSTOMER_ID")
    erase.add_argument("--requested-by", required=True, metavar="NAME",
                       help="who asked (operator, or the request's ticket); recorded and logged")
    erase.add_argument("--reason", default="", metavar="TEXT",
                       help="a note recorded and logged with the erasure (no personal data)")
    erase.set_defaults(run=run_erase)


def run_find(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print the customer matching the one contact field given (NOT_FOUND exits 3)."""
    if args.national_id is not None:
        request = customer_pb2.FindCustomerRequest(tenant_id=args.tenant, national_id=args.national_id)
    elif args.email is not None:
        request = customer_pb2.FindCustomerRequest(tenant_id=args.tenant, email=args.email)
    else:
        request = customer_pb2.FindCustomerRequest(tenant_id=args.tenant, phone_number=args.phone)
    out.message(ctx.call(CUSTOMERS, "FindCustomer", request).customer)


def run_get(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print one customer by id (NOT_FOUND exits 3)."""
    request = customer_pb2.GetCustomerRequest(tenant_id=args.tenant, customer_id=args.customer_id)
    out.message(ctx.call(CUSTOMERS, "GetCustomer", request).customer)


def run_list(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print the tenant's customers, following page tokens up to --limit."""

    def page(size: int, token: str) -> customer_pb2.ListCustomersRequest:
        """One page's request."""
        return customer_pb2.ListCustomersRequest(tenant_id=args.tenant, page_size=size, page_token=token)

    items, more = ctx.paginate(
        CUSTOMERS, "ListCustomers", page, "customers", limit=args.limit, page_size=args.page_size
    )
    out.messages(items, LIST_COLUMNS, noun="customers")
    if more:
        out.note(f"(first {len(items)} shown; there are more: raise --limit, or --limit 0 for all)")


def history_record(entry: customer_pb2.CustomerHistoryEntry, show_values: bool, *, json_mode: bool) -> dict:
    """One history entry as printed: its fields (proto names; timestamps in RFC 3339), the value masked
    unless `show_values`. An erased value is null in JSON (with value_erased) and "(erased)" in the table."""
    data = to_dict(entry)
    if entry.value_erased:
        value = None if json_mode else ERASED_VALUE
    else:
        value = entry.value if show_values else mask_value(entry.field, entry.value)
    return {"recorded_at": data.get("recorded_at"), "field": entry.field, "value": value,
            "value_erased": entry.value_erased, "event_id": entry.event_id or None,
            "observed_at": data.get("observed_at")}


def run_history(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print a customer's history, oldest first, following page tokens up to --limit (NOT_FOUND exits 3)."""

    def page(size: int, token: str) -> customer_pb2.ListCustomerHistoryRequest:
        """One page's request."""
        return customer_pb2.ListCustomerHistoryRequest(tenant_id=args.tenant, customer_id=args.customer_id,
                                                       page_size=size, page_token=token)

    items, more = ctx.paginate(
        CUSTOMERS, "ListCustomerHistory", page, "entries", limit=args.limit, page_size=args.page_size
    )
    records = [history_record(entry, args.show_values, json_mode=out.json_mode) for entry in items]
    out.records(records, HISTORY_COLUMNS, noun="history entries")
    if more:
        out.note(f"(first {len(items)} shown; there are more: raise --limit, or --limit 0 for all)")


def run_erase(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Erase the customer, then purge its dead letters; print what was done (the data never)."""
    request = customer_pb2.EraseCustomerRequest(tenant_id=args.tenant, customer_id=args.customer_id,
                                                requested_by=args.requested_by, reason=args.reason)
    response = ctx.call(CUSTOMERS, "EraseCustomer", request)
    summary = {
        "customer_id": response.customer.id,
        "tenant_id": response.customer.tenant_id,
        "erased_at": response.customer.erased_at.ToDatetime().isoformat() + "Z",
        "already_erased": response.already_erased,
        "erased_fields": list(response.erased_fields),
    }
    problem = None
    try:
        report = asyncio.run(dead_letter_admin.purge_buyer(
            BusSettings.from_env(), tenant_id=args.tenant, digests=list(response.identity_digests),
            timeout=ctx.timeout))
        summary.update(dead_letters_removed=len(report.removed), dead_letters_undecodable=report.undecodable)
        problem = report.error
    except DomainError as exc:  # NATS unreachable (Unavailable)
        summary.update(dead_letters_removed=None, dead_letters_undecodable=None)
        problem = str(exc)
    if out.json_mode:
        out.mapping({**summary, "customer": to_dict(response.customer)})
    else:
        out.mapping({**summary, "erased_fields": ", ".join(summary["erased_fields"]) or "-",
                     "dead_letters_removed": "-" if summary["dead_letters_removed"] is None
                     else summary["dead_letters_removed"],
                     "dead_letters_undecodable": "-" if summary["dead_letters_undecodable"] is None
                     else summary["dead_letters_undecodable"]})
    if response.already_erased:
        out.note(f"customer {response.customer.id} was already erased; nothing changed in the customers database")
    if summary.get("dead_letters_undecodable"):
        out.note(f"{summary['dead_letters_undecodable']} dead letter(s) of tenant {args.tenant} could not be decoded "
                 "and were not examined: `autentikapp dlq list --tenant` shows them")
    if problem:
        raise CliError(f"customer {response.customer.id} is erased, but its dead letters were not all purged: "
                       f"{problem}; run the same command again to finish")
