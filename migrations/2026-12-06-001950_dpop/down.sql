ALTER TABLE authorization_codes DROP COLUMN dpop_jkt;
ALTER TABLE refresh_families DROP COLUMN dpop_jkt;
DROP TABLE dpop_proofs;
