DROP TABLE agents;
DROP TABLE api_keys;
