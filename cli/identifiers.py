"""``autentikapp identifiers``: register a tenant's product codes, look one up, list them, show a code's history."""

from __future__ import annotations

import argparse
import sys

from autentikapp.v1 import identifier_pb2
from cli.args import add_paging, add_tenant
from cli.errors import CliError
from cli.output import Output
from cli.rpc import IDENTIFIERS, Context

CHUNK_SIZE = 10_000  # codes per RegisterIdentifiers call
LIST_COLUMNS = ("code", "customer_id", "assigned_at", "transaction_id", "product_sku")
HISTORY_COLUMNS = ("at", "action", "customer_id", "transaction_id", "event_id")


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``identifiers`` group and its commands."""
    group = subparsers.add_parser(
        "identifiers",
        help="register and look up product codes",
        description="Register a tenant's product codes (autentikapp_code) and see which customer holds each.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    register = commands.add_parser(
        "register",
        parents=[common],
        help="register codes (idempotent)",
        description=f"Register codes for a tenant, {CHUNK_SIZE:,} per call. Codes the tenant already has "
        "are counted as already_registered and left untouched, so running it again is safe.",
    )
    add_tenant(register)
    source = register.add_mutually_exclusive_group(required=True)
    source.add_argument("codes", nargs="*", default=[], metavar="CODE", help="codes to register")
    source.add_argument(
        "--file",
        "-f",
        metavar="F",
        help="read codes from F, one per line (blank lines and # comments skipped; - reads stdin)",
    )
    register.set_defaults(run=run_register)

    get = commands.add_parser(
        "get", parents=[common], help="show one code", description="Show a code and the sale that linked it."
    )
    add_tenant(get)
    get.add_argument("code", metavar="CODE")
    get.set_defaults(run=run_get)

    list_ = commands.add_parser(
        "list",
        parents=[common],
        help="list codes",
        description="List a tenant's codes in code order, optionally only one customer's.",
    )
    add_tenant(list_)
    list_.add_argument("--customer", metavar="ID", default="", help="only this customer's codes")
    add_paging(list_)
    list_.set_defaults(run=run_list)

    history = commands.add_parser(
        "history",
        parents=[common],
        help="show every link and release of a code",
        description="Show a code's history, oldest first: each sale that linked it to a customer and each "
        "refund or void that released it, with the event's time, the customer, the transaction and the event.",
    )
    add_tenant(history)
    history.add_argument("code", metavar="CODE")
    add_paging(history)
    history.set_defaults(run=run_history)


def read_codes(path: str) -> list[str]:
    """The codes in a file (``-`` = stdin), one per line; blank lines and ``#`` comment lines skipped."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    codes = []
    for line in text.lstrip("\ufeff").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            codes.append(line)
    return codes


def run_register(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Send the codes in chunks and print the totals."""
    given = list(args.codes) if args.codes else read_codes(args.file)
    codes = list(dict.fromkeys(given))  # drop repeats, keep order: the totals then add up to len(codes)
    if not codes:
        raise CliError(f"no codes to register in {'stdin' if args.file == '-' else args.file}")
    registered = already = calls = 0
    for start in range(0, len(codes), CHUNK_SIZE):
        request = identifier_pb2.RegisterIdentifiersRequest(
            tenant_id=args.tenant, codes=codes[start : start + CHUNK_SIZE]
        )
        try:
            response = ctx.call(IDENTIFIERS, "RegisterIdentifiers", request)
        except CliError as exc:
            if start:
                raise CliError(
                    f"{exc}; stopped after {start:,} of {len(codes):,} codes were sent "
                    "(registering again is safe)",
                    exc.exit_code,
                ) from None
            raise
        registered += response.registered
        already += response.already_registered
        calls += 1
    out.mapping(
        {
            "registered": registered,
            "already_registered": already,
            "codes": len(codes),
            "duplicates_ignored": len(given) - len(codes),
            "calls": calls,
        }
    )


def run_get(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print one identifier (NOT_FOUND exits 3)."""
    request = identifier_pb2.GetIdentifierRequest(tenant_id=args.tenant, code=args.code)
    out.message(ctx.call(IDENTIFIERS, "GetIdentifier", request).identifier)


def run_list(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print the tenant's identifiers, following page tokens up to --limit."""

    def page(size: int, token: str) -> identifier_pb2.ListIdentifiersRequest:
        """One page's request."""
        return identifier_pb2.ListIdentifiersRequest(
            tenant_id=args.tenant, customer_id=args.customer, page_size=size, page_token=token
        )

    items, more = ctx.paginate(
        IDENTIFIERS, "ListIdentifiers", page, "identifiers", limit=args.limit, page_size=args.page_size
    )
    out.messages(items, LIST_COLUMNS, noun="identifiers")
    if more:
        out.note(f"(first {len(items)} shown; there are more: raise --limit, or --limit 0 for all)")


def history_row(entry: identifier_pb2.IdentifierHistoryEntry) -> dict[str, str]:
    """One history entry as a table row: the action as a word (a release with its kind)."""
    action = identifier_pb2.HistoryAction.Name(entry.action).removeprefix("HISTORY_ACTION_").lower()
    if entry.kind:
        action += f" ({identifier_pb2.ReleaseKind.Name(entry.kind).removeprefix('RELEASE_KIND_').lower()})"
    return {
        "at": entry.at.ToJsonString() if entry.HasField("at") else "",
        "action": action,
        "customer_id": entry.customer_id,
        "transaction_id": entry.transaction_id,
        "event_id": entry.event_id,
    }


def run_history(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print a code's history, oldest first, following page tokens up to --limit (NOT_FOUND exits 3)."""

    def page(size: int, token: str) -> identifier_pb2.ListIdentifierHistoryRequest:
        """One page's request."""
        return identifier_pb2.ListIdentifierHistoryRequest(
            tenant_id=args.tenant, code=args.code, page_size=size, page_token=token
        )

    entries, more = ctx.paginate(
        IDENTIFIERS, "ListIdentifierHistory", page, "entries", limit=args.limit, page_size=args.page_size
    )
    if out.json_mode:
        out.messages(entries, HISTORY_COLUMNS, noun="history entries")
    else:
        out.records([history_row(e) for e in entries], HISTORY_COLUMNS, noun="history entries")
    if more:
        out.note(f"(first {len(entries)} shown; there are more: raise --limit, or --limit 0 for all)")
