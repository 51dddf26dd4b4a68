-- Product search folds case by Unicode full case folding (it lower-cased before, which keeps a
-- word-final sigma apart from σ). Rows marked `search_stale` get their `search_text` computed
-- again by the service right after the migrations run (the rule lives in the domain code).
ALTER TABLE products ADD COLUMN search_stale BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE products SET search_stale = TRUE;

-- Cancelling an order returned stock with no upper bound; it now stops at the maximum, and a
-- row left past it is brought back to it.
UPDATE products SET stock = 1000000000 WHERE stock > 1000000000;
ALTER TABLE products ADD CONSTRAINT products_stock_max CHECK (stock <= 1000000000);
