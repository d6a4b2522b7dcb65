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

Metrics (common/metrics_master.py): on_starting prepares PROMETHEUS_MULTIPROC_DIR before any worker
exists, when_ready serves the workers' sums on METRICS_PORT from the master, child_exit does the
bookkeeping for a dead worker, on_exit stops the endpoint and removes a private directory.
"""

from common.gunicorn_conf import settings_for
from gateway.settings import GatewaySettings

globals().update(settings_for("gateway", GatewaySettings.from_env(), wsgi_module="gateway.wsgi",
                              app_module="gateway.app"))
