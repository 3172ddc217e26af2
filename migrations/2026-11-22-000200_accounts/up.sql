-- People. `email_normalized` (trimmed, lower-cased) is the unique key; `email` keeps what the
-- user typed. Passwords are argon2id PHC strings.
CREATE TABLE users (
    id               TEXT    PRIMARY KEY NOT NULL,
    email            TEXT    NOT NULL,
    email_normalized TEXT    NOT NULL UNIQUE,
    name             TEXT    NOT NULL,
    password_hash    TEXT    NOT NULL,
    email_verified   BOOLEAN NOT NULL DEFAULT FALSE,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

-- Browser sessions. `id` is public (shown on /account, used to revoke); the cookie holds a
-- separate 256-bit secret stored as SHA-256 in `secret_hash`.
CREATE TABLE sessions (
    id           TEXT   PRIMARY KEY NOT NULL,
    secret_hash  TEXT   NOT NULL UNIQUE,
    user_id      TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT   NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    user_agent   TEXT,
    ip           TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE organizations (
    id         TEXT   PRIMARY KEY NOT NULL,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    org_id     TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE invites (
    id               TEXT   PRIMARY KEY NOT NULL,
    org_id           TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email_normalized TEXT   NOT NULL,
    role             TEXT   NOT NULL,
    token_hash       TEXT   NOT NULL,
    invited_by       TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    accepted_at      BIGINT
);
CREATE INDEX invites_org ON invites (org_id);

-- Refresh-token families: every token rotated from one sign-in belongs to one family; reuse of
-- a rotated token revokes the family.
CREATE TABLE refresh_families (
    id             TEXT   PRIMARY KEY NOT NULL,
    user_id        TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id      TEXT   NOT NULL,
    scope          TEXT,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX refresh_families_user ON refresh_families (user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT   PRIMARY KEY NOT NULL,
    family_id  TEXT   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    access_jti TEXT   NOT NULL,
    access_exp BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
