-- Authentication and administration events, never holding a secret.
-- Ids are random URL-safe text and times are unix seconds, so the same queries run on
-- SQLite and PostgreSQL.
CREATE TABLE audit_events (
    id          TEXT    PRIMARY KEY NOT NULL,
    occurred_at BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT,
    ip          TEXT,
    detail      TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
