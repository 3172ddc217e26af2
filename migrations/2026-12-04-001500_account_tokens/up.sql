-- One-time links mailed to a user: verifying an address (`verify_email`), confirming a new one
-- (`change_email`), resetting a password (`reset_password`). Only the SHA-256 of the token is
-- stored; `email` is the address the link was sent to (for `change_email`, the new address).
-- A link is used once (`used_at`); the rows of a user go with the user.
CREATE TABLE account_tokens (
    token_hash       TEXT   PRIMARY KEY NOT NULL,
    user_id          TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose          TEXT   NOT NULL,
    email            TEXT   NOT NULL,
    email_normalized TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose, created_at);
