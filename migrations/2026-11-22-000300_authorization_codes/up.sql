-- First-party clients skip the consent page (a client setting, operators only).
ALTER TABLE clients ADD COLUMN first_party BOOLEAN NOT NULL DEFAULT FALSE;

-- Authorization codes (RFC 6749 §4.1), stored as SHA-256, single use, bound to everything
-- the token request must match. After the exchange, `family_id` and `access_jti` name what
-- was issued, so a replayed code can revoke it (§4.1.2).
CREATE TABLE authorization_codes (
    code_hash          TEXT    PRIMARY KEY NOT NULL,
    client_id          TEXT    NOT NULL,
    user_id            TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri       TEXT    NOT NULL,
    redirect_uri_given BOOLEAN NOT NULL,
    scope              TEXT    NOT NULL,
    nonce              TEXT,
    code_challenge     TEXT,
    resources          TEXT,
    auth_time          BIGINT  NOT NULL,
    session_id         TEXT,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    used_at            BIGINT,
    family_id          TEXT,
    access_jti         TEXT,
    access_exp         BIGINT
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

-- What a user allowed a client, remembered so the consent page shows once.
CREATE TABLE consents (
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
