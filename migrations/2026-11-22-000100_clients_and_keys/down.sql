DROP TABLE revoked_access_tokens;
DROP TABLE signing_keys;
DROP TABLE initial_access_tokens;
DROP TABLE clients;
