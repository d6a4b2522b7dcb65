"""`python -m gateway [serve|migrate]`.

serve: check the configuration (GATEWAY_ENCRYPTION_KEYS included), apply the gateway's migrations
(unless MIGRATE_ON_START=false), then become gunicorn with gateway/gunicorn_conf.py (exec: signals
reach gunicorn's master directly).
migrate: apply the migrations and exit.
Applying the migrations includes sealing secret rows still in plain text (written before encryption at
rest) under the first key of GATEWAY_ENCRYPTION_KEYS: SQL cannot encrypt, so that step is done here.
A bad setting exits 2 with one line naming the variable (never a key); an unreachable database exits 1
with one line (no password).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from common import logs, migrations
from common.config import ConfigError
from common.entrypoint import startup_failure
from gateway import encryption_keys
from gateway.encryption_keys import Keyring
from gateway.settings import GatewaySettings
from gateway.tenants import MIGRATIONS, TenantStore

SERVICE = "gateway"
GUNICORN_CONF = Path(__file__).with_name("gunicorn_conf.py")
log = logging.getLogger(SERVICE)


def apply_migrations(url: str, keyring: Keyring) -> None:
    """Apply pending gateway migrations, then seal any plain-text secret rows; log what was done (counts
    and key ids only)."""
    applied = migrations.apply(url, MIGRATIONS)
    if applied:
        log.info("applied migrations %s", ", ".join(f"{m.version:03d}_{m.name}" for m in applied))
    else:
        log.info("schema is up to date")
    store = TenantStore.open(url, keyring=keyring, min_size=1, max_size=1)
    try:
        report = store.reseal(only_plain=True)
    finally:
        store.close()
    if report.resealed:
        log.info("sealed %d plain-text secrets under key %r", report.resealed, report.key_id)


def gunicorn_argv() -> list[str]:
    """The command line that serves the app."""
    return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "gateway.wsgi:app"]


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (serve does not return: it execs gunicorn)."""
    parser = argparse.ArgumentParser(prog="python -m gateway")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    try:
        settings = GatewaySettings.from_env()
        keyring = encryption_keys.from_env()
    except ConfigError as exc:
        print(f"{SERVICE}: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(SERVICE, settings.log_level, settings.log_format)
    try:
        if args.command == "migrate" or settings.migrate_on_start:
            apply_migrations(settings.database_url, keyring)
    except Exception as exc:
        return startup_failure(SERVICE, settings.database_url, exc)
    if args.command == "serve":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, gunicorn_argv())
    return 0


if __name__ == "__main__":
    sys.exit(main())
