-- DPoP (RFC 9449). Every proof accepted, by the SHA-256 of its key thumbprint and `jti`, kept
-- until its `iat` leaves the acceptance window (`expires_at`): a second insert of the same
-- proof fails on the primary key, on whichever instance it comes (§11.1).
CREATE TABLE dpop_proofs (
    proof_hash TEXT   PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX dpop_proofs_expires_at ON dpop_proofs (expires_at);
-- The RFC 7638 thumbprint a public client's refresh family is bound to (§5), if any.
ALTER TABLE refresh_families ADD COLUMN dpop_jkt TEXT;
-- The key thumbprint an authorization code is bound to by `dpop_jkt` (§10), if any.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
