"""The test suite's own layout: pytest imports test modules by their basename (rootdir-relative
packages are not used), so two test files with one name in different folders stop the whole run at
collection, which a run of one folder never shows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_no_two_test_modules_share_a_name():
    names = Counter(path.name for path in TESTS.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_devstack_refuses_to_be_imported_after_grpc():
    """devstack turns gRPC's fork handlers off, which only works before grpc is imported; a fork with
    them on can hang for ever (seen: a test run stuck inside fork() while gRPC shut a channel down). An
    import sorter once moved conftest's `import devstack` below `import grpc`; now that fails at once."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    late = subprocess.run([sys.executable, "-c", "import grpc, devstack"], env=env, capture_output=True, text=True)
    assert late.returncode != 0 and "import devstack before grpc" in late.stderr
    first = subprocess.run([sys.executable, "-c", "import devstack, grpc, os; print(os.environ['GRPC_ENABLE_FORK_SUPPORT'])"],
                           env=env, capture_output=True, text=True)
    assert first.returncode == 0 and first.stdout.strip() == "false"
