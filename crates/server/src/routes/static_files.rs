//! `GET /static/{file}`: the stylesheet, the passkeys' script and the little else the pages need, compiled into the
//! binary so a deployment is one file. Two are the operator's: `brand.css` (the primary
//! colour, made from the settings) and a theme's stylesheet, served as `portcullis.css` in
//! place of the built-in one. `/favicon.ico` sends browsers that ask for it to the SVG icon.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

use crate::errors::{self, PageError};
use crate::state::AppState;

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "portcullis.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../../static/portcullis.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../../../static/favicon.svg"),
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
    )
    .service(
        web::resource("/favicon.ico")
            .route(web::get().to(favicon))
            .route(web::head().to(favicon))
            .default_service(web::to(errors::method_not_allowed)),
    );
}

/// Browsers ask for `/favicon.ico` on their own: the icon is an SVG (linked from every page),
/// so they are sent there for good.
async fn favicon() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((actix_web::http::header::LOCATION, "/static/favicon.svg"))
        .insert_header((CACHE_CONTROL, "public, max-age=86400"))
        .finish()
}

async fn serve(
    file: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    const CSS: &str = "text/css; charset=utf-8";
    let settings = &state.settings;
    let themed = match file.as_str() {
        "brand.css" => Some(crate::theme::brand_css(
            settings.brand_primary_color.as_ref(),
        )),
        "portcullis.css" => settings
            .theme
            .as_deref()
            .and_then(|t| t.stylesheet())
            .map(str::to_owned),
        _ => None,
    };
    if let Some(css) = themed {
        return Ok(HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, CSS))
            .insert_header((CACHE_CONTROL, "public, max-age=3600"))
            .body(css));
    }
    let (_, content_type, bytes) = FILES
        .iter()
        .find(|(name, _, _)| *name == file.as_str())
        .ok_or_else(PageError::not_found)?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, *content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(*bytes))
}
