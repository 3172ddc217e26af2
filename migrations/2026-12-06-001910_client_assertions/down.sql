DROP TABLE client_secrets_sealed;
DROP TABLE client_assertions;
