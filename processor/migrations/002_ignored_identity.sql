-- The buyer's values that identify nobody (an anonymous-buyer id, a placeholder e-mail...), set aside
-- by customer_service: [{"field": "national_id", "reason": "generic_national_id"}], in field order.
ALTER TABLE event_outcomes ADD COLUMN ignored_identity jsonb NOT NULL DEFAULT '[]'::jsonb;
