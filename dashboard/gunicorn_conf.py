"""gunicorn settings for the dashboard; `python -m dashboard serve` runs `gunicorn -c <this file> dashboard.wsgi:app`.

gthread workers (DASHBOARD_WORKERS × DASHBOARD_THREADS): a page waits on Postgres and the internal APIs,
and a sign-in on Argon2 (which releases the GIL). Not preloaded: each worker opens its own pool and
channels after the fork, and closes them in worker_exit. The app logs nothing of a request's body
(passwords, secrets). Shared with the gateway: common/gunicorn_conf.py (metrics on METRICS_PORT from the
master included).
"""

from common.gunicorn_conf import settings_for
from dashboard.settings import DashboardSettings

globals().update(settings_for("dashboard", DashboardSettings.from_env(), wsgi_module="dashboard.wsgi",
                              app_module="dashboard.app"))
