-- Products are sold in variants (issue 17): each variant holds its own SKU, price and stock.
-- A product keeps `sku`, `price_minor`, `currency` and `stock` as the summary of its variants
-- (its first variant's SKU, the lowest price, the sum of the stock), written with them in the
-- same transaction, so the lists, their sort and filter indexes and their cursors read the
-- product row alone as before. (There is no 0011 on SQLite: PostgreSQL's 0011 has no
-- SQLite counterpart.)

-- The product's options, as JSON: [{"name": "Size", "values": ["S", "M"]}, ...].
ALTER TABLE products ADD COLUMN options TEXT NOT NULL DEFAULT '[]';

CREATE TABLE product_variants (
    id                      BLOB PRIMARY KEY,
    product_id              BLOB NOT NULL REFERENCES products (id),
    sku                     TEXT NOT NULL,
    -- The value of each of the product's options, in the product's option order, as JSON.
    option_values           TEXT NOT NULL DEFAULT '[]',
    price_minor             INTEGER NOT NULL CHECK (price_minor >= 0),
    compare_at_price_minor  INTEGER CHECK (compare_at_price_minor >= 0),
    currency                TEXT NOT NULL,
    stock                   INTEGER NOT NULL CHECK (stock BETWEEN 0 AND 1000000000),
    position                INTEGER NOT NULL DEFAULT 0 CHECK (position BETWEEN 0 AND 1000000),
    created_at              TEXT NOT NULL,
    updated_at              TEXT NOT NULL,
    deleted_at              TEXT
);
-- SKUs are unique among live variants now (a product's SKU is its first variant's).
CREATE UNIQUE INDEX product_variants_sku_live ON product_variants (sku) WHERE deleted_at IS NULL;
CREATE INDEX product_variants_live_by_product ON product_variants (product_id) WHERE deleted_at IS NULL;
DROP INDEX products_sku_live;

-- Every product so far becomes one variant with the product's own id, so that a product id
-- in an order or a client names that variant too. Deleted products' variants are deleted.
INSERT INTO product_variants (id, product_id, sku, option_values, price_minor,
    compare_at_price_minor, currency, stock, position, created_at, updated_at, deleted_at)
SELECT id, id, sku, '[]', price_minor, NULL, currency, stock, 0, created_at, updated_at, deleted_at
FROM products;

-- Order lines name the variant bought and its title when ordered.
ALTER TABLE order_lines ADD COLUMN variant_id BLOB;
ALTER TABLE order_lines ADD COLUMN variant_title TEXT NOT NULL DEFAULT 'Default Title';
UPDATE order_lines SET variant_id = product_id;
