-- Protected resources (RFC 8707, RFC 9728): the resource servers an operator registers, each
-- an absolute URI without fragment (what clients send as `resource` and what becomes a token's
-- `aud`), a display name the consent page shows, its scopes with their consent text (JSON
-- `[{"name","description"}]`), and the lifetime of access tokens issued for it (NULL: the
-- server's `PORTCULLIS_ACCESS_TOKEN_TTL`).
CREATE TABLE protected_resources (
    id               TEXT   PRIMARY KEY NOT NULL,
    uri              TEXT   NOT NULL UNIQUE,
    name             TEXT   NOT NULL,
    scopes           TEXT   NOT NULL,
    access_token_ttl BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- Consent is remembered per resource: the resources (JSON array of URIs) the user allowed the
-- client, beside the scopes. NULL or `[]`: none, only the issuer's default audience.
ALTER TABLE consents ADD COLUMN resources TEXT;
