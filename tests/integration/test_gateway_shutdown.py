"""Graceful shutdown of the real gunicorn gateway (`python -m gateway`): on SIGTERM every in-flight
webhook is still answered 202 (and stored), the process exits 0 within the graceful timeout, and new
connections are refused once it is gone.

Requests are held in flight deterministically: the gateway reaches NATS through a small TCP proxy
that can hold everything the gateway sends, so each request waits inside its JetStream publish until
the test releases it, and the proxy counts the publishes it holds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

import nats
import pytest

from common import bus, nats_permissions
from devstack.ports import free_port
from devstack.processes import ProcessGroup
from devstack.ready import http_ok
from gateway.tenants import TenantStore
from test_gateway_process import request, sale, signed

PUBLISH_MARK = f"HPUB {bus.subject_for('acme')} ".encode()  # one per publish in the NATS protocol
IN_FLIGHT = 6
GRACE_SECONDS = 10


class HoldingProxy:
    """Forwards TCP between the gateway and NATS; while holding, buffers what the gateway sends."""

    def __init__(self, upstream: tuple[str, int]):
        """Listen on a free loopback port and forward each connection to `upstream`."""
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._holding = False
        self._held: dict[socket.socket, bytearray] = {}
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        """One pair of pumps per gateway connection."""
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self._upstream)
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_gateway: bool) -> None:
        """Copy bytes one way; the gateway's bytes are buffered while holding."""
        try:
            while data := source.recv(65536):
                with self._lock:
                    if from_gateway and self._holding:
                        self._held.setdefault(target, bytearray()).extend(data)
                        continue
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def hold(self) -> None:
        """From now on, buffer what the gateway sends."""
        with self._lock:
            self._holding = True

    def held_publishes(self) -> int:
        """How many webhook publishes are being held."""
        with self._lock:
            return sum(buffer.count(PUBLISH_MARK) for buffer in self._held.values())

    def release(self) -> None:
        """Send everything held, in order, and stop holding."""
        with self._lock:
            for target, buffer in self._held.items():
                target.sendall(bytes(buffer))
            self._held.clear()
            self._holding = False

    def close(self) -> None:
        """Stop accepting connections."""
        self._listener.close()


def stored_count(url: str) -> int:
    """Messages in the WEBHOOKS stream, asked of NATS directly."""

    async def count() -> int:
        """Stream info on a short-lived connection."""
        nc = await nats.connect(url)
        try:
            return (await nc.jetstream().stream_info(bus.STREAM)).state.messages
        finally:
            await nc.close()

    return asyncio.run(count())


def wait_until(check, timeout: float, what: str) -> None:
    """Poll `check` until true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.timeout(90)
def test_sigterm_lets_in_flight_webhooks_finish_then_exits_0_and_refuses_connections(
        tmp_path, nats_server, database_factory, encryption_key_setting, keyring):
    proxy = HoldingProxy(("127.0.0.1", urlsplit(nats_server.url).port))
    url = database_factory("gateway")
    port = free_port()
    env = {"GATEWAY_DATABASE_URL": url, "NATS_URL": f"nats://127.0.0.1:{proxy.port}", "GATEWAY_PORT": str(port),
           "BIND_HOST": "127.0.0.1", "GATEWAY_ENCRYPTION_KEYS": encryption_key_setting, "GATEWAY_WORKERS": "2",
           "GATEWAY_THREADS": str(IN_FLIGHT + 2),  # any spread of the requests over the workers fits
           "GATEWAY_PUBLISH_TIMEOUT_SECONDS": "20",
           "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS), "GATEWAY_SECRET_CACHE_SECONDS": "0",
           # devstack's admin: the test's gateway creates the streams itself (a deployed one leaves that to
           # the processor, tests/security/test_nats_users.py), through the proxy that holds its PubAcks.
           "NATS_USER": nats_permissions.ADMIN, "NATS_PASSWORD": nats_server.passwords[nats_permissions.ADMIN]}
    pool = concurrent.futures.ThreadPoolExecutor(IN_FLIGHT)
    with ProcessGroup(tmp_path / "logs", grace=GRACE_SECONDS + 5) as group:
        child = group.start("gateway", [sys.executable, "-m", "gateway"], env,
                            ready=http_ok(f"http://127.0.0.1:{port}/readyz"), ready_timeout=30)
        wait_until(lambda: proxy.connections == 2, 15, "both workers to connect to NATS")
        store = TenantStore.open(url, keyring=keyring)
        _, acme = store.create_tenant("Acme", "acme")
        store.close()
        assert request(port, "POST", "/v1/webhooks/inbound/acme", sale("T-BEFORE"),
                       signed(acme.secret, sale("T-BEFORE")))[0] == 202

        proxy.hold()
        bodies = [sale(f"T-FLIGHT-{i}") for i in range(IN_FLIGHT)]
        futures = [pool.submit(request, port, "POST", "/v1/webhooks/inbound/acme", body, signed(acme.secret, body))
                   for body in bodies]
        wait_until(lambda: proxy.held_publishes() == IN_FLIGHT, 15, "every request to be publishing")

        child.stopping = True
        child.popen.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(1.0)
        assert child.is_running(), "gunicorn must wait for the requests in flight"
        assert not any(f.done() for f in futures), "an in-flight request was cut off"

        proxy.release()
        answers = [f.result(timeout=GRACE_SECONDS) for f in futures]
        assert [status for status, _, _ in answers] == [202] * IN_FLIGHT, answers
        assert child.popen.wait(timeout=GRACE_SECONDS + 5) == 0
        assert time.monotonic() - signalled < GRACE_SECONDS

        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        log = child.log_path.read_text()
    pool.shutdown()
    proxy.close()
    assert stored_count(nats_server.url) == IN_FLIGHT + 1  # every 202 is in the stream
    assert log.count("POST /v1/webhooks/inbound/acme 202") == IN_FLIGHT + 1
    assert "closing the NATS connection failed" not in log and "Traceback" not in log
