-- Accounts as the shop keeps them (a copy of the identity provider's fields plus the profile).
CREATE TABLE users (
    id          BLOB PRIMARY KEY NOT NULL,
    email       TEXT NOT NULL UNIQUE,
    username    TEXT NOT NULL UNIQUE,
    first_name  TEXT,
    last_name   TEXT,
    roles       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- `seq` is the stable rowid the full-text index points at; `id` is the public key.
CREATE TABLE products (
    seq          INTEGER PRIMARY KEY,
    id           BLOB NOT NULL UNIQUE,
    sku          TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    price_minor  INTEGER NOT NULL CHECK (price_minor >= 0),
    currency     TEXT NOT NULL,
    stock        INTEGER NOT NULL CHECK (stock >= 0),
    search_text  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    deleted_at   TEXT
);
-- A deleted product frees its SKU; orders keep pointing at the row.
CREATE UNIQUE INDEX products_sku_live ON products (sku) WHERE deleted_at IS NULL;
-- PostgreSQL lists newest first by id (UUID v7); SQLite by `seq`, the order products were
-- created in, which is the order the full-text index keeps too. This narrow index lets a page
-- skip its OFFSET rows without reading whole product rows.
CREATE INDEX products_live_seq ON products (seq) WHERE deleted_at IS NULL;

-- Substring search over name and description: trigram full-text index kept by triggers.
CREATE VIRTUAL TABLE products_fts USING fts5(
    search_text, content = 'products', content_rowid = 'seq', tokenize = 'trigram'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
-- A deleted product leaves the index, so a count of index matches is a count of live products.
CREATE TRIGGER products_fts_soft_delete AFTER UPDATE OF deleted_at ON products
WHEN old.deleted_at IS NULL AND new.deleted_at IS NOT NULL BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF search_text ON products WHEN new.deleted_at IS NULL BEGIN
    INSERT INTO products_fts (products_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
    INSERT INTO products_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;

-- The built-in identity provider's own store: credentials and refresh-token families.
CREATE TABLE identity_accounts (
    id             BLOB PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL UNIQUE,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    roles          TEXT NOT NULL,
    first_name     TEXT,
    last_name      TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE identity_refresh_tokens (
    id          BLOB PRIMARY KEY NOT NULL,
    family_id   BLOB NOT NULL,
    account_id  BLOB NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TEXT NOT NULL,
    spent_at    TEXT,
    revoked_at  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX identity_refresh_tokens_family ON identity_refresh_tokens (family_id);
CREATE INDEX identity_refresh_tokens_expiry ON identity_refresh_tokens (expires_at);
