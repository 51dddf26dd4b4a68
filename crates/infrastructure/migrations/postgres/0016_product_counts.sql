-- The catalog's totals, kept: the number of live (not deleted) products of each status,
-- changed by the trigger below in the same transaction as the write that changes it, so a
-- list that filters by nothing but the status reads its total here instead of counting the
-- catalog. A derived table with one row per status and no history: no created_at/updated_at.
CREATE TABLE product_counts (
    status TEXT PRIMARY KEY CHECK (status IN ('draft', 'active', 'archived')),
    n      BIGINT NOT NULL CHECK (n >= 0)
);
INSERT INTO product_counts (status, n)
SELECT s.status, (SELECT COUNT(*) FROM products p WHERE p.deleted_at IS NULL AND p.status = s.status)
FROM (VALUES ('draft'), ('active'), ('archived')) AS s (status);

-- Concurrent writers of one status wait for each other on its row until commit (product
-- writes are an admin's, and few). A status change updates two rows: it locks both first, in
-- one order (by status), so that two opposite changes cannot deadlock.
CREATE FUNCTION product_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was TEXT := NULL;
    now_is TEXT := NULL;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        was := OLD.status;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        now_is := NEW.status;
    END IF;
    IF was IS NOT DISTINCT FROM now_is THEN
        RETURN NULL;
    END IF;
    IF was IS NOT NULL AND now_is IS NOT NULL THEN
        PERFORM 1 FROM product_counts WHERE status IN (was, now_is) ORDER BY status FOR UPDATE;
    END IF;
    IF was IS NOT NULL THEN
        UPDATE product_counts SET n = n - 1 WHERE status = was;
    END IF;
    IF now_is IS NOT NULL THEN
        UPDATE product_counts SET n = n + 1 WHERE status = now_is;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER product_counts_insert_delete AFTER INSERT OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION product_counts_changed();
CREATE TRIGGER product_counts_update AFTER UPDATE OF status, deleted_at ON products
    FOR EACH ROW EXECUTE FUNCTION product_counts_changed();
