-- RFC 8628 device authorization: a device code the client polls with and a user code the
-- user types on `/device`, both stored as SHA-256 only. `status` is `pending` until the user
-- approves (`approved`, with who and how they signed in) or denies (`denied`); `used_at` marks
-- the one token response an approved code gives. `poll_interval` grows by 5 seconds at each
-- `slow_down` (§3.5); `last_poll_at` is when the client last polled.
CREATE TABLE device_codes (
    device_code_hash TEXT    PRIMARY KEY NOT NULL,
    user_code_hash   TEXT    NOT NULL UNIQUE,
    client_id        TEXT    NOT NULL,
    scope            TEXT    NOT NULL,
    resources        TEXT,
    created_at       BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    poll_interval    BIGINT  NOT NULL,
    last_poll_at     BIGINT,
    status           TEXT    NOT NULL,
    user_id          TEXT    REFERENCES users (id) ON DELETE CASCADE,
    auth_time        BIGINT,
    amr              TEXT,
    session_id       TEXT,
    decided_at       BIGINT,
    used_at          BIGINT
);
CREATE INDEX device_codes_expires_at ON device_codes (expires_at);
