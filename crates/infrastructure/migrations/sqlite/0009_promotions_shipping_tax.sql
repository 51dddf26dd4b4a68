-- Promotions, shipping options and tax rates: what checkout prices a cart with. Money is
-- integer minor units beside its currency; a percent is exact, in ten-thousandths of a percent
-- (`125000` is 12.5 %), as the domain's `Percent` holds it.

-- A promotion takes a percentage (`percent`) or a fixed amount (`amount_minor` in `currency`)
-- off a cart. Codes compare case-insensitively: unique by their upper case (codes are ASCII,
-- so SQLite's ASCII-only upper() is exact). `times_used` is counted by checkout only.
CREATE TABLE promotions (
    id                     BLOB PRIMARY KEY NOT NULL,
    code                   TEXT NOT NULL,
    kind                   TEXT NOT NULL CHECK (kind IN ('percentage', 'fixed')),
    percent                INTEGER CHECK (percent BETWEEN 1 AND 1000000),
    amount_minor           INTEGER CHECK (amount_minor > 0),
    currency               TEXT,
    min_subtotal_minor     INTEGER CHECK (min_subtotal_minor >= 0),
    min_subtotal_currency  TEXT,
    starts_at              TEXT,
    ends_at                TEXT,
    usage_limit            INTEGER CHECK (usage_limit >= 1),
    per_customer_limit     INTEGER CHECK (per_customer_limit >= 1),
    active                 BOOLEAN NOT NULL,
    times_used             INTEGER NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL,
    CHECK ((kind = 'percentage' AND percent IS NOT NULL AND amount_minor IS NULL AND currency IS NULL)
        OR (kind = 'fixed' AND percent IS NULL AND amount_minor IS NOT NULL AND currency IS NOT NULL)),
    CHECK ((min_subtotal_minor IS NULL) = (min_subtotal_currency IS NULL))
);
CREATE UNIQUE INDEX promotions_code_key ON promotions (upper(code));

-- A shipping option: `countries` as `,DE,AT,` (in the order given), so one LIKE finds the
-- options of a country; `free_over_minor` is in the price's currency.
CREATE TABLE shipping_options (
    id               BLOB PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    countries        TEXT NOT NULL,
    price_minor      INTEGER NOT NULL CHECK (price_minor >= 0),
    currency         TEXT NOT NULL,
    free_over_minor  INTEGER CHECK (free_over_minor >= 0),
    active           BOOLEAN NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- A tax rate per country and state. `state_key` is the state in lower case as the domain
-- folds it (Unicode, which SQLite's lower() is not); a rate without a state counts as one
-- value (''), so a country has at most one such rate.
CREATE TABLE tax_rates (
    id          BLOB PRIMARY KEY NOT NULL,
    country     TEXT NOT NULL,
    state       TEXT,
    state_key   TEXT,
    rate        INTEGER NOT NULL CHECK (rate BETWEEN 0 AND 1000000),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    CHECK ((state IS NULL) = (state_key IS NULL))
);
CREATE UNIQUE INDEX tax_rates_country_state ON tax_rates (country, COALESCE(state_key, ''));
