"""The ingest baseline: a bare Flask endpoint that only verifies the HMAC and answers 202.

Served by gunicorn with the gateway's worker class, workers and threads (bench/harness.py), so the
gateway's figures can be read against the cost of HTTP + Flask + HMAC alone on this machine.
BENCH_SECRET is the one secret it accepts.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request

from gateway.signature import HEADER, verify

app = Flask(__name__)
_SECRETS = [os.environ.get("BENCH_SECRET", "")]


@app.post("/v1/webhooks/inbound/<tenant_id>")
def inbound(tenant_id: str) -> Response:
    body = request.get_data()
    if not verify(_SECRETS, body, request.headers.get(HEADER)):
        return Response('{"status":"unauthorized"}', status=401, mimetype="application/json")
    return Response('{"status":"accepted"}', status=202, mimetype="application/json")


@app.get("/readyz")
def readyz() -> Response:
    return Response("ok", status=200)
