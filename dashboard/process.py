"""The dashboard as a process (`python -m dashboard [serve|migrate]`, common.entrypoint).

serve: check the configuration, apply the dashboard's migrations (unless MIGRATE_ON_START=false), then
become gunicorn with dashboard/gunicorn_conf.py (exec: signals reach gunicorn's master directly).
migrate: apply the migrations and exit.
"""

from __future__ import annotations

from pathlib import Path

from common import grpc_tls
from common.entrypoint import Process, apply_migrations, exec_gunicorn
from dashboard.db import MIGRATIONS
from dashboard.settings import DashboardSettings

NAME = "dashboard"
GUNICORN_CONF = Path(__file__).with_name("gunicorn_conf.py")


def migrate(settings: DashboardSettings) -> list[str]:
    """Apply the dashboard's pending migrations; return the names of those applied."""
    return apply_migrations(NAME, settings.database_url, MIGRATIONS)


def serve(settings: DashboardSettings) -> None:
    """Become gunicorn (never returns); its workers build the app after the fork (dashboard.wsgi). The
    certificate it calls the internal APIs with is checked first, so that its absence is one line here
    rather than a failing worker."""
    grpc_tls.required(settings.tls)
    exec_gunicorn(GUNICORN_CONF, "dashboard.wsgi:app")


PROCESS = Process(
    name=NAME,
    description="Serve the brands' dashboard (Configuración > Integraciones > Webhooks) under gunicorn.",
    read_settings=DashboardSettings.from_env,
    migrate=migrate,
    serve=serve,
)
