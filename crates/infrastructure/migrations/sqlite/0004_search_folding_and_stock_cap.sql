-- Product search folds case by Unicode full case folding (it lower-cased before, which keeps a
-- word-final sigma apart from σ). Rows marked `search_stale` get their `search_text` computed
-- again by the service right after the migrations run (the rule lives in the domain code).
ALTER TABLE products ADD COLUMN search_stale BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE products SET search_stale = TRUE;

-- The trigram index no longer folds case itself: the stored text and the queries are folded
-- already, and its own folding differed from the scan that serves queries of under three
-- characters. It holds live products only, as before.
DROP TABLE products_fts;
CREATE VIRTUAL TABLE products_fts USING fts5(
    search_text, content = 'products', content_rowid = 'seq', tokenize = 'trigram case_sensitive 1'
);
INSERT INTO products_fts (rowid, search_text)
    SELECT seq, search_text FROM products WHERE deleted_at IS NULL;

-- Cancelling an order returned stock with no upper bound; it now stops at the maximum, and a
-- row left past it is brought back to it.
UPDATE products SET stock = 1000000000 WHERE stock > 1000000000;
