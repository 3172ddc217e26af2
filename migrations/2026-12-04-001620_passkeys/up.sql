-- Passkeys (WebAuthn): a user's registered credentials and the ceremonies under way.
--
-- `passkeys`: one row per credential. `credential_id` is the authenticator's credential id
-- (base64url), unique across all users: a discoverable sign-in finds its row by it. `passkey`
-- is webauthn-rs's serialized `Passkey` (JSON: the public key, its counter and backup state,
-- updated after each use). `name` is the user's label. The rows of a user go with the user.
CREATE TABLE passkeys (
    id            TEXT   PRIMARY KEY NOT NULL,
    user_id       TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT   NOT NULL UNIQUE,
    passkey       TEXT   NOT NULL,
    name          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- A ceremony between its two requests (start, finish), so that any instance may answer the
-- second: found by the SHA-256 of a random id the browser holds, used once (deleted when
-- taken), short-lived. `kind` is `register`, `authenticate` (a known user's passkeys) or
-- `discoverable` (sign-in with any passkey); `user_id` is the user it is for, if known.
-- `state` is webauthn-rs's serialized ceremony state (JSON, holding the challenge): it never
-- leaves the server.
CREATE TABLE passkey_ceremonies (
    id_hash    TEXT   PRIMARY KEY NOT NULL,
    kind       TEXT   NOT NULL,
    user_id    TEXT   REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
