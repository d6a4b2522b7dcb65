"""``autentikapp dlq``: list the dead-letter stream (WEBHOOKS_DEAD) and replay its entries.

The NATS side is processor.dead_letter_admin (NATS_URL, as every process reads it); this module parses, calls and
prints. Listing changes nothing; a replayed entry is republished to the work stream and then removed
from the dead-letter stream (see processor/dead_letter_admin.py for why a repeated or interrupted replay is harmless).
"""

from __future__ import annotations

import argparse
import asyncio

from cli.args import DEFAULT_LIMIT, int_in_range
from cli.errors import EXIT_NOT_FOUND, CliError
from cli.output import Output
from cli.rpc import Context
from common import ids
from common.bus import BusSettings
from common.errors import NotFound, Unavailable
from processor import dead_letter_admin

LIST_COLUMNS = ("sequence", "event_id", "tenant_id", "deliveries", "replayed", "dead_lettered_at",
                "original_subject", "reason")
REPLAY_COLUMNS = ("sequence", "event_id", "tenant_id", "subject", "work_sequence", "duplicate")


def tenant_id(text: str) -> str:
    """A well-formed tenant id (it becomes part of a NATS subject filter, so no wildcards)."""
    if not ids.is_tenant_id(text):
        raise argparse.ArgumentTypeError(f"not a tenant id: {text!r}")
    return text


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``dlq`` group and its commands."""
    group = subparsers.add_parser(
        "dlq",
        help="list and replay dead-lettered events",
        description="The dead-letter stream WEBHOOKS_DEAD holds the messages the processor gave up on, with "
        "the reason. List them, fix the cause, replay them. Uses NATS_URL.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    list_ = commands.add_parser(
        "list",
        parents=[common],
        help="list the dead-lettered messages",
        description="List the dead-letter stream's entries, oldest first: sequence, event and tenant ids, "
        "deliveries, whether it came back after a replay, when it was dead-lettered, its original subject "
        "and the reason. Reads without consuming or deleting anything.",
    )
    list_.add_argument("--tenant", type=tenant_id, metavar="ID", help="only this tenant's entries")
    list_.add_argument("--limit", type=int_in_range(0), default=DEFAULT_LIMIT, metavar="N",
                       help=f"show at most N entries (default {DEFAULT_LIMIT}; 0 = all)")
    list_.set_defaults(run=run_list)

    replay = commands.add_parser(
        "replay",
        parents=[common],
        help="send dead-lettered events back to the processor",
        description="Republish each entry's original message to its original subject, wait for JetStream's "
        "acknowledgement, then remove the entry. An event that fails again is dead-lettered anew with its "
        "reason. Replaying the same entry twice is harmless. Exit 3 when an EVENT_ID has no entry "
        "(then nothing is replayed).",
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("event_ids", nargs="*", default=[], metavar="EVENT_ID", help="the events to replay")
    which.add_argument("--all", action="store_true", help="replay every entry (of --tenant, when given)")
    replay.add_argument("--tenant", type=tenant_id, metavar="ID", help="only this tenant's entries")
    replay.set_defaults(run=run_replay)


def _translate(error: Exception) -> CliError:
    """NotFound exits 3; NATS trouble is one line naming the server."""
    if isinstance(error, NotFound):
        return CliError(str(error), EXIT_NOT_FOUND)
    return CliError(str(error))


def run_list(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Print the entries (none: ``no dead letters``)."""
    try:
        found, more = asyncio.run(dead_letter_admin.list_entries(BusSettings.from_env(), tenant_id=args.tenant,
                                                   limit=args.limit, timeout=ctx.timeout))
    except Unavailable as exc:
        raise _translate(exc) from None
    out.records([entry.as_dict() for entry in found], LIST_COLUMNS, noun="dead letters")
    if more:
        out.note(f"(first {len(found)} shown; there are more: raise --limit, or --limit 0 for all)")


def run_replay(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Replay, print what was replayed; fail (after printing) when an entry was refused or NATS failed."""
    try:
        report = asyncio.run(dead_letter_admin.replay(BusSettings.from_env(), event_ids=None if args.all else args.event_ids,
                                        tenant_id=args.tenant, timeout=ctx.timeout))
    except (NotFound, Unavailable) as exc:
        raise _translate(exc) from None
    replayed = [item.as_dict() for item in report.replayed]
    if out.json_mode:
        out.mapping({"replayed": replayed, "refused": [item.as_dict() for item in report.refused]})
    elif replayed:
        out.records(replayed, REPLAY_COLUMNS, noun="dead letters replayed")
    else:
        print("nothing to replay" if not report.refused and not report.error else "nothing replayed")
    for item in report.refused:
        out.note(f"dead letter {item.entry.sequence} not replayed: {item.reason}")
    if report.error:
        raise CliError(f"replayed {len(replayed)}, then {report.error}")
    if report.refused:
        count = len(report.refused)
        raise CliError(f"{count} dead letter{'s' if count > 1 else ''} could not be replayed (they stay listed)")
    if replayed:
        out.note(f"replayed {len(replayed)}; `autentikapp events show EVENT_ID` shows each one's new outcome")
