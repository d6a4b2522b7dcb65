-- The requests the gateway refused for a tenant (gateway/refusals.py, the one module that reads and writes
-- this table; docs/design.md "Refused requests"): when, the status, the problem's code, the reason as the
-- sender was told it and, for a 422, the failing fields' paths. Never the body, a signature, a header
-- value or a field's value. Only for a tenant that exists; kept GATEWAY_REFUSED_RETENTION_HOURS and at
-- most GATEWAY_REFUSED_MAX_PER_TENANT rows per tenant, pruned by the gateway's own workers.

CREATE TABLE refused_requests (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    received_at timestamptz NOT NULL DEFAULT now(),
    http_status int NOT NULL CHECK (http_status BETWEEN 400 AND 499),
    code        text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    reason      text NOT NULL CHECK (length(reason) <= 500),
    -- The failing fields' paths: an array of at most 50 strings.
    fields      jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (
        jsonb_typeof(fields) = 'array' AND jsonb_array_length(fields) <= 50
        AND NOT jsonb_path_exists(fields, '$[*] ? (@.type() != "string")')),
    source      text NOT NULL CHECK (source IN ('autentikapp', 'shopify', 'woocommerce'))
);

-- A tenant's page, newest first (keyset on received_at, id), and its per-tenant cap.
CREATE INDEX refused_requests_by_tenant ON refused_requests (tenant_id, received_at DESC, id DESC);
-- The retention prune, across tenants.
CREATE INDEX refused_requests_by_age ON refused_requests (received_at);
