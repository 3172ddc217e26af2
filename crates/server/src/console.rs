//! Who may use the operator's console (`/admin`), made structural.
//!
//! The whole `/admin` scope sits behind [`guard`] (registered once, in `routes/admin.rs`,
//! around the scope that holds every console route). It admits only:
//! - a **browser session** (the `pcl_session` cookie): an `Authorization` header or an
//!   `x-api-key` is never read here, so a first-party token, a third-party token or an API key
//!   is no way in;
//! - of an **enabled user with the `admin` flag** (`portcullis user grant-admin`);
//! - whose sign-in **passed a second factor** (the session's `amr` is multi-factor).
//!
//! Everyone else who is not an admin (no session, a session of a user without the flag, any
//! bearer credential) gets the ordinary 404 page: the console does not reveal itself. An admin
//! whose session has one factor is sent to `/login/mfa?return_to=…`, the step-up the
//! authorization endpoint uses, which asks for the second factor or, for an admin without
//! one, sets one up first.
//!
//! The guard leaves an [`Admin`] in the request; handlers take it (or [`AdminForm`], which
//! also checks the form's CSRF token against the session's in constant time) as an
//! extractor, and only the guard can make one (its constructor is private to this module), so
//! a console handler registered outside the guarded scope cannot run: it fails closed (404).

use std::future::{Ready, ready};
use std::pin::Pin;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};

use crate::errors::PageError;
use crate::session::{CsrfForm, current, tokens_match};
use crate::state::AppState;

/// Keeps [`Admin`]'s constructor in this module.
#[derive(Debug, Clone)]
struct Sealed;

/// An operator, as the console guard admitted them: an enabled admin's browser session that
/// passed a second factor.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: accounts::User,
    pub session: accounts::Session,
    _sealed: Sealed,
}

impl Admin {
    /// The CSRF token every console form carries.
    pub fn csrf(&self) -> &str {
        &self.session.csrf_token
    }

    /// The actor of the audit events the console records.
    pub fn actor(&self) -> &str {
        &self.user.id
    }
}

/// What the guard decided about a request.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Admit,
    /// Not an admin (or no session at all): the ordinary 404.
    Hidden,
    /// An admin with a one-factor session: the second step first.
    StepUp,
}

fn verdict(found: Option<&(accounts::Session, accounts::User)>) -> Verdict {
    match found {
        Some((session, user)) if user.admin && !user.disabled => {
            if session.amr.is_multi_factor() {
                Verdict::Admit
            } else {
                Verdict::StepUp
            }
        }
        _ => Verdict::Hidden,
    }
}

/// Where the second step returns to: the page asked for, or the console's front page after a
/// form (a form posted with a one-factor session is not repeated).
fn step_up_location(req: &ServiceRequest) -> String {
    let back = if req.method() == Method::GET {
        match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        }
    } else {
        "/admin".to_owned()
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("return_to", &back);
    format!("/login/mfa?{}", q.finish())
}

/// The console's one guard: admits an admin's two-factor browser session, sends an admin
/// with one factor through the second step, and answers everyone else 404.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::internal(&"no application state"))?;
    let found = current(req.request(), &state).await?;
    match verdict(found.as_ref()) {
        Verdict::Hidden => Err(PageError::not_found().into()),
        Verdict::StepUp => {
            let res = HttpResponse::SeeOther()
                .insert_header((LOCATION, step_up_location(&req)))
                .insert_header((CACHE_CONTROL, "no-store"))
                .finish();
            Ok(req.into_response(res))
        }
        Verdict::Admit => {
            let Some((session, user)) = found else {
                return Err(PageError::not_found().into());
            };
            req.extensions_mut().insert(Admin {
                user,
                session,
                _sealed: Sealed,
            });
            Ok(next.call(req).await?.map_into_boxed_body())
        }
    }
}

/// Outside the guarded scope there is no `Admin`: the ordinary 404 (and a log line, since a
/// console handler was registered where the guard does not run).
fn admin_of(req: &HttpRequest) -> Result<Admin, actix_web::Error> {
    req.extensions().get::<Admin>().cloned().ok_or_else(|| {
        tracing::error!(
            path = req.path(),
            "a console handler outside the console guard"
        );
        PageError::not_found().into()
    })
}

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin_of(req))
    }
}

/// An admin's form `F`, only when its `csrf_token` matches the admin's session (compared in
/// constant time); a missing or wrong token is the 403 "form has expired" page and nothing
/// changes.
#[derive(Debug)]
pub struct AdminForm<F> {
    pub admin: Admin,
    pub form: F,
}

impl<F: CsrfForm> FromRequest for AdminForm<F> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admin = admin_of(req);
        let form = web::Form::<F>::from_request(req, payload);
        Box::pin(async move {
            let admin = admin?;
            let form = form.await?.into_inner();
            if !tokens_match(admin.csrf(), form.csrf_token()) {
                return Err(PageError::form_expired().into());
            }
            Ok(Self { admin, form })
        })
    }
}

/// Runs `f` with a pooled connection on a blocking thread: the shape of every console
/// handler's work.
pub async fn db<T: Send + 'static>(
    state: &web::Data<AppState>,
    f: impl FnOnce(&AppState, &mut store::Conn) -> Result<T, PageError> + Send + 'static,
) -> Result<T, PageError> {
    let st = state.clone();
    crate::traces::block("admin", move || {
        let mut conn = st.store.conn().map_err(|e| PageError::internal(&e))?;
        f(&st, &mut conn)
    })
    .await
    .map_err(|e| PageError::internal(&e))?
}

/// A redirect that ends a console form (Post/Redirect/Get).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(amr: accounts::AuthMethods) -> accounts::Session {
        accounts::Session {
            id: "s".into(),
            user_id: "u".into(),
            csrf_token: "c".into(),
            auth_time: 0,
            created_at: 0,
            last_seen_at: 0,
            expires_at: 1,
            user_agent: None,
            ip: None,
            amr,
        }
    }

    fn user(admin: bool, disabled: bool) -> accounts::User {
        accounts::User {
            id: "u".into(),
            email: "a@example.com".into(),
            name: "A".into(),
            email_verified: true,
            disabled,
            created_at: 0,
            updated_at: 0,
            admin,
        }
    }

    #[test]
    fn only_an_enabled_admin_with_two_factors_is_admitted() {
        let one = session(accounts::AuthMethods::password());
        assert_eq!(verdict(None), Verdict::Hidden);
        assert_eq!(
            verdict(Some(&(one.clone(), user(false, false)))),
            Verdict::Hidden
        );
        assert_eq!(
            verdict(Some(&(one.clone(), user(true, true)))),
            Verdict::Hidden
        );
        assert_eq!(verdict(Some(&(one, user(true, false)))), Verdict::StepUp);
        let two = session(accounts::AuthMethods::password().with(accounts::AuthMethod::Otp));
        assert_eq!(
            verdict(Some(&(two.clone(), user(true, false)))),
            Verdict::Admit
        );
        assert_eq!(
            verdict(Some(&(two, user(false, false)))),
            Verdict::Hidden,
            "two factors do not make an admin"
        );
    }
}
