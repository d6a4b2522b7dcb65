-- Customers: a tenant's buyers (the integration guide's table `clientes`).
-- Contact fields are stored normalised; NULL means "not known" (an empty value is never stored).
CREATE TABLE customers (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        text        NOT NULL,
    national_id      text,
    email            text,
    phone_number     text,
    first_name       text,
    last_name        text,
    whatsapp_number  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- The newest event time whose data was applied: older events may fill blanks, never overwrite.
    data_observed_at timestamptz NOT NULL,
    CONSTRAINT customers_identifiable
        CHECK (national_id IS NOT NULL OR email IS NOT NULL OR phone_number IS NOT NULL)
);

-- One customer per national id, e-mail and phone within a tenant: two concurrent events for the same
-- new buyer cannot both insert (the loser gets a unique violation and retries as an update).
CREATE UNIQUE INDEX customers_tenant_national_id ON customers (tenant_id, national_id) WHERE national_id IS NOT NULL;
CREATE UNIQUE INDEX customers_tenant_email ON customers (tenant_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX customers_tenant_phone ON customers (tenant_id, phone_number) WHERE phone_number IS NOT NULL;

-- ListCustomers pages by (created_at, id) within a tenant.
CREATE INDEX customers_tenant_created ON customers (tenant_id, created_at, id);
