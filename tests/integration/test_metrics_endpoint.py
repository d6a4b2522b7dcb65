"""The metrics endpoint over a real socket, and a taken METRICS_PORT stopping each process at start with
one line naming the variable (the gateway's master included, which also removes its private metrics
directory on the way out)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from common.metrics import serve
from devstack.ports import free_port
from gateway import encryption_keys


def test_the_endpoint_serves_its_registry_and_a_taken_port_names_metrics_port():
    registry = CollectorRegistry()
    Counter("things", "Things counted", registry=registry).inc(3)
    port = free_port()
    server = serve(port, "127.0.0.1", registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert "things_total 3.0" in answer.read().decode()
        with pytest.raises(OSError, match=rf"^cannot serve metrics on 127\.0\.0\.1:{port} \(METRICS_PORT\)"):
            serve(port, "127.0.0.1", registry)
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("module", ["gateway", "processor", "customer_service", "identifier_service"])
def test_a_taken_metrics_port_stops_the_process_with_one_line(module, tmp_path):
    env = {**os.environ, "BIND_HOST": "127.0.0.1", "MIGRATE_ON_START": "false", "GATEWAY_WORKERS": "1",
           "GATEWAY_PORT": str(free_port()), "CUSTOMER_SERVICE_PORT": str(free_port()),
           "IDENTIFIER_SERVICE_PORT": str(free_port()), "GATEWAY_ENCRYPTION_KEYS": encryption_keys.new_entry("test"),
           "TMPDIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["METRICS_PORT"] = str(taken.getsockname()[1])
        result = subprocess.run([sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert f"cannot serve metrics on 127.0.0.1:{env['METRICS_PORT']} (METRICS_PORT)" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == [], "the gateway's private metrics directory is gone"
