CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Accounts as the shop keeps them (a copy of the identity provider's fields plus the profile).
CREATE TABLE users (
    id          UUID PRIMARY KEY,
    email       TEXT NOT NULL UNIQUE,
    username    TEXT NOT NULL UNIQUE,
    first_name  TEXT,
    last_name   TEXT,
    roles       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE products (
    id           UUID PRIMARY KEY,
    sku          TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    price_minor  BIGINT NOT NULL CHECK (price_minor >= 0),
    currency     TEXT NOT NULL,
    stock        BIGINT NOT NULL CHECK (stock >= 0),
    search_text  TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    deleted_at   TIMESTAMPTZ
);
-- A deleted product frees its SKU; orders keep pointing at the row.
CREATE UNIQUE INDEX products_sku_live ON products (sku) WHERE deleted_at IS NULL;
CREATE INDEX products_live_newest ON products (id) WHERE deleted_at IS NULL;
-- Substring search over name and description (LIKE '%q%') served by a trigram index.
CREATE INDEX products_search_trgm ON products USING gin (search_text gin_trgm_ops);

-- The built-in identity provider's own store: credentials and refresh-token families.
CREATE TABLE identity_accounts (
    id             UUID PRIMARY KEY,
    email          TEXT NOT NULL UNIQUE,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    roles          TEXT NOT NULL,
    first_name     TEXT,
    last_name      TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE identity_refresh_tokens (
    id          UUID PRIMARY KEY,
    family_id   UUID NOT NULL,
    account_id  UUID NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    expires_at  TIMESTAMPTZ NOT NULL,
    spent_at    TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX identity_refresh_tokens_family ON identity_refresh_tokens (family_id);
CREATE INDEX identity_refresh_tokens_expiry ON identity_refresh_tokens (expires_at);
