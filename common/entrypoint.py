"""The one entry-point shape of every process: `python -m <process> [serve|migrate]`.

serve (the default): read and check the settings, configure logging, apply the process's migrations
(unless MIGRATE_ON_START=false), then serve until SIGTERM. migrate: apply the migrations and exit.
Exit codes: 0 done; 1 the process cannot start for an expected reason (its database, NATS, a taken
port), said in one line naming it; 2 a bad setting, said in one line naming the variable.

Each process declares itself once as a `Process` in its `__main__.py`; `autentikapp migrate` walks the
same declarations. The gRPC services also share how they serve (`serve_grpc`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import nats.errors
import psycopg
from psycopg_pool import AsyncConnectionPool

from common import db, grpc_server, grpc_tls, logs, metrics, migrations
from common.config import ConfigError, ProcessSettings, ServiceSettings, redact_url
from common.errors import Unavailable

log = logging.getLogger(__name__)

COMMANDS = ("serve", "migrate")
Settings = TypeVar("Settings", bound=ProcessSettings)


@dataclass(frozen=True)
class Process(Generic[Settings]):
    """A process of the system: its name, how it reads its settings, migrates its database and serves.

    `migrate` applies what is pending and returns the names of the migrations it applied; `serve` blocks
    until the process is told to stop (the gateway's never returns: it becomes gunicorn).
    """

    name: str
    description: str
    read_settings: Callable[[], Settings]
    migrate: Callable[[Settings], list[str]]
    serve: Callable[[Settings], None]


def main(process: Process, argv: list[str] | None = None) -> int:
    """Run the process's command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {process.name}", description=process.description)
    parser.add_argument("command", nargs="?", default="serve", choices=COMMANDS,
                        help="serve (the default) or migrate (apply the migrations and exit)")
    args = parser.parse_args(argv)
    try:
        settings = process.read_settings()
    except ConfigError as exc:
        print(f"{process.name}: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(process.name, settings.log_level, settings.log_format)
    try:
        if args.command == "migrate" or settings.migrate_on_start:
            process.migrate(settings)
        if args.command == "serve":
            process.serve(settings)
    except Exception as exc:
        return startup_failure(process.name, settings, exc)
    return 0


def startup_failure(name: str, settings: ProcessSettings, exc: Exception) -> int:
    """Report a process that cannot start for an expected reason in one line on stderr and return exit
    code 1; anything else is a bug and is raised again. URLs are shown without their passwords.

    Expected: its database is down or refuses, a migration is broken, a port is taken, NATS cannot be
    reached, a setting is refused late (e.g. a key that does not unseal)."""
    if isinstance(exc, (Unavailable, migrations.MigrationError, OSError)):
        line = f"{name}: {exc}"
    elif isinstance(exc, ConfigError):
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        return 2
    elif isinstance(exc, psycopg.Error):
        line = f"{name}: cannot use the database {redact_url(settings.database_url)}: {type(exc).__name__}"
    elif isinstance(exc, nats.errors.Error):
        bus = getattr(settings, "bus", None)
        where = bus.url_for_logs if bus is not None else "NATS_URL"
        line = f"{name}: NATS at {where}: {type(exc).__name__}"
    else:
        raise exc
    print(line, file=sys.stderr)
    return 1


def gunicorn_argv(conf: Path, wsgi_app: str) -> list[str]:
    """The command line that serves `wsgi_app` ("package.wsgi:app") under gunicorn with `conf`."""
    return [sys.executable, "-m", "gunicorn", "-c", str(conf), wsgi_app]


def exec_gunicorn(conf: Path, wsgi_app: str) -> None:
    """Become gunicorn (never returns: exec, so signals reach gunicorn's master directly); its workers
    build the app after the fork (the WSGI module)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, gunicorn_argv(conf, wsgi_app))


def apply_migrations(name: str, url: str, folder: Path) -> list[str]:
    """Apply pending migrations, log what ran and return their names (e.g. "001_customers")."""
    applied = [f"{m.version:03d}_{m.name}" for m in migrations.apply(url, folder)]
    if applied:
        log.info("%s: applied migrations %s", name, ", ".join(applied))
    else:
        log.info("%s: schema is up to date", name)
    return applied


def grpc_service(
    name: str,
    description: str,
    read_settings: Callable[[], ServiceSettings],
    migrations_dir: Path,
    registrations: Callable[[AsyncConnectionPool], Iterable[grpc_server.Registration]],
) -> Process[ServiceSettings]:
    """The Process of a gRPC service: migrations from `migrations_dir`, served by `serve_grpc` with the
    servicers `registrations` binds to its pool."""
    return Process(
        name=name,
        description=description,
        read_settings=read_settings,
        migrate=lambda settings: apply_migrations(name, settings.database_url, migrations_dir),
        serve=lambda settings: asyncio.run(serve_grpc(name, settings, registrations)),
    )


async def serve_grpc(
    name: str,
    settings: ServiceSettings,
    registrations: Callable[[AsyncConnectionPool], Iterable[grpc_server.Registration]],
) -> None:
    """Serve until SIGTERM: metrics first (a taken port fails before anything is opened), then the pool
    and the gRPC server."""
    tls = grpc_tls.required(settings.tls)
    metrics.serve(settings.metrics_port, settings.bind_host)
    pool = await db.open_pool(settings.database_url, min_size=settings.pool_min, max_size=settings.pool_max)
    address = f"{settings.bind_host}:{settings.port}"
    server, port, health = await grpc_server.create_server(registrations(pool), address, tls,
                                                           reflection=settings.reflection,
                                                           port_setting=f"{name.upper()}_PORT")
    log.info("%s listening on %s:%d, %s (database %s)", name, settings.bind_host, port,
             "mutual TLS" if tls else "PLAIN TEXT (GRPC_INSECURE)", redact_url(settings.database_url))
    await grpc_server.run_until_signal(server, health, settings.grace_seconds, on_stopped=pool.close)
    log.info("%s stopped", name)
