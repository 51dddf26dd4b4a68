-- Payments (issue 15): the payment intent an order's payment was started with, and every
-- provider event handled, by its id, so each is acted on once (the primary key decides
-- when two deliveries of one event race). `outcome` says what the event did: `paid` the
-- order, was a `mismatch` of amount or currency (recorded, not paid), or came when the order
-- was `not_pending` (paid already, or cancelled: then its money was refunded).
ALTER TABLE orders ADD COLUMN payment_intent_id TEXT;
CREATE TABLE payment_events (
    id            TEXT PRIMARY KEY,
    order_id      UUID NOT NULL,
    intent_id     TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('paid', 'mismatch', 'not_pending')),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_events_order ON payment_events (order_id);
