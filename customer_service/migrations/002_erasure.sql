-- Erasure on request (docs/design.md "Erasure"; Colombia's law 1581 of 2012, GDPR art. 17).

-- An erased customer is a tombstone: same id (the identifier links to it stay), erased_at set, and no
-- personal data left.
ALTER TABLE customers ADD COLUMN erased_at timestamptz;
ALTER TABLE customers DROP CONSTRAINT customers_identifiable;
ALTER TABLE customers ADD CONSTRAINT customers_identifiable
    CHECK (erased_at IS NOT NULL OR national_id IS NOT NULL OR email IS NOT NULL OR phone_number IS NOT NULL);
ALTER TABLE customers ADD CONSTRAINT customers_erased_holds_nothing
    CHECK (erased_at IS NULL OR (national_id IS NULL AND email IS NULL AND phone_number IS NULL
                                 AND first_name IS NULL AND last_name IS NULL AND whatsapp_number IS NULL));

-- The suppression list: the erased identity values as digests, never the values (hex SHA-256 of tenant id,
-- field and normalised value: customer_service/erasure.py). Pseudonymous data kept only to honour the
-- erasure: an event observed before erased_at cannot bring these values back. A short value (a 10-digit
-- id or phone) can be brute-forced from its digest by someone with database access: a known trade-off.
-- One row per erased customer and digest (a value may come back with a newer event and be erased again).
CREATE TABLE erased_identities (
    tenant_id   text        NOT NULL,
    digest      text        NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    customer_id uuid        NOT NULL REFERENCES customers (id),
    erased_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, digest, customer_id)
);
CREATE INDEX erased_identities_customer ON erased_identities (customer_id);

-- Who asked for each erasure and when: one row per erased customer (a repeated request changes nothing
-- and is only logged). The fields erased by name, never their values.
CREATE TABLE erasures (
    customer_id  uuid        PRIMARY KEY REFERENCES customers (id),
    tenant_id    text        NOT NULL,
    requested_by text        NOT NULL CHECK (requested_by <> ''),
    reason       text,
    erased_at    timestamptz NOT NULL,
    fields       text[]      NOT NULL
);
CREATE INDEX erasures_tenant_erased ON erasures (tenant_id, erased_at);
