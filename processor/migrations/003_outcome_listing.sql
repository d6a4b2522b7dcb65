-- What the outcome listing (EventOutcomeService, processor/outcome_api.py) shows and filters by: the
-- sender's transaction id and the event type (transaction.created, transaction.refunded or
-- transaction.voided). NULL for outcomes recorded before they were kept, and for a dead letter whose
-- message could not be decoded.
ALTER TABLE event_outcomes ADD COLUMN transaction_id text, ADD COLUMN event_type text;

-- One tenant's outcomes, newest processed first, keyset-paginated on (processed_at, event_id). It
-- covers every query the former (tenant_id, processed_at DESC) index served.
CREATE INDEX event_outcomes_tenant_listing ON event_outcomes (tenant_id, processed_at DESC, event_id DESC);
DROP INDEX IF EXISTS event_outcomes_tenant_processed;

-- The listing filtered by transaction (a sale, its refunds and its void), by status dead_lettered (few
-- rows among many processed ones), and by a line item outcome.
CREATE INDEX event_outcomes_tenant_transaction ON event_outcomes (tenant_id, transaction_id, processed_at DESC, event_id DESC)
    WHERE transaction_id IS NOT NULL;
CREATE INDEX event_outcomes_tenant_dead_lettered ON event_outcomes (tenant_id, processed_at DESC, event_id DESC)
    WHERE status = 'dead_lettered';
-- Containment on the line items' outcomes only (at most eight values a row), not on every code and SKU
-- of every line item as a GIN index on line_items itself would: the processor writes a row per event.
-- processor/outcomes.py filters with this very expression.
CREATE INDEX event_outcomes_line_item_outcomes ON event_outcomes
    USING gin ((jsonb_path_query_array(line_items, '$[*].outcome')) jsonb_path_ops);
