-- OAuth clients (RFC 7591). Secrets and registration access tokens are stored as SHA-256
-- (hex); the registered metadata is kept whole as JSON text.
CREATE TABLE clients (
    id                      TEXT    PRIMARY KEY NOT NULL,
    secret_hash             TEXT,
    registration_token_hash TEXT,
    auth_method             TEXT    NOT NULL,
    metadata                TEXT    NOT NULL,
    created_at              BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL
);

-- Initial access tokens for registration under the `token` policy (RFC 7591 §3).
CREATE TABLE initial_access_tokens (
    token_hash  TEXT    PRIMARY KEY NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    uses_left   BIGINT  NOT NULL
);

-- Signing keys, shared by every instance. `retired_at` is set when a newer key of the same
-- algorithm takes over; a retired key stays published until its tokens have expired.
CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY NOT NULL,
    alg         TEXT    NOT NULL,
    private_key TEXT    NOT NULL,
    public_jwk  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    retired_at  BIGINT
);
CREATE INDEX signing_keys_alg ON signing_keys (alg, created_at);

-- Revoked JWT access tokens (RFC 7009), kept until the token would have expired anyway.
CREATE TABLE revoked_access_tokens (
    jti         TEXT    PRIMARY KEY NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);
