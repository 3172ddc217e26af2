-- Signing keys sealed at rest, and scheduled rotation.
-- `sealed`: whether `private_key` is the PKCS#8 document sealed under the master key
-- (`PORTCULLIS_ENCRYPTION_KEYS`, AES-256-GCM bound to the kid: `KEYID.BASE64`) or, before a
-- master key was configured, the clear PKCS#8 document in base64. Clear keys are sealed at the
-- next start with a master key.
-- `signs_from`: when the key starts signing; until then it is only published (a rotation's new
-- key is published ahead of use). Keys made before this migration signed from their creation.
-- `successor_of`: the key a scheduled rotation made this one to replace; unique, so two
-- instances rotating at once make one key.
ALTER TABLE signing_keys ADD COLUMN sealed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE signing_keys ADD COLUMN signs_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE signing_keys ADD COLUMN successor_of TEXT;
UPDATE signing_keys SET signs_from = created_at;
CREATE UNIQUE INDEX signing_keys_successor_of ON signing_keys (successor_of);
