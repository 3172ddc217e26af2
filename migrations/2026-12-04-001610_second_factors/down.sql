ALTER TABLE organizations DROP COLUMN require_mfa;
DROP TABLE mfa_challenges;
DROP TABLE recovery_codes;
DROP TABLE totp_authenticators;
