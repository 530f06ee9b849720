--
-- PostgreSQL database dump
--
SET statement_timeout = 0;

COPY public.oauth_clients (id, name, client_id, client_secret, redirect_uri) FROM stdin;
1	portal	ba324aa4-74fc-adac-6307-30ead6ad14dc	99Hw-ZE-pH-ngfXA8dSgBZbPSQpOalnQPUsaySkP	https://portal.acme.io/callback
2	mobile	be6e8d63-c7d5-d546-ce8c-cd0e41f9100b	\N	https://m.acme.io/callback
\.

COPY public.audit_log (id, actor, action, payload) FROM stdin;
1	ana	login	{"ip": "10.0.0.4", "session": "bkj0PQpV"}
\.
