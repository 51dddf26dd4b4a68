-- Carts and checkout (issue 14). A cart belongs to a user or to a guest holding the token of
-- `token_hash` (SHA-256, hex; the token itself is shown once and never stored). Its lines
-- name variants only: prices are read live from the variants when the cart is shown.
-- `version` counts saved changes; a save is a compare-and-set of it.
CREATE TABLE carts (
    id                  UUID PRIMARY KEY,
    user_id             UUID,
    token_hash          TEXT,
    status              TEXT NOT NULL CHECK (status IN ('open', 'completed')),
    currency            TEXT NOT NULL,
    email               TEXT,
    ship_line1          TEXT,
    ship_line2          TEXT,
    ship_city           TEXT,
    ship_postal_code    TEXT,
    ship_country        TEXT,
    ship_state          TEXT,
    shipping_option_id  UUID,
    discount_code       TEXT,
    version             BIGINT NOT NULL DEFAULT 0,
    expires_at          TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    CHECK ((user_id IS NULL) <> (token_hash IS NULL))
);
-- The expiry job's scan: open carts by when they expire.
CREATE INDEX carts_open_expiry ON carts (expires_at) WHERE status = 'open';

CREATE TABLE cart_items (
    id          UUID PRIMARY KEY,
    cart_id     UUID NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    variant_id  UUID NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (cart_id, variant_id)
);
CREATE INDEX cart_items_by_cart ON cart_items (cart_id, id);

-- Orders gain their totals' parts (orders so far had no discount, shipping or tax: their
-- subtotal is their total), the checkout's details, and a guest's token hash. A guest's order
-- keeps the nil UUID in `user_id` (NOT NULL since 0002, kept so on both databases: SQLite
-- cannot drop it without rebuilding the table): it is shown as `null`. `cart_id` is unique: one order per cart,
-- whatever races.
ALTER TABLE orders ADD COLUMN email TEXT;
ALTER TABLE orders ADD COLUMN subtotal_minor BIGINT NOT NULL DEFAULT 0 CHECK (subtotal_minor >= 0);
ALTER TABLE orders ADD COLUMN discount_total_minor BIGINT NOT NULL DEFAULT 0 CHECK (discount_total_minor >= 0);
ALTER TABLE orders ADD COLUMN shipping_total_minor BIGINT NOT NULL DEFAULT 0 CHECK (shipping_total_minor >= 0);
ALTER TABLE orders ADD COLUMN tax_total_minor BIGINT NOT NULL DEFAULT 0 CHECK (tax_total_minor >= 0);
ALTER TABLE orders ADD COLUMN discount_code TEXT;
-- The shipping option as chosen, as JSON: {"option_id", "name", "amount_minor"}.
ALTER TABLE orders ADD COLUMN shipping_option TEXT;
ALTER TABLE orders ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'unpaid';
ALTER TABLE orders ADD COLUMN token_hash TEXT;
ALTER TABLE orders ADD COLUMN cart_id UUID;
UPDATE orders SET subtotal_minor = total_minor;
CREATE UNIQUE INDEX orders_one_per_cart ON orders (cart_id) WHERE cart_id IS NOT NULL;
