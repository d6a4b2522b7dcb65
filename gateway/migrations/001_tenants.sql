-- Tenants (brands) and their webhook secrets. Owned by the gateway alone.

CREATE TABLE tenants (
    -- Safe in URLs and NATS subjects (common.ids.tenant_id).
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Several secrets may be active at once, so a tenant can rotate without downtime: add a new one,
-- switch the sender over, revoke the old one. A revoked secret stays for the record.
CREATE TABLE tenant_secrets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The stored form from gateway/secret_storage.py (plain text until encryption at rest).
    -- Deliberately no unique index: a violation message would carry the value.
    secret     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE INDEX tenant_secrets_active ON tenant_secrets (tenant_id) WHERE revoked_at IS NULL;
