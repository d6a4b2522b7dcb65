-- The history of every customer (docs/design.md "Customer history"): one row per field an upsert set or
-- changed (a create included), with the event that did it. Written in the upsert's transaction, one
-- statement per batch; read by ListCustomerHistory in write order (id).
-- No foreign key to customers: its check, one per history row, cost a third of the batch's history
-- INSERT; the rows are written only with (and after) their customer's, in the same transaction, and a
-- customer is never deleted (an erasure keeps the tombstone).
CREATE TABLE customer_history (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    customer_id uuid        NOT NULL,
    tenant_id   text        NOT NULL,
    field       text        NOT NULL CHECK (field IN ('national_id', 'email', 'phone_number', 'first_name',
                                                      'last_name', 'whatsapp_number')),
    -- The new value, normalised as stored. NULL only once the customer was erased (docs/design.md
    -- "Erasure"): the value is gone, the fact that the event touched the customer stays.
    value       text        CHECK (value <> ''),
    -- The event's id as the caller gave it (UpsertCustomerRequest.event_id); NULL when none was given.
    event_id    text,
    -- When the data was true (the event's time), and when it was written (the transaction's now()).
    observed_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    -- One index: ListCustomerHistory pages by id within one customer, the erasure finds its rows.
    CONSTRAINT customer_history_pkey PRIMARY KEY (customer_id, id)
);
