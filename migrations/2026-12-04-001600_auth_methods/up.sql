-- How the user authenticated (RFC 8176 `amr` values, space-separated), recorded where a sign-in
-- is carried forward: the browser session, the authorization codes issued in it, and the
-- refresh-token families they start; ID tokens say it (`amr`, `acr`). Rows from before this
-- migration were all password sign-ins.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE refresh_families ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
