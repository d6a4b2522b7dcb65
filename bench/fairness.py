"""Fairness between tenants: does one tenant flooding the gateway slow another tenant down?

A standalone measurement, not a test (timings depend on the machine). It starts the whole system as
`make run` does (devstack: its own NATS and Postgres on loopback, both services, the processor and the
gunicorn gateway), creates tenants A and B, then:

  1. measures B alone: --b-requests signed webhooks at --b-rate per second, one connection each;
  2. measures B again while A floods from --flood-processes × --flood-threads keep-alive connections,
     ignoring Retry-After, for at most --flood-seconds and --flood-max requests;
  3. with --also-unlimited, restarts the gateway with the rate limit disabled and repeats step 2.

It prints B's p50/p99 latency alone and under the flood, their ratio, and how A's requests were
answered (202, 429, other). Everything stays on 127.0.0.1 and is stopped and removed at the end; the
figures are also written to bench/results/fairness-<time>.json (git-ignored).

    .venv/bin/python bench/fairness.py [--workers 2] [--rate-limit 50] [--burst 100] [--also-unlimited]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import devstack  # noqa: F401  - first: gRPC fork handlers off, as in make run
from cli.examples import TRANSACTION_CREATED
from devstack import system
from devstack.ports import free_port
from devstack.processes import ProcessGroup
from devstack.stack import Infrastructure
from gateway import encryption_keys
from gateway.signature import sign
from gateway.tenants import TenantStore

RESULTS = Path(__file__).resolve().parent / "results"
TEMPLATE = json.loads(TRANSACTION_CREATED.read_text())


def body_for(transaction_id: str) -> bytes:
    """The guide's example sale with its own transaction id (so each one is a new event)."""
    document = json.loads(json.dumps(TEMPLATE))
    document["transaction_data"]["transaction_id"] = transaction_id
    return json.dumps(document).encode()


def post(conn: http.client.HTTPConnection, tenant: str, secret: str, body: bytes) -> int:
    """One signed webhook on `conn`; returns the status (the body is read so the connection is reusable)."""
    conn.request("POST", f"/v1/webhooks/inbound/{tenant}", body=body,
                 headers={"Content-Type": "application/json", "X-Autentikapp-Signature": sign(secret, body)})
    response = conn.getresponse()
    response.read()
    return response.status


def percentile(samples: list[float], q: int) -> float:
    """The q-th percentile (inclusive method), in milliseconds."""
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


def measure_b(port: int, secret: str, count: int, rate: float, label: str) -> dict[str, Any]:
    """Send `count` webhooks for B at `rate` per second (open loop: on schedule, whatever the latency),
    each on a new connection as a POS would; return latency figures and status counts."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body = body_for(f"B-{label}-{i}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sent = time.perf_counter()
        try:
            status = post(conn, "tenant-b", secret, body)
        finally:
            conn.close()
        latencies.append(time.perf_counter() - sent)
        statuses[status] = statuses.get(status, 0) + 1
    return {"requests": count, "statuses": statuses, "seconds": round(time.perf_counter() - start, 1),
            "p50_ms": round(percentile(latencies, 50), 2),
            "p99_ms": round(percentile(latencies, 99), 2), "max_ms": round(max(latencies) * 1000, 2)}


def flood_process(port: int, secret: str, threads: int, deadline: float, max_requests: int,
                  stop: Any, results: Any, index: int) -> None:
    """One flooding process: `threads` keep-alive connections sending A's webhooks back to back until
    `stop` is set, `deadline` (time.time()) passes or `max_requests` are sent; reports status counts."""
    counts: dict[str, int] = {}
    lock = threading.Lock()
    sent = [0]

    def run(thread: int) -> None:
        """One connection's loop; reconnects after an error."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        while not stop.is_set() and time.time() < deadline:
            with lock:
                if sent[0] >= max_requests:
                    break
                sent[0] += 1
            n += 1
            try:
                key = str(post(conn, "tenant-a", secret, body_for(f"A-{index}-{thread}-{n}")))
            except (OSError, http.client.HTTPException):
                key = "error"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            with lock:
                counts[key] = counts.get(key, 0) + 1
        conn.close()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(counts)


def flood_and_measure(port: int, secrets: dict[str, str], args: argparse.Namespace, label: str) -> dict[str, Any]:
    """Start A's flood, let it ramp up for a second, measure B under it, stop the flood; both results."""
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    started = time.time()
    deadline = started + args.flood_seconds
    per_process = args.flood_max // args.flood_processes
    flooders = [ctx.Process(target=flood_process, daemon=True,
                            args=(port, secrets["tenant-a"], args.flood_threads, deadline, per_process,
                                  stop, results, i))
                for i in range(args.flood_processes)]
    for flooder in flooders:
        flooder.start()
    time.sleep(1.0)
    b = measure_b(port, secrets["tenant-b"], args.b_requests, args.b_rate, label)
    stop.set()
    counts: dict[str, int] = {}
    for _ in flooders:
        for key, value in results.get(timeout=60).items():
            counts[key] = counts.get(key, 0) + value
    for flooder in flooders:
        flooder.join(10)
    elapsed = time.time() - started
    total = sum(counts.values())
    a = {"requests": total, "statuses": counts, "seconds": round(elapsed, 1),
         "per_second": round(total / elapsed, 1), "rate_limited": counts.get("429", 0)}
    return {"b": b, "a": a}


def start_system(infra: Infrastructure, group: ProcessGroup, args: argparse.Namespace,
                 rate_limit: float) -> tuple[dict[str, str], int]:
    """Every process of the system on free loopback ports, the gateway with the given limit."""
    ports = {s.name: (free_port() if s.port_var else None) for s in system.PROCESSES}
    env = {**system.child_environment(infra.env(), ports), "GATEWAY_WORKERS": str(args.workers),
           "GATEWAY_THREADS": str(args.threads), "GATEWAY_RATE_LIMIT_PER_SECOND": str(rate_limit),
           "GATEWAY_RATE_LIMIT_BURST": str(args.burst), "LOG_LEVEL": args.log_level}
    for spec in system.PROCESSES:
        system.start(group, spec.name, env, ports)
    return env, ports["gateway"]


def restart_gateway(group: ProcessGroup, env: dict[str, str], port: int, rate_limit: float) -> None:
    """The same gateway with another rate limit."""
    group.stop("gateway")
    env["GATEWAY_RATE_LIMIT_PER_SECOND"] = str(rate_limit)
    system.start(group, "gateway", env, {"gateway": port})


def create_tenants(env: dict[str, str]) -> dict[str, str]:
    """Tenants A and B; their secrets."""
    store = TenantStore.open(env["GATEWAY_DATABASE_URL"], keyring=encryption_keys.parse(env["GATEWAY_ENCRYPTION_KEYS"]))
    try:
        return {tenant: store.create_tenant(tenant, tenant)[1].secret for tenant in ("tenant-a", "tenant-b")}
    finally:
        store.close()


def report(args: argparse.Namespace, alone: dict[str, Any], runs: dict[str, dict[str, Any]]) -> str:
    """The printed summary."""
    lines = [
        f"gateway: {args.workers} workers x {args.threads} threads; rate limit {args.rate_limit:g}/s, "
        f"burst {args.burst} per tenant per worker; flood: {args.flood_processes} processes x "
        f"{args.flood_threads} keep-alive connections",
        f"B alone:            p50 {alone['p50_ms']:8.2f} ms   p99 {alone['p99_ms']:8.2f} ms   "
        f"({alone['requests']} requests at {args.b_rate:g}/s, statuses {alone['statuses']})",
    ]
    for name, run in runs.items():
        b, a = run["b"], run["a"]
        lines += [
            f"B under A's flood ({name}): p50 {b['p50_ms']:8.2f} ms   p99 {b['p99_ms']:8.2f} ms   "
            f"ratio p50 x{b['p50_ms'] / alone['p50_ms']:.2f}, p99 x{b['p99_ms'] / alone['p99_ms']:.2f}   "
            f"(statuses {b['statuses']})",
            f"  A: {a['requests']} requests in {a['seconds']} s ({a['per_second']}/s); "
            f"429: {a['rate_limited']}; statuses {a['statuses']}; B's run took {b['seconds']} s "
            f"(from 1 s into the flood)",
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="GATEWAY_WORKERS (default 2)")
    parser.add_argument("--threads", type=int, default=8, help="GATEWAY_THREADS (default 8)")
    parser.add_argument("--rate-limit", type=float, default=50.0, help="GATEWAY_RATE_LIMIT_PER_SECOND (default 50)")
    parser.add_argument("--burst", type=int, default=100, help="GATEWAY_RATE_LIMIT_BURST (default 100)")
    parser.add_argument("--b-requests", type=int, default=300, help="B's measured requests (default 300)")
    parser.add_argument("--b-rate", type=float, default=20.0, help="B's requests per second (default 20)")
    parser.add_argument("--flood-processes", type=int, default=2, help="A's client processes (default 2)")
    parser.add_argument("--flood-threads", type=int, default=32, help="connections per process (default 32)")
    parser.add_argument("--flood-seconds", type=float, default=20.0, help="longest flood (default 20)")
    parser.add_argument("--flood-max", type=int, default=200_000, help="most flood requests (default 200000)")
    parser.add_argument("--also-unlimited", action="store_true", help="repeat the flood with the limit off")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the processes (default WARNING)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print it; everything started is stopped and removed."""
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="autentikapp-fairness-"))
    infra = Infrastructure(workdir, durable=False, environ={})  # always our own servers, on loopback
    group = ProcessGroup(workdir / "logs")
    try:
        infra.start()
        env, port = start_system(infra, group, args, args.rate_limit)
        secrets = create_tenants(env)
        measure_b(port, secrets["tenant-b"], 20, args.b_rate, "warmup")
        alone = measure_b(port, secrets["tenant-b"], args.b_requests, args.b_rate, "alone")
        runs = {"limited": flood_and_measure(port, secrets, args, "limited")}
        if args.also_unlimited:
            restart_gateway(group, env, port, 0)
            runs["unlimited"] = flood_and_measure(port, secrets, args, "unlimited")
        print(report(args, alone, runs), flush=True)
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / time.strftime("fairness-%Y%m%dT%H%M%S.json")
        out.write_text(json.dumps({"settings": vars(args), "b_alone": alone, "runs": runs}, indent=2))
        print(f"(written to {out})")
        return 0
    finally:
        group.stop_all()
        infra.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
