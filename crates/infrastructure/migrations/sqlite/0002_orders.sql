CREATE TABLE orders (
    id                 BLOB PRIMARY KEY NOT NULL,
    user_id            BLOB NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    total_minor        INTEGER NOT NULL CHECK (total_minor >= 0),
    currency           TEXT NOT NULL,
    ship_line1         TEXT,
    ship_line2         TEXT,
    ship_city          TEXT,
    ship_postal_code   TEXT,
    ship_country       TEXT,
    ship_state         TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX orders_user_newest ON orders (user_id, id);
CREATE INDEX orders_status_newest ON orders (status, id);

-- Lines keep their own copy of sku, name and price; the product may change or go.
CREATE TABLE order_lines (
    order_id           BLOB NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no            INTEGER NOT NULL,
    product_id         BLOB NOT NULL,
    sku                TEXT NOT NULL,
    name               TEXT NOT NULL,
    unit_price_minor   INTEGER NOT NULL CHECK (unit_price_minor >= 0),
    currency           TEXT NOT NULL,
    quantity           INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    line_total_minor   INTEGER NOT NULL CHECK (line_total_minor >= 0),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- `Idempotency-Key`s of POST /orders, per user, kept 24 hours.
CREATE TABLE idempotency_keys (
    user_id       BLOB NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    order_id      BLOB NOT NULL,
    expires_at    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
