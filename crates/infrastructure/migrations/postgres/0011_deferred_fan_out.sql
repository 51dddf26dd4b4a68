-- PostgreSQL's deferred fan-out, as SQLite's (sqlite/0010). An order's transaction wrote a
-- delivery row for each endpoint that hears its event: a heap row and five index entries, one
-- of them a random UUID, in every order. Measured with one endpoint and the job runner held
-- back, that cost order placement 10 to 15 percent of its throughput. Now the transaction
-- writes, beside its event, one row here when some enabled endpoint hears it (a heap row and
-- one index entry, in event id order), and the deliveries are made later, many events at a time:
-- by the job runner before each claim, by the deliveries list before it reads, and by every
-- change to an endpoint first, under a lock on this table that waits for the transactions
-- writing events, so each event still goes to the endpoints as they stood at its commit.
--
-- No foreign key to `events`: its check would read and lock the event's row in every order's
-- transaction, and the row is written by the same statement.
CREATE TABLE webhook_fanout (
    event_id    UUID PRIMARY KEY,
    event_type  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
