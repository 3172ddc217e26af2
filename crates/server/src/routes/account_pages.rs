//! The account's pages beside `/account`: following a mailed link (`/verify-email`,
//! `/password/reset`), asking for one (`/password/forgot`, `POST /verify-email/resend`), and the
//! own-account forms of `/account` (name, address, password, verification mail, deletion). No
//! JavaScript; every form is CSRF-checked by `crate::session`'s extractors. The flows:
//! `crate::account`.

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::pages::{account_page, see_other};
use crate::auth::client_ip;
use crate::errors::PageError;
use crate::i18n::filters;
use crate::pages::render_page;
use crate::ratelimit::Limit;
use crate::session::{
    CsrfChecked, CsrfOnly, PreSessionChecked, ReturnToAccount, SignedIn, csrf_forms,
    pre_session_csrf, session_removal, with_csrf_cookie,
};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/verify-email", web::get().to(verify_email))
        .route("/verify-email/resend", web::post().to(resend))
        .route("/password/forgot", web::get().to(forgot_page))
        .route("/password/forgot", web::post().to(forgot_submit))
        .route("/password/reset", web::get().to(reset_page))
        .route("/password/reset", web::post().to(reset_submit))
        .route("/account/profile", web::post().to(save_name))
        .route("/account/email", web::post().to(change_email))
        .route("/account/password", web::post().to(change_password))
        .route("/account/verify-email", web::post().to(resend_mine))
        .route("/account/delete", web::post().to(delete_account));
}

#[derive(Template, serde::Serialize)]
#[template(path = "notice.html")]
struct NoticePage<'a> {
    title: &'a str,
    message: &'a str,
    failed: bool,
    link: Option<(&'a str, &'a str)>,
}

impl crate::pages::Page for NoticePage<'_> {
    const NAME: &'static str = "notice.html";
}

pub(super) fn notice(
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<(&str, &str)>,
) -> HttpResponse {
    render_page(
        status,
        &NoticePage {
            title,
            message,
            failed: !status.is_success(),
            link,
        },
    )
}

/// After sign-up when a verified address is required: no session yet.
pub(super) fn check_your_email(email: &str) -> HttpResponse {
    notice(
        StatusCode::OK,
        "Check your email",
        &format!(
            "We sent a link to {email}. Follow it to verify your address, then sign in. The link works for 24 hours."
        ),
        Some(("/login", "Sign in")),
    )
}

/// A dead link, in words a person can act on.
fn link_refused(e: &accounts::AccountError, ask_again: (&str, &str)) -> Option<HttpResponse> {
    let (status, message) = match e {
        accounts::AccountError::LinkExpired => (
            StatusCode::GONE,
            "This link has expired. Ask for a new one.",
        ),
        accounts::AccountError::LinkInvalid => (
            StatusCode::BAD_REQUEST,
            "This link is not valid: it was used already, replaced by a newer one, or is incomplete.",
        ),
        accounts::AccountError::EmailTaken => (
            StatusCode::CONFLICT,
            "Another account has this address now, so yours cannot move to it.",
        ),
        _ => return None,
    };
    Some(notice(
        status,
        "This link does not work",
        message,
        Some(ask_again),
    ))
}

fn internal(e: &dyn std::fmt::Display) -> PageError {
    PageError::internal(e)
}

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    pub(super) token: Option<String>,
}

/// `GET /verify-email?token=`: verifies the address, or moves the account to a new one.
async fn verify_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = q.into_inner().token.unwrap_or_default();
    let ip = client_ip(&req, &state);
    let st = state.clone();
    let outcome = crate::traces::block("verify_email", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        Ok::<_, PageError>(crate::account::confirm_email(
            &st,
            &mut conn,
            &token,
            ip.as_deref(),
        ))
    })
    .await
    .map_err(|e| internal(&e))??;
    match outcome {
        Ok(user) => Ok(notice(
            StatusCode::OK,
            "Email address verified",
            &format!("{} is your account's verified address.", user.email),
            Some(("/account", "Go to your account")),
        )),
        Err(e) => link_refused(&e, ("/account", "Go to your account")).ok_or_else(|| internal(&e)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EmailForm {
    csrf_token: String,
    email: String,
}

/// The per-IP limit of these forms (the sign-in one): the client IP, or how long to wait.
/// The per-IP sign-in limit, shared by the forms that take a password, a code or a link: the
/// client's address, or how long to wait.
pub(super) fn limited(state: &AppState, req: &HttpRequest) -> Result<Option<String>, i64> {
    let ip = client_ip(req, state);
    state
        .limits
        .check(Limit::Login, ip.as_deref(), state.now())
        .map(|()| ip)
}

/// The page a form over its limit answers, with `Retry-After`.
pub(super) fn too_many(retry_after: i64) -> HttpResponse {
    let mut res = notice(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Wait a minute and try again.",
        None,
    );
    res.headers_mut().insert(RETRY_AFTER, retry_after.into());
    res
}

/// `POST /verify-email/resend` (from the sign-in page): the same answer whatever the address.
async fn resend(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<EmailForm>,
) -> Result<HttpResponse, PageError> {
    if let Err(retry_after) = limited(&state, &req) {
        return Ok(too_many(retry_after));
    }
    let email = checked.form.email;
    crate::account::after_answer(state, move |state, conn| {
        crate::account::resend_verification_to(state, conn, &email);
    });
    Ok(notice(
        StatusCode::OK,
        "Check your email",
        "If an account with this address is waiting for verification, a new link is on its way.",
        Some(("/login", "Sign in")),
    ))
}

#[derive(Template, serde::Serialize)]
#[template(path = "forgot.html")]
struct ForgotPage<'a> {
    csrf: &'a str,
    sent: bool,
    error: Option<&'a str>,
    email: &'a str,
}

impl crate::pages::Page for ForgotPage<'_> {
    const NAME: &'static str = "forgot.html";
}

async fn forgot_page(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (csrf, is_new) = pre_session_csrf(&req);
    let page = ForgotPage {
        csrf: &csrf,
        sent: false,
        error: None,
        email: "",
    };
    with_csrf_cookie(&state, render_page(StatusCode::OK, &page), &csrf, is_new)
}

/// `POST /password/forgot`: the same page whether or not the account exists; the work is done
/// after the answer, so its time tells nothing either.
async fn forgot_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<EmailForm>,
) -> Result<HttpResponse, PageError> {
    let PreSessionChecked { form, csrf } = checked;
    let ip = match limited(&state, &req) {
        Ok(ip) => ip,
        Err(retry_after) => return Ok(too_many(retry_after)),
    };
    let email = form.email.clone();
    crate::account::after_answer(state, move |state, conn| {
        crate::account::forgot_password(state, conn, &email, ip.as_deref());
    });
    let page = ForgotPage {
        csrf: &csrf,
        sent: true,
        error: None,
        email: &form.email,
    };
    Ok(render_page(StatusCode::OK, &page))
}

#[derive(Template, serde::Serialize)]
#[template(path = "reset.html")]
struct ResetPage<'a> {
    csrf: &'a str,
    token: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

impl crate::pages::Page for ResetPage<'_> {
    const NAME: &'static str = "reset.html";
}

const FORGOT: (&str, &str) = ("/password/forgot", "Ask for a new link");

/// `GET /password/reset?token=`: the form, if the link is live (it is used by the POST).
async fn reset_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, PageError> {
    let token = q.into_inner().token.unwrap_or_default();
    let st = state.clone();
    let lookup = token.clone();
    let checked = crate::traces::block("reset_page", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        Ok::<_, PageError>(accounts::check_reset_link(&mut conn, &lookup, st.now()))
    })
    .await
    .map_err(|e| internal(&e))??;
    let user = match checked {
        Ok(user) => user,
        Err(e) => return link_refused(&e, FORGOT).ok_or_else(|| internal(&e)),
    };
    let (csrf, is_new) = pre_session_csrf(&req);
    let page = ResetPage {
        csrf: &csrf,
        token: &token,
        email: &user.email,
        error: None,
    };
    Ok(with_csrf_cookie(
        &state,
        render_page(StatusCode::OK, &page),
        &csrf,
        is_new,
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResetForm {
    csrf_token: String,
    token: String,
    password: String,
    confirm: String,
}

/// `POST /password/reset`: sets the password, signs the user out everywhere (this browser
/// too), and sends them to sign in with it.
async fn reset_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<ResetForm>,
) -> Result<HttpResponse, PageError> {
    let PreSessionChecked { form, csrf } = checked;
    let ip = match limited(&state, &req) {
        Ok(ip) => ip,
        Err(retry_after) => return Ok(too_many(retry_after)),
    };
    let again = |status: StatusCode, email: &str, error: &str| {
        render_page(
            status,
            &ResetPage {
                csrf: &csrf,
                token: &form.token,
                email,
                error: Some(error),
            },
        )
    };
    if form.password != form.confirm {
        let st = state.clone();
        let token = form.token.clone();
        let user = crate::traces::block("reset_submit", move || {
            let mut conn = st.store.conn().map_err(|e| internal(&e))?;
            Ok::<_, PageError>(accounts::check_reset_link(&mut conn, &token, st.now()))
        })
        .await
        .map_err(|e| internal(&e))??;
        return match user {
            Ok(user) => Ok(again(
                StatusCode::BAD_REQUEST,
                &user.email,
                "The two passwords differ.",
            )),
            Err(e) => link_refused(&e, FORGOT).ok_or_else(|| internal(&e)),
        };
    }
    let st = state.clone();
    let (token, password) = (form.token.clone(), form.password.clone());
    let outcome = crate::traces::block("reset_submit", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let outcome =
            crate::account::reset_password(&st, &mut conn, &token, &password, ip.as_deref());
        let email = match &outcome {
            Err(accounts::AccountError::Invalid { .. }) => {
                accounts::check_reset_link(&mut conn, &token, st.now())
                    .map(|u| u.email)
                    .ok()
            }
            _ => None,
        };
        Ok::<_, PageError>((outcome, email))
    })
    .await
    .map_err(|e| internal(&e))??;
    match outcome {
        (Ok(_), _) => {
            let mut res = see_other("/login?notice=password_reset");
            res.add_removal_cookie(&session_removal(&state))
                .map_err(|e| internal(&e))?;
            Ok(res)
        }
        (Err(accounts::AccountError::Invalid { message, .. }), email) => Ok(again(
            StatusCode::BAD_REQUEST,
            email.as_deref().unwrap_or(""),
            &format!("The password {message}."),
        )),
        (Err(e), _) => link_refused(&e, FORGOT).ok_or_else(|| internal(&e)),
    }
}

// ---- the forms of /account ----

#[derive(Deserialize, Default)]
#[serde(default)]
struct NameForm {
    csrf_token: String,
    name: String,
}

/// An own-account form's failure, on the account page; `Err` for what is not the user's to fix.
async fn form_failed(
    state: &AppState,
    signed_in: SignedIn<ReturnToAccount>,
    e: accounts::AccountError,
) -> Result<HttpResponse, PageError> {
    use accounts::AccountError as E;
    let (status, message) = match &e {
        E::Invalid { field, message } => (StatusCode::BAD_REQUEST, format!("The {field} {message}.")),
        E::WrongPassword => (StatusCode::FORBIDDEN, "The password is wrong.".to_owned()),
        E::EmailTaken => (
            StatusCode::CONFLICT,
            "Another account has this address.".to_owned(),
        ),
        E::LastOwner => (
            StatusCode::CONFLICT,
            "You are the last owner of an organization with other members: make one of them an owner first.".to_owned(),
        ),
        E::TooSoon { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("We sent a message a moment ago. Try again in {retry_after} seconds."),
        ),
        E::AlreadyVerified => (
            StatusCode::CONFLICT,
            "Your address is verified already.".to_owned(),
        ),
        _ => return Err(internal(&e)),
    };
    account_page(state, signed_in, None, Some(&message), status).await
}

/// An own-account form's answer: on to the account page with `notice`, or the account page
/// again with the error.
async fn form_answer<T>(
    state: &AppState,
    signed_in: SignedIn<ReturnToAccount>,
    outcome: Result<T, accounts::AccountError>,
    notice: &str,
) -> Result<HttpResponse, PageError> {
    match outcome {
        Ok(_) => Ok(see_other(&format!("/account?notice={notice}"))),
        Err(e) => form_failed(state, signed_in, e).await,
    }
}

async fn save_name(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<NameForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let user_id = signed_in.user.id.clone();
    let ip = client_ip(&req, &state);
    let outcome = crate::account::blocking(&state, move |st, conn| {
        crate::account::rename(st, conn, &user_id, &form.name, ip.as_deref())
    })
    .await?;
    form_answer(&state, signed_in, outcome, "name_saved").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChangeEmailForm {
    csrf_token: String,
    email: String,
    password: String,
}

async fn change_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<ChangeEmailForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let ip = match limited(&state, &req) {
        Ok(ip) => ip,
        Err(retry_after) => return Ok(too_many(retry_after)),
    };
    let user_id = signed_in.user.id.clone();
    let outcome = crate::account::blocking(&state, move |st, conn| {
        crate::account::request_email_change(
            st,
            conn,
            &user_id,
            &form.email,
            &form.password,
            ip.as_deref(),
        )
    })
    .await?;
    form_answer(&state, signed_in, outcome, "email_sent").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
}

/// Changes the password; this browser's session stays, every other one ends.
async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<PasswordForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let ip = match limited(&state, &req) {
        Ok(ip) => ip,
        Err(retry_after) => return Ok(too_many(retry_after)),
    };
    let (user_id, keep) = (signed_in.user.id.clone(), signed_in.session.id.clone());
    let outcome = crate::account::blocking(&state, move |st, conn| {
        crate::account::change_password(
            st,
            conn,
            &user_id,
            &form.current_password,
            &form.new_password,
            Some(&keep),
            ip.as_deref(),
        )
    })
    .await?;
    form_answer(&state, signed_in, outcome, "password_changed").await
}

async fn resend_mine(
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let signed_in = checked.signed_in;
    let user_id = signed_in.user.id.clone();
    let outcome = crate::account::blocking(&state, move |st, conn| {
        crate::account::resend_verification(st, conn, &user_id)
    })
    .await?;
    form_answer(&state, signed_in, outcome, "verification_sent").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteForm {
    csrf_token: String,
    password: String,
}

async fn delete_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: CsrfChecked<DeleteForm, ReturnToAccount>,
) -> Result<HttpResponse, PageError> {
    let CsrfChecked { signed_in, form } = checked;
    let ip = match limited(&state, &req) {
        Ok(ip) => ip,
        Err(retry_after) => return Ok(too_many(retry_after)),
    };
    let user_id = signed_in.user.id.clone();
    match crate::account::blocking(&state, move |st, conn| {
        crate::account::delete_account(st, conn, &user_id, &form.password, ip.as_deref())
    })
    .await?
    {
        Ok(_) => {
            let mut res = see_other("/login?notice=account_deleted");
            res.add_removal_cookie(&session_removal(&state))
                .map_err(|e| internal(&e))?;
            Ok(res)
        }
        Err(e) => form_failed(&state, signed_in, e).await,
    }
}

csrf_forms!(
    EmailForm,
    ResetForm,
    NameForm,
    ChangeEmailForm,
    PasswordForm,
    DeleteForm
);
