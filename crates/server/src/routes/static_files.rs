//! `GET /static/{file}`: the stylesheet, the passkeys' script and the little else the pages need, compiled into the
//! binary so a deployment is one file.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

use crate::errors::{self, PageError};

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "portcullis.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../../static/portcullis.css"),
    ),
    (
        "passkeys.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../../static/passkeys.js"),
    ),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/static/{file}")
            .route(web::get().to(serve))
            .route(web::head().to(serve))
            .default_service(web::to(errors::method_not_allowed)),
    );
}

async fn serve(file: web::Path<String>) -> Result<HttpResponse, PageError> {
    let (_, content_type, bytes) = FILES
        .iter()
        .find(|(name, _, _)| *name == file.as_str())
        .ok_or_else(PageError::not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, *content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(*bytes))
}
