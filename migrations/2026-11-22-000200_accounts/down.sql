DROP TABLE refresh_tokens;
DROP TABLE refresh_families;
DROP TABLE invites;
DROP TABLE memberships;
DROP TABLE organizations;
DROP TABLE sessions;
DROP TABLE users;
