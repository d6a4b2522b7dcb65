"""`python -m bench [--quick]` (`make bench`): the system's throughput, latency and memory, each next to
a baseline measured in the same run on the same machine. See docs/BENCHMARKS.md."""
