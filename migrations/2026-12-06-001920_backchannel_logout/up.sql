-- OpenID Connect Back-Channel Logout 1.0. `session_clients`: which clients received tokens in
-- which browser session (recorded when a code or device code made in the session is redeemed),
-- gone with the session. `backchannel_logouts`: the delivery queue and its log, one row per
-- client of an ended session: `status` is `pending` until a POST of the logout token is
-- answered 2xx (`delivered`) or the attempts run out (`failed`); `next_attempt_at` is when the
-- next attempt is due; `claimed_until` is the lease of the instance sending it, so two
-- instances never both send a row; `last_status` is what the last attempt got (an HTTP status,
-- `timeout`, `refused`, `unreachable`).
CREATE TABLE session_clients (
    session_id TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

CREATE TABLE backchannel_logouts (
    id              TEXT   PRIMARY KEY NOT NULL,
    session_id      TEXT   NOT NULL,
    user_id         TEXT   NOT NULL,
    client_id       TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    last_status     TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX backchannel_logouts_due ON backchannel_logouts (status, next_attempt_at);
CREATE INDEX backchannel_logouts_created_at ON backchannel_logouts (created_at);
