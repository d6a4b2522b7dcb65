"""`python -m bench.system_at_rate --rate R [--steps N]`: the whole system (bench/whole_system.py) at one
fixed rate, no search; prints the mean CPU ms/event of each process. Not part of `make bench`: the A/B
tool docs/BENCHMARKS.md's round-2 steps were measured with (run it on each commit, on an idle machine)."""

from __future__ import annotations

import argparse
import sys

import devstack  # noqa: F401  - first: gRPC fork handlers off, as in make run

from bench.whole_system import at_fixed_rate


def main(argv: list[str] | None = None) -> int:
    """Run, print, exit 0."""
    parser = argparse.ArgumentParser(prog="python -m bench.system_at_rate", description=__doc__)
    parser.add_argument("--rate", type=float, default=400.0, help="events per second (default 400)")
    parser.add_argument("--steps", type=int, default=3, help="steps of the part's step_seconds (default 3)")
    args = parser.parse_args(argv)
    result = at_fixed_rate(args.rate, args.steps)
    for step in result["steps"]:
        print(f"@{args.rate:.0f}/s sent {step['achieved_rate_per_s']}/s p99 202->assigned {step['assigned_p99_ms']} ms "
              f"sustained={step['sustained']}")
    print("CPU ms/event (mean of the steps):")
    for role, value in result["cpu_ms_per_event_mean"].items():
        print(f"  {role:<40} {value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
