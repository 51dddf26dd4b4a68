-- The outbox: each event is written in the transaction of the change it tells of.
-- `data` is the resource's JSON as the API showed it at the moment of the event.
CREATE TABLE events (
    id          UUID PRIMARY KEY,
    type        TEXT NOT NULL,
    data        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_type_newest ON events (type, id);

-- Webhook endpoints. `events` is the subscription list as `,type,type,` (or `,*,`), so the
-- fan-out below matches with LIKE. `secret` is kept as issued: it must sign every delivery.
CREATE TABLE webhook_endpoints (
    id           UUID PRIMARY KEY,
    url          TEXT NOT NULL,
    events       TEXT NOT NULL,
    description  TEXT,
    enabled      BOOLEAN NOT NULL,
    secret       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- One event on its way to one endpoint, made in the event's own transaction. The job runner
-- claims due rows (`claimed_until` is its lease).
CREATE TABLE webhook_deliveries (
    id                UUID PRIMARY KEY,
    endpoint_id       UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id          UUID NOT NULL REFERENCES events (id),
    event_type        TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts          BIGINT NOT NULL CHECK (attempts >= 0),
    last_status_code  BIGINT,
    last_error        TEXT,
    next_attempt_at   TIMESTAMPTZ,
    claimed_until     TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_of_endpoint ON webhook_deliveries (endpoint_id, created_at, id);
