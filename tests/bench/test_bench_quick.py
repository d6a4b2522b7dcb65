"""`python -m bench --quick` runs end to end and writes every figure, so the benchmark cannot rot.

The figures themselves are not checked (tiny sizes, any machine): only that the harness starts its own
servers and the system, measures each thing, reports a verdict per target and cleans up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

FIGURES = [
    *(f"ingest.{side}.c{c}.{key}" for side in ("baseline", "gateway", "floor.best") for c in (16, 64)
      for key in ("accepted_per_s", "p50_ms", "p99_ms")),
    "ingest.floor.best.c16.config", "ingest.floor.best.c64.config",
    "nats_raw.sequential_per_s", "nats_raw.pipelined_per_s",
    "drain.baseline.events_per_s",
    *(f"drain.replicas.{r}.{key}" for r in (1, 2, 4) for key in ("events_per_s", "steady_events_per_s")),
    *(f"latency.{run}.{key}" for run in ("at_half_ingest", "at_half_drain")
      for key in ("target_rate_per_s", "assigned_p50_ms", "assigned_p99_ms", "http_p99_ms")),
    "growth.preload.identifiers", "growth.preload.customers", "growth.empty_steady_events_per_s",
    "growth.loaded.steady_events_per_s",
    *(f"memory_peak_mb.{role}" for role in ("gateway_master", "gateway_worker", "processor",
                                            "customer_service", "identifier_service")),
    "postgres.fsync",
    "system.tenants", "system.sustained_rate_per_s", "system.steps", "system.tried",
    *(f"system.steps.0.{key}" for key in ("target_rate_per_s", "achieved_rate_per_s", "assigned_p99_ms",
                                          "http_p99_ms", "sustained", "why_not")),
    *(f"system.steps.0.cpu_ms_per_event.{role}" for role in (
        "gateway (master+workers)", "processor", "customer_service", "identifier_service",
        "postgres (all processes)", "nats-server", "total")),
]


def lookup(document: dict, dotted: str):
    value = document
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_quick_bench_runs_and_writes_every_figure(tmp_path):
    output = tmp_path / "latest.json"
    result = subprocess.run([sys.executable, "-m", "bench", "--quick", "--output", str(output)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads(output.read_text())
    assert document["mode"] == "quick"
    missing = []
    for dotted in FIGURES:
        try:
            value = lookup(document["figures"], dotted)
        except (KeyError, TypeError):
            missing.append(dotted)
            continue
        assert value is not None, dotted
    assert not missing, f"figures missing from the JSON: {missing}"
    assert document["figures"]["postgres"]["fsync"] == "on", "the bench measures a durable Postgres"
    assert document["figures"]["drain"]["baseline"]["codes_linked"] > 0
    for run in document["figures"]["drain"]["replicas"].values():
        assert run["dead_lettered"] == 0
    # --quick tries one configuration; the full run several (bench.harness SIZES), best picked per
    # connection count (tests/bench/test_bench_units.py)
    assert document["figures"]["ingest"]["floor"]["configs"], "the durable floor measured"
    floor = document["figures"]["ingest"]["floor"]["best"]["c16"]
    assert floor["statuses"] == {"202": floor["requests"]}, "the durable floor got every PubAck"
    system = document["figures"]["system"]
    assert system["tenants"] == 50
    assert system["steps"][0]["cpu_ms_per_event"]["total"] > 0
    if system["at_best"] is not None:  # (a machine busy enough may sustain none of the tiny rates)
        assert system["at_best"]["target_rate_per_s"] == system["sustained_rate_per_s"] > 0
    lines = [line for line in result.stdout.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(lines) == len(document["targets"]) >= 10
    assert any("whole system sustained rate" in line for line in lines)
    assert any("vs durable floor" in line for line in lines)
    assert all("quick" in line for line in lines)
