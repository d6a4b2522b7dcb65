# syntax=docker/dockerfile:1
# One image for every process of the system; the first argument picks the role (deploy/entrypoint.sh):
#   docker run IMAGE gateway | processor | customer-service | identifier-service | gateway-admin | dashboard
#                    | migrate | cli ARGS...
# Build: docker build -t autentikapp-webhooks:dev .   (BuildKit, the default builder, is required)
# Operations (compose, Kubernetes, upgrades, backups): docs/operations.md

############################################################################################
# builder: wheels for the runtime dependencies, pinned by requirements.lock, and the project.
# It has compilers in case a dependency ever ships without a wheel; none of that is kept.
############################################################################################
FROM python:3.11 AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src

# Dependencies first (their layer is reused until pyproject.toml or requirements.lock changes): the
# runtime dependencies of pyproject.toml only (no dev tools), at the versions requirements.lock pins.
COPY pyproject.toml requirements.lock ./
RUN --mount=type=cache,target=/root/.cache/pip \
    python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > runtime-requirements.txt \
 && pip wheel --wheel-dir /wheels --constraint requirements.lock --requirement runtime-requirements.txt

# The project itself: the packages the processes import (the generated gRPC code in autentikapp/v1 is
# committed, so no protoc here). The dashboard's templates, static files and every package's migrations
# are package data (pyproject.toml [tool.setuptools.package-data]), so the wheel carries them.
# devstack, bench and tests are development tools and stay out.
COPY autentikapp ./autentikapp
COPY common ./common
COPY customer_service ./customer_service
COPY identifier_service ./identifier_service
COPY gateway ./gateway
COPY gateway_admin ./gateway_admin
COPY processor ./processor
COPY dashboard ./dashboard
COPY cli ./cli
RUN --mount=type=cache,target=/root/.cache/pip \
    pip wheel --wheel-dir /wheels --no-deps .

############################################################################################
# runtime: slim Python, no compilers, the wheels installed into a venv, a fixed non-root user.
############################################################################################
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="autentikapp-webhooks" \
      org.opencontainers.image.description="Autentikapp inbound webhooks: gateway, processor, customer and identifier services, gateway admin API, dashboard, migrations, CLI"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PATH="/opt/venv/bin:${PATH}"

# A fixed uid/gid, so Kubernetes' runAsUser/fsGroup and volume ownership can name it.
# /certs is where Compose mounts the volume of gRPC's throwaway certificates: Docker gives a new named
# volume the ownership of the image's directory, so the user can write them (and only it can read the keys).
RUN groupadd --system --gid 10001 autentikapp \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin autentikapp \
 && install -d -o 10001 -g 10001 -m 0750 /certs

# Installed from the builder's wheels only (--no-index: nothing is fetched here), then checked for
# consistency. Byte code is compiled now, by root, so a read-only root filesystem costs nothing.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --no-deps /wheels/*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -m compileall -q /opt/venv/lib

COPY --chmod=0755 deploy/entrypoint.sh /usr/local/bin/autentikapp-entrypoint
COPY --chmod=0644 deploy/healthcheck.py /opt/autentikapp/healthcheck.py

WORKDIR /opt/autentikapp
USER 10001:10001

# gateway (GATEWAY_PORT), customer_service (CUSTOMER_SERVICE_PORT), identifier_service
# (IDENTIFIER_SERVICE_PORT), the processor's EventOutcomeService (PROCESSOR_GRPC_PORT), gateway_admin
# (GATEWAY_ADMIN_PORT), dashboard (DASHBOARD_PORT): the defaults in common/config.py.
EXPOSE 8080 50051 50052 50053 50054 8090

ENTRYPOINT ["/usr/local/bin/autentikapp-entrypoint"]
