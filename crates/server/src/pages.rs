//! Server-rendered pages (askama templates in `templates/`) and the headers every page gets.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use askama::Template;

/// Sent with every HTML page: no framing (clickjacking), no inline script, scripts and styles
/// from us only (the one script, `static/passkeys.js`, runs the passkey ceremonies and talks
/// to this origin alone: `connect-src 'self'`).
/// No `form-action`: browsers apply it to the whole redirect chain of a form submission, and
/// sign-in and consent forms end, through redirects, at the client's redirect URI.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' https: data:; \
     frame-ancestors 'none'; base-uri 'none'";

use crate::i18n::filters;

#[derive(Template, serde::Serialize)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl Page for ErrorPage<'_> {
    const NAME: &'static str = "error.html";
}

/// A page a theme may replace (`crate::theme::THEMEABLE`): its template's name, and its
/// fields serialized for the theme's template.
pub trait Page: Template + serde::Serialize {
    const NAME: &'static str;
}

/// Renders a page into a response with the page security headers, in the request's language
/// and brand (`crate::i18n::page_ui`).
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    let ui = crate::i18n::page_ui();
    rendered(
        status,
        page.render_with_values(&ui).map_err(|e| e.to_string()),
    )
}

/// [`render`] for a page a theme may replace: the theme's template when it has one.
pub fn render_page<P: Page>(status: StatusCode, page: &P) -> HttpResponse {
    let ui = crate::i18n::page_ui();
    match ui.settings.theme.as_deref().filter(|t| t.has(P::NAME)) {
        Some(theme) => rendered(
            status,
            theme
                .render(P::NAME, page, &ui)
                .map_err(|e| format!("{e:#}")),
        ),
        None => rendered(
            status,
            page.render_with_values(&ui).map_err(|e| e.to_string()),
        ),
    }
}

fn rendered(status: StatusCode, html: Result<String, String>) -> HttpResponse {
    match html {
        Ok(html) => html_response(status, html),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>Something went wrong.</p>".into(),
            )
        }
    }
}

fn html_response(status: StatusCode, html: String) -> HttpResponse {
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html);
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The HTML error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    render_page(
        status,
        &ErrorPage {
            status: status.as_u16(),
            title,
            message,
        },
    )
}
