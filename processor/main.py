"""The processor's command line: `python -m processor [run|migrate]`.

run (the default): validate config, apply migrations (unless MIGRATE_ON_START=false), consume until
SIGTERM/SIGINT. migrate: apply migrations and exit. Exit codes: 0 ok, 1 a dependency failed at start
(one line naming it), 2 a bad setting (one line naming the variable).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import nats.errors

from common import logs
from common.config import ConfigError
from common.entrypoint import apply_migrations, startup_failure
from processor import runner
from processor.outcomes import MIGRATIONS
from processor.settings import ProcessorSettings

NAME = "processor"


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {NAME}", description="Consume accepted webhook events.")
    parser.add_argument("command", nargs="?", default="run", choices=["run", "migrate"])
    args = parser.parse_args(argv)
    try:
        settings = ProcessorSettings.from_env()
    except ConfigError as exc:
        print(f"{NAME}: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(NAME, settings.log_level, settings.log_format)
    try:
        if args.command == "migrate" or settings.migrate_on_start:
            apply_migrations(NAME, settings.database_url, MIGRATIONS)
        if args.command == "run":
            asyncio.run(runner.serve(settings))
    except OSError as exc:
        print(f"{NAME}: {exc}", file=sys.stderr)
        return 1
    except nats.errors.Error as exc:
        print(f"{NAME}: NATS at {settings.nats_url_for_logs}: {type(exc).__name__}", file=sys.stderr)
        return 1
    except Exception as exc:
        return startup_failure(NAME, settings.database_url, exc)
    return 0
