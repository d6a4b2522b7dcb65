"""gunicorn settings for the gateway; `python -m gateway serve` runs `gunicorn -c <this file> gateway.wsgi:app`.

Workers are gthread (GATEWAY_WORKERS processes × GATEWAY_THREADS threads). The app is NOT preloaded:
each worker imports gateway.wsgi after the fork and builds its own NATS connection, loop thread and
database pool. gunicorn's access log is off; the app logs one line per request itself (no body, no
signature).

Graceful shutdown (SIGTERM to the master): the master closes its listening socket and sends SIGTERM to
each worker; a worker stops accepting, lets the requests it holds finish (a publish waiting for its
PubAck included) for up to graceful_timeout = SHUTDOWN_GRACE_SECONDS, then worker_exit closes its NATS
connection and database pool, and the master exits 0. Keep SHUTDOWN_GRACE_SECONDS above
GATEWAY_PUBLISH_TIMEOUT_SECONDS, or a request still waiting for JetStream is cut off. New connections
are refused once the workers are gone; take the instance out of the load balancer first.
"""

import math

from common import logs
from gateway.settings import GatewaySettings

_settings = GatewaySettings.from_env()
logs.configure("gateway", _settings.log_level, _settings.log_format)

bind = f"{_settings.bind_host}:{_settings.port}"
workers = _settings.workers
worker_class = "gthread"
threads = _settings.threads
timeout = 30
graceful_timeout = max(1, math.ceil(_settings.grace_seconds))
preload_app = False
accesslog = None
errorlog = "-"
loglevel = _settings.log_level.lower()
proc_name = "autentikapp-gateway"
# gunicorn's runtime control socket lives at one per-user path ($XDG_RUNTIME_DIR or ~/.gunicorn), which
# two gateways on one machine (tests, make run) would fight over; it is not used.
control_socket_disable = True


def worker_exit(server, worker):
    """In the exiting worker: close its NATS connection and database pool."""
    app = getattr(worker, "wsgi", None)
    if app is not None:
        from gateway.app import close_app

        close_app(app)
