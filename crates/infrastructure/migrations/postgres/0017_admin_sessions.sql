-- The dashboard's sign-in sessions, kept in the database so that every instance sees them and
-- signing out ends one everywhere. The cookie holds a random id; only its SHA-256 (hex) is
-- stored. `csrf_token` is the session's form token; `refresh_token` the identity provider's,
-- revoked at sign-out.
CREATE TABLE admin_sessions (
    id_hash       TEXT PRIMARY KEY,
    user_id       UUID NOT NULL,
    csrf_token    TEXT NOT NULL,
    refresh_token TEXT,
    expires_at    TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
