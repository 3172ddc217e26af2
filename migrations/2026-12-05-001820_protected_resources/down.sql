ALTER TABLE consents DROP COLUMN resources;
DROP TABLE protected_resources;
