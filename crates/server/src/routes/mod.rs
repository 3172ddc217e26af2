//! Route table. Each module registers its own paths.

use actix_web::web;

mod account_pages;
pub mod admin;
pub mod api;
mod api_account;
mod api_audit;
mod api_auth;
mod api_backchannel;
mod api_delegation;
mod api_keys;
mod api_mfa;
mod api_orgs;
mod api_resources;
mod authorize;
mod chooser;
mod device_pages;
mod discovery;
mod gateway;
mod health;
mod invite_pages;
mod key_pages;
mod mfa_pages;
mod oauth;
mod oidc;
mod pages;
mod passkey_pages;
mod protected_resource;
mod register;
mod upstream;

pub use gateway::{GatewayClient, client as gateway_client};
mod static_files;

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    static_files::configure(cfg);
    discovery::configure(cfg);
    protected_resource::configure(cfg);
    oauth::configure(cfg);
    register::configure(cfg);
    api::configure(cfg);
    pages::configure(cfg);
    invite_pages::configure(cfg);
    upstream::configure(cfg);
    key_pages::configure(cfg);
    mfa_pages::configure(cfg);
    chooser::configure(cfg);
    admin::configure(cfg);
    authorize::configure(cfg);
    device_pages::configure(cfg);
    oidc::configure(cfg);
    gateway::configure(cfg);
}
