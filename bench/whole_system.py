"""Part `system` of the bench: the highest rate the whole system sustains, end to end.

Every process runs as `make run` starts them (bench.harness.Bench: gateway, one processor, both services,
gateway_admin, dashboard, NATS, durable Postgres). Fifty tenants are created with their secrets; each step
sends distinct sales of all fifty (interleaved, codes registered beforehand, buyers new to the step, one
in three a repeat buyer within its tenant) to the gateway **open loop** (bench.loadgen.paced: each request
leaves at its scheduled time whatever the answers before it) at a fixed rate for `step_seconds`, while the
processor drains. A step **sustains** its rate when

  - the gateway answered 202 to every request sent (no 429, 503, other status or connection error),
  - the achieved send rate is within RATE_TOLERANCE of the target (sends fall behind when all 512
    connections wait for answers, or the generator itself cannot keep up),
  - p99 of the time from a sale's 202 to its codes being assigned (identifiers.assigned_at; every
    10th sale) is <= P99_LIMIT_MS, and
  - nothing is left unassigned SETTLE_SECONDS after the last answer.

Then the backlog (if any) is drained before the next step. Rates are searched by RateSearch: a coarse ramp
(x2 from `start` while steps sustain), then a bisection between the highest sustained and the lowest failed
rate, within a time budget. CPU ms per event of every process (bench.cpu, /proc) is read over each step,
from the first send to the step's last outcome (at least SETTLE_SECONDS after the last answer), and
reported for the highest sustained rate.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from autentikapp.v1 import identifier_pb2, identifier_pb2_grpc
from bench import cpu, loadgen
from bench.workload import CODES_PER_SALE, Sale, http_request, sales
from gateway import encryption_keys
from gateway.tenants import TenantStore

if TYPE_CHECKING:
    from bench.harness import Bench

TENANTS = 50
TENANT_PREFIX = "sys"
P99_LIMIT_MS = 500.0
RATE_TOLERANCE = 0.03
SETTLE_SECONDS = 1.0
TARGET_RATE = 1000.0
SAMPLE_EVERY = 10
RUN_NO = 7  # phone numbers' run digit (bench.workload.buyer_fields); buyers are told apart per step instead
BUYERS_PER_STEP = 100_000  # each step numbers its buyers from step * this
LOADGEN = "load generator (bench process)"
# role -> the ProcessGroup children it covers (each with its descendants: gunicorn's workers)
GROUP_ROLES = {"gateway (master+workers)": ("gateway",), "processor": ("processor",),
               "customer_service": ("customer_service",), "identifier_service": ("identifier_service",),
               "gateway_admin": ("gateway_admin",), "dashboard (master+workers)": ("dashboard",)}
POSTGRES, NATS = "postgres (all processes)", "nats-server"


def tenant_ids(count: int = TENANTS) -> list[str]:
    return [f"{TENANT_PREFIX}{t:02d}" for t in range(count)]


# -- the pure parts -----------------------------------------------------------------------------------

def step_failures(target_rate: float, *, sent: int, answered: int, accepted: int, errors: int,
                  send_rate: float, samples: int, assigned_p99_ms: float, unassigned: int,
                  tolerance: float = RATE_TOLERANCE, limit_ms: float = P99_LIMIT_MS) -> list[str]:
    """Why a step did not sustain `target_rate` (empty: it did)."""
    out = []
    if sent == 0:
        return ["nothing sent"]
    if errors or answered < sent:
        out.append(f"{errors} connection errors, {sent - answered} unanswered")
    if accepted < answered:
        out.append(f"{answered - accepted} of {answered} answers not 202")
    if send_rate < target_rate * (1 - tolerance):
        out.append(f"sent {send_rate:.0f}/s, below {target_rate * (1 - tolerance):.0f}/s")
    if samples == 0:
        out.append("no 202->assigned sample")
    elif assigned_p99_ms > limit_ms:
        out.append(f"p99 202->assigned {assigned_p99_ms:.0f} ms > {limit_ms:.0f} ms")
    if unassigned:
        out.append(f"{unassigned} codes unassigned {SETTLE_SECONDS:.0f} s after the last answer")
    return out


@dataclass
class RateSearch:
    """Which rate to try next: start at `start`; while every step sustains, multiply by `factor` (up to
    `ceiling`); while none does, divide (down to `floor`); once there is a sustained rate and a failed
    one above it, bisect between the highest sustained and the lowest failed above it, `bisections`
    times at most, or until they are within `resolution` of each other. None: done."""

    start: float
    ceiling: float
    floor: float = 10.0
    factor: float = 2.0
    bisections: int = 3
    resolution: float = 0.05
    tried: list[tuple[float, bool]] = field(default_factory=list)
    bisected: int = 0

    @property
    def best(self) -> float | None:
        """The highest sustained rate so far."""
        return max((r for r, ok in self.tried if ok), default=None)

    @property
    def lowest_failed(self) -> float | None:
        """The lowest failed rate above the best (any failed rate when none sustained)."""
        best = self.best
        return min((r for r, ok in self.tried if not ok and (best is None or r > best)), default=None)

    def next_rate(self) -> float | None:
        if not self.tried:
            return float(round(self.start))
        best, failed = self.best, self.lowest_failed
        if best is None:  # nothing sustained: go down
            lower = float(round(failed / self.factor))
            return lower if lower >= self.floor else None
        if failed is None:  # nothing failed above the best: go up
            if best >= self.ceiling:
                return None
            return float(min(self.ceiling, round(best * self.factor)))
        if self.bisected >= self.bisections or failed <= best * (1 + self.resolution):
            return None
        middle = float(round((best + failed) / 2))
        return middle if best < middle < failed else None

    def record(self, rate: float, sustained: bool) -> None:
        if self.best is not None and self.lowest_failed is not None:
            self.bisected += 1
        self.tried.append((rate, sustained))


def pct_ms(samples: list[float], q: int) -> float:
    """The q-th percentile of `samples` (seconds) in milliseconds (inclusive method)."""
    if len(samples) < 2:
        return round((samples[0] if samples else 0.0) * 1000, 2)
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000, 2)


# -- the runner ---------------------------------------------------------------------------------------

class WholeSystem:
    def __init__(self, bench: "Bench", sizes: dict[str, Any], log) -> None:
        self.bench = bench
        self.sizes = sizes
        self.log = log
        self.tenants = tenant_ids()
        self.secrets: dict[str, str] = {}
        self.port = bench.ports["gateway"]

    def setup(self) -> None:
        env = self.bench.env
        store = TenantStore.open(env["GATEWAY_DATABASE_URL"],
                                 keyring=encryption_keys.parse(env["GATEWAY_ENCRYPTION_KEYS"]))
        try:
            for tenant in self.tenants:
                self.secrets[tenant] = store.create_tenant(tenant, tenant)[1].secret
        finally:
            store.close()
        self.bench.set_processors(1)
        # warm-up: every tenant's secret into both gateway workers' caches, connections made
        order = self.step_sales(0, 4 * TENANTS)
        self.register(order)
        started = time.time()
        result = loadgen.closed_loop("127.0.0.1", self.port, self.requests(order), 16, 30.0)
        self.wait_drained(started, result.accepted, timeout=120.0)

    def step_sales(self, no: int, count: int) -> list[tuple[str, str, Sale]]:
        """`count` (tenant, transaction id, sale) of step `no`, spread over the tenants and interleaved
        (tenant 0, 1, ... 49, 0, 1, ...); bench.workload names a sale's transaction `<run>-<n:07d>`."""
        per = -(-count // len(self.tenants))
        runs = [f"y{no:02d}{tenant}" for tenant in self.tenants]
        lists = [sales(run, RUN_NO, per, first_buyer=no * BUYERS_PER_STEP) for run in runs]
        return [(self.tenants[t], f"{runs[t]}-{n:07d}", lists[t][n])
                for n in range(per) for t in range(len(self.tenants))][:count]

    def requests(self, order: list[tuple[str, str, Sale]]) -> list[bytes]:
        host = f"127.0.0.1:{self.port}"
        return [http_request(tenant, self.secrets[tenant], sale.body, host) for tenant, _, sale in order]

    def register(self, order: list[tuple[str, str, Sale]]) -> None:
        stub = identifier_pb2_grpc.IdentifierServiceStub(self.bench.channel)
        codes: dict[str, list[str]] = {}
        for tenant, _, sale in order:
            codes.setdefault(tenant, []).extend(sale.codes)
        for tenant, batch in codes.items():
            stub.RegisterIdentifiers(identifier_pb2.RegisterIdentifiersRequest(tenant_id=tenant, codes=batch),
                                     timeout=120)

    def roots(self) -> dict[str, list[int]]:
        """Each role's root pids (a gunicorn master, a postmaster: their descendants are counted too)."""
        out: dict[str, list[int]] = {}
        running = [c for c in self.bench.group.children if c.is_running()]
        for role, names in GROUP_ROLES.items():
            out[role] = [c.pid for c in running
                         if c.name in names or (names == ("processor",) and c.name.startswith("processor-"))]
        infra = self.bench.infra
        if infra.postgres is not None:
            out[POSTGRES] = [int((infra.postgres.pgdata / "postmaster.pid").read_text().split()[0])]
        if infra.nats is not None:
            out[NATS] = [int(infra.nats.pid_path.read_text().strip())]
        return out

    def outcomes_since(self, conn: psycopg.Connection, since: float) -> int:
        return conn.execute("SELECT count(*) FROM event_outcomes WHERE tenant_id = ANY(%s) "
                            "AND processed_at >= to_timestamp(%s)", (self.tenants, since)).fetchone()[0]

    def wait_drained(self, since: float, accepted: int, timeout: float) -> float:
        """Wait until `accepted` outcomes of these tenants were recorded since `since` (wall clock); the
        time it took."""
        started = time.perf_counter()
        with psycopg.connect(self.bench.env["PROCESSOR_DATABASE_URL"], autocommit=True) as conn:
            while True:
                done = self.outcomes_since(conn, since)
                if done >= accepted:
                    return time.perf_counter() - started
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"system: only {done} of {accepted} outcomes after {timeout:.0f}s "
                                       f"(see {self.bench.group.log_dir})")
                self.bench.group.check()
                time.sleep(0.1)

    def assigned(self, transaction_ids: list[str]) -> list[tuple[str, float, int]]:
        """(transaction id, last assigned_at as epoch seconds, codes assigned) of those sales."""
        with psycopg.connect(self.bench.env["IDENTIFIER_SERVICE_DATABASE_URL"]) as conn:
            return conn.execute(
                "SELECT transaction_id, extract(epoch FROM max(assigned_at))::float8, count(*) FROM identifiers "
                "WHERE tenant_id = ANY(%s) AND transaction_id = ANY(%s) AND customer_id IS NOT NULL "
                "GROUP BY transaction_id", (self.tenants, transaction_ids)).fetchall()

    def step(self, no: int, rate: float) -> dict[str, Any]:
        seconds = self.sizes["system_step_seconds"]
        order = self.step_sales(no, max(10, round(rate * seconds)))
        reqs = self.requests(order)
        self.register(order)
        tx_ids = [tx for _, tx, _ in order]
        roots = {**self.roots(), LOADGEN: [os.getpid()]}
        since = time.time()
        before = cpu.snapshot(roots, alone=(LOADGEN,))
        result = loadgen.paced("127.0.0.1", self.port, reqs, rate, connections=32, max_connections=512,
                               sample_every=SAMPLE_EVERY)
        answered_at = time.perf_counter()
        time.sleep(SETTLE_SECONDS)
        codes_assigned = sum(n for _, _, n in self.assigned(tx_ids))
        unassigned = max(0, result.accepted * CODES_PER_SALE - codes_assigned)
        settle_check = time.perf_counter() - answered_at
        drain_s = self.wait_drained(since, result.accepted, timeout=max(120.0, result.accepted / 50))
        after = cpu.snapshot(roots, alone=(LOADGEN,))
        wanted = {tx_ids[i]: at for i, (at, _) in result.accepted_at.items()}
        rows = self.assigned(list(wanted))
        delays = [assigned - wanted[tid] for tid, assigned, n in rows if n == CODES_PER_SALE]
        out = {"target_rate_per_s": rate, "requests": result.sent, "answered": result.answered,
               "accepted": result.accepted, "errors": result.errors,
               "statuses": {str(k): v for k, v in result.statuses.items()},
               "achieved_rate_per_s": round(result.send_rate, 1),
               "send_late_p99_ms": pct_ms(result.lateness, 99), "connections": result.connections,
               "http_p50_ms": pct_ms(result.latencies, 50), "http_p99_ms": pct_ms(result.latencies, 99),
               "samples": len(delays), "samples_missing": len(wanted) - len(delays),
               "assigned_p50_ms": pct_ms(delays, 50), "assigned_p99_ms": pct_ms(delays, 99),
               "assigned_max_ms": round(max(delays, default=0.0) * 1000, 2),
               "unassigned_codes_after_settle": unassigned, "settle_check_s": round(settle_check, 2),
               "drain_after_settle_s": round(drain_s, 2),
               "cpu_ms_per_event": cpu.per_event_ms(before, after, result.accepted, excluded=(LOADGEN,))}
        reasons = step_failures(rate, sent=result.sent, answered=result.answered, accepted=result.accepted,
                                errors=result.errors, send_rate=result.send_rate, samples=len(delays),
                                assigned_p99_ms=out["assigned_p99_ms"], unassigned=unassigned)
        out["sustained"], out["why_not"] = not reasons, reasons
        return out

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        self.setup()
        search = RateSearch(self.sizes["system_start_rate"], self.sizes["system_ceiling_rate"],
                            floor=self.sizes["system_floor_rate"], bisections=self.sizes["system_bisections"])
        steps = []
        budget = self.sizes["system_budget_seconds"]
        while (rate := search.next_rate()) is not None:
            if time.perf_counter() - started > budget:
                self.log(f"system: time budget of {budget:.0f} s spent, stopping the search")
                break
            step = self.step(len(steps) + 1, rate)
            search.record(rate, step["sustained"])
            steps.append(step)
            self.log(f"system step {len(steps)} @ {rate:.0f}/s: {'sustained' if step['sustained'] else 'FAILED'} "
                     f"{step['why_not'] or ''} sent {step['achieved_rate_per_s']}/s, p99 202->assigned "
                     f"{step['assigned_p99_ms']} ms, CPU {step['cpu_ms_per_event'][cpu.TOTAL]} ms/event")
        best = search.best
        at_best = next((s for s in steps if s["sustained"] and s["target_rate_per_s"] == best), None)
        return {"tenants": len(self.tenants), "step_seconds": self.sizes["system_step_seconds"],
                "sustained_rate_per_s": best or 0.0, "at_best": at_best, "steps": steps,
                "tried": [[r, ok] for r, ok in search.tried],
                "search_seconds": round(time.perf_counter() - started, 1)}


def at_fixed_rate(rate: float, steps: int) -> dict[str, Any]:
    """`steps` steps at one `rate` (no search) on a system of its own: CPU ms/event of each process per
    step and their mean. Comparing two commits at the same rate is steadier than their sustained rates
    (CPU per event falls as the rate rises: batches grow), which is what docs/BENCHMARKS.md's step table
    uses."""
    import shutil
    import tempfile
    from pathlib import Path

    from bench import harness

    workdir = Path(tempfile.mkdtemp(prefix="autentikapp-system-"))
    bench = harness.Bench(workdir, harness.SIZES["full"])
    bench.start()
    try:
        system = WholeSystem(bench, harness.SIZES["full"], harness.log)
        system.setup()
        rows = []
        for no in range(1, steps + 1):
            step = system.step(no, rate)
            rows.append(step)
            harness.log(f"step {no} @ {rate:.0f}/s: sent {step['achieved_rate_per_s']}/s, p99 202->assigned "
                        f"{step['assigned_p99_ms']} ms, {'sustained' if step['sustained'] else step['why_not']}")
        roles = list(rows[0]["cpu_ms_per_event"])
        mean = {role: round(statistics.fmean(r["cpu_ms_per_event"].get(role, 0.0) for r in rows), 3) for role in roles}
        return {"rate_per_s": rate, "steps": rows, "cpu_ms_per_event_mean": mean}
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)

