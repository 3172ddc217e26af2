-- Organization API keys (`pcl_sk_…`). `lookup` is the start of the key's random part, used to
-- find the row; the whole key is stored only as SHA-256. During a rotation overlap the previous
-- secret keeps working until `previous_expires_at`.
CREATE TABLE api_keys (
    id                  TEXT   PRIMARY KEY NOT NULL,
    org_id              TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by          TEXT   NOT NULL,
    name                TEXT   NOT NULL,
    scopes              TEXT   NOT NULL,
    lookup              TEXT   NOT NULL UNIQUE,
    secret_hash         TEXT   NOT NULL,
    previous_lookup     TEXT   UNIQUE,
    previous_hash       TEXT,
    previous_expires_at BIGINT,
    expires_at          BIGINT,
    created_at          BIGINT NOT NULL,
    last_used_at        BIGINT,
    revoked_at          BIGINT
);
CREATE INDEX api_keys_org ON api_keys (org_id);

-- Agents acting for an organization, with scopes `service:resource:action`.
CREATE TABLE agents (
    id         TEXT   PRIMARY KEY NOT NULL,
    org_id     TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    scopes     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX agents_org ON agents (org_id);
