-- What the processor did with each event: one row per event id, rewritten (upsert) when the event is
-- processed again, so a redelivery or a replay records the same outcome instead of a second row.
CREATE TABLE event_outcomes (
    event_id           text PRIMARY KEY,
    tenant_id          text NOT NULL,
    status             text NOT NULL CHECK (status IN ('processed', 'dead_lettered')),
    -- The buyer as customer_service resolved it (NULL when the event never got that far).
    customer_id        uuid,
    customer_created   boolean NOT NULL DEFAULT false,
    -- [{"field": "email", "other_customer_id": "..."}]: contact values another customer holds.
    clashes            jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- [{"index": 0, "code": "...", "product_sku": "...", "outcome": "assigned"}], in the sale's order.
    line_items         jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Why it was dead-lettered: one line, never personal data.
    reason             text,
    -- JetStream deliveries of the message when this outcome was recorded.
    deliveries         integer NOT NULL CHECK (deliveries >= 0),
    first_processed_at timestamptz NOT NULL DEFAULT now(),
    processed_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX event_outcomes_tenant_processed ON event_outcomes (tenant_id, processed_at DESC);
CREATE INDEX event_outcomes_dead_lettered ON event_outcomes (processed_at DESC) WHERE status = 'dead_lettered';
