-- RFC 8707 §2.2: the resources the grant was given (a JSON array; NULL: none named, the
-- default audience), so that every refresh of the family keeps them and can only narrow them.
ALTER TABLE refresh_families ADD COLUMN resources TEXT;

-- A used token's successor, kept for PORTCULLIS_REFRESH_GRACE so that a retry gets the same
-- successor instead of a second one. Sealed for the holder of the used token: XOR with
-- SHA-256 of a label and that token, whose plaintext the database never holds.
ALTER TABLE refresh_tokens ADD COLUMN successor TEXT;

-- Access tokens issued from a family besides the one recorded on each refresh token (the
-- retries within the grace period), so that revoking the family revokes them too.
CREATE TABLE refresh_access_tokens (
    jti       TEXT   PRIMARY KEY NOT NULL,
    family_id TEXT   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    exp       BIGINT NOT NULL
);
CREATE INDEX refresh_access_tokens_family ON refresh_access_tokens (family_id);
