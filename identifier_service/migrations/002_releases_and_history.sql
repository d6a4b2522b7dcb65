-- The life of a sale: refunds and voids release the codes a sale linked, and every link and release is
-- kept in a history.

-- Releases recorded as intents: what ReleaseIdentifiers was asked to release, whether or not the sale
-- had been processed yet. AssignIdentifiers links no code a release of its transaction covers, so a
-- sale processed after its own refund or void ends as if processed in order. code '' = the whole
-- transaction. One row per (release event, code): the same event again records nothing new.
CREATE TABLE transaction_releases (
    tenant_id      text        NOT NULL,
    transaction_id text        NOT NULL,
    code           text        NOT NULL,
    event_id       text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('refund', 'void')),
    released_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, transaction_id, code, event_id)
);

-- Every link (by AssignIdentifiers) and release (by ReleaseIdentifiers) of a code, written in the same
-- transaction as the change itself. `at` is the event's time (the sale's or the refund's); entries are
-- listed in id order, the order the changes were made.
CREATE TABLE identifier_history (
    id             bigserial   PRIMARY KEY,
    tenant_id      text        NOT NULL,
    code           text        NOT NULL,
    action         text        NOT NULL CHECK (action IN ('linked', 'released')),
    customer_id    uuid        NOT NULL,
    transaction_id text,
    event_id       text,
    at             timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    kind           text        CHECK (kind IN ('refund', 'void')),
    CONSTRAINT identifier_history_kind_of_releases CHECK ((action = 'released') = (kind IS NOT NULL))
);

-- ListIdentifierHistory: one code's entries in id order.
CREATE INDEX identifier_history_tenant_code ON identifier_history (tenant_id, code, id);
-- A redelivered release finds the codes its event released before.
CREATE INDEX identifier_history_release_event ON identifier_history (tenant_id, transaction_id, event_id)
    WHERE action = 'released';

-- A release of a whole transaction finds the codes held through it.
CREATE INDEX identifiers_tenant_transaction ON identifiers (tenant_id, transaction_id) WHERE customer_id IS NOT NULL;

-- The guard, second line of defence under the conditional UPDATEs: a link never moves to another
-- customer, and is cleared only by a release of the very transaction that made it. The release
-- statement names the (tenant, transaction) pairs it releases in the transaction-local setting
-- autentikapp.releasing_transactions (a JSON array of {"tenant_id", "transaction_id"} objects, set with
-- set_config(..., true), so it ends with the transaction); a link made through any other transaction,
-- or through none, cannot be cleared.
DROP TRIGGER identifiers_link_is_permanent ON identifiers;
DROP FUNCTION identifiers_link_is_permanent();

CREATE FUNCTION identifiers_link_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    releasing text := current_setting('autentikapp.releasing_transactions', true);
BEGIN
    IF OLD.customer_id IS NULL OR NEW.customer_id IS NOT DISTINCT FROM OLD.customer_id THEN
        RETURN NEW;
    END IF;
    IF NEW.customer_id IS NULL AND OLD.transaction_id IS NOT NULL AND coalesce(releasing, '') <> ''
       AND releasing::jsonb @> jsonb_build_array(
               jsonb_build_object('tenant_id', OLD.tenant_id, 'transaction_id', OLD.transaction_id)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'identifier % of tenant % is already linked to a customer (only a release of its own sale clears it)',
        OLD.code, OLD.tenant_id
        USING ERRCODE = 'check_violation';
END;
$$;

CREATE TRIGGER identifiers_link_guard
    BEFORE UPDATE OF customer_id ON identifiers
    FOR EACH ROW EXECUTE FUNCTION identifiers_link_guard();
