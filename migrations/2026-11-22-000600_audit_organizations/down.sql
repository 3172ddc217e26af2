DROP INDEX audit_events_actor;
DROP INDEX audit_events_org;
ALTER TABLE audit_events DROP COLUMN outcome;
ALTER TABLE audit_events DROP COLUMN org_id;
