"""``autentikapp customers``: look up a tenant's customers (the brand's buyers)."""

from __future__ import annotations

import argparse

from autentikapp.v1 import customer_pb2
from cli.args import add_paging, add_tenant
from cli.output import Output
from cli.rpc import CUSTOMERS, Context

LIST_COLUMNS = ("id", "national_id", "email", "phone_number", "first_name", "last_name", "updated_at")


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
