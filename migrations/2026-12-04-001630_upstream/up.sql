-- Signing in with another OpenID provider (`[upstream.NAME]`).
--
-- An upstream identity is an issuer's subject (`iss` + `sub`, never an email address) linked
-- to one user. `provider` is the configured name it came through, `email` what the provider
-- said at link time (for the account page; never used to find an account).
CREATE TABLE upstream_identities (
    id         TEXT   PRIMARY KEY NOT NULL,
    provider   TEXT   NOT NULL,
    issuer     TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX upstream_identities_user ON upstream_identities (user_id);

-- An authorization request sent to a provider and not yet answered, found by the SHA-256 of
-- its `state` and used once. `browser_hash` is the SHA-256 of the secret in the browser's
-- `pcl_upstream` cookie (the request belongs to that browser alone); the PKCE verifier is
-- sealed with that secret, so the table alone cannot finish a sign-in. `link_user_id` is set
-- when a signed-in user is linking an identity to their account.
CREATE TABLE upstream_requests (
    state_hash    TEXT   PRIMARY KEY NOT NULL,
    browser_hash  TEXT   NOT NULL,
    provider      TEXT   NOT NULL,
    nonce         TEXT   NOT NULL,
    pkce_sealed   TEXT   NOT NULL,
    return_to     TEXT   NOT NULL,
    link_user_id  TEXT   REFERENCES users (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX upstream_requests_expiry ON upstream_requests (expires_at);

-- A user made by an upstream sign-in has no password: its `password_hash` is empty, which no
-- password verifies (`accounts` refuses it after a dummy verification, in the time of a
-- wrong password). The column stays NOT NULL: making it nullable would mean rebuilding
-- `users` on SQLite, whose children cascade.
