"""The entrypoint every gRPC service shares: `python -m <service> [serve|migrate]`.

serve: validate config, apply migrations (unless MIGRATE_ON_START=false), start the metrics endpoint
(METRICS_PORT), open the pool, serve until SIGTERM, drain, close the pool. migrate: apply migrations
and exit. A bad setting or an unreachable database ends the process with one line naming the cause
and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool

from common import db, grpc_server, logs, metrics, migrations
from common.config import ConfigError, ServiceSettings, env_str, redact_url
from common.errors import Unavailable

log = logging.getLogger(__name__)


def startup_failure(service: str, database_url: str, exc: Exception) -> int:
    """Report a process that cannot start for an expected reason (its database is down or refuses, a
    migration is broken) in one line on stderr and return exit code 1; anything else is a bug and is
    raised again. The database URL is shown without its password."""
    if isinstance(exc, (Unavailable, migrations.MigrationError)):
        line = f"{service}: {exc}"
    elif isinstance(exc, psycopg.Error):
        line = f"{service}: cannot use the database {redact_url(database_url)}: {type(exc).__name__}"
    else:
        raise exc
    print(line, file=sys.stderr)
    return 1


def apply_migrations(service: str, url: str, folder: Path) -> None:
    """Apply pending migrations, logging what ran."""
    applied = migrations.apply(url, folder)
    if applied:
        log.info("%s: applied migrations %s", service, ", ".join(f"{m.version:03d}_{m.name}" for m in applied))
    else:
        log.info("%s: schema is up to date", service)


async def _serve(
    service: str,
    settings: ServiceSettings,
    registrations: Callable[[AsyncConnectionPool], Iterable[grpc_server.Registration]],
) -> None:
    """Serve until SIGTERM: metrics first (a taken port fails before anything is opened), then the pool
    and the gRPC server."""
    metrics.serve(settings.metrics_port, settings.bind_host)
    pool = await db.open_pool(settings.database_url, min_size=settings.pool_min, max_size=settings.pool_max)
    address = f"{settings.bind_host}:{settings.port}"
    server, port, health = await grpc_server.create_server(registrations(pool), address)
    log.info("%s listening on %s:%d (database %s)", service, settings.bind_host, port, redact_url(settings.database_url))
    await grpc_server.run_until_signal(server, health, settings.grace_seconds, on_stopped=pool.close)
    log.info("%s stopped", service)


def main(
    service: str,
    env_prefix: str,
    default_port: int,
    migrations_dir: Path,
    registrations: Callable[[AsyncConnectionPool], Iterable[grpc_server.Registration]],
    argv: list[str] | None = None,
) -> int:
    """Run the service's command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {service}")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    try:
        settings = ServiceSettings.from_env(env_prefix, default_port)
        logs.configure(service, settings.log_level, env_str("LOG_FORMAT", "text"))
        if args.command == "migrate" or settings.migrate_on_start:
            apply_migrations(service, settings.database_url, migrations_dir)
        if args.command == "serve":
            asyncio.run(_serve(service, settings, registrations))
    except ConfigError as exc:
        print(f"{service}: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. the port (gRPC or metrics) is taken
        print(f"{service}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        return startup_failure(service, settings.database_url, exc)
    return 0
