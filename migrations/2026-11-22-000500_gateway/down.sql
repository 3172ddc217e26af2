DROP TABLE gateway_usage;
DROP TABLE services;
