-- How a tenant's senders sign (docs/design.md "Signature schemes"): which sender each secret is for,
-- whether the tenant requires the timestamped scheme, and where its store platforms keep the codes.

-- 'autentikapp': a `whsec_` secret for the guide's scheme and Standard Webhooks; 'shopify',
-- 'woocommerce': the secret that platform signs with. Sealed like the others, bound to its row and,
-- for a platform's, to the platform (gateway/secret_sealing.py).
ALTER TABLE tenant_secrets ADD COLUMN platform text NOT NULL DEFAULT 'autentikapp'
    CHECK (platform IN ('autentikapp', 'shopify', 'woocommerce'));

-- When true, the guide's X-Autentikapp-Signature alone is refused: only timestamped (replay-safe)
-- Standard Webhooks signatures are accepted on the tenant's endpoint.
ALTER TABLE tenants ADD COLUMN require_timestamped_signatures boolean NOT NULL DEFAULT false;

-- Where a tenant's store keeps what the guide's payload names; no row means the defaults
-- (gateway/platforms/__init__.py PlatformSettings).
CREATE TABLE tenant_platforms (
    tenant_id       text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    platform        text NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    code_key        text NOT NULL CHECK (length(code_key) BETWEEN 1 AND 100),
    national_id_key text NOT NULL CHECK (length(national_id_key) BETWEEN 1 AND 100),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, platform)
);
