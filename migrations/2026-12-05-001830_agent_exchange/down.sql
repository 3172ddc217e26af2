ALTER TABLE gateway_usage DROP COLUMN subject_id;
DROP TABLE may_act;
DROP TABLE agent_clients;
