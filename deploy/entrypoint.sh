#!/bin/sh
# The image's entrypoint: the first argument picks the role, the rest go to that role's command.
#
#   gateway             python -m gateway serve            (gunicorn; HTTP on GATEWAY_PORT, 8080)
#   processor           python -m processor serve          (JetStream consumer; gRPC on PROCESSOR_GRPC_PORT, 50053)
#   customer-service    python -m customer_service serve   (gRPC on CUSTOMER_SERVICE_PORT, 50051)
#   identifier-service  python -m identifier_service serve (gRPC on IDENTIFIER_SERVICE_PORT, 50052)
#   gateway-admin       python -m gateway_admin serve      (gRPC on GATEWAY_ADMIN_PORT, 50054)
#   dashboard           python -m dashboard serve          (gunicorn; HTTP on DASHBOARD_PORT, 8090)
#   migrate             autentikapp migrate                (every process's migrations, then exit)
#   cli                 autentikapp ARGS...                (the operator's CLI)
#
# Long-running roles are exec'd, so the process gets the container's signals (SIGTERM = drain, stop).
# Configuration is the environment only: see docs/operations.md and docs/configuration.md.
set -eu

usage() {
    echo "usage: ENTRYPOINT ROLE [ARGS...]" >&2
    echo "roles: gateway | processor | customer-service | identifier-service | gateway-admin | dashboard | migrate | cli [autentikapp args]" >&2
}

if [ "$#" -eq 0 ]; then
    usage
    exit 2
fi
role="$1"
shift

case "$role" in
    gateway)
        exec python -m gateway serve "$@"
        ;;
    processor)
        exec python -m processor serve "$@"
        ;;
    customer-service)
        exec python -m customer_service serve "$@"
        ;;
    identifier-service)
        exec python -m identifier_service serve "$@"
        ;;
    gateway-admin)
        exec python -m gateway_admin serve "$@"
        ;;
    dashboard)
        exec python -m dashboard serve "$@"
        ;;
    migrate)
        if [ "$#" -ne 0 ]; then
            echo "entrypoint: migrate takes no arguments" >&2
            exit 2
        fi
        # Each process's own database URL (CUSTOMER_SERVICE_DATABASE_URL, IDENTIFIER_SERVICE_DATABASE_URL,
        # GATEWAY_DATABASE_URL, PROCESSOR_DATABASE_URL, DASHBOARD_DATABASE_URL; gateway-admin shares the
        # gateway's); the gateway's step also needs GATEWAY_ENCRYPTION_KEYS (it seals secret rows still in
        # plain text). Migrations are advisory-locked and checksummed.
        exec autentikapp migrate
        ;;
    cli)
        exec autentikapp "$@"
        ;;
    -h | --help | help)
        usage
        ;;
    *)
        echo "entrypoint: unknown role '$role'" >&2
        usage
        exit 2
        ;;
esac
