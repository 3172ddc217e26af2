-- Second factors. A user's TOTP authenticator: its secret sealed under the server's key ring
-- (it must be read back to check a code), `confirmed_at` NULL until the user has proved the app
-- holds it, `last_step` the last 30-second step a code was accepted for (a code is used once).
CREATE TABLE totp_authenticators (
    user_id       TEXT   PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    confirmed_at  BIGINT,
    last_step     BIGINT NOT NULL DEFAULT 0
);

-- Single-use recovery codes: only their SHA-256 is stored.
CREATE TABLE recovery_codes (
    code_hash  TEXT   PRIMARY KEY NOT NULL,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- A sign-in waiting for its second factor: the password was right; `amr` is what was proved so
-- far. Only the SHA-256 of the challenge token is stored; it is used once, and dies after a few
-- wrong codes or minutes.
CREATE TABLE mfa_challenges (
    token_hash TEXT    PRIMARY KEY NOT NULL,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amr        TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0
);

-- An organization may require every member to sign in with a second factor.
ALTER TABLE organizations ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;
