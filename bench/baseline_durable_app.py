"""The ingest "durable floor": bench/baseline_app.py (bare Flask, HMAC, 202) plus what durability costs
at the least: one JetStream publish per request, the 202 only after its PubAck, done the plain way.

Each gunicorn worker gets, on its first request (after the fork; the app is not preloaded), one NATS
connection on an asyncio loop in a daemon thread; a request thread hands its publish to that loop with
asyncio.run_coroutine_threadsafe(js.publish(...)) and waits for the PubAck with .result(timeout). The
message is the request body with a Nats-Msg-Id of its own (JetStream's duplicate tracking, as the
gateway's), on BENCH_FLOOR_SUBJECT of a file stream the harness creates for it (BENCH_FLOOR) and deletes
afterwards. A publish that fails or times out answers 503.

BENCH_SECRET: the one secret it accepts; BENCH_NATS_URL: the server (with credentials).
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid

import nats
from flask import Flask, Response, request
from nats.js import JetStreamContext

from gateway.signature import HEADER, verify

app = Flask(__name__)
_SECRETS = [os.environ.get("BENCH_SECRET", "")]
_NATS_URL = os.environ.get("BENCH_NATS_URL", "")
_SUBJECT = os.environ.get("BENCH_FLOOR_SUBJECT", "benchfloor.in")
_TIMEOUT = float(os.environ.get("BENCH_PUBLISH_TIMEOUT", "5"))


class _Publisher:
    """One loop thread and one NATS connection for this process."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True, name="floor-nats-loop").start()
        self.js: JetStreamContext = asyncio.run_coroutine_threadsafe(self._connect(), self.loop).result(30)

    async def _connect(self) -> JetStreamContext:
        nc = await nats.connect(_NATS_URL, max_reconnect_attempts=-1)
        return nc.jetstream()

    def publish(self, body: bytes) -> None:
        coro = self.js.publish(_SUBJECT, body, timeout=_TIMEOUT, headers={"Nats-Msg-Id": uuid.uuid4().hex})
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(_TIMEOUT + 1)


_lock = threading.Lock()
_publisher: _Publisher | None = None


def publisher() -> _Publisher:
    global _publisher
    current = _publisher
    if current is None or current.pid != os.getpid():
        with _lock:
            if _publisher is None or _publisher.pid != os.getpid():
                _publisher = _Publisher()
            current = _publisher
    return current


@app.post("/v1/webhooks/inbound/<tenant_id>")
def inbound(tenant_id: str) -> Response:
    body = request.get_data()
    if not verify(_SECRETS, body, request.headers.get(HEADER)):
        return Response('{"status":"unauthorized"}', status=401, mimetype="application/json")
    try:
        publisher().publish(body)
    except Exception:  # noqa: BLE001 - any failure to get the PubAck: not accepted
        return Response('{"status":"unavailable"}', status=503, mimetype="application/json")
    return Response('{"status":"accepted"}', status=202, mimetype="application/json")


@app.get("/readyz")
def readyz() -> Response:
    publisher()  # the NATS connection of the worker that answers is up
    return Response("ok", status=200)
