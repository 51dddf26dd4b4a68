-- A delivery's claim changes only `claimed_until` and `claim_token`, which no index holds. With
-- room left on its page the new row version stays there (a heap-only update) and none of the
-- table's five indexes is written; a full page sends it elsewhere, and every index gets an
-- entry. Half of each page is kept free for that. Pages already written keep their fill.
ALTER TABLE webhook_deliveries SET (fillfactor = 50);
