-- Products gain a slug and a status. Existing products are active; their slugs are made from
-- their names by the service right after the migrations run (the slug rule lives in the
-- domain code), so `slug` is empty only until then.
ALTER TABLE products ADD COLUMN slug TEXT;
ALTER TABLE products ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('draft', 'active', 'archived'));
-- A deleted product frees its slug, as it frees its SKU.
CREATE UNIQUE INDEX products_slug_live ON products (slug) WHERE deleted_at IS NULL;
-- The public lists read active products only: this index serves their page and their count.
CREATE INDEX products_live_status_newest ON products (status, id) WHERE deleted_at IS NULL;

-- Categories: one tree. `product_count` is kept by the writes that change it (products in
-- it or below it, active and live), in their own transaction.
CREATE TABLE categories (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    slug           TEXT NOT NULL UNIQUE,
    parent_id      UUID REFERENCES categories (id),
    description    TEXT,
    position       BIGINT NOT NULL DEFAULT 0 CHECK (position BETWEEN 0 AND 1000000),
    product_count  BIGINT NOT NULL DEFAULT 0 CHECK (product_count >= 0),
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX categories_parent ON categories (parent_id);

CREATE TABLE product_categories (
    product_id   UUID NOT NULL REFERENCES products (id),
    category_id  UUID NOT NULL REFERENCES categories (id),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (product_id, category_id)
);
-- A category page: its products by category.
CREATE INDEX product_categories_by_category ON product_categories (category_id, product_id);
