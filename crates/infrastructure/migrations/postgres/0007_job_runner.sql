-- Who holds a delivery's lease: the token of the claim that took it. A runner records an
-- outcome or releases a lease only while the token is still its own, so a runner whose lease
-- ran out (and was taken over) cannot overwrite what the new holder records.
-- The oldest pending delivery's age (a gauge the runner reads each pass) is one index lookup,
-- not a scan of the backlog.
CREATE INDEX webhook_deliveries_pending_age ON webhook_deliveries (created_at) WHERE status = 'pending';

ALTER TABLE webhook_deliveries ADD COLUMN claim_token UUID;

-- The periodic jobs (sweeps today; payment timeouts and cart expiry to come): one row a job,
-- claimed by one runner at a time (`claimed_until` is the lease, `claim_token` its holder).
CREATE TABLE job_schedule (
    name           TEXT PRIMARY KEY,
    next_run_at    TIMESTAMPTZ NOT NULL,
    claimed_until  TIMESTAMPTZ,
    claim_token    UUID
);
