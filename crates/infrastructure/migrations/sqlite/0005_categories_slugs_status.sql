-- Products gain a slug and a status. Existing products are active; their slugs are made from
-- their names by the service right after the migrations run (the slug rule lives in the
-- domain code), so `slug` is empty only until then.
ALTER TABLE products ADD COLUMN slug TEXT;
ALTER TABLE products ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('draft', 'active', 'archived'));
-- A deleted product frees its slug, as it frees its SKU.
CREATE UNIQUE INDEX products_slug_live ON products (slug) WHERE deleted_at IS NULL;
-- The public lists read active products only: this index serves their page and their count.
CREATE INDEX products_live_status_seq ON products (status, seq) WHERE deleted_at IS NULL;

-- The trigram index now holds the live *active* products only (what anyone but an admin can
-- find), so a public search still stops after its page; admins' searches over other statuses
-- scan. Each trigger adds or removes an entry only when the row is in the index.
DROP TRIGGER products_fts_insert;
DROP TRIGGER products_fts_delete;
DROP TRIGGER products_fts_soft_delete;
DROP TRIGGER products_fts_update;
CREATE TRIGGER products_fts_insert AFTER INSERT ON products
WHEN new.deleted_at IS NULL AND new.status = 'active' BEGIN
    INSERT INTO products_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products
WHEN old.deleted_at IS NULL AND old.status = 'active' BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
CREATE TRIGGER products_fts_soft_delete AFTER UPDATE OF deleted_at ON products
WHEN old.deleted_at IS NULL AND new.deleted_at IS NOT NULL AND old.status = 'active' BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
-- A statement that changes both the text and the status is told apart by the two triggers
-- below: this one acts only when the row was and stays active.
CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products
WHEN new.deleted_at IS NULL AND old.status = 'active' AND new.status = 'active' BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
    INSERT INTO products_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
CREATE TRIGGER products_fts_deactivate AFTER UPDATE OF status ON products
WHEN new.deleted_at IS NULL AND old.status = 'active' AND new.status <> 'active' BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
CREATE TRIGGER products_fts_activate AFTER UPDATE OF status ON products
WHEN new.deleted_at IS NULL AND old.status <> 'active' AND new.status = 'active' BEGIN
    INSERT INTO products_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;

-- Categories: one tree. `product_count` is kept by the writes that change it (products in
-- it or below it, active and live), in their own transaction.
CREATE TABLE categories (
    id             BLOB PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    slug           TEXT NOT NULL UNIQUE,
    parent_id      BLOB REFERENCES categories (id),
    description    TEXT,
    position       INTEGER NOT NULL DEFAULT 0 CHECK (position BETWEEN 0 AND 1000000),
    product_count  INTEGER NOT NULL DEFAULT 0 CHECK (product_count >= 0),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX categories_parent ON categories (parent_id);

CREATE TABLE product_categories (
    product_id   BLOB NOT NULL REFERENCES products (id),
    category_id  BLOB NOT NULL REFERENCES categories (id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (product_id, category_id)
);
-- A category page: its products by category.
CREATE INDEX product_categories_by_category ON product_categories (category_id, product_id);
