-- RFC 7523 §3 / OpenID Connect Core §9: the `jti` of each client assertion accepted, kept until
-- the assertion expires, so an assertion is used once. The primary key makes the insert the
-- check: two instances on one database cannot both accept the same assertion.
CREATE TABLE client_assertions (
    client_id  TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_expires_at ON client_assertions (expires_at);

-- The secret of a `client_secret_jwt` client, sealed under the server's encryption keys (bound
-- to the client id): the HMAC of its assertions needs the secret itself, which `clients` holds
-- only as a hash.
CREATE TABLE client_secrets_sealed (
    client_id TEXT PRIMARY KEY NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    sealed    TEXT NOT NULL
);
