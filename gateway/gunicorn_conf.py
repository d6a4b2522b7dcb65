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

Metrics (gateway/metrics_master.py): on_starting prepares PROMETHEUS_MULTIPROC_DIR before any worker
exists, when_ready serves the workers' sums on METRICS_PORT from the master, child_exit does the
bookkeeping for a dead worker, on_exit stops the endpoint and removes a private directory.
"""

import math
import sys

from gunicorn import glogging

from common import logs
from gateway import metrics_master
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


class RootHandlerLogger(glogging.Logger):
    """gunicorn's own lines (start, workers booting, dying, timing out) through the root logger's
    handler, so that with LOG_FORMAT=json they are JSON like every other line of the process."""

    def setup(self, cfg):
        """gunicorn's set-up, then its handlers dropped in favour of propagating to the root logger."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
                log.removeHandler(handler)
            log.propagate = True


logger_class = RootHandlerLogger


def on_starting(server):
    """In the master, before any worker: empty (or make and export) the metrics directory."""
    metrics_master.prepare_directory()


def when_ready(server):
    """In the master, before the first worker: serve /metrics on METRICS_PORT (a taken port stops the
    gateway with one line)."""
    try:
        metrics_master.start_endpoint(_settings.bind_host, _settings.metrics_port)
    except OSError as exc:
        server.halt(str(exc), 1)


def post_fork(server, worker):
    """In each new worker: let go of the master's metrics socket."""
    metrics_master.close_in_worker()


def worker_exit(server, worker):
    """In each worker, once its requests are finished: close its NATS connection and its database pool
    (gateway.app.close_app). A worker that never built its app has nothing to close."""
    wsgi = sys.modules.get("gateway.wsgi")
    if wsgi is not None:
        from gateway.app import close_app  # here, in the worker: the master never imports the app

        close_app(wsgi.app)


def child_exit(server, worker):
    """In the master, once a worker has exited: multiprocess bookkeeping for its pid."""
    metrics_master.worker_exited(worker.pid)


def on_exit(server):
    """In the master, last: stop the metrics endpoint, remove a private metrics directory."""
    metrics_master.shutdown()
