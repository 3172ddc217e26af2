//! The server, run for real: in-process on a free port against each backend. Modules mirror
//! the routes. The `portcullis` binary's own tests (command line, several processes, crashes)
//! are in `crates/portcullis/tests/portcullis/`.

mod browser;
mod chooser;
mod common;
mod cors;

mod access_rules;
mod accessibility;
mod account_pages;
mod accounts;
mod admin;
mod api_auth;
mod api_orgs;
mod apikeys;
mod attack_clickjacking;
mod attack_code_injection;
mod attack_csrf;
mod attack_email_takeover;
mod attack_enumeration;
mod attack_forwarded;
mod attack_jwt;
mod attack_mixup;
mod attack_native_apps;
mod attack_nul_bytes;
mod attack_open_redirect;
mod attack_oversized;
mod attack_passkey_idor;
mod attack_pkce_downgrade;
mod attack_prompt_login;
mod attack_replay;
mod attack_session_fixation;
mod attack_sql_injection;
mod audit;
mod authorize;
mod authorize_errors;
mod brand;
mod discovery;
mod exchange;
mod gateway;
mod health;
mod introspect_revoke;
mod metrics;
mod mfa;
mod mfa_pages;
mod openapi;
mod pages;
mod passkeys;
mod password_grant;
mod rate_limits;
mod refresh;
mod register;
mod revocation;
mod token;
mod upstream;
