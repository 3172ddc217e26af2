DROP TABLE backchannel_logouts;
DROP TABLE session_clients;
