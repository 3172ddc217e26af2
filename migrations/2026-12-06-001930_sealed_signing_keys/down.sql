-- Sealed keys stay sealed: a build from before this migration cannot read them; restore the
-- backup taken before upgrading instead.
DROP INDEX signing_keys_successor_of;
ALTER TABLE signing_keys DROP COLUMN successor_of;
ALTER TABLE signing_keys DROP COLUMN signs_from;
ALTER TABLE signing_keys DROP COLUMN sealed;
