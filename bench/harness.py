"""`python -m bench [--quick]` (`make bench`): throughput, latency, growth and memory of the system, each
against a baseline measured in the same run, on this machine, against the same servers.

It starts its own NATS and one durable Postgres (fsync on) under a temporary directory, then every
process of the system as `make run` does (devstack.system), with GATEWAY_RATE_LIMIT_PER_SECOND=0:

  1. ingest: signed webhooks (the guide's example, 3 coded line items, a new transaction id each) over
     16 and 64 keep-alive connections, back to back: accepted/s, p50, p99; the processor is stopped
     meanwhile (the figure is the gateway's). Baseline, the "durable floor": bench/baseline_durable_app.py
     (Flask + HMAC + one JetStream publish awaiting its PubAck, then 202) under several gunicorn workers x
     threads configurations, the fastest per connection count; bench/baseline_app.py (Flask + HMAC + 202,
     the gateway's workers x threads) for information. Also nats-py's own JetStream publish rate;
  2. drain: N events preloaded in the stream, then the processor started: events applied per second
     (steady rate: from the first outcome to the last). Baseline: bench/baseline_db.py (psycopg, one
     transaction per event, one connection, same Postgres). Then with 2 and 4 processor replicas;
  3. latency: webhooks at 50% of the measured ingest capacity for a few seconds with the processor
     running: time from the 202 to the codes being assigned (identifiers.assigned_at), every 10th sale;
  4. growth: the drain rate again after bulk-loading (COPY) identifiers and customers into the
     services' tables, against the drain rate of step 2;
  5. memory: peak RSS (VmHWM) of each process during steps 1-2;
  6. system: the highest rate the whole system sustains end to end, open loop from 50 tenants, with the
     processor draining meanwhile (p99 202->assigned <= 500 ms), and CPU ms per event of every process
     (bench/whole_system.py). It runs after latency and before growth's bulk load.

Prints a table and one PASS/FAIL line per target; writes bench/results/latest.json. Exit code 0 when
the harness ran (whatever the verdicts), 1 when it failed. --quick: tiny sizes, same lines, marked quick.
--only PART[,PART] (repeatable): run only those parts (ingest, drain, latency, growth, memory, system) plus
the parts their figures are measured against (latency needs ingest and drain, growth needs drain, memory is
sampled during ingest and drain, system needs nothing else); the table and verdicts cover what ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import grpc
import nats
import psycopg
from nats.js.api import StorageType, StreamConfig

from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from bench import baseline_db, cpu, loadgen
from bench.memory import PeakMemory
from bench.whole_system import TARGET_RATE, WholeSystem
from bench.workload import CODES_PER_SALE, Sale, events, http_request, sales
from common import bus, grpc_tls, work_message
from devstack import system
from devstack.ports import free_port
from devstack.postgres import ensure_database
from devstack.processes import ProcessGroup
from devstack.ready import http_ok
from devstack.stack import Infrastructure, with_database
from gateway import encryption_keys
from gateway.tenants import TenantStore

RESULTS = Path(__file__).resolve().parent / "results"
TENANT = "bench"
WORKERS, THREADS = 2, 8  # the gateway's defaults on this 2-core machine (GATEWAY_WORKERS = nproc, 8 threads)
CONNECTIONS = (16, 64)
FLOOR_STREAM, FLOOR_SUBJECT_PREFIX = "BENCH_FLOOR", "benchfloor"  # bench/baseline_durable_app.py's stream
PARTS = ("ingest", "drain", "latency", "growth", "memory", "system")
# What each part's figures are measured against or during: run too when the part is asked for.
NEEDS = {"latency": ("ingest", "drain"), "growth": ("drain",), "memory": ("ingest", "drain")}

SIZES: dict[str, dict[str, Any]] = {
    "full": {"ingest_seconds": 8.0, "ingest_max": 50_000, "nats_seconds": 3.0, "drain_events": 20_000,
             "replica_events": 6_000, "latency_seconds": 10.0, "growth_identifiers": 1_000_000,
             "growth_customers": 200_000, "growth_events": 10_000,
             # the durable floor's gunicorn configurations (workers, threads)
             "floor_configs": ((2, 8), (2, 16), (4, 8)),
             # whole system: 5 s steps, x2 from 200/s (up to 3,200/s, down to 25/s), 3 bisections, 80 s budget
             "system_step_seconds": 5.0, "system_start_rate": 200, "system_ceiling_rate": 3200,
             "system_floor_rate": 25, "system_bisections": 3, "system_budget_seconds": 80.0},
    "quick": {"ingest_seconds": 0.7, "ingest_max": 3_000, "nats_seconds": 0.5, "drain_events": 300,
              "replica_events": 150, "latency_seconds": 1.0, "growth_identifiers": 20_000,
              "growth_customers": 4_000, "growth_events": 300,
              "floor_configs": ((2, 8),),
              "system_step_seconds": 1.0, "system_start_rate": 40, "system_ceiling_rate": 80,
              "system_floor_rate": 40, "system_bisections": 0, "system_budget_seconds": 30.0},
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(samples: list[float], q: int) -> float:
    """The q-th percentile in milliseconds (inclusive method)."""
    if len(samples) < 2:
        return round((samples[0] if samples else 0.0) * 1000, 2)
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000, 2)


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return {"nproc": os.cpu_count(), "cpu": model, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "kernel": platform.release()}


class Bench:
    """The running servers and processes, and one method per measurement."""

    def __init__(self, workdir: Path, sizes: dict[str, Any]) -> None:
        self.workdir = workdir
        self.sizes = sizes
        self.infra = Infrastructure(workdir, durable=True, environ={})
        self.group = ProcessGroup(workdir / "logs", grace=15)
        self.ports: dict[str, int | None] = {}
        self.env: dict[str, str] = {}
        self.secret = ""
        self.replicas = 0
        self.channel: grpc.Channel | None = None
        self.postgres_settings: dict[str, str] = {}

    # -- set-up -------------------------------------------------------------------------------

    def start(self) -> None:
        self.infra.start()
        self.ports = {s.name: (free_port() if s.port_var else None) for s in system.PROCESSES}
        self.env = {**system.child_environment(self.infra.env(), self.ports),
                    "GATEWAY_WORKERS": str(WORKERS), "GATEWAY_THREADS": str(THREADS),
                    "GATEWAY_RATE_LIMIT_PER_SECOND": "0", "SHUTDOWN_GRACE_SECONDS": "10"}
        for spec in system.PROCESSES:
            system.start(self.group, spec.name, self.env, self.ports)
        self.replicas = 1
        store = TenantStore.open(self.env["GATEWAY_DATABASE_URL"],
                                 keyring=encryption_keys.parse(self.env["GATEWAY_ENCRYPTION_KEYS"]))
        try:
            self.secret = store.create_tenant(TENANT, TENANT)[1].secret
        finally:
            store.close()
        self.channel = grpc_tls.channel(f"127.0.0.1:{self.ports['identifier_service']}", system.tls_files(self.env))
        with psycopg.connect(self.env["PROCESSOR_DATABASE_URL"]) as conn:
            self.postgres_settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]
                                      for name in ("server_version", "fsync", "synchronous_commit",
                                                   "full_page_writes", "shared_buffers")}

    def stop(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.group.stop_all()
        self.infra.stop()

    def set_processors(self, replicas: int) -> None:
        """Run exactly `replicas` processors (`processor`, `processor-2`, ...)."""
        while self.replicas > replicas:
            name = "processor" if self.replicas == 1 else f"processor-{self.replicas}"
            self.group.stop(name)
            self.replicas -= 1
        while self.replicas < replicas:
            self.replicas += 1
            if self.replicas == 1:
                system.start(self.group, "processor", self.env, self.ports)
            else:
                self.group.start(f"processor-{self.replicas}", [sys.executable, "-m", "processor"],
                                 {**system.process_environment("processor", self.env),
                                  "PROCESSOR_GRPC_PORT": "0"},  # the first replica holds the given port
                                 cwd=system.REPO_ROOT)

    # -- 1. ingest ----------------------------------------------------------------------------

    def requests_for(self, run: str, run_no: int, count: int, port: int) -> tuple[list[Sale], list[bytes]]:
        batch = sales(run, run_no, count)
        return batch, [http_request(TENANT, self.secret, s.body, f"127.0.0.1:{port}") for s in batch]

    def ingest(self, port: int, label: str) -> dict[str, Any]:
        seconds, most = self.sizes["ingest_seconds"], self.sizes["ingest_max"]
        _, warm = self.requests_for(f"{label}w", 0, 500, port)
        loadgen.closed_loop("127.0.0.1", port, warm, 16, 1.0)
        out = {}
        for connections in CONNECTIONS:
            _, reqs = self.requests_for(f"{label}{connections}", 0, most, port)
            result = loadgen.closed_loop("127.0.0.1", port, reqs, connections, seconds)
            out[f"c{connections}"] = {
                "connections": connections, "requests": result.sent, "seconds": round(result.seconds, 2),
                "accepted_per_s": round(result.accepted / result.seconds, 1),
                "p50_ms": pct(result.latencies, 50), "p99_ms": pct(result.latencies, 99),
                "statuses": {str(k): v for k, v in result.statuses.items()}, "errors": result.errors}
            log(f"ingest {label} {connections} conns: {out[f'c{connections}']}")
        return out

    def ingest_baseline(self) -> dict[str, Any]:
        port = free_port()
        env = {**self.env, "BENCH_SECRET": self.secret, "BENCH_BIND": f"127.0.0.1:{port}",
               "BENCH_WORKERS": str(WORKERS), "BENCH_THREADS": str(THREADS)}
        conf = Path(__file__).with_name("baseline_gunicorn_conf.py")
        self.group.start("baseline", [sys.executable, "-m", "gunicorn", "-c", str(conf), "bench.baseline_app:app"],
                         env, ready=http_ok(f"http://127.0.0.1:{port}/readyz"), cwd=system.REPO_ROOT)
        try:
            return self.ingest(port, "b")
        finally:
            self.group.stop("baseline")

    async def _floor_stream(self, create: bool) -> None:
        """The durable floor's own file stream (same kind as WEBHOOKS), created before and deleted after."""
        nc = await nats.connect(self.infra.nats_admin_url)
        js = nc.jetstream()
        try:
            if create:
                await js.add_stream(StreamConfig(name=FLOOR_STREAM, subjects=[f"{FLOOR_SUBJECT_PREFIX}.>"],
                                                 storage=StorageType.FILE, duplicate_window=120))
            else:
                await js.delete_stream(FLOOR_STREAM)
        finally:
            await nc.close()

    def ingest_floor(self) -> dict[str, Any]:
        """bench/baseline_durable_app.py under each of sizes["floor_configs"] (workers, threads): the
        figures per configuration and, per connection count, the fastest ("best")."""
        asyncio.run(self._floor_stream(create=True))
        configs: dict[str, Any] = {}
        try:
            for workers, threads in self.sizes["floor_configs"]:
                name, port = f"{workers}x{threads}", free_port()
                env = {**self.env, "BENCH_SECRET": self.secret, "BENCH_BIND": f"127.0.0.1:{port}",
                       "BENCH_WORKERS": str(workers), "BENCH_THREADS": str(threads),
                       "BENCH_NATS_URL": self.infra.nats_admin_url,
                       "BENCH_FLOOR_SUBJECT": f"{FLOOR_SUBJECT_PREFIX}.in"}
                conf = Path(__file__).with_name("baseline_gunicorn_conf.py")
                self.group.start("floor", [sys.executable, "-m", "gunicorn", "-c", str(conf),
                                           "bench.baseline_durable_app:app"],
                                 env, ready=http_ok(f"http://127.0.0.1:{port}/readyz"), cwd=system.REPO_ROOT)
                try:
                    configs[name] = self.ingest(port, f"f{name}")
                finally:
                    self.group.stop("floor")
        finally:
            asyncio.run(self._floor_stream(create=False))
        return {"configs": configs, "best": best_per_connections(configs)}

    async def _nats_raw(self) -> dict[str, Any]:
        """nats-py's own JetStream publish rate on a file stream of its own (same kind as WEBHOOKS)."""
        seconds = self.sizes["nats_seconds"]
        sample = events(TENANT, sales("nats", 0, 1))[0].SerializeToString()
        nc = await nats.connect(self.infra.nats_admin_url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="BENCHRAW", subjects=["benchraw.>"], storage=StorageType.FILE,
                                         duplicate_window=120))
        out: dict[str, Any] = {"payload_bytes": len(sample)}
        try:
            n, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                await js.publish("benchraw.x", sample, headers={work_message.HEADER_MSG_ID: f"s{n}"})
                n += 1
            out["sequential_per_s"] = round(n / (time.perf_counter() - started), 1)
            n, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                await asyncio.gather(*(js.publish("benchraw.x", sample, headers={work_message.HEADER_MSG_ID: f"p{n + i}"})
                                       for i in range(256)))
                n += 256
            out["pipelined_per_s"] = round(n / (time.perf_counter() - started), 1)
            out["pipeline_depth"] = 256
        finally:
            await js.delete_stream("BENCHRAW")
            await nc.close()
        return out

    async def _purge(self) -> None:
        nc = await nats.connect(self.infra.nats_admin_url)
        try:
            await nc.jetstream().purge_stream(bus.STREAM)
        finally:
            await nc.close()

    # -- 2. drain -----------------------------------------------------------------------------

    def register(self, batch: list[Sale]) -> None:
        stub = identifier_pb2_grpc.IdentifierServiceStub(self.channel)
        codes = [code for sale in batch for code in sale.codes]
        for i in range(0, len(codes), 100_000):
            stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(
                tenant_id=TENANT, codes=codes[i:i + 100_000]), timeout=120)

    async def _publish(self, evs: list) -> None:
        nc = await nats.connect(self.infra.nats_admin_url)
        js = nc.jetstream()
        try:
            for i in range(0, len(evs), 256):
                await asyncio.gather(*(js.publish(bus.subject_for(e.tenant_id), e.SerializeToString(),
                                                  headers=work_message.headers(e.event_id, e.tenant_id))
                                       for e in evs[i:i + 256]))
        finally:
            await nc.close()

    def outcomes(self) -> dict[str, int]:
        with psycopg.connect(self.env["PROCESSOR_DATABASE_URL"]) as conn:
            return dict(conn.execute("SELECT status, count(*) FROM event_outcomes GROUP BY status").fetchall())

    def wait_outcomes(self, target: int, timeout: float, on_first=None) -> None:
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.env["PROCESSOR_DATABASE_URL"], autocommit=True) as conn:
            while True:
                done = conn.execute("SELECT count(*) FROM event_outcomes").fetchone()[0]
                if on_first is not None:
                    on_first(done)
                if done >= target:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {done} of {target} outcomes after {timeout:.0f}s (see "
                                       f"{self.group.log_dir})")
                self.group.check()
                time.sleep(0.05)

    def drain(self, run: str, run_no: int, count: int, replicas: int,
              batch: list[Sale] | None = None) -> dict[str, Any]:
        """Preload `count` events with no processor running, then start `replicas`: the rates."""
        self.set_processors(0)
        batch = batch or sales(run, run_no, count)
        self.register(batch)
        asyncio.run(self._publish(events(TENANT, batch)))
        before = sum(self.outcomes().values())
        first: dict[str, float] = {}

        def on_first(done: int) -> None:
            if done > before and "t" not in first:
                first.update(t=time.perf_counter(), n=done - before)

        started = time.perf_counter()
        self.set_processors(replicas)
        self.wait_outcomes(before + count, timeout=max(120.0, count / 10), on_first=on_first)
        ended = time.perf_counter()
        self.set_processors(0)
        after = self.outcomes()
        if count - first["n"] >= max(10, count // 10):
            steady = (count - first["n"]) / (ended - first["t"])
        else:  # (nearly) all done by the first poll that saw any: no steady phase to time
            steady = count / (ended - started)
        out = {"events": count, "replicas": replicas, "seconds": round(ended - started, 2),
               "events_per_s": round(count / (ended - started), 1), "steady_events_per_s": round(steady, 1),
               "startup_s": round(first["t"] - started, 2), "dead_lettered": after.get("dead_lettered", 0)}
        log(f"drain {run}: {out}")
        return out

    # -- 3. latency ---------------------------------------------------------------------------

    def latency(self, run: str, run_no: int, rate: float) -> dict[str, Any]:
        """Webhooks at `rate`/s for latency_seconds with one processor: 202 -> codes assigned."""
        port = self.ports["gateway"]
        count = max(20, int(rate * self.sizes["latency_seconds"]))
        batch, reqs = self.requests_for(run, run_no, count, port)
        self.register(batch)
        self.set_processors(1)
        time.sleep(1.0)  # let it connect and start fetching
        before = sum(self.outcomes().values())
        result = loadgen.open_loop("127.0.0.1", port, reqs, rate, connections=64, sample_every=10)
        self.wait_outcomes(before + result.accepted, timeout=max(120.0, count / 10))
        wanted = {f"{run}-{i:07d}": at for i, (at, _) in result.accepted_at.items()}
        with psycopg.connect(self.env["IDENTIFIER_SERVICE_DATABASE_URL"]) as conn:
            rows = conn.execute(
                "SELECT transaction_id, extract(epoch FROM max(assigned_at))::float8, count(*) FROM identifiers "
                "WHERE tenant_id = %s AND transaction_id = ANY(%s) GROUP BY transaction_id",
                (TENANT, list(wanted))).fetchall()
        delays = [assigned - wanted[tid] for tid, assigned, n in rows if n == CODES_PER_SALE]
        out = {"target_rate_per_s": round(rate, 1), "requests": result.sent,
               "achieved_rate_per_s": round(result.sent / result.seconds, 1),
               "accepted": result.accepted, "http_p50_ms": pct(result.latencies, 50),
               "http_p99_ms": pct(result.latencies, 99), "samples": len(delays),
               "assigned_p50_ms": pct(delays, 50), "assigned_p99_ms": pct(delays, 99),
               "assigned_max_ms": round(max(delays, default=0.0) * 1000, 2)}
        log(f"latency {run}: {out}")
        return out

    # -- 4. growth ----------------------------------------------------------------------------

    def preload(self, identifiers: int, customers: int) -> dict[str, Any]:
        """COPY `customers` customers and `identifiers` codes (two per customer linked, the rest free)
        straight into the services' tables, then VACUUM ANALYZE (so autovacuum does not run mid-measure)."""
        started = time.perf_counter()
        observed = datetime(2025, 1, 1, tzinfo=timezone.utc)
        ids = [uuid.uuid4() for _ in range(customers)]
        with psycopg.connect(self.env["CUSTOMER_SERVICE_DATABASE_URL"], autocommit=True) as conn:
            with conn.cursor().copy("COPY customers (id, tenant_id, national_id, email, phone_number, first_name, "
                                    "last_name, data_observed_at) FROM STDIN") as copy:
                for i, cid in enumerate(ids):
                    copy.write_row((cid, TENANT, f"PRE{i:09d}", f"pre{i}@preload.bench-clientes.co",
                                    f"+5739{i:07d}{(i + 2) % 10}", f"Pre{i}", "Load", observed))
            conn.execute("VACUUM ANALYZE customers")
        with psycopg.connect(self.env["IDENTIFIER_SERVICE_DATABASE_URL"], autocommit=True) as conn:
            with conn.cursor().copy("COPY identifiers (tenant_id, code, customer_id, assigned_at, transaction_id) "
                                    "FROM STDIN") as copy:
                for i in range(identifiers):
                    owner = ids[i // 2] if i < 2 * customers else None
                    copy.write_row((TENANT, f"PRE-{i:08d}", owner, observed if owner else None,
                                    f"PRE-{i // 2}" if owner else None))
            conn.execute("VACUUM ANALYZE identifiers")
        out = {"identifiers": identifiers, "customers": customers, "linked": min(identifiers, 2 * customers),
               "load_seconds": round(time.perf_counter() - started, 1)}
        log(f"preload: {out}")
        return out


def best_per_connections(configs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per connection count ("c16", ...), the run of the configuration with the highest accepted rate
    (the first on a tie), with its configuration's name under "config"."""
    out: dict[str, Any] = {}
    for name, runs in configs.items():
        for key, run in runs.items():
            if key not in out or run["accepted_per_s"] > out[key]["accepted_per_s"]:
                out[key] = {**run, "config": name}
    return out


def verdict(name: str, ok: bool, detail: str, quick: bool) -> dict[str, Any]:
    return {"target": name, "pass": ok, "line": f"{'PASS' if ok else 'FAIL'} {name}: {detail}"
            + ("  (quick: sizes too small to mean anything)" if quick else "")}


def judge(f: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    out = []
    for c in CONNECTIONS if "ingest" in f else ():
        g, fl = f["ingest"]["gateway"][f"c{c}"], f["ingest"]["floor"]["best"][f"c{c}"]
        ratio = g["accepted_per_s"] / fl["accepted_per_s"] if fl["accepted_per_s"] else 0.0
        out.append(verdict(f"ingest rate vs durable floor @{c} conns", ratio >= 1.0,
                           f"{g['accepted_per_s']:.0f}/s vs floor {fl['accepted_per_s']:.0f}/s ({fl['config']}) = "
                           f"{ratio:.2f}x (target >= 1.00x)", quick))
        ratio = g["p99_ms"] / fl["p99_ms"] if fl["p99_ms"] else float("inf")
        out.append(verdict(f"ingest p99 vs durable floor @{c} conns", ratio <= 2.0,
                           f"{g['p99_ms']:.1f} ms vs floor {fl['p99_ms']:.1f} ms ({fl['config']}) = {ratio:.2f}x "
                           "(target <= 2.00x)", quick))
    if "drain" in f:
        d, b = f["drain"]["replicas"]["1"], f["drain"]["baseline"]
        ratio = d["steady_events_per_s"] / b["events_per_s"]
        out.append(verdict("drain rate (1 processor)", ratio >= 1.0,
                           f"{d['steady_events_per_s']:.0f} events/s vs baseline {b['events_per_s']:.0f} events/s = "
                           f"{ratio:.2f}x (target >= 1.00x)", quick))
    if "latency" in f:
        lat = f["latency"]["at_half_ingest"]
        out.append(verdict("latency p99 202->assigned @50% ingest capacity", lat["assigned_p99_ms"] <= 500,
                           f"{lat['assigned_p99_ms']:.0f} ms at {lat['target_rate_per_s']:.0f}/s "
                           f"(p50 {lat['assigned_p50_ms']:.0f} ms; target <= 500 ms)", quick))
    if "growth" in f:
        g = f["growth"]
        ratio = g["loaded"]["steady_events_per_s"] / g["empty_steady_events_per_s"]
        out.append(verdict("drain rate with loaded tables", ratio >= 0.8,
                           f"{g['loaded']['steady_events_per_s']:.0f} events/s with {g['preload']['identifiers']:,} "
                           f"identifiers + {g['preload']['customers']:,} customers vs "
                           f"{g['empty_steady_events_per_s']:.0f} events/s = {ratio:.2f}x (target >= 0.80x)", quick))
    for role, mb in f.get("memory_peak_mb", {}).items():
        out.append(verdict(f"peak RSS {role}", mb <= 150, f"{mb:.0f} MB (target <= 150 MB)", quick))
    if "system" in f:
        s, name = f["system"], "whole system sustained rate (p99 202->assigned <= 500 ms)"
        target = f"(target >= {TARGET_RATE:.0f} events/s)"
        best = s["at_best"]
        if best is not None:
            detail = (f"{s['sustained_rate_per_s']:.0f} events/s from {s['tenants']} tenants, p99 "
                      f"{best['assigned_p99_ms']:.0f} ms, {best['cpu_ms_per_event'][cpu.TOTAL]:.2f} ms CPU/event "
                      f"{target}")
        else:
            tried = ", ".join(f"{rate:.0f}" for rate, _ in s["tried"])
            lowest = min(s["steps"], key=lambda st: st["target_rate_per_s"], default=None)
            why = "; ".join(lowest["why_not"]) if lowest else "no step ran"
            detail = f"no rate sustained (tried {tried}/s; lowest: {why}) {target}"
        out.append(verdict(name, best is not None and s["sustained_rate_per_s"] >= TARGET_RATE, detail, quick))
    return out


def table(f: dict[str, Any]) -> str:
    rows = [("figure", "system", "baseline", "ratio")]
    units = {"accepted_per_s": "/s", "p50_ms": " ms", "p99_ms": " ms"}
    for c in CONNECTIONS if "ingest" in f else ():
        g, fl = f["ingest"]["gateway"][f"c{c}"], f["ingest"]["floor"]["best"][f"c{c}"]
        b = f["ingest"]["baseline"][f"c{c}"]
        for key, unit in units.items():
            rows.append((f"ingest @{c} conns {key} vs durable floor {fl['config']}", f"{g[key]:.1f}{unit}",
                         f"{fl[key]:.1f}{unit}", f"{g[key] / fl[key]:.2f}x" if fl[key] else "-"))
        for key in ("accepted_per_s", "p99_ms"):
            rows.append((f"  same {key} vs bare Flask (information)", f"{g[key]:.1f}{units[key]}",
                         f"{b[key]:.1f}{units[key]}", f"{g[key] / b[key]:.2f}x" if b[key] else "-"))
    for name, runs in f["ingest"]["floor"]["configs"].items() if "ingest" in f else ():
        rows.append((f"durable floor gunicorn {name}: accepted/s @16 / @64, p99 @64",
                     f"{runs['c16']['accepted_per_s']:.0f}/s / {runs['c64']['accepted_per_s']:.0f}/s, "
                     f"{runs['c64']['p99_ms']:.1f} ms", "", ""))
    if "nats_raw" in f:
        n = f["nats_raw"]
        rows.append(("nats-py JetStream publish, sequential", f"{n['sequential_per_s']:.0f}/s", "", ""))
        rows.append((f"nats-py JetStream publish, pipelined x{n['pipeline_depth']}", f"{n['pipelined_per_s']:.0f}/s",
                     "", ""))
    if "drain" in f:
        b = f["drain"]["baseline"]
        for r, d in f["drain"]["replicas"].items():
            rows.append((f"drain {d['events']} events, {r} processor(s), steady", f"{d['steady_events_per_s']:.1f}/s",
                         f"{b['events_per_s']:.1f}/s", f"{d['steady_events_per_s'] / b['events_per_s']:.2f}x"))
            rows.append((f"  same, incl. start-up ({d['startup_s']} s)", f"{d['events_per_s']:.1f}/s", "", ""))
    for key, lat in f.get("latency", {}).items():
        rows.append((f"latency {key} ({lat['target_rate_per_s']:.0f}/s) 202->assigned p50",
                     f"{lat['assigned_p50_ms']:.0f} ms", "", ""))
        rows.append((f"latency {key} ({lat['target_rate_per_s']:.0f}/s) 202->assigned p99",
                     f"{lat['assigned_p99_ms']:.0f} ms", "", ""))
        rows.append((f"latency {key} http p99", f"{lat['http_p99_ms']:.1f} ms", "", ""))
    if "growth" in f:
        g = f["growth"]
        rows.append((f"drain, loaded tables ({g['preload']['identifiers']:,} ids, {g['preload']['customers']:,} cust)",
                     f"{g['loaded']['steady_events_per_s']:.1f}/s", f"{g['empty_steady_events_per_s']:.1f}/s (empty)",
                     f"{g['loaded']['steady_events_per_s'] / g['empty_steady_events_per_s']:.2f}x"))
    for role, mb in f.get("memory_peak_mb", {}).items():
        rows.append((f"peak RSS {role}", f"{mb:.0f} MB", "", ""))
    if "system" in f:
        s = f["system"]
        tried = ", ".join(f"{rate:.0f}{'' if ok else 'x'}" for rate, ok in s["tried"])
        best = s["at_best"]
        rows.append((f"whole system, {s['tenants']} tenants: sustained rate (tried/s: {tried}; x = failed)",
                     f"{s['sustained_rate_per_s']:.0f}/s" if best is not None else "none", "", ""))
        if best is not None:
            rows.append(("  at that rate: 202->assigned p50 / p99",
                         f"{best['assigned_p50_ms']:.0f} / {best['assigned_p99_ms']:.0f} ms", "", ""))
            rows.append(("  at that rate: http p99", f"{best['http_p99_ms']:.1f} ms", "", ""))
            per_event = best["cpu_ms_per_event"]
            for role, ms in per_event.items():
                if role != cpu.TOTAL:
                    rows.append((f"  CPU ms/event {role}", f"{ms:.3f}", "", ""))
            rows.append(("  CPU ms/event TOTAL (system processes)", f"{per_event[cpu.TOTAL]:.3f}", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


def run(sizes: dict[str, Any], quick: bool, parts: frozenset[str] = frozenset(PARTS)) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="autentikapp-bench-"))
    bench = Bench(workdir, sizes)
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        log(f"starting NATS, durable Postgres and the system under {workdir}")
        bench.start()
        figures["postgres"] = bench.postgres_settings
        if "memory" in parts:
            memory = PeakMemory(bench.group, {"customer_service": "customer_service",
                                              "identifier_service": "identifier_service",
                                              "gateway": "gateway_master", "processor": "processor",
                                              "processor-2": "processor", "processor-3": "processor",
                                              "processor-4": "processor"}).start()
        # 1. ingest (processor stopped: the gateway's own figures), then the broker's own limit
        if "ingest" in parts:
            bench.set_processors(0)
            figures["ingest"] = {"workers": WORKERS, "threads": THREADS, "baseline": bench.ingest_baseline(),
                                 "gateway": bench.ingest(bench.ports["gateway"], "g"),
                                 "floor": bench.ingest_floor()}
            asyncio.run(bench._purge())
            figures["nats_raw"] = asyncio.run(bench._nats_raw())
            log(f"nats raw: {figures['nats_raw']}")
        # 2. drain: baseline script, then 1, 2 and 4 processors
        if "drain" in parts:
            n = sizes["drain_events"]
            batch = sales("d1", 1, n)
            base_url = with_database(bench.env["PROCESSOR_DATABASE_URL"], "bench_baseline")
            ensure_database(bench.env["PROCESSOR_DATABASE_URL"], "bench_baseline")
            baseline_db.prepare(base_url, batch)
            figures["drain"] = {"baseline": baseline_db.apply_all(base_url, batch), "replicas": {}}
            log(f"drain baseline: {figures['drain']['baseline']}")
            figures["drain"]["replicas"]["1"] = bench.drain("d1", 1, n, 1, batch)
            for run_no, replicas in ((2, 2), (3, 4)):
                figures["drain"]["replicas"][str(replicas)] = bench.drain(
                    f"d{replicas}", run_no, sizes["replica_events"], replicas)
        if "memory" in parts:
            figures["memory_peak_mb"] = memory.stop()
        # 3. latency at half the ingest capacity (and, for reference, at half the drain rate)
        if "latency" in parts:
            capacity = max(figures["ingest"]["gateway"][f"c{c}"]["accepted_per_s"] for c in CONNECTIONS)
            figures["latency"] = {"at_half_ingest": bench.latency("l1", 4, capacity / 2)}
            drain_rate = figures["drain"]["replicas"]["1"]["steady_events_per_s"]
            figures["latency"]["at_half_drain"] = bench.latency("l2", 5, drain_rate / 2)
        # 6. the whole system, before growth's bulk load (tenants of its own; WholeSystem.run sets it up)
        if "system" in parts:
            figures["system"] = WholeSystem(bench, sizes, log).run()
        # 4. growth
        if "growth" in parts:
            preload = bench.preload(sizes["growth_identifiers"], sizes["growth_customers"])
            figures["growth"] = {"preload": preload,
                                 "empty_steady_events_per_s": figures["drain"]["replicas"]["1"]["steady_events_per_s"],
                                 "loaded": bench.drain("g1", 6, sizes["growth_events"], 1)}
            figures["growth"]["note"] = (f"empty-table rate is step 2's ({n} events); loaded rate over "
                                         f"{sizes['growth_events']} events")
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    return figures


def parse_parts(text: str) -> set[str]:
    """One --only value: a comma-separated list of part names (argparse shows a bad one as a usage error)."""
    parts = {p.strip() for p in text.split(",") if p.strip()}
    unknown = sorted(parts - set(PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"unknown part {', '.join(unknown) or repr(text)}; "
                                         f"choose from {', '.join(PARTS)}")
    return parts


def with_needs(parts: set[str]) -> set[str]:
    """The parts asked for plus those whose figures they are measured against (NEEDS)."""
    return parts.union(*(NEEDS.get(p, ()) for p in parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (under a minute): checks the harness")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json", help="where to write the JSON")
    parser.add_argument("--only", action="append", type=parse_parts, metavar="PART[,PART]",
                        help=f"run only these parts ({', '.join(PARTS)}; repeatable), plus what they are "
                             "measured against; default: all")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    sizes = SIZES[mode]
    parts = frozenset(with_needs(set().union(*args.only)) if args.only else PARTS)
    if args.only:
        log(f"parts: {', '.join(p for p in PARTS if p in parts)}")
    try:
        figures = run(sizes, args.quick, parts)
    except Exception as exc:  # noqa: BLE001 - one line, the processes are already stopped
        print(f"bench: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    verdicts = judge(figures, args.quick)
    document = {"mode": mode, "parts": [p for p in PARTS if p in parts],
                "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": machine(), "sizes": sizes, "figures": figures,
                "targets": [{k: v for k, v in t.items()} for t in verdicts]}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2))
    m = document["machine"]
    print(f"autentikapp bench ({mode}) on {m['nproc']} x {m['cpu']}, {m['ram_gb']} GB RAM; "
          f"gateway {WORKERS} workers x {THREADS} threads; total {figures['total_seconds']} s")
    print(table(figures))
    print()
    for v in verdicts:
        print(v["line"])
    print(f"(written to {args.output})")
    return 0
