-- RFC 9126 pushed authorization requests: the parameters a client pushed, kept under the
-- SHA-256 of the random part of the `request_uri` it was given. `expires_at` is the push's
-- short lifetime until the browser first brings the request_uri to the authorization
-- endpoint (`opened_at`), then the lifetime of a sign-in; `used_at` marks the one
-- authorization response (a code or an error) it gave.
CREATE TABLE pushed_requests (
    request_hash TEXT    PRIMARY KEY NOT NULL,
    client_id    TEXT    NOT NULL,
    params       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    opened_at    BIGINT,
    used_at      BIGINT
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
