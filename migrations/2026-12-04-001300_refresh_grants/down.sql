DROP INDEX refresh_access_tokens_family;
DROP TABLE refresh_access_tokens;
ALTER TABLE refresh_tokens DROP COLUMN successor;
ALTER TABLE refresh_families DROP COLUMN resources;
