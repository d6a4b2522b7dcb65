"""The /metrics of a process served by gunicorn (the gateway, the dashboard), served by the gunicorn master
from its workers' files (prometheus_client's multiprocess mode); common/gunicorn_conf.py calls these from
its hooks.

Why the master and a port of its own (METRICS_PORT) rather than a /metrics route in the app: a route
would be answered by whichever worker accepts the scrape, from the same thread pool as the webhooks,
so an overloaded gateway (when the numbers matter most) would time out its own scrapes, and the
endpoint would sit on the public port. The master serves no requests, so a small HTTP server thread
there answers even while every worker thread is busy.

The directory: each worker writes its values to files under PROMETHEUS_MULTIPROC_DIR, which must be
set before prometheus_client is first imported in the master (its mode is chosen at import) and must
start empty (files of an earlier run would be added in). So the master, in `on_starting`, before any
worker exists: empties the given directory, or, with none given (`make run`, tests), makes a private
one and exports it to the workers, removing it again at exit. For the same reason this module
imports prometheus_client only inside the functions that run after that.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"

log = logging.getLogger(__name__)


@dataclass
class MasterMetrics:
    """The directory the workers write to, whether this master made it, and the endpoint's server."""

    directory: Path
    owned: bool
    server: Any = None


# This master's state. Kept here rather than in gunicorn_conf, which gunicorn executes again on a
# reload (SIGHUP) while this module stays imported.
_state: MasterMetrics | None = None


def prepare_directory(environ: Any = os.environ, name: str = "gateway") -> MasterMetrics:
    """Before the workers start: empty the given directory (created if missing), or make a private one
    and put it into the environment the workers inherit."""
    global _state
    given = environ.get(ENV_VAR, "").strip()
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
        _state = MasterMetrics(directory, owned=False)
    else:
        directory = Path(tempfile.mkdtemp(prefix=f"autentikapp-{name}-metrics-"))
        environ[ENV_VAR] = str(directory)
        _state = MasterMetrics(directory, owned=True)
    return _state


def start_endpoint(host: str, port: int) -> None:
    """Serve the sum of every worker's files at http://host:port/metrics (no endpoint when port is 0);
    OSError when the port is taken."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from common.metrics import serve

    assert _state is not None, "prepare_directory first"
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(_state.directory))
    _state.server = serve(port, host, registry)


def close_in_worker() -> None:
    """In a new worker: close its copy of the endpoint's listening socket (only the master serves it,
    and a worker outliving the master must not keep the port)."""
    if _state is not None and _state.server is not None:
        _state.server.socket.close()


def worker_exited(pid: int) -> None:
    """Bookkeeping for a dead worker: its live gauges go; its counters stay in the sums."""
    from prometheus_client import multiprocess

    if _state is not None:
        multiprocess.mark_process_dead(pid, str(_state.directory))


def shutdown() -> None:
    """At the master's exit: stop the endpoint and remove the directory if this master made it."""
    global _state
    if _state is None:
        return
    if _state.server is not None:
        _state.server.shutdown()
        _state.server.server_close()
    if _state.owned:
        shutil.rmtree(_state.directory, ignore_errors=True)
    _state = None
