-- Operators are users with the `admin` flag: they, and only they, reach the console at `/admin`
-- (with a browser session that passed a second factor). Set with `portcullis user create
-- --admin` or `portcullis user grant-admin EMAIL`; nobody is an admin after this migration.
ALTER TABLE users ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE;
