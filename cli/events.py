"""``autentikapp events``: what the processor did with an event (its recorded outcome).

The outcomes live in the processor's own database (PROCESSOR_DATABASE_URL, else DATABASE_URL) and
are read through processor.outcomes, the one module that knows their table.
"""

from __future__ import annotations

import argparse
import asyncio

from cli.errors import EXIT_NOT_FOUND, CliError
from cli.output import Output
from cli.rpc import Context
from common.config import database_url, redact_url
from common.errors import Unavailable
from processor import outcomes

LINE_ITEM_COLUMNS = ("index", "code", "product_sku", "outcome")


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``events`` group and its commands."""
    group = subparsers.add_parser(
        "events",
        help="see what happened to an event",
        description="See what the processor did with an accepted webhook event.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = commands.add_parser(
        "show",
        parents=[common],
        help="show an event's recorded outcome",
        description="Show an event's recorded outcome: status (processed or dead_lettered), the customer, "
        "clashes, the buyer's values set aside as identifying nobody, and each line item's outcome (assigned, "
        "already_assigned, conflict, unknown_code, skipped, unidentified_buyer). "
        "Reads the processor's database (PROCESSOR_DATABASE_URL, else DATABASE_URL).",
    )
    show.add_argument("event_id", metavar="EVENT_ID", help="the event id the gateway answered with")
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print one event's outcome (exit 3 when none is recorded)."""
    url = database_url("PROCESSOR_DATABASE_URL")
    try:
        outcome = asyncio.run(outcomes.read(url, args.event_id, timeout=ctx.timeout))
    except Unavailable as exc:
        raise CliError(f"{exc} (at {redact_url(url)}; PROCESSOR_DATABASE_URL sets it)") from None
    if outcome is None:
        raise CliError(
            f"no outcome recorded for event {args.event_id} (not processed yet, or unknown)", EXIT_NOT_FOUND
        )
    out.record(outcome.as_dict(), table_key="line_items", columns=LINE_ITEM_COLUMNS)
