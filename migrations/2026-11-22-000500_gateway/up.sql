-- Upstream services of an organization for the agent gateway. The credential to inject is
-- sealed with AES-256-GCM under the master key (nonce || ciphertext || tag, base64); only a
-- hint (its last four characters) is readable.
CREATE TABLE services (
    id               TEXT   PRIMARY KEY NOT NULL,
    org_id           TEXT   NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT   NOT NULL,
    base_url         TEXT   NOT NULL,
    path_prefix      TEXT   NOT NULL,
    credential_kind  TEXT   NOT NULL,
    credential_name  TEXT   NOT NULL,
    credential_box   TEXT   NOT NULL,
    credential_hint  TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

-- One row per proxied call.
CREATE TABLE gateway_usage (
    id          TEXT   PRIMARY KEY NOT NULL,
    org_id      TEXT   NOT NULL,
    key_id      TEXT   NOT NULL,
    agent_id    TEXT   NOT NULL,
    service     TEXT   NOT NULL,
    endpoint    TEXT   NOT NULL,
    method      TEXT   NOT NULL,
    status      BIGINT NOT NULL,
    latency_ms  BIGINT NOT NULL,
    bytes_in    BIGINT NOT NULL,
    bytes_out   BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX gateway_usage_org ON gateway_usage (org_id, occurred_at);
