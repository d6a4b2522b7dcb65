"""``autentikapp migrate``: apply every process's database migrations, in order, and exit.

The one list of the processes that own a database: `make migrate` and the image's `migrate` role run
this command. Each process's own settings say where its database is (CUSTOMER_SERVICE_DATABASE_URL,
IDENTIFIER_SERVICE_DATABASE_URL, GATEWAY_DATABASE_URL, PROCESSOR_DATABASE_URL, DASHBOARD_DATABASE_URL, else DATABASE_URL); the
gateway's step also needs GATEWAY_ENCRYPTION_KEYS (it seals secret rows still in plain text).
Migrations are advisory-locked and checksummed, so running this while the processes start is safe.
"""

from __future__ import annotations

import argparse

import psycopg

from cli.errors import CliError
from cli.output import Output
from cli.rpc import Context
from common.config import redact_url
from common.entrypoint import Process
from common.errors import Unavailable
from common.migrations import MigrationError
from customer_service.process import PROCESS as CUSTOMER_SERVICE
from dashboard.process import PROCESS as DASHBOARD
from gateway.process import PROCESS as GATEWAY
from identifier_service.process import PROCESS as IDENTIFIER_SERVICE
from processor.process import PROCESS as PROCESSOR

# In the order the system starts them: a process comes after those it calls.
PROCESSES: tuple[Process, ...] = (CUSTOMER_SERVICE, IDENTIFIER_SERVICE, PROCESSOR, GATEWAY, DASHBOARD)


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``migrate`` command (a group of its own, with no subcommands)."""
    command = subparsers.add_parser(
        "migrate",
        parents=[common],
        help="apply every process's database migrations",
        description="Apply the pending migrations of " + ", ".join(p.name for p in PROCESSES)
        + ", each to its own database, and exit. Safe to repeat.",
    )
    command.set_defaults(run=run_migrate)


def run_migrate(args: argparse.Namespace, ctx: Context, out: Output) -> None:
    """Migrate each process in turn; stop at the first that fails, naming it."""
    rows = []
    for process in PROCESSES:
        settings = process.read_settings()
        try:
            applied = process.migrate(settings)
        except (Unavailable, MigrationError) as exc:
            raise CliError(f"{process.name}: {exc}") from None
        except psycopg.Error as exc:
            raise CliError(f"{process.name}: cannot use the database {redact_url(settings.database_url)}: "
                           f"{type(exc).__name__}") from None
        rows.append({"process": process.name, "applied": applied})
    out.records(rows, ("process", "applied"), noun="processes")
    if not any(row["applied"] for row in rows):
        out.note("every schema is up to date")
