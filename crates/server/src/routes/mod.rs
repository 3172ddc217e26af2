//! Route table. Each module registers its own paths.

use actix_web::web;

mod health;
mod static_files;

pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    static_files::configure(cfg);
}
