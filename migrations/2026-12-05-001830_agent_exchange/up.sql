-- Agents as OAuth clients, and who may act for whom (RFC 8693 token exchange).
--
-- An agent's OAuth client: a confidential client (in `clients`, its secret hashed there) bound
-- to one agent of one organization. The client's tokens name the agent (`sub`) and its
-- organization (`org_id`), and carry at most the agent's scopes.
CREATE TABLE agent_clients (
    client_id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX agent_clients_agent ON agent_clients (agent_id);

-- The may_act policy: the subject (a user) allows the actor (an agent, `agt_…`, or a client id)
-- to act for it through token exchange.
CREATE TABLE may_act (
    subject_id TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (subject_id, actor_id)
);

-- The gateway's usage log names the subject a call was made for when an actor (the agent)
-- called with an exchanged token: the user, or the organization API key.
ALTER TABLE gateway_usage ADD COLUMN subject_id TEXT;
