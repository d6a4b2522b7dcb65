-- Identifiers: a tenant's product codes (the integration guide's table `identificadores`; its
-- `cliente_id` is `customer_id` here). A code is linked to at most one customer, permanently.
CREATE TABLE identifiers (
    tenant_id      text        NOT NULL,
    code           text        NOT NULL,
    customer_id    uuid,
    assigned_at    timestamptz,
    -- Provenance of the assignment: the sale that linked it.
    sold_at        timestamptz,
    transaction_id text,
    product_sku    text,
    product_name   text,
    event_id       text,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, code),
    CONSTRAINT identifiers_assignment_complete CHECK ((customer_id IS NULL) = (assigned_at IS NULL))
);

-- ListIdentifiers by customer.
CREATE INDEX identifiers_tenant_customer ON identifiers (tenant_id, customer_id, code) WHERE customer_id IS NOT NULL;

-- The link is permanent: a second line of defence under the conditional UPDATE of AssignIdentifier.
CREATE FUNCTION identifiers_link_is_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.customer_id IS NOT NULL AND NEW.customer_id IS DISTINCT FROM OLD.customer_id THEN
        RAISE EXCEPTION 'identifier % of tenant % is already linked to a customer', OLD.code, OLD.tenant_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER identifiers_link_is_permanent
    BEFORE UPDATE OF customer_id ON identifiers
    FOR EACH ROW EXECUTE FUNCTION identifiers_link_is_permanent();
