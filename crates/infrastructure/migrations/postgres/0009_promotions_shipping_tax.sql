-- Promotions, shipping options and tax rates: what checkout prices a cart with. Money is
-- integer minor units beside its currency; a percent is exact, in ten-thousandths of a percent
-- (`125000` is 12.5 %), as the domain's `Percent` holds it.

-- A promotion takes a percentage (`percent`) or a fixed amount (`amount_minor` in `currency`)
-- off a cart. Codes compare case-insensitively: unique by their upper case (codes are ASCII). `times_used` is counted by checkout only.
CREATE TABLE promotions (
    id                     UUID PRIMARY KEY,
    code                   TEXT NOT NULL,
    kind                   TEXT NOT NULL CHECK (kind IN ('percentage', 'fixed')),
    percent                BIGINT CHECK (percent BETWEEN 1 AND 1000000),
    amount_minor           BIGINT CHECK (amount_minor > 0),
    currency               TEXT,
    min_subtotal_minor     BIGINT CHECK (min_subtotal_minor >= 0),
    min_subtotal_currency  TEXT,
    starts_at              TIMESTAMPTZ,
    ends_at                TIMESTAMPTZ,
    usage_limit            BIGINT CHECK (usage_limit >= 1),
    per_customer_limit     BIGINT CHECK (per_customer_limit >= 1),
    active                 BOOLEAN NOT NULL,
    times_used             BIGINT NOT NULL DEFAULT 0 CHECK (times_used >= 0),
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    CHECK ((kind = 'percentage' AND percent IS NOT NULL AND amount_minor IS NULL AND currency IS NULL)
        OR (kind = 'fixed' AND percent IS NULL AND amount_minor IS NOT NULL AND currency IS NOT NULL)),
    CHECK ((min_subtotal_minor IS NULL) = (min_subtotal_currency IS NULL))
);
CREATE UNIQUE INDEX promotions_code_key ON promotions (upper(code));

-- A shipping option: `countries` as `,DE,AT,` (in the order given), so one LIKE finds the
-- options of a country; `free_over_minor` is in the price's currency.
CREATE TABLE shipping_options (
    id               UUID PRIMARY KEY,
    name             TEXT NOT NULL,
    countries        TEXT NOT NULL,
    price_minor      BIGINT NOT NULL CHECK (price_minor >= 0),
    currency         TEXT NOT NULL,
    free_over_minor  BIGINT CHECK (free_over_minor >= 0),
    active           BOOLEAN NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- A tax rate per country and state. `state_key` is the state in lower case as the domain
-- folds it (kept as SQLite's schema, whose lower() is ASCII-only); a rate without a state counts as one
-- value (''), so a country has at most one such rate.
CREATE TABLE tax_rates (
    id          UUID PRIMARY KEY,
    country     TEXT NOT NULL,
    state       TEXT,
    state_key   TEXT,
    rate        BIGINT NOT NULL CHECK (rate BETWEEN 0 AND 1000000),
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    CHECK ((state IS NULL) = (state_key IS NULL))
);
CREATE UNIQUE INDEX tax_rates_country_state ON tax_rates (country, COALESCE(state_key, ''));
