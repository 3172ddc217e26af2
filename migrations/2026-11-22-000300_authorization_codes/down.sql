DROP TABLE consents;
DROP TABLE authorization_codes;
ALTER TABLE clients DROP COLUMN first_party;
