"""What the gunicorn configurations of the gateway and the dashboard share: the settings every such
process runs with and the hooks around its workers, defined once. Each process's gunicorn_conf.py calls
`settings_for(...)` and puts the result into its own module namespace, which is what gunicorn reads.

Workers are gthread, NOT preloaded: each worker imports its WSGI module after the fork and builds its own
connections (closed in `worker_exit` through the app module's `close_app`). gunicorn's access log is off.
Metrics (common/metrics_master.py): on_starting prepares PROMETHEUS_MULTIPROC_DIR before any worker
exists, when_ready serves the workers' sums on METRICS_PORT from the master, child_exit does the
bookkeeping for a dead worker, on_exit stops the endpoint and removes a private directory.
"""

from __future__ import annotations

import importlib
import math
import sys
from typing import Any

from gunicorn import glogging

from common import logs, metrics_master


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


def settings_for(name: str, settings: Any, *, wsgi_module: str, app_module: str) -> dict[str, Any]:
    """gunicorn's settings and hooks for process `name` with its ProcessSettings (`port`, `workers`,
    `threads` included); `app_module` has `close_app(app)` for the `app` of `wsgi_module`."""
    logs.configure(name, settings.log_level, settings.log_format)

    def on_starting(server):
        """In the master, before any worker: empty (or make and export) the metrics directory."""
        metrics_master.prepare_directory(name=name)

    def when_ready(server):
        """In the master, before the first worker: serve /metrics on METRICS_PORT (a taken port stops the
        process with one line)."""
        try:
            metrics_master.start_endpoint(settings.bind_host, settings.metrics_port)
        except OSError as exc:
            server.halt(str(exc), 1)

    def post_fork(server, worker):
        """In each new worker: let go of the master's metrics socket."""
        metrics_master.close_in_worker()

    def worker_exit(server, worker):
        """In each worker, once its requests are finished: close what its app opened. A worker that never
        built its app has nothing to close (the master never imports the app)."""
        wsgi = sys.modules.get(wsgi_module)
        if wsgi is not None:
            importlib.import_module(app_module).close_app(wsgi.app)

    def child_exit(server, worker):
        """In the master, once a worker has exited: multiprocess bookkeeping for its pid."""
        metrics_master.worker_exited(worker.pid)

    def on_exit(server):
        """In the master, last: stop the metrics endpoint, remove a private metrics directory."""
        metrics_master.shutdown()

    return {
        "bind": f"{settings.bind_host}:{settings.port}",
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "timeout": 30,
        "graceful_timeout": max(1, math.ceil(settings.grace_seconds)),
        "preload_app": False,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "proc_name": f"autentikapp-{name}",
        # gunicorn's runtime control socket lives at one per-user path ($XDG_RUNTIME_DIR or ~/.gunicorn),
        # which two masters on one machine (tests, make run) would fight over; it is not used.
        "control_socket_disable": True,
        "logger_class": RootHandlerLogger,
        "on_starting": on_starting,
        "when_ready": when_ready,
        "post_fork": post_fork,
        "worker_exit": worker_exit,
        "child_exit": child_exit,
        "on_exit": on_exit,
    }
