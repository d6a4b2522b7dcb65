"""The gateway as a process (`python -m gateway [serve|migrate]`, common.entrypoint).

serve: check the configuration (GATEWAY_ENCRYPTION_KEYS included), apply the gateway's migrations
(unless MIGRATE_ON_START=false), then become gunicorn with gateway/gunicorn_conf.py (exec: signals
reach gunicorn's master directly).
migrate: apply the migrations and exit.
Applying the migrations includes sealing secret rows still in plain text (written before encryption at
rest) under the first key of GATEWAY_ENCRYPTION_KEYS: SQL cannot encrypt, so that step is done here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.entrypoint import Process, apply_migrations, exec_gunicorn
from gateway import encryption_keys
from gateway.settings import GatewaySettings
from gateway.tenants import MIGRATIONS, TenantStore

NAME = "gateway"
GUNICORN_CONF = Path(__file__).with_name("gunicorn_conf.py")
log = logging.getLogger(NAME)


def read_settings() -> GatewaySettings:
    """The gateway's settings, with its encryption keys checked too: without them no secret unseals."""
    settings = GatewaySettings.from_env()
    encryption_keys.from_env()
    return settings


def migrate(settings: GatewaySettings) -> list[str]:
    """Apply pending gateway migrations, then seal any plain-text secret rows; log what was done (counts
    and key ids only) and return the names of the migrations applied."""
    keyring = encryption_keys.from_env()
    applied = apply_migrations(NAME, settings.database_url, MIGRATIONS)
    store = TenantStore.open(settings.database_url, keyring=keyring, min_size=1, max_size=1)
    try:
        report = store.reseal(only_plain=True)
    finally:
        store.close()
    if report.resealed:
        log.info("sealed %d plain-text secrets under key %r", report.resealed, report.key_id)
    return applied


def serve(_settings: GatewaySettings) -> None:
    """Become gunicorn (never returns); its workers build the app after the fork (gateway.wsgi)."""
    exec_gunicorn(GUNICORN_CONF, "gateway.wsgi:app")


PROCESS = Process(
    name=NAME,
    description="Serve the webhook endpoint under gunicorn.",
    read_settings=read_settings,
    migrate=migrate,
    serve=serve,
)
