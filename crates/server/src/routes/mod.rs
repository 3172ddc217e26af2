//! Route table. Each module registers its own paths.

use actix_web::web;

mod discovery;
mod health;
mod oauth;
mod register;

pub use register::registration_policy;
mod static_files;

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    static_files::configure(cfg);
    discovery::configure(cfg);
    oauth::configure(cfg);
    register::configure(cfg);
}
