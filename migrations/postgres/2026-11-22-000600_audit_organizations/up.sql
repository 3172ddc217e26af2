-- The organization an audit event belongs to (NULL: none, e.g. a client registration or a
-- failed sign-in of an unknown email) and its outcome, so owners can read their own events.
ALTER TABLE audit_events ADD COLUMN org_id TEXT;
ALTER TABLE audit_events ADD COLUMN outcome TEXT NOT NULL DEFAULT 'success';
CREATE INDEX audit_events_org ON audit_events (org_id, occurred_at, id);
