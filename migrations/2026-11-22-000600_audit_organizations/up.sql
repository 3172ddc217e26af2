-- The organization an audit event belongs to (NULL: none, e.g. a client registration or a
-- failed sign-in of an unknown email) and its outcome, so owners can read their own events.
ALTER TABLE audit_events ADD COLUMN org_id TEXT;
ALTER TABLE audit_events ADD COLUMN outcome TEXT NOT NULL DEFAULT 'success';
-- Only events of an organization are indexed by it: token events (most of the table) have
-- none and skip this index. Sign-ins of an organization's members are found by actor.
CREATE INDEX audit_events_org ON audit_events (org_id, occurred_at, id) WHERE org_id IS NOT NULL;
CREATE INDEX audit_events_actor ON audit_events (actor, occurred_at) WHERE kind LIKE 'login.%';
