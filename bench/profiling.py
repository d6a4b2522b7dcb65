"""`python -m bench.profiling`: where the CPU goes, for docs/BENCHMARKS.md "What the profiles show".

Not part of `make bench` and not a dependency: it needs py-spy (and, for `--pyinstrument`, pyinstrument)
installed into the venv by hand (`.venv/bin/pip install py-spy pyinstrument`), and root or ptrace rights.

It starts the same system as `python -m bench` (bench.harness.Bench: own NATS, durable Postgres, every
process as `make run` starts them, rate limit off) but with GATEWAY_WORKERS=1, then:

  1. gateway: the ingest load (16 keep-alive connections, back to back, processor stopped) for
     --seconds twice: once plain (rate and CPU ms per request of the worker, from /proc), once with
     `py-spy record` on the one gunicorn worker (collapsed stacks, idle threads excluded);
  2. drain: --events events preloaded (bench.workload, registered codes), then one processor started
     under a wrapper that counts its gRPC calls and outcome writes; py-spy records the processor and
     both services until every outcome is in. Per event: RPCs, transactions per database
     (pg_stat_database xact_commit), rows touched, CPU ms of each process (Postgres and NATS included).

Writes everything (raw py-spy stacks, summary.json, report.txt) under --out (default
/tmp/autentikapp-profiles) and prints the report.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench import harness, loadgen
from bench.workload import events, sales
from devstack import system

TICK = os.sysconf("SC_CLK_TCK")
COUNTS_FILE_VAR = "BENCH_PROFILE_COUNTS"


# -- /proc ------------------------------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st and int(st[1]) == pid:
                out.append(int(entry.name))
    return out


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def user_system(pid: int) -> tuple[float, float]:
    st = _stat(pid)
    return (int(st[11]) / TICK, int(st[12]) / TICK) if st else (0.0, 0.0)


def cpu_seconds(pid: int, *, with_dead_children: bool = False) -> float:
    st = _stat(pid)
    if st is None:
        return 0.0
    # fields after the comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    ticks = int(st[11]) + int(st[12]) + ((int(st[13]) + int(st[14])) if with_dead_children else 0)
    return ticks / TICK


def tree_cpu(pid: int) -> float:
    """CPU seconds of `pid` (and its reaped children) plus every live descendant."""
    return cpu_seconds(pid, with_dead_children=True) + sum(cpu_seconds(p) for p in descendants(pid))


def find_pid(needle: str) -> int | None:
    """The oldest process whose command line contains `needle` (postmaster, nats-server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if needle in cmd and "bench.profiling" not in cmd and "py-spy" not in cmd:
                found.append(int(entry.name))
    return min(found) if found else None


# -- py-spy -----------------------------------------------------------------------------------------

GIL_ONLY = False
NATIVE_SERVICES = False


def pyspy(pid: int, out: Path, rate: int, duration: float | None = None, native: bool = False) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("py-spy")
    argv = [str(exe), "record", "-p", str(pid), "-r", str(rate), "--format", "raw", "-o", str(out)]
    if GIL_ONLY:
        argv.append("--gil")
    if native:
        argv.append("--native")
    if duration is not None:
        argv += ["-d", str(int(duration))]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_pyspy(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load_stacks(path: Path) -> list[tuple[list[str], int]]:
    """py-spy raw (collapsed) output: `frame;frame;... count` per line, outermost first."""
    out = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            out.append((stack.split(";"), int(count)))
    return out


def leaf_table(stacks: list[tuple[list[str], int]], top: int = 25) -> list[tuple[str, float]]:
    """Self time by innermost frame (function (file)), share of all samples."""
    total = sum(c for _, c in stacks) or 1
    counter: collections.Counter = collections.Counter()
    for frames, count in stacks:
        counter[_short(frames[-1])] += count
    return [(name, 100 * c / total) for name, c in counter.most_common(top)]


def inclusive(stacks: list[tuple[list[str], int]], buckets: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, float]]:
    """Share of samples whose stack contains any of a bucket's substrings, each sample in the first
    bucket (innermost-first match: the deepest matching frame decides)."""
    total = sum(c for _, c in stacks) or 1
    counter: collections.Counter = collections.Counter()
    for frames, count in stacks:
        label = "other"
        for frame in reversed(frames):
            hit = next((name for name, needles in buckets if any(n in frame for n in needles)), None)
            if hit:
                label = hit
                break
        counter[label] += count
    return [(name, 100 * counter[name] / total) for name in [b[0] for b in buckets] + ["other"] if counter[name]]


def _short(frame: str) -> str:
    # py-spy raw frames look like `function (path/to/file.py:123)`; keep the function and the file's tail
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    parts = Path(path).parts
    tail = "/".join(parts[-2:]) if parts else path
    return f"{name} ({tail})"


GATEWAY_BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    # deepest matching frame wins, so list the specific ones; order here is only the report order
    ("logging (our INFO line, handlers, formatting)", ("logging/__init__.py", "common/logs.py")),
    ("publish: hand-off to the loop thread + wait for PubAck", ("gateway/publisher.py",)),
    ("nats-py (in the loop thread)", ("nats/",)),
    ("asyncio loop machinery (loop thread)", ("asyncio/",)),
    ("protobuf build/serialize (payload.build_event)", ("build_event", "protobuf/")),
    ("payload rules (phonenumbers)", ("phonenumbers/",)),
    ("payload rules (email-validator, idna)", ("email_validator/", "idna/")),
    ("payload rules (rest: parse_sale, normalize)", ("gateway/payload.py", "common/normalize.py")),
    ("strict JSON (json_body)", ("gateway/json_body.py", "json/decoder.py", "json/__init__.py")),
    ("HMAC verify + secret lookup/cache", ("gateway/signature.py", "gateway/secret_cache.py", "gateway/tenants.py",
                                           "gateway/secret_sealing.py", "gateway/encryption_keys.py", "hmac.py")),
    ("rate limit / event ids / problems", ("gateway/rate_limit.py", "gateway/event_ids.py", "gateway/problems.py")),
    ("webhook view (rest of gateway/webhooks.py)", ("gateway/webhooks.py",)),
    ("Flask dispatch/response (flask/)", ("flask/",)),
    ("werkzeug request/response/routing", ("werkzeug/",)),
    ("gunicorn HTTP parsing, socket I/O, worker loop", ("gunicorn/",)),
    ("threading / concurrent.futures", ("threading.py", "concurrent/futures")),
]

SERVICE_BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("logging", ("logging/__init__.py", "common/logs.py")),
    ("psycopg (queries, results, adapters)", ("psycopg/", "psycopg_pool/")),
    ("phonenumbers / email-validator (normalisation)", ("phonenumbers/", "email_validator/", "idna/")),
    ("domain / repository / service code", ("customer_service/", "identifier_service/", "common/normalize.py",
                                             "common/db.py")),
    ("grpc.aio server machinery", ("grpc/", "grpc_server.py")),
    ("protobuf", ("protobuf/", "_pb2")),
    ("asyncio loop machinery", ("asyncio/",)),
]

PROCESSOR_BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("logging (one INFO line per event)", ("logging/__init__.py", "common/logs.py")),
    ("outcome write (psycopg, event_outcomes)", ("processor/outcomes.py", "psycopg/", "psycopg_pool/")),
    ("gRPC client calls (grpc.aio)", ("grpc/", "processor/clients.py")),
    ("nats-py (fetch, ack, +WPI heartbeats)", ("nats/",)),
    ("protobuf decode/build", ("protobuf/", "_pb2", "processor/messages.py")),
    ("processor logic (work, handler, runner)", ("processor/",)),
    ("asyncio loop machinery", ("asyncio/",)),
]


# -- the processor wrapper: count calls, then run `python -m processor` ------------------------------

def run_counted_processor() -> int:
    """`python -m bench.profiling --counted-processor`: the processor with per-method call counters,
    written as JSON to $BENCH_PROFILE_COUNTS at exit."""
    import atexit
    import runpy

    from processor import clients, outcomes

    counts: collections.Counter = collections.Counter()
    original_call = clients.ServiceClients._call
    original_record = outcomes.record_many

    async def counted_call(self, rpc, method, request):
        counts[f"rpc {method}"] += 1
        counts[f"rpc {method} items"] += len(getattr(request, "items", ())) or 1
        return await original_call(self, rpc, method, request)

    async def counted_record(conn, batch):
        counts["outcome writes"] += 1
        counts["outcome writes items"] += len(batch)
        return await original_record(conn, batch)

    clients.ServiceClients._call = counted_call
    outcomes.record_many = counted_record
    atexit.register(lambda: Path(os.environ[COUNTS_FILE_VAR]).write_text(json.dumps(counts)))
    sys.argv = ["processor"]
    runpy.run_module("processor", run_name="__main__", alter_sys=True)
    return 0


# -- the measurements -------------------------------------------------------------------------------

DBS = ("autentikapp_customers", "autentikapp_identifiers", "autentikapp_processor", "autentikapp_gateway")


def db_counters(url: str) -> dict[str, dict[str, int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            "SELECT datname, xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated "
            "FROM pg_stat_database WHERE datname = ANY(%s)", (list(DBS),)).fetchall()
    keys = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated")
    return {r[0]: dict(zip(keys, r[1:])) for r in rows}


def index_counters(url: str) -> dict[str, list[int]]:
    """Per table and index of one database: [scans, rows read]: seq scans from pg_stat_user_tables,
    index scans from pg_stat_user_indexes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute("SELECT relname || ' (seq scan)', seq_scan, seq_tup_read FROM pg_stat_user_tables "
                            "UNION ALL SELECT relname || ' ' || indexrelname, idx_scan, idx_tup_fetch "
                            "FROM pg_stat_user_indexes").fetchall()
    return {r[0]: [int(r[1] or 0), int(r[2] or 0)] for r in rows}


LOCK_CANDIDATES = ("SELECT id FROM customers WHERE tenant_id = $1 AND (national_id = $2 OR email = $3 OR "
                   "phone_number = $4) ORDER BY id FOR NO KEY UPDATE")


def lock_candidates_plans(url: str, sale) -> dict[str, str]:
    """EXPLAIN ANALYZE of customer_service's candidate lookup (repository.lock_candidates' WHERE clause),
    as a custom plan and as the generic plan a prepared statement switches to after 5 executions."""
    doc = json.loads(sale.body)["customer_data"]
    args = (harness.TENANT, doc["national_id"].upper(), doc["email"].lower(), doc["phone_number"])
    out = {}
    with psycopg.connect(url) as conn:
        conn.execute(f"PREPARE lc(text, text, text, text) AS {LOCK_CANDIDATES}")
        for mode in ("force_custom_plan", "force_generic_plan"):
            conn.execute(f"SET plan_cache_mode = {mode}")
            query = sql.SQL("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE lc({})").format(
                sql.SQL(", ").join(map(sql.Literal, args)))
            rows = conn.execute(query).fetchall()
            out[mode] = "\n".join(r[0] for r in rows)
        conn.rollback()
    return out


def profile_gateway(bench: harness.Bench, out: Path, seconds: float, rate: int) -> dict:
    port = bench.ports["gateway"]
    master = bench.group["gateway"].pid
    workers = children(master)
    assert len(workers) == 1, f"expected one gunicorn worker, found {workers}"
    worker = workers[0]
    _, warm = bench.requests_for("pw", 0, 500, port)
    loadgen.closed_loop("127.0.0.1", port, warm, 16, 1.0)
    result: dict = {"worker_pid": worker}
    for run_no, label in ((1, "plain"), (2, "pyspy")):
        _, reqs = bench.requests_for(f"pg{run_no}", run_no, 20_000, port)
        spy = pyspy(worker, out / "gateway.pyspy.txt", rate) if label == "pyspy" else None
        time.sleep(0.5 if spy else 0)
        cpu0, us0 = cpu_seconds(worker), user_system(worker)
        r = loadgen.closed_loop("127.0.0.1", port, reqs, 16, seconds)
        cpu1, us1 = cpu_seconds(worker), user_system(worker)
        if spy:
            stop_pyspy(spy)
        result[label] = {"accepted_per_s": round(r.accepted / r.seconds, 1), "requests": r.sent,
                         "statuses": {str(k): v for k, v in r.statuses.items()},
                         "p50_ms": harness.pct(r.latencies, 50), "p99_ms": harness.pct(r.latencies, 99),
                         "worker_cpu_s": round(cpu1 - cpu0, 2),
                         "worker_cpu_share_of_one_core": round((cpu1 - cpu0) / r.seconds, 2),
                         "worker_cpu_ms_per_request": round(1000 * (cpu1 - cpu0) / max(r.accepted, 1), 3),
                         "worker_user_ms_per_request": round(1000 * (us1[0] - us0[0]) / max(r.accepted, 1), 3),
                         "worker_system_ms_per_request": round(1000 * (us1[1] - us0[1]) / max(r.accepted, 1), 3)}
        harness.log(f"gateway {label}: {result[label]}")
    asyncio.run(bench._purge())
    stacks = load_stacks(out / "gateway.pyspy.txt")
    result["samples"] = sum(c for _, c in stacks)
    result["buckets"] = inclusive(stacks, GATEWAY_BUCKETS)
    result["top_self"] = leaf_table(stacks)
    return result


def profile_drain(bench: harness.Bench, out: Path, count: int, rate: int) -> dict:
    bench.set_processors(0)
    batch = sales("pd", 7, count)
    bench.register(batch)
    asyncio.run(bench._publish(events(harness.TENANT, batch)))
    before = sum(bench.outcomes().values())
    admin = bench.env["PROCESSOR_DATABASE_URL"]
    postmaster = find_pid(f"-D {bench.workdir}") or find_pid(str(bench.workdir / "postgres"))
    nats_pid = find_pid("nats-server")
    svc = {name: bench.group[name].pid for name in ("customer_service", "identifier_service")}
    counts_file = out / "processor.counts.json"
    env = {**system.process_environment("processor", bench.env), COUNTS_FILE_VAR: str(counts_file)}
    cpu0 = {name: cpu_seconds(pid) for name, pid in svc.items()}
    pg0 = tree_cpu(postmaster) if postmaster else 0.0
    nats0 = cpu_seconds(nats_pid) if nats_pid else 0.0
    db0 = db_counters(admin)
    svc_urls = {db: bench.env[var] for db, var in (("customers", "CUSTOMER_SERVICE_DATABASE_URL"),
                                                   ("identifiers", "IDENTIFIER_SERVICE_DATABASE_URL"))}
    idx0 = {db: index_counters(url) for db, url in svc_urls.items()}
    started = time.perf_counter()
    child = bench.group.start("processor", [sys.executable, "-m", "bench.profiling", "--counted-processor"], env,
                              cwd=system.REPO_ROOT)
    bench.replicas = 1
    spies = {name: pyspy(pid, out / f"{name}.pyspy.txt", rate, native=NATIVE_SERVICES) for name, pid in svc.items()}
    spies["processor"] = pyspy(child.pid, out / "processor.pyspy.txt", rate)
    bench.wait_outcomes(before + count, timeout=max(120.0, count / 10))
    ended = time.perf_counter()
    proc_cpu = cpu_seconds(child.pid)  # includes its start-up (imports, connect): ~1 s of CPU at most
    cpu1 = {name: cpu_seconds(pid) for name, pid in svc.items()}
    pg1 = tree_cpu(postmaster) if postmaster else 0.0
    nats1 = cpu_seconds(nats_pid) if nats_pid else 0.0
    db1 = db_counters(admin)
    idx1 = {db: index_counters(url) for db, url in svc_urls.items()}
    for spy in spies.values():
        stop_pyspy(spy)
    plans = lock_candidates_plans(svc_urls["customers"], batch[-1])
    bench.set_processors(0)  # SIGTERM: the wrapper writes its counters at exit
    calls = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    wall = ended - started
    per_event = {
        "rpcs": {k: round(v / count, 3) for k, v in calls.items()},
        "xact_commit": {db: round((db1[db]["xact_commit"] - db0[db]["xact_commit"]) / count, 3) for db in db1},
        "xact_rollback": {db: round((db1[db]["xact_rollback"] - db0[db]["xact_rollback"]) / count, 3) for db in db1},
        "tup_inserted": {db: round((db1[db]["tup_inserted"] - db0[db]["tup_inserted"]) / count, 3) for db in db1},
        "tup_updated": {db: round((db1[db]["tup_updated"] - db0[db]["tup_updated"]) / count, 3) for db in db1},
        "tup_fetched": {db: round((db1[db]["tup_fetched"] - db0[db]["tup_fetched"]) / count, 3) for db in db1},
        "scans": {f"{db} {name}": [round((v[0] - idx0[db].get(name, [0, 0])[0]) / count, 3),
                                   round((v[1] - idx0[db].get(name, [0, 0])[1]) / count, 3)]
                  for db in idx1 for name, v in idx1[db].items() if v != idx0[db].get(name)},
        "cpu_ms": {"processor (incl. start-up)": round(1000 * proc_cpu / count, 3),
                   **{name: round(1000 * (cpu1[name] - cpu0[name]) / count, 3) for name in svc},
                   "postgres (all backends)": round(1000 * (pg1 - pg0) / count, 3),
                   "nats-server": round(1000 * (nats1 - nats0) / count, 3)},
    }
    result = {"lock_candidates_plans": plans, "events": count, "seconds_incl_startup": round(wall, 2), "events_per_s": round(count / wall, 1),
              "calls": calls, "per_event": per_event,
              "cpu_share_of_wall": {"processor": round(proc_cpu / wall, 2),
                                    **{n: round((cpu1[n] - cpu0[n]) / wall, 2) for n in svc},
                                    "postgres": round((pg1 - pg0) / wall, 2), "nats": round((nats1 - nats0) / wall, 2)}}
    for name, buckets in (("processor", PROCESSOR_BUCKETS), ("customer_service", SERVICE_BUCKETS),
                          ("identifier_service", SERVICE_BUCKETS)):
        stacks = load_stacks(out / f"{name}.pyspy.txt")
        result[name] = {"samples": sum(c for _, c in stacks), "buckets": inclusive(stacks, buckets),
                        "top_self": leaf_table(stacks, 20)}
    harness.log(f"drain: {json.dumps({k: result[k] for k in ('events_per_s', 'per_event', 'cpu_share_of_wall')})}")
    return result


def report(summary: dict) -> str:
    lines = []
    g = summary["gateway"]
    lines.append(f"GATEWAY (1 worker x {harness.THREADS} threads, 16 connections)")
    for label in ("plain", "pyspy"):
        lines.append(f"  {label}: {g[label]}")
    lines.append(f"  py-spy samples ({'GIL holder only' if GIL_ONLY else 'non-idle threads'}): {g['samples']}")
    lines.append("  inclusive buckets (each sample in its deepest matching bucket):")
    lines += [f"    {share:5.1f}%  {name}" for name, share in g["buckets"]]
    lines.append("  top self time:")
    lines += [f"    {share:5.1f}%  {name}" for name, share in g["top_self"]]
    d = summary["drain"]
    lines.append(f"DRAIN ({d['events']} events, 1 processor): {d['events_per_s']}/s incl. start-up")
    lines.append(f"  calls: {d['calls']}")
    for key, value in d["per_event"].items():
        lines.append(f"  per event {key}: {value}")
    for mode, plan in d["lock_candidates_plans"].items():
        lines.append(f"  lock_candidates plan ({mode}):")
        lines += [f"    {line}" for line in plan.splitlines()]
    lines.append(f"  CPU share of wall time (1.0 = one core): {d['cpu_share_of_wall']}")
    for name in ("processor", "customer_service", "identifier_service"):
        lines.append(f"  {name}: {d[name]['samples']} samples")
        lines += [f"    {share:5.1f}%  {b}" for b, share in d[name]["buckets"]]
        lines.append("    top self time:")
        lines += [f"      {share:5.1f}%  {n}" for n, share in d[name]["top_self"][:12]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="ingest load per gateway run")
    parser.add_argument("--events", type=int, default=3000, help="events preloaded for the drain")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "autentikapp-profiles",
                        help="where to write the raw stacks, summary.json and report.txt")
    parser.add_argument("--gil", action="store_true",
                        help="py-spy --gil: only the thread holding the GIL (Python CPU time; no lock waits, "
                             "no C code that released the GIL)")
    parser.add_argument("--native-services", action="store_true",
                        help="py-spy --native on the two services (shows C/Cython frames, e.g. grpc's cygrpc)")
    parser.add_argument("--counted-processor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.counted_processor:
        return run_counted_processor()
    if shutil.which("py-spy", path=str(Path(sys.executable).parent)) is None:
        print("bench.profiling: py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    global GIL_ONLY, NATIVE_SERVICES
    GIL_ONLY, NATIVE_SERVICES = args.gil, args.native_services
    harness.WORKERS = 1  # one gunicorn worker: the profile is one process's
    workdir = Path(tempfile.mkdtemp(prefix="autentikapp-profile-"))
    bench = harness.Bench(workdir, harness.SIZES["full"])
    summary: dict = {}
    try:
        harness.log(f"starting the system under {workdir}")
        bench.start()
        bench.set_processors(0)
        summary["gateway"] = profile_gateway(bench, args.out, args.seconds, args.rate)
        summary["drain"] = profile_drain(bench, args.out, args.events, args.rate)
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    text = report(summary)
    (args.out / "report.txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
