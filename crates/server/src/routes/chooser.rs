//! The account chooser (`prompt=select_account`, OpenID Connect Core §3.1.2.1): the accounts
//! signed in on this browser, side by side, to pick one or add another.
//!
//! A browser holds its current session (`pcl_session`) and the other accounts' sessions
//! (`pcl_accounts`, see [`crate::session::other_sessions`]); signing in as another user keeps
//! the earlier account there (`routes::pages::begin_session`). Choosing an account makes its
//! session the current one; nothing is signed in or out. Signing out ends them all.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::pages::{safe_return_to, see_other};
use crate::errors::PageError;
use crate::i18n::filters;
use crate::pages::render_page;
use crate::session::{
    MaybeSignedIn, PreSessionChecked, accounts_cookie, csrf_forms, current_secret, other_sessions,
    pre_session_csrf, session_cookie, with_csrf_cookie,
};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/select", web::get().to(choose_page))
        .route("/login/select", web::post().to(choose));
}

fn internal(e: &dyn std::fmt::Display) -> PageError {
    PageError::internal(e)
}

/// The live accounts of this browser, the current one first: each with its session secret.
async fn accounts_here(
    state: &AppState,
    req: &HttpRequest,
    current: &MaybeSignedIn,
) -> Result<Vec<(String, accounts::User)>, PageError> {
    let mut found = Vec::new();
    if let (Some(s), Some(secret)) = (&current.0, current_secret(req)) {
        found.push((secret, s.user.clone()));
    }
    let others = other_sessions(req);
    let st = state.clone();
    let live = crate::traces::block("accounts_here", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let mut live = Vec::new();
        for secret in others {
            if let Some((_, user)) =
                accounts::resolve_session(&mut conn, &secret, st.now(), st.session_policy())
                    .map_err(|e| internal(&e))?
            {
                live.push((secret, user));
            }
        }
        Ok::<_, PageError>(live)
    })
    .await
    .map_err(|e| internal(&e))??;
    for (secret, user) in live {
        if !found.iter().any(|(_, u)| u.id == user.id) {
            found.push((secret, user));
        }
    }
    Ok(found)
}

#[derive(Template, serde::Serialize)]
#[template(path = "choose.html")]
struct ChoosePage<'a> {
    csrf: &'a str,
    return_to: &'a str,
    /// Position, name, email.
    accounts: Vec<(usize, String, String)>,
}

impl crate::pages::Page for ChoosePage<'_> {
    const NAME: &'static str = "choose.html";
}

#[derive(Deserialize)]
struct ChooseQuery {
    return_to: Option<String>,
}

/// `GET /login/select?return_to=`: the chooser; without any account here, the sign-in page.
async fn choose_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<ChooseQuery>,
    current: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let return_to = safe_return_to(q.return_to.as_deref());
    let here = accounts_here(&state, &req, &current).await?;
    if here.is_empty() {
        let mut login = url::form_urlencoded::Serializer::new(String::new());
        login.append_pair("return_to", &return_to);
        return Ok(see_other(&format!("/login?{}", login.finish())));
    }
    let (csrf, is_new) = pre_session_csrf(&req);
    let page = ChoosePage {
        csrf: &csrf,
        return_to: &return_to,
        accounts: here
            .into_iter()
            .enumerate()
            .map(|(i, (_, u))| (i, u.name, u.email))
            .collect(),
    };
    let mut res = with_csrf_cookie(&state, render_page(StatusCode::OK, &page), &csrf, is_new);
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChooseForm {
    csrf_token: String,
    account: usize,
    return_to: String,
}

/// `POST /login/select`: the chosen account's session becomes this browser's current one.
async fn choose(
    req: HttpRequest,
    state: web::Data<AppState>,
    checked: PreSessionChecked<ChooseForm>,
    current: MaybeSignedIn,
) -> Result<HttpResponse, PageError> {
    let form = checked.form;
    let return_to = safe_return_to(Some(&form.return_to));
    let mut here = accounts_here(&state, &req, &current).await?;
    if form.account >= here.len() {
        // The list changed under the page (an account signed out elsewhere): show it again.
        let mut again = url::form_urlencoded::Serializer::new(String::new());
        again.append_pair("return_to", &return_to);
        return Ok(see_other(&format!("/login/select?{}", again.finish())));
    }
    let (chosen, _) = here.remove(form.account);
    let others: Vec<String> = here.into_iter().map(|(secret, _)| secret).collect();
    let mut res = see_other(&return_to);
    res.add_cookie(&session_cookie(&state, chosen))
        .map_err(|e| internal(&e))?;
    res.add_cookie(&accounts_cookie(&state, &others))
        .map_err(|e| internal(&e))?;
    Ok(res)
}

csrf_forms!(ChooseForm);
