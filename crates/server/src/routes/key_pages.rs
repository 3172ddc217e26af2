//! `/account/orgs/{org}/keys`: an organization's API keys in the browser. Members see the
//! list; owners and admins create keys (the secret is shown once, selectable with one click,
//! no JavaScript) and revoke them.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};

use crate::errors::PageError;
use crate::i18n::filters;
use crate::pages::render;
use crate::session::{CsrfChecked, CsrfOnly, SignedIn, SignedOut, csrf_forms};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/orgs/{org}/keys", web::get().to(page))
        .route("/account/orgs/{org}/keys", web::post().to(create))
        .route(
            "/account/orgs/{org}/keys/{id}/revoke",
            web::post().to(revoke),
        );
}

struct KeyView {
    id: String,
    name: String,
    prefix: String,
    scopes: String,
    status: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage<'a> {
    org_id: &'a str,
    org_name: &'a str,
    csrf: &'a str,
    keys: Vec<KeyView>,
    can_manage: bool,
    scopes: Vec<&'static str>,
    new_secret: Option<&'a str>,
    error: Option<&'a str>,
}

fn forbidden() -> PageError {
    PageError {
        status: StatusCode::FORBIDDEN,
        title: "Not your organization",
        message: "You are not a member of this organization.".into(),
    }
}

fn internal(e: &dyn std::fmt::Display) -> PageError {
    PageError::internal(e)
}

/// A form posted without a session is refused like a stranger's.
struct NotAMember;

impl SignedOut for NotAMember {
    fn answer(_: &HttpRequest) -> actix_web::Error {
        forbidden().into()
    }
}

/// Renders the page for a signed-in member, with an optional new secret or error.
async fn show<W>(
    signed_in: SignedIn<W>,
    state: &AppState,
    org_id: String,
    new_secret: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, PageError> {
    let SignedIn { session, user, .. } = signed_in;
    let st = state.clone();
    let oid = org_id.clone();
    let (org, role, keys) = crate::traces::block("api_keys_show", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let (org, role) =
            accounts::membership(&mut conn, &oid, &user.id).map_err(|_| forbidden())?;
        let keys = apikeys::list_keys(&mut conn, &oid).map_err(|e| internal(&e))?;
        Ok::<_, PageError>((org, role, keys))
    })
    .await
    .map_err(|e| internal(&e))??;
    let now = state.now();
    let keys = keys
        .into_iter()
        .map(|k| {
            let status = if k.revoked_at.is_some() {
                "revoked".to_owned()
            } else if k.expires_at.is_some_and(|e| e <= now) {
                "expired".to_owned()
            } else if k.last_used_at.is_some() {
                "in use".to_owned()
            } else {
                "never used".to_owned()
            };
            KeyView {
                revoked: k.revoked_at.is_some(),
                id: k.id,
                name: k.name,
                prefix: k.prefix,
                scopes: k.scopes.join(" "),
                status,
            }
        })
        .collect();
    let mut scopes: Vec<&'static str> = apikeys::API_SCOPES.to_vec();
    if role == accounts::Role::Owner {
        scopes.push("*");
    }
    let page = KeysPage {
        org_id: &org.id,
        org_name: &org.name,
        csrf: &session.csrf_token,
        keys,
        can_manage: role.can_manage(),
        scopes,
        new_secret: new_secret.as_deref(),
        error: error.as_deref(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(status, &page))
}

async fn page(
    path: web::Path<String>,
    state: web::Data<AppState>,
    signed_in: SignedIn,
) -> Result<HttpResponse, PageError> {
    show(signed_in, &state, path.into_inner(), None, None).await
}

/// The form that creates a key; `scopes` repeats (one per ticked box, at most 32 kept), which
/// the derived `Deserialize` would refuse as a duplicate field.
#[derive(Default)]
struct CreateForm {
    csrf_token: String,
    name: String,
    scopes: Vec<String>,
}

impl<'de> Deserialize<'de> for CreateForm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = CreateForm;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("form fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CreateForm, A::Error> {
                let mut form = CreateForm::default();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    match k.as_str() {
                        "csrf_token" => form.csrf_token = v,
                        "name" => form.name = v,
                        "scopes" if form.scopes.len() < 32 => form.scopes.push(v),
                        _ => {}
                    }
                }
                Ok(form)
            }
        }
        d.deserialize_map(Fields)
    }
}

async fn create(
    path: web::Path<String>,
    state: web::Data<AppState>,
    checked: CsrfChecked<CreateForm, NotAMember>,
) -> Result<HttpResponse, PageError> {
    let org_id = path.into_inner();
    let CsrfChecked { signed_in, form } = checked;
    let CreateForm { name, scopes, .. } = form;
    let user = signed_in.user.clone();
    let st = state.clone();
    let oid = org_id.clone();
    let outcome = crate::traces::block("api_key_create", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let (_, role) = accounts::membership(&mut conn, &oid, &user.id).map_err(|_| forbidden())?;
        if !role.can_manage() {
            return Err(forbidden());
        }
        if let Err(e) = apikeys::check_key_scopes(&scopes, role == accounts::Role::Owner) {
            return Ok(Err(e.to_string()));
        }
        let new = apikeys::NewKey {
            org_id: &oid,
            created_by: &user.id,
            name: &name,
            scopes: &scopes,
            expires_at: None,
        };
        match apikeys::create_key(&mut conn, &new, st.now()) {
            Ok((_, secret)) => Ok(Ok(secret.expose().to_owned())),
            Err(apikeys::KeyError::Invalid { field, message }) => {
                Ok(Err(format!("{field} {message}")))
            }
            Err(e) => Err(internal(&e)),
        }
    })
    .await
    .map_err(|e| internal(&e))??;
    match outcome {
        Ok(secret) => show(signed_in, &state, org_id, Some(secret), None).await,
        Err(message) => show(signed_in, &state, org_id, None, Some(message)).await,
    }
}

async fn revoke(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
    checked: CsrfChecked<CsrfOnly, NotAMember>,
) -> Result<HttpResponse, PageError> {
    let (org_id, key_id) = path.into_inner();
    let user = checked.signed_in.user;
    let st = state.clone();
    let oid = org_id.clone();
    crate::traces::block("api_key_revoke", move || {
        let mut conn = st.store.conn().map_err(|e| internal(&e))?;
        let (_, role) = accounts::membership(&mut conn, &oid, &user.id).map_err(|_| forbidden())?;
        if !role.can_manage() {
            return Err(forbidden());
        }
        match apikeys::key_to_manage(&mut conn, &oid, &key_id, role == accounts::Role::Owner) {
            Ok(_) | Err(apikeys::KeyError::NotFound) => {}
            Err(apikeys::KeyError::OwnersOnly) => return Err(forbidden()),
            Err(e) => return Err(internal(&e)),
        }
        match apikeys::revoke_key(&mut conn, &oid, &key_id, st.now()) {
            Ok(_) => {
                let change = crate::invalidate::Change::ApiKey(&key_id);
                crate::invalidate::announce(&st, &mut conn, change);
                Ok(())
            }
            Err(apikeys::KeyError::NotFound) => Ok(()),
            Err(e) => Err(internal(&e)),
        }
    })
    .await
    .map_err(|e| internal(&e))??;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/account/orgs/{org_id}/keys")))
        .finish())
}

csrf_forms!(CreateForm);
