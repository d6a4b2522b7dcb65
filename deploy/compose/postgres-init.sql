-- Docker Compose only (docker-compose.yml mounts it into /docker-entrypoint-initdb.d): runs once, when
-- the postgres container initialises an empty data directory, as the superuser.
-- One login role and one database per service, as in production: each service owns its database and
-- no service reads another's tables (gateway-admin is the gateway's own admin API: it uses the gateway's). The database names are the ones `make run` creates
-- (devstack/stack.py SERVICE_DATABASES).
-- THE PASSWORDS ARE FAKE DEVELOPMENT VALUES, public in this repository; never reuse them.

CREATE ROLE customer_service LOGIN PASSWORD 'dev-only-customers';
CREATE DATABASE autentikapp_customers OWNER customer_service;

CREATE ROLE identifier_service LOGIN PASSWORD 'dev-only-identifiers';
CREATE DATABASE autentikapp_identifiers OWNER identifier_service;

CREATE ROLE gateway LOGIN PASSWORD 'dev-only-gateway';
CREATE DATABASE autentikapp_gateway OWNER gateway;

CREATE ROLE processor LOGIN PASSWORD 'dev-only-processor';
CREATE DATABASE autentikapp_processor OWNER processor;

CREATE ROLE dashboard LOGIN PASSWORD 'dev-only-dashboard';
CREATE DATABASE autentikapp_dashboard OWNER dashboard;

-- Nobody but the owner connects to a service's database.
REVOKE CONNECT ON DATABASE autentikapp_customers FROM PUBLIC;
REVOKE CONNECT ON DATABASE autentikapp_identifiers FROM PUBLIC;
REVOKE CONNECT ON DATABASE autentikapp_gateway FROM PUBLIC;
REVOKE CONNECT ON DATABASE autentikapp_processor FROM PUBLIC;
REVOKE CONNECT ON DATABASE autentikapp_dashboard FROM PUBLIC;
