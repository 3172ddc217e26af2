DROP INDEX audit_events_org;
ALTER TABLE audit_events DROP COLUMN outcome;
ALTER TABLE audit_events DROP COLUMN org_id;
