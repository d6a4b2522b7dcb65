-- What a tenant has set about its buyers' identity (gateway/buyer_rules.py): the country of phone
-- numbers its point of sale sends without a country code, and its own values that identify nobody.

ALTER TABLE tenants ADD COLUMN default_country text CHECK (default_country ~ '^[A-Z]{2}$');

CREATE TABLE tenant_unidentifying_values (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    field      text NOT NULL CHECK (field IN ('national_id', 'email', 'phone_number')),
    -- Normalised as the payload rules normalise the buyer (common/normalize.py).
    value      text NOT NULL CHECK (length(value) BETWEEN 1 AND 254),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, field, value)
);
