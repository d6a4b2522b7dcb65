"""`python -m bench [--quick]` (`make bench`): the system's throughput, latency and memory, each next to
a baseline measured in the same run on the same machine. See docs/BENCHMARKS.md."""

import devstack  # noqa: F401  - first, for every bench module: gRPC's fork handlers off before grpc is imported
