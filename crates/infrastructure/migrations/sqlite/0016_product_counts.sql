-- The catalog's totals, kept: the number of live (not deleted) products of each status,
-- changed by the triggers below in the same transaction as the write that changes it, so a
-- list that filters by nothing but the status reads its total here instead of counting the
-- catalog. A derived table with one row per status and no history: no created_at/updated_at.
CREATE TABLE product_counts (
    status TEXT PRIMARY KEY CHECK (status IN ('draft', 'active', 'archived')),
    n      INTEGER NOT NULL CHECK (n >= 0)
);
INSERT INTO product_counts (status, n)
SELECT s.status, (SELECT COUNT(*) FROM products p WHERE p.deleted_at IS NULL AND p.status = s.status)
FROM (SELECT 'draft' AS status UNION ALL SELECT 'active' UNION ALL SELECT 'archived') s;

CREATE TRIGGER product_counts_insert AFTER INSERT ON products
WHEN new.deleted_at IS NULL BEGIN
    UPDATE product_counts SET n = n + 1 WHERE status = new.status;
END;
CREATE TRIGGER product_counts_delete AFTER DELETE ON products
WHEN old.deleted_at IS NULL BEGIN
    UPDATE product_counts SET n = n - 1 WHERE status = old.status;
END;
-- A status change or a (soft) delete or undelete moves the row out of one count and into
-- another; the first trigger takes it out, the second puts it in.
CREATE TRIGGER product_counts_leave AFTER UPDATE OF status, deleted_at ON products
WHEN old.deleted_at IS NULL AND (new.deleted_at IS NOT NULL OR new.status <> old.status) BEGIN
    UPDATE product_counts SET n = n - 1 WHERE status = old.status;
END;
CREATE TRIGGER product_counts_enter AFTER UPDATE OF status, deleted_at ON products
WHEN new.deleted_at IS NULL AND (old.deleted_at IS NOT NULL OR new.status <> old.status) BEGIN
    UPDATE product_counts SET n = n + 1 WHERE status = new.status;
END;
