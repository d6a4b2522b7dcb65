"""`python -m bench [--quick]`: see bench/harness.py."""

import sys

import devstack  # noqa: F401  - first: gRPC fork handlers off, as in make run

from bench.harness import main

sys.exit(main())
