//! The operator's console, `/admin`: clients, users, organizations, signing keys, the audit
//! log and the server's settings, server-rendered and usable without JavaScript.
//!
//! Who may call it is decided in one place: every route of [`ADMIN_ROUTES`] is registered by
//! `admin_routes!` inside one `/admin` scope wrapped in `console::guard` (an enabled admin's
//! browser session that passed a second factor; everyone else 404), and handlers take the
//! guard's `Admin` (or `AdminForm`, which checks the CSRF token too). Every change is written
//! to the audit log with the admin as actor, a kind starting `admin.` and `"via": "admin"`.
//! Lists are paged with keyset cursors and bounded (at most [`PAGE`] rows a page).

use actix_web::http::{Method, StatusCode};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::audit::Event;
use crate::console::{Admin, AdminForm, db, see_other};
use crate::errors::PageError;
use crate::i18n::filters;
use crate::invalidate::{Change, announce};
use crate::pages::render;
use crate::session::{CsrfForm, csrf_forms};
use crate::state::AppState;

use super::register::{seal, sealable};

/// Rows on one page of a list.
pub const PAGE: i64 = 50;

/// One route of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminRoute {
    pub method: &'static str,
    pub path: &'static str,
}

macro_rules! admin_routes {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// Every route of the console: all behind `console::guard`.
        pub const ADMIN_ROUTES: &[AdminRoute] = &[
            $(AdminRoute { method: stringify!($method), path: $path },)*
        ];

        /// Registers the console: one `/admin` scope behind the guard, holding every route.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            let scope = web::scope("/admin").wrap(from_fn(crate::console::guard));
            $(
                let scope = scope.route(
                    &$path["/admin".len()..],
                    web::route().method(Method::$method).to($handler),
                );
            )*
            cfg.service(scope);
        }
    };
}

admin_routes! {
    GET "/admin" => index;
    GET "/admin/clients" => clients;
    GET "/admin/clients/new" => new_client;
    POST "/admin/clients" => create_client;
    GET "/admin/clients/{id}" => client;
    POST "/admin/clients/{id}" => update_client;
    POST "/admin/clients/{id}/secret" => rotate_client_secret;
    POST "/admin/clients/{id}/delete" => delete_client;
    GET "/admin/users" => users;
    GET "/admin/users/{id}" => user;
    POST "/admin/users/{id}/disable" => disable_user;
    POST "/admin/users/{id}/enable" => enable_user;
    POST "/admin/users/{id}/reset-mfa" => reset_mfa;
    POST "/admin/users/{id}/password-reset" => send_password_reset;
    POST "/admin/users/{id}/grant-admin" => grant_admin;
    POST "/admin/users/{id}/revoke-admin" => revoke_admin;
    POST "/admin/users/{id}/delete" => delete_user;
    GET "/admin/orgs" => orgs;
    GET "/admin/orgs/{id}" => org;
    POST "/admin/orgs/{id}/keys/{key}/revoke" => revoke_org_key;
    POST "/admin/orgs/{id}/invites/{invite}/revoke" => revoke_invite;
    GET "/admin/keys" => signing_keys;
    POST "/admin/keys/rotate" => rotate_signing_key;
    POST "/admin/keys/{kid}/retire" => retire_signing_key;
    POST "/admin/keys/{kid}/withdraw" => withdraw_signing_key;
    GET "/admin/resources" => resources;
    POST "/admin/resources" => add_resource;
    POST "/admin/resources/{id}/delete" => remove_resource;
    GET "/admin/audit" => audit;
    GET "/admin/settings" => settings;
}

// ---- shared ----

fn internal(e: &dyn std::fmt::Display) -> PageError {
    PageError::internal(e)
}

fn not_found() -> PageError {
    PageError::not_found()
}

/// A console change in the audit log: the admin as actor, with the client IP, `via: admin`.
fn change(admin: &Admin, req: &HttpRequest, state: &AppState, kind: &'static str) -> Event {
    Event::new(kind)
        .actor(Some(admin.actor()))
        .ip(crate::auth::client_ip(req, state).as_deref())
}

fn with_via(mut detail: Value) -> Value {
    detail["via"] = json!("admin");
    detail
}

/// Unix seconds as RFC 3339 (UTC), for the pages.
fn time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| t.to_string())
}

fn opt_time(t: Option<i64>) -> String {
    t.map_or_else(|| "never".to_owned(), time)
}

/// A notice carried across a redirect (`?done=`): only these fixed words are shown, so a
/// link cannot put text on a console page.
fn notice(key: Option<&str>) -> Option<&'static str> {
    Some(match key? {
        "resource-added" => "The resource is registered.",
        "resource-removed" => {
            "The resource is removed; tokens issued for it live until they expire."
        }
        "disabled" => "The user is disabled; their sessions ended.",
        "enabled" => "The user is enabled again.",
        "mfa-reset" => "The user's second factors are removed.",
        "no-mfa" => "The user had no second factor.",
        "reset-sent" => "A password-reset link is on its way to the user.",
        "reset-not-sent" => {
            "No mail was sent: the account is disabled, or a link went out moments ago."
        }
        "granted" => "The user is now an admin.",
        "revoked" => "The user is no longer an admin.",
        "deleted" => "Deleted.",
        "key-revoked" => "The API key is revoked.",
        "invite-revoked" => "The invite is withdrawn.",
        "rotated" => {
            "A new signing key is current; the previous one stays published until its tokens expire."
        }
        "retired" => "The key is retired; it stays published until its tokens expire.",
        "withdrawn" => {
            "The key is withdrawn: it is no longer published, and tokens it signed no longer verify."
        }
        "saved" => "Saved.",
        "self" => "You cannot do that to your own account here: ask another admin.",
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    q: String,
    after: String,
    done: String,
}

impl ListQuery {
    fn query(&self) -> Option<String> {
        let q = self.q.trim();
        (!q.is_empty()).then(|| q.chars().take(200).collect())
    }

    fn after(&self) -> Option<String> {
        (!self.after.is_empty()).then(|| self.after.chars().take(300).collect())
    }
}

/// `?q=…&after=…`: the link to the next page.
fn next_link(base: &str, q: Option<&str>, after: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if let Some(q) = q {
        s.append_pair("q", q);
    }
    s.append_pair("after", after);
    format!("{base}?{}", s.finish())
}

/// Keeps `PAGE` rows and says whether there were more.
fn page_of<T>(mut rows: Vec<T>) -> (Vec<T>, bool) {
    let keep = usize::try_from(PAGE).unwrap_or(50);
    let more = rows.len() > keep;
    rows.truncate(keep);
    (rows, more)
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Done {
    done: String,
}

// ---- the front page ----

#[derive(Template)]
#[template(path = "admin/index.html")]
struct IndexPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    issuer: &'a str,
}

async fn index(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    render(
        StatusCode::OK,
        &IndexPage {
            section: "",
            admin_email: &admin.user.email,
            issuer: state.settings.issuer_str(),
        },
    )
}

// ---- clients ----

struct ClientRow {
    id: String,
    name: String,
    auth_method: &'static str,
    grants: String,
    redirects: String,
    first_party: bool,
    dynamic: bool,
}

fn client_row(c: &registration::Client) -> ClientRow {
    ClientRow {
        id: c.id.clone(),
        name: c.metadata.client_name.clone().unwrap_or_default(),
        auth_method: c.metadata.token_endpoint_auth_method.as_str(),
        grants: c
            .metadata
            .grant_types
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        redirects: c.metadata.redirect_uris.join(" "),
        first_party: c.first_party,
        dynamic: c.is_dynamically_registered(),
    }
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ClientsPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    q: &'a str,
    clients: Vec<ClientRow>,
    next: Option<String>,
    notice: Option<&'a str>,
}

async fn clients(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let (q, after) = (query.query(), query.after());
    let q2 = q.clone();
    let found = db(&state, move |_, conn| {
        registration::search_clients(conn, q2.as_deref(), after.as_deref(), PAGE + 1)
            .map_err(|e| internal(&e))
    })
    .await?;
    let (found, more) = page_of(found);
    let next = more
        .then(|| found.last())
        .flatten()
        .map(|c| next_link("/admin/clients", q.as_deref(), &c.id));
    Ok(render(
        StatusCode::OK,
        &ClientsPage {
            section: "clients",
            admin_email: &admin.user.email,
            q: q.as_deref().unwrap_or(""),
            clients: found.iter().map(client_row).collect(),
            next,
            notice: notice(Some(&query.done)),
        },
    ))
}

/// The client form's fields, as typed (shown again after a refusal).
#[derive(Default, Clone)]
struct ClientFields {
    client_name: String,
    client_uri: String,
    logo_uri: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    backchannel_logout_uri: String,
    backchannel_logout_session_required: bool,
    grant_types: Vec<String>,
    scope: String,
    auth_method: String,
    /// The client's public keys (a JWK Set, as JSON) or where it publishes them, for
    /// `private_key_jwt`.
    jwks: String,
    jwks_uri: String,
    application_type: String,
    id_token_alg: String,
    contacts: String,
    first_party: bool,
    /// RFC 9126 `require_pushed_authorization_requests`.
    require_par: bool,
    /// RFC 9449 §5.2: every token request must carry a DPoP proof.
    dpop_bound: bool,
}

impl ClientFields {
    fn of(c: &registration::Client) -> Self {
        let m = &c.metadata;
        Self {
            client_name: m.client_name.clone().unwrap_or_default(),
            client_uri: m.client_uri.clone().unwrap_or_default(),
            logo_uri: m.logo_uri.clone().unwrap_or_default(),
            redirect_uris: m.redirect_uris.join("\n"),
            post_logout_redirect_uris: m.post_logout_redirect_uris.join("\n"),
            backchannel_logout_uri: m.backchannel_logout_uri.clone().unwrap_or_default(),
            backchannel_logout_session_required: m.backchannel_logout_session_required,
            grant_types: m
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scope: m.scope.clone().unwrap_or_default(),
            auth_method: m.token_endpoint_auth_method.as_str().to_owned(),
            jwks: m.jwks.as_ref().map(Value::to_string).unwrap_or_default(),
            jwks_uri: m.jwks_uri.clone().unwrap_or_default(),
            application_type: match m.application_type {
                registration::ApplicationType::Web => "web".into(),
                registration::ApplicationType::Native => "native".into(),
            },
            id_token_alg: m.id_token_signed_response_alg.clone(),
            contacts: m.contacts.join("\n"),
            first_party: c.first_party,
            require_par: m.require_pushed_authorization_requests,
            dpop_bound: m.dpop_bound_access_tokens,
        }
    }

    fn has_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// The registration body these fields stand for, validated by the same
    /// `registration::parse_metadata` as `/oauth2/register`.
    fn body(&self) -> Value {
        let lines = |s: &str| -> Vec<String> {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut body = serde_json::Map::new();
        let mut text = |k: &str, v: &str| {
            if !v.trim().is_empty() {
                body.insert(k.to_owned(), json!(v.trim()));
            }
        };
        text("client_name", &self.client_name);
        text("client_uri", &self.client_uri);
        text("logo_uri", &self.logo_uri);
        text("scope", &self.scope);
        text("token_endpoint_auth_method", &self.auth_method);
        text("jwks_uri", &self.jwks_uri);
        text("application_type", &self.application_type);
        text("id_token_signed_response_alg", &self.id_token_alg);
        text("backchannel_logout_uri", &self.backchannel_logout_uri);
        if self.backchannel_logout_session_required {
            body.insert("backchannel_logout_session_required".into(), json!(true));
        }
        if !self.jwks.trim().is_empty() {
            // Not JSON is handed on as a string, which registration refuses by name.
            let jwks = serde_json::from_str(&self.jwks).unwrap_or_else(|_| json!(self.jwks));
            body.insert("jwks".into(), jwks);
        }
        body.insert("redirect_uris".into(), json!(lines(&self.redirect_uris)));
        let logout = lines(&self.post_logout_redirect_uris);
        if !logout.is_empty() {
            body.insert("post_logout_redirect_uris".into(), json!(logout));
        }
        let contacts = lines(&self.contacts);
        if !contacts.is_empty() {
            body.insert("contacts".into(), json!(contacts));
        }
        if !self.grant_types.is_empty() {
            body.insert("grant_types".into(), json!(self.grant_types));
        }
        if self.require_par {
            body.insert("require_pushed_authorization_requests".into(), json!(true));
        }
        if self.dpop_bound {
            body.insert("dpop_bound_access_tokens".into(), json!(true));
        }
        Value::Object(body)
    }
}

/// The client form as posted: repeated `grant_types`, so read as pairs (at most 64 kept).
#[derive(Deserialize)]
#[serde(transparent)]
struct ClientForm(Vec<(String, String)>);

impl CsrfForm for ClientForm {
    fn csrf_token(&self) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == "csrf_token")
            .map_or("", |(_, v)| v.as_str())
    }
}

impl ClientForm {
    fn fields(&self) -> ClientFields {
        let mut f = ClientFields::default();
        for (k, v) in self.0.iter().take(64) {
            match k.as_str() {
                "client_name" => f.client_name.clone_from(v),
                "client_uri" => f.client_uri.clone_from(v),
                "logo_uri" => f.logo_uri.clone_from(v),
                "redirect_uris" => f.redirect_uris.clone_from(v),
                "post_logout_redirect_uris" => f.post_logout_redirect_uris.clone_from(v),
                "backchannel_logout_uri" => f.backchannel_logout_uri.clone_from(v),
                "backchannel_logout_session_required" => {
                    f.backchannel_logout_session_required = v == "1";
                }
                "grant_types" => f.grant_types.push(v.clone()),
                "scope" => f.scope.clone_from(v),
                "token_endpoint_auth_method" => f.auth_method.clone_from(v),
                "jwks" => f.jwks.clone_from(v),
                "jwks_uri" => f.jwks_uri.clone_from(v),
                "application_type" => f.application_type.clone_from(v),
                "id_token_signed_response_alg" => f.id_token_alg.clone_from(v),
                "contacts" => f.contacts.clone_from(v),
                "first_party" => f.first_party = v == "1",
                "require_pushed_authorization_requests" => f.require_par = v == "1",
                "dpop_bound_access_tokens" => f.dpop_bound = v == "1",
                _ => {}
            }
        }
        f
    }
}

const GRANT_TYPES: [&str; 5] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    grants::DEVICE_CODE_GRANT,
];
const AUTH_METHODS: [&str; 5] = [
    "client_secret_basic",
    "client_secret_post",
    "none",
    "private_key_jwt",
    "client_secret_jwt",
];

#[derive(Template)]
#[template(path = "admin/client.html")]
struct ClientPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    csrf: &'a str,
    /// `None` for a new client.
    id: Option<&'a str>,
    fields: ClientFields,
    dynamic: bool,
    confidential: bool,
    created: String,
    grant_types: [&'static str; 5],
    auth_methods: [&'static str; 5],
    id_token_algs: Vec<String>,
    new_secret: Option<&'a str>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

struct ClientView<'a> {
    id: Option<&'a str>,
    fields: ClientFields,
    dynamic: bool,
    confidential: bool,
    created: String,
}

fn client_page(
    admin: &Admin,
    state: &AppState,
    view: ClientView<'_>,
    new_secret: Option<&str>,
    error: Option<&str>,
    notice: Option<&str>,
) -> HttpResponse {
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &ClientPage {
            section: "clients",
            admin_email: &admin.user.email,
            csrf: admin.csrf(),
            id: view.id,
            fields: view.fields,
            dynamic: view.dynamic,
            confidential: view.confidential,
            created: view.created,
            grant_types: GRANT_TYPES,
            auth_methods: AUTH_METHODS,
            id_token_algs: crate::state::registration_policy(&state.settings).id_token_algs,
            new_secret,
            error,
            notice,
        },
    )
}

async fn new_client(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    let fields = ClientFields {
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        auth_method: "client_secret_basic".into(),
        application_type: "web".into(),
        id_token_alg: "RS256".into(),
        scope: "openid profile email offline_access".into(),
        ..ClientFields::default()
    };
    let view = ClientView {
        id: None,
        fields,
        dynamic: false,
        confidential: true,
        created: String::new(),
    };
    client_page(&admin, &state, view, None, None, None)
}

async fn find_client(
    state: &web::Data<AppState>,
    id: String,
) -> Result<registration::Client, PageError> {
    db(state, move |_, conn| {
        registration::find_client(conn, &id)
            .map_err(|e| internal(&e))?
            .ok_or_else(not_found)
    })
    .await
}

async fn client(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let c = find_client(&state, path.into_inner()).await?;
    let view = ClientView {
        id: Some(&c.id),
        fields: ClientFields::of(&c),
        dynamic: c.is_dynamically_registered(),
        confidential: c.is_confidential(),
        created: time(c.created_at),
    };
    Ok(client_page(
        &admin,
        &state,
        view,
        None,
        None,
        notice(Some(&q.done)),
    ))
}

fn client_detail(c: &registration::Client) -> Value {
    json!({
        "client_id": c.id,
        "client_name": c.metadata.client_name,
        "redirect_uris": c.metadata.redirect_uris,
        "post_logout_redirect_uris": c.metadata.post_logout_redirect_uris,
        "grant_types": c.metadata.grant_types,
        "scope": c.metadata.scope,
        "token_endpoint_auth_method": c.metadata.token_endpoint_auth_method.as_str(),
    })
}

async fn create_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: AdminForm<ClientForm>,
) -> Result<HttpResponse, PageError> {
    let AdminForm { admin, form } = posted;
    let fields = form.fields();
    let policy = db(&state, |st, conn| {
        crate::state::registration_policy_with_resources(&st.settings, conn)
            .map_err(|e| internal(&e))
    })
    .await?;
    let metadata = registration::parse_metadata(&fields.body(), &policy)
        .map_err(|e| e.description)
        .and_then(|m| sealable(&state, &m).map(|()| m).map_err(|e| e.to_string()));
    let metadata = match metadata {
        Ok(m) => m,
        Err(e) => {
            let view = ClientView {
                id: None,
                fields,
                dynamic: false,
                confidential: true,
                created: String::new(),
            };
            return Ok(client_page(
                &admin,
                &state,
                view,
                None,
                Some(e.as_str()),
                None,
            ));
        }
    };
    let event = change(&admin, &req, &state, "admin.client.created");
    let first_party = fields.first_party;
    let reg = db(&state, move |st, conn| {
        let reg = registration::register_client_with(conn, metadata, false, first_party, st.now())
            .map_err(|e| internal(&e))?;
        seal(st, conn, &reg.client, reg.secret.as_ref()).map_err(|e| internal(&e))?;
        let detail = with_via(client_detail(&reg.client));
        crate::audit::record(conn, st.now(), event.detail(detail));
        Ok(reg)
    })
    .await?;
    let secret = reg.secret.as_ref().map(|s| s.expose().to_owned());
    let view = ClientView {
        id: Some(&reg.client.id),
        fields: ClientFields::of(&reg.client),
        dynamic: false,
        confidential: reg.client.is_confidential(),
        created: time(reg.client.created_at),
    };
    Ok(client_page(
        &admin,
        &state,
        view,
        secret.as_deref(),
        None,
        Some("The client is registered."),
    ))
}

async fn update_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<ClientForm>,
) -> Result<HttpResponse, PageError> {
    let AdminForm { admin, form } = posted;
    let existing = find_client(&state, path.into_inner()).await?;
    let fields = form.fields();
    let policy = db(&state, |st, conn| {
        crate::state::registration_policy_with_resources(&st.settings, conn)
            .map_err(|e| internal(&e))
    })
    .await?;
    let metadata = registration::parse_metadata(&fields.body(), &policy)
        .map_err(|e| e.description)
        .and_then(|m| sealable(&state, &m).map(|()| m).map_err(|e| e.to_string()));
    let metadata = match metadata {
        Ok(m) => m,
        Err(e) => {
            let view = ClientView {
                id: Some(&existing.id),
                fields,
                dynamic: existing.is_dynamically_registered(),
                confidential: existing.is_confidential(),
                created: time(existing.created_at),
            };
            return Ok(client_page(
                &admin,
                &state,
                view,
                None,
                Some(e.as_str()),
                None,
            ));
        }
    };
    let event = change(&admin, &req, &state, "admin.client.updated");
    let (updated, secret) = db(&state, move |st, conn| {
        let (updated, secret) = registration::update_client(conn, existing, metadata, st.now())
            .map_err(|e| internal(&e))?;
        seal(st, conn, &updated, secret.as_ref()).map_err(|e| internal(&e))?;
        announce(st, conn, Change::Client(&updated.id));
        let detail = with_via(client_detail(&updated));
        crate::audit::record(conn, st.now(), event.detail(detail));
        Ok((updated, secret.map(|s| s.expose().to_owned())))
    })
    .await?;
    if secret.is_none() {
        return Ok(see_other(&format!(
            "/admin/clients/{}?done=saved",
            updated.id
        )));
    }
    let view = ClientView {
        id: Some(&updated.id),
        fields: ClientFields::of(&updated),
        dynamic: updated.is_dynamically_registered(),
        confidential: updated.is_confidential(),
        created: time(updated.created_at),
    };
    Ok(client_page(
        &admin,
        &state,
        view,
        secret.as_deref(),
        None,
        Some("Saved. The client is confidential now: here is its secret."),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CsrfOnly {
    csrf_token: String,
}

csrf_forms!(CsrfOnly);

async fn rotate_client_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = posted.admin;
    let mut c = find_client(&state, path.into_inner()).await?;
    let event = change(&admin, &req, &state, "admin.client.secret_rotated");
    let (c, secret) = db(&state, move |st, conn| {
        let secret =
            registration::rotate_client_secret(conn, &mut c, st.now()).map_err(|e| internal(&e))?;
        seal(st, conn, &c, secret.as_ref()).map_err(|e| internal(&e))?;
        if secret.is_some() {
            announce(st, conn, Change::Client(&c.id));
            let detail = with_via(json!({ "client_id": c.id }));
            crate::audit::record(conn, st.now(), event.detail(detail));
        }
        Ok((c, secret.map(|s| s.expose().to_owned())))
    })
    .await?;
    let view = ClientView {
        id: Some(&c.id),
        fields: ClientFields::of(&c),
        dynamic: c.is_dynamically_registered(),
        confidential: c.is_confidential(),
        created: time(c.created_at),
    };
    let (error, message) = match secret {
        Some(_) => (None, Some("A new secret: the old one no longer works.")),
        None => (Some("A public client has no secret to rotate."), None),
    };
    Ok(client_page(
        &admin,
        &state,
        view,
        secret.as_deref(),
        error,
        message,
    ))
}

async fn delete_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let event = change(&posted.admin, &req, &state, "admin.client.deleted");
    db(&state, move |st, conn| {
        if !registration::delete_client(conn, &id).map_err(|e| internal(&e))? {
            return Err(not_found());
        }
        announce(st, conn, Change::Client(&id));
        let detail = with_via(json!({ "client_id": id }));
        crate::audit::record(conn, st.now(), event.detail(detail));
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/clients?done=deleted"))
}

// ---- users ----

struct UserRow {
    id: String,
    email: String,
    name: String,
    verified: bool,
    disabled: bool,
    admin: bool,
    created: String,
}

fn user_row(u: &accounts::User) -> UserRow {
    UserRow {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        verified: u.email_verified,
        disabled: u.disabled,
        admin: u.admin,
        created: time(u.created_at),
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    q: &'a str,
    users: Vec<UserRow>,
    next: Option<String>,
    notice: Option<&'a str>,
}

async fn users(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let (q, after) = (query.query(), query.after());
    let q2 = q.clone();
    let found = db(&state, move |_, conn| {
        accounts::search_users(conn, q2.as_deref(), after.as_deref(), PAGE + 1)
            .map_err(|e| internal(&e))
    })
    .await?;
    let (found, more) = page_of(found);
    let next = more
        .then(|| found.last())
        .flatten()
        .map(|u| next_link("/admin/users", q.as_deref(), &u.email.to_lowercase()));
    Ok(render(
        StatusCode::OK,
        &UsersPage {
            section: "users",
            admin_email: &admin.user.email,
            q: q.as_deref().unwrap_or(""),
            users: found.iter().map(user_row).collect(),
            next,
            notice: notice(Some(&query.done)),
        },
    ))
}

struct SessionRow {
    created: String,
    last_seen: String,
    expires: String,
    ip: String,
    agent: String,
    methods: String,
}

struct IdentityRow {
    provider: String,
    issuer: String,
    subject: String,
    email: String,
    linked: String,
}

struct PasskeyRow {
    name: String,
    created: String,
    last_used: String,
}

struct MembershipRow {
    org_id: String,
    org_name: String,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    csrf: &'a str,
    user: UserRow,
    is_self: bool,
    totp: bool,
    recovery_codes_left: i64,
    sessions: Vec<SessionRow>,
    identities: Vec<IdentityRow>,
    passkeys: Vec<PasskeyRow>,
    orgs: Vec<MembershipRow>,
    notice: Option<&'a str>,
}

async fn user(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let (user, factors, sessions, identities, passkeys, orgs) = db(&state, move |_, conn| {
        let user = accounts::find_user(conn, &id)
            .map_err(|e| internal(&e))?
            .ok_or_else(not_found)?;
        let factors = accounts::second_factors(conn, &id).map_err(|e| internal(&e))?;
        let sessions = accounts::list_sessions(conn, &id).map_err(|e| internal(&e))?;
        let identities = accounts::upstream_identities(conn, &id).map_err(|e| internal(&e))?;
        let passkeys = crate::passkeys::list(conn, &id).map_err(|e| internal(&e))?;
        let orgs = accounts::orgs_of(conn, &id).map_err(|e| internal(&e))?;
        Ok((user, factors, sessions, identities, passkeys, orgs))
    })
    .await?;
    let page = UserPage {
        section: "users",
        admin_email: &admin.user.email,
        csrf: admin.csrf(),
        is_self: user.id == admin.user.id,
        user: user_row(&user),
        totp: factors.totp,
        recovery_codes_left: factors.recovery_codes_left,
        sessions: sessions
            .iter()
            .map(|s| SessionRow {
                created: time(s.created_at),
                last_seen: time(s.last_seen_at),
                expires: time(s.expires_at),
                ip: s.ip.clone().unwrap_or_default(),
                agent: s.user_agent.clone().unwrap_or_default(),
                methods: s.amr.claim().join(" "),
            })
            .collect(),
        identities: identities
            .iter()
            .map(|i| IdentityRow {
                provider: i.provider.clone(),
                issuer: i.issuer.clone(),
                subject: i.subject.clone(),
                email: i.email.clone().unwrap_or_default(),
                linked: time(i.created_at),
            })
            .collect(),
        passkeys: passkeys
            .iter()
            .map(|p| PasskeyRow {
                name: p.name.clone(),
                created: time(p.created_at),
                last_used: opt_time(p.last_used_at),
            })
            .collect(),
        orgs: orgs
            .iter()
            .map(|(o, role)| MembershipRow {
                org_id: o.id.clone(),
                org_name: o.name.clone(),
                role: role.as_str(),
            })
            .collect(),
        notice: notice(Some(&q.done)),
    };
    Ok(render(StatusCode::OK, &page))
}

/// The user a console form acts on, refused (`?done=self`) when it is the admin's own account
/// and `not_self` is set (disabling, deleting or revoking oneself would lock the door).
async fn target_user(
    state: &web::Data<AppState>,
    admin: &Admin,
    id: String,
    not_self: bool,
) -> Result<Result<accounts::User, HttpResponse>, PageError> {
    if not_self && id == admin.user.id {
        return Ok(Err(see_other(&format!("/admin/users/{id}?done=self"))));
    }
    let user = db(state, move |_, conn| {
        accounts::find_user(conn, &id)
            .map_err(|e| internal(&e))?
            .ok_or_else(not_found)
    })
    .await?;
    Ok(Ok(user))
}

fn back_to_user(id: &str, done: &str) -> HttpResponse {
    see_other(&format!("/admin/users/{id}?done={done}"))
}

async fn set_disabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: String,
    admin: Admin,
    disabled: bool,
) -> Result<HttpResponse, PageError> {
    let user = match target_user(&state, &admin, id, true).await? {
        Ok(u) => u,
        Err(res) => return Ok(res),
    };
    let kind = if disabled {
        "admin.user.disabled"
    } else {
        "admin.user.enabled"
    };
    let event = change(&admin, &req, &state, kind);
    let uid = user.id.clone();
    db(&state, move |st, conn| {
        accounts::set_disabled(conn, &uid, disabled, st.now()).map_err(|e| internal(&e))?;
        let detail = with_via(json!({ "user_id": uid, "email": user.email }));
        crate::audit::record(conn, st.now(), event.detail(detail));
        Ok(())
    })
    .await?;
    let done = if disabled { "disabled" } else { "enabled" };
    Ok(back_to_user(&user_id_of(&req), done))
}

/// The `{id}` of the request's path.
fn user_id_of(req: &HttpRequest) -> String {
    req.match_info().get("id").unwrap_or_default().to_owned()
}

async fn disable_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_disabled(req, state, path.into_inner(), posted.admin, true).await
}

async fn enable_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_disabled(req, state, path.into_inner(), posted.admin, false).await
}

async fn reset_mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = posted.admin;
    let user = match target_user(&state, &admin, path.into_inner(), false).await? {
        Ok(u) => u,
        Err(res) => return Ok(res),
    };
    let event = change(&admin, &req, &state, "admin.user.mfa_reset");
    let uid = user.id.clone();
    let had = db(&state, move |st, conn| {
        let had =
            accounts::reset_second_factors_as_operator(conn, &uid).map_err(|e| internal(&e))?;
        if had {
            let detail = with_via(json!({ "user_id": uid, "email": user.email }));
            crate::audit::record(conn, st.now(), event.detail(detail));
        }
        Ok(had)
    })
    .await?;
    let id = user_id_of(&req);
    Ok(back_to_user(&id, if had { "mfa-reset" } else { "no-mfa" }))
}

async fn send_password_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = posted.admin;
    let user = match target_user(&state, &admin, path.into_inner(), false).await? {
        Ok(u) => u,
        Err(res) => return Ok(res),
    };
    let event = change(&admin, &req, &state, "admin.user.password_reset_sent");
    let sent = db(&state, move |st, conn| {
        let link = accounts::request_password_reset(conn, &user.email, st.now())
            .map_err(|e| internal(&e))?;
        let Some(link) = link else {
            return Ok(false);
        };
        let detail = with_via(json!({ "user_id": user.id, "email": user.email }));
        crate::audit::record(conn, st.now(), event.detail(detail));
        crate::account::mail_link(st, &link);
        Ok(true)
    })
    .await?;
    let id = user_id_of(&req);
    Ok(back_to_user(
        &id,
        if sent { "reset-sent" } else { "reset-not-sent" },
    ))
}

async fn set_admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: String,
    admin: Admin,
    grant: bool,
) -> Result<HttpResponse, PageError> {
    let user = match target_user(&state, &admin, id, !grant).await? {
        Ok(u) => u,
        Err(res) => return Ok(res),
    };
    let kind = if grant {
        "admin.user.admin_granted"
    } else {
        "admin.user.admin_revoked"
    };
    let event = change(&admin, &req, &state, kind);
    let uid = user.id.clone();
    db(&state, move |st, conn| {
        accounts::set_admin(conn, &uid, grant, st.now()).map_err(|e| internal(&e))?;
        let detail = with_via(json!({ "user_id": uid, "email": user.email }));
        crate::audit::record(conn, st.now(), event.detail(detail));
        Ok(())
    })
    .await?;
    let id = user_id_of(&req);
    Ok(back_to_user(&id, if grant { "granted" } else { "revoked" }))
}

async fn grant_admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_admin(req, state, path.into_inner(), posted.admin, true).await
}

async fn revoke_admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    set_admin(req, state, path.into_inner(), posted.admin, false).await
}

async fn delete_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = posted.admin;
    let user = match target_user(&state, &admin, path.into_inner(), true).await? {
        Ok(u) => u,
        Err(res) => return Ok(res),
    };
    let event = change(&admin, &req, &state, "admin.user.deleted");
    let outcome = db(&state, move |st, conn| {
        let email = user.email.clone();
        let deleted = crate::account::delete_with_keys(conn, &user.id, |conn| {
            accounts::delete_account_as_operator(conn, &email)
        });
        match deleted {
            Ok((deleted, keys)) => {
                for key in &keys {
                    announce(st, conn, Change::ApiKey(key));
                }
                let detail = with_via(json!({
                    "user_id": user.id,
                    "email": user.email,
                    "organizationsDeleted": deleted.orgs_deleted,
                }));
                crate::audit::record(conn, st.now(), event.detail(detail));
                Ok(true)
            }
            Err(accounts::AccountError::LastOwner) => Ok(false),
            Err(e) => Err(internal(&e)),
        }
    })
    .await?;
    if outcome {
        Ok(see_other("/admin/users?done=deleted"))
    } else {
        Err(PageError {
            status: StatusCode::CONFLICT,
            title: "The last owner of an organization",
            message: "This user is the last owner of an organization with other members: make another member an owner first.".into(),
        })
    }
}

// ---- organizations ----

struct OrgRow {
    id: String,
    name: String,
    created: String,
    require_mfa: bool,
}

fn org_row(o: &accounts::Org) -> OrgRow {
    OrgRow {
        id: o.id.clone(),
        name: o.name.clone(),
        created: time(o.created_at),
        require_mfa: o.require_mfa,
    }
}

#[derive(Template)]
#[template(path = "admin/orgs.html")]
struct OrgsPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    q: &'a str,
    orgs: Vec<OrgRow>,
    next: Option<String>,
}

async fn orgs(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let (q, after) = (query.query(), query.after());
    let q2 = q.clone();
    let found = db(&state, move |_, conn| {
        accounts::search_orgs(conn, q2.as_deref(), after.as_deref(), PAGE + 1)
            .map_err(|e| internal(&e))
    })
    .await?;
    let (found, more) = page_of(found);
    let next = more
        .then(|| found.last())
        .flatten()
        .map(|o| next_link("/admin/orgs", q.as_deref(), &o.id));
    Ok(render(
        StatusCode::OK,
        &OrgsPage {
            section: "orgs",
            admin_email: &admin.user.email,
            q: q.as_deref().unwrap_or(""),
            orgs: found.iter().map(org_row).collect(),
            next,
        },
    ))
}

struct MemberRow {
    user_id: String,
    email: String,
    role: &'static str,
    joined: String,
}

struct InviteRow {
    id: String,
    email: String,
    role: &'static str,
    status: &'static str,
    open: bool,
    expires: String,
}

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    scopes: String,
    status: &'static str,
    revoked: bool,
    last_used: String,
}

struct AgentRow {
    id: String,
    name: String,
    scopes: String,
}

struct ServiceRow {
    name: String,
    base_url: String,
    credential: String,
}

struct UsageRow {
    at: String,
    service: String,
    method: String,
    endpoint: String,
    status: i64,
    latency_ms: i64,
}

#[derive(Template)]
#[template(path = "admin/org.html")]
struct OrgPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    csrf: &'a str,
    org: OrgRow,
    members: Vec<MemberRow>,
    invites: Vec<InviteRow>,
    keys: Vec<KeyRow>,
    agents: Vec<AgentRow>,
    services: Vec<ServiceRow>,
    usage: Vec<UsageRow>,
    notice: Option<&'a str>,
}

async fn org(
    admin: Admin,
    state: web::Data<AppState>,
    path: web::Path<String>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let now = state.now();
    let (org, members, invites, keys, agents, services, usage) = db(&state, move |_, conn| {
        let org = accounts::find_org(conn, &id)
            .map_err(|e| internal(&e))?
            .ok_or_else(not_found)?;
        let members = accounts::members(conn, &id).map_err(|e| internal(&e))?;
        let invites = accounts::invites_of(conn, &id, PAGE).map_err(|e| internal(&e))?;
        let keys = apikeys::list_keys(conn, &id).map_err(|e| internal(&e))?;
        let agents = apikeys::list_agents(conn, &id).map_err(|e| internal(&e))?;
        let services = gateway::list_services(conn, &id).map_err(|e| internal(&e))?;
        let usage = gateway::usage_of_org(conn, &id, &gateway::UsageFilter::default(), PAGE)
            .map_err(|e| internal(&e))?;
        Ok((org, members, invites, keys, agents, services, usage))
    })
    .await?;
    let page = OrgPage {
        section: "orgs",
        admin_email: &admin.user.email,
        csrf: admin.csrf(),
        org: org_row(&org),
        members: members
            .iter()
            .map(|m| MemberRow {
                user_id: m.user_id.clone(),
                email: m.email.clone(),
                role: m.role.as_str(),
                joined: time(m.joined_at),
            })
            .collect(),
        invites: invites
            .iter()
            .map(|i| {
                let status = if i.accepted_at.is_some() {
                    "accepted"
                } else if i.expires_at <= now {
                    "expired"
                } else {
                    "open"
                };
                InviteRow {
                    id: i.id.clone(),
                    email: i.email.clone(),
                    role: i.role.as_str(),
                    status,
                    open: i.accepted_at.is_none(),
                    expires: time(i.expires_at),
                }
            })
            .collect(),
        keys: keys
            .iter()
            .map(|k| KeyRow {
                id: k.id.clone(),
                name: k.name.clone(),
                prefix: k.prefix.clone(),
                scopes: k.scopes.join(" "),
                status: if k.revoked_at.is_some() {
                    "revoked"
                } else if k.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                },
                revoked: k.revoked_at.is_some(),
                last_used: opt_time(k.last_used_at),
            })
            .collect(),
        agents: agents
            .iter()
            .map(|a| AgentRow {
                id: a.id.clone(),
                name: a.name.clone(),
                scopes: a.scopes.join(" "),
            })
            .collect(),
        services: services
            .iter()
            .map(|s| ServiceRow {
                name: s.name.clone(),
                base_url: s.base_url.clone(),
                credential: format!("{} {}", s.credential_name, s.credential_hint),
            })
            .collect(),
        usage: usage
            .iter()
            .map(|u| UsageRow {
                at: time(u.occurred_at),
                service: u.service.clone(),
                method: u.method.clone(),
                endpoint: u.endpoint.clone(),
                status: u.status,
                latency_ms: u.latency_ms,
            })
            .collect(),
        notice: notice(Some(&q.done)),
    };
    Ok(render(StatusCode::OK, &page))
}

async fn revoke_org_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let (org_id, key_id) = path.into_inner();
    let event = change(&posted.admin, &req, &state, "admin.api_key.revoked");
    let oid = org_id.clone();
    db(&state, move |st, conn| {
        let key = match apikeys::revoke_key(conn, &oid, &key_id, st.now()) {
            Ok(k) => k,
            Err(apikeys::KeyError::NotFound) => return Err(not_found()),
            Err(e) => return Err(internal(&e)),
        };
        announce(st, conn, Change::ApiKey(&key.id));
        let detail = with_via(json!({ "key_id": key.id, "name": key.name }));
        crate::audit::record(conn, st.now(), event.org(&oid).detail(detail));
        Ok(())
    })
    .await?;
    Ok(see_other(&format!("/admin/orgs/{org_id}?done=key-revoked")))
}

async fn revoke_invite(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let (org_id, invite_id) = path.into_inner();
    let event = change(&posted.admin, &req, &state, "admin.invite.revoked");
    let oid = org_id.clone();
    db(&state, move |st, conn| {
        match accounts::revoke_invite(conn, &oid, &invite_id) {
            Ok(()) => {}
            Err(accounts::AccountError::NotFound) => return Err(not_found()),
            Err(e) => return Err(internal(&e)),
        }
        let detail = with_via(json!({ "invite_id": invite_id }));
        crate::audit::record(conn, st.now(), event.org(&oid).detail(detail));
        Ok(())
    })
    .await?;
    Ok(see_other(&format!(
        "/admin/orgs/{org_id}?done=invite-revoked"
    )))
}

// ---- signing keys ----

struct SigningKeyRow {
    kid: String,
    alg: String,
    created: String,
    retired: String,
    current: bool,
    published: bool,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    csrf: &'a str,
    keys: Vec<SigningKeyRow>,
    algs: Vec<String>,
    jwks: String,
    notice: Option<&'a str>,
    error: Option<&'a str>,
}

async fn keys_page(
    admin: &Admin,
    state: &web::Data<AppState>,
    notice_key: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (stored, jwks) = db(state, move |st, conn| {
        let stored = tokens::list_keys(conn).map_err(|e| internal(&e))?;
        let ring = st.keys.get(conn, st.now()).map_err(|e| internal(&e))?;
        Ok((stored, ring.jwks()))
    })
    .await?;
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .map(|keys| keys.iter().filter_map(|k| k["kid"].as_str()).collect())
        .unwrap_or_default();
    let keys = stored
        .iter()
        .map(|k| SigningKeyRow {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            created: time(k.created_at),
            retired: match k.retired_at {
                None => "current".into(),
                Some(at) if at <= tokens::WITHDRAWN => "withdrawn".into(),
                Some(at) => time(at),
            },
            current: k.retired_at.is_none(),
            published: published.contains(&k.kid.as_str()),
        })
        .collect();
    let page = KeysPage {
        section: "keys",
        admin_email: &admin.user.email,
        csrf: admin.csrf(),
        keys,
        algs: tokens::SigningAlg::ALL
            .iter()
            .map(ToString::to_string)
            .collect(),
        jwks: serde_json::to_string_pretty(&jwks).unwrap_or_default(),
        notice: notice(notice_key),
        error,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(status, &page))
}

async fn signing_keys(
    admin: Admin,
    state: web::Data<AppState>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    keys_page(&admin, &state, Some(&q.done), None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RotateForm {
    csrf_token: String,
    alg: String,
}

csrf_forms!(RotateForm);

async fn rotate_signing_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: AdminForm<RotateForm>,
) -> Result<HttpResponse, PageError> {
    let AdminForm { admin, form } = posted;
    let Some(alg) = tokens::SigningAlg::parse(&form.alg) else {
        return keys_page(&admin, &state, None, Some("Choose ES256, RS256 or EdDSA.")).await;
    };
    let event = change(&admin, &req, &state, "admin.signing_key.rotated");
    db(&state, move |st, conn| {
        let seal = st.settings.encryption_keys.as_deref();
        let kid = tokens::rotate_key(conn, alg, st.now(), seal).map_err(|e| internal(&e))?;
        announce(st, conn, Change::SigningKeys);
        let detail = with_via(json!({ "kid": kid, "alg": alg.as_str() }));
        crate::audit::record(conn, st.now(), event.detail(detail));
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/keys?done=rotated"))
}

async fn retire_signing_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = posted.admin;
    let kid = path.into_inner();
    let event = change(&admin, &req, &state, "admin.signing_key.retired");
    let refused = db(&state, move |st, conn| {
        match tokens::retire_key(conn, &kid, st.now()).map_err(|e| internal(&e))? {
            Ok(()) => {
                announce(st, conn, Change::SigningKeys);
                let detail = with_via(json!({ "kid": kid }));
                crate::audit::record(conn, st.now(), event.detail(detail));
                Ok(None)
            }
            Err(refused) => Ok(Some(refused.to_string())),
        }
    })
    .await?;
    match refused {
        None => Ok(see_other("/admin/keys?done=retired")),
        Some(why) => keys_page(&admin, &state, None, Some(&why)).await,
    }
}

async fn withdraw_signing_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let admin = posted.admin;
    let kid = path.into_inner();
    let event = change(&admin, &req, &state, "admin.signing_key.withdrawn");
    let refused = db(&state, move |st, conn| {
        match tokens::withdraw_key(conn, &kid).map_err(|e| internal(&e))? {
            Ok(()) => {
                announce(st, conn, Change::SigningKeys);
                let detail = with_via(json!({ "kid": kid }));
                crate::audit::record(conn, st.now(), event.detail(detail));
                Ok(None)
            }
            Err(refused) => Ok(Some(refused.to_string())),
        }
    })
    .await?;
    // Evicted again after the commit, so no reload between the eviction and the commit keeps
    // the key here.
    state.keys.invalidate();
    match refused {
        None => Ok(see_other("/admin/keys?done=withdrawn")),
        Some(why) => keys_page(&admin, &state, None, Some(&why)).await,
    }
}

// ---- the audit log ----

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditQuery {
    actor: String,
    kind: String,
    org: String,
    from: String,
    to: String,
    before: String,
}

struct EventRow {
    at: String,
    kind: String,
    outcome: String,
    failed: bool,
    actor: String,
    ip: String,
    org: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    q: &'a AuditQuery,
    events: Vec<EventRow>,
    next: Option<String>,
    error: Option<&'a str>,
}

/// `YYYY-MM-DD` (a date input's value) as the unix second its day starts (UTC).
fn day_start(raw: &str) -> Result<Option<i64>, ()> {
    if raw.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc().timestamp()))
        .ok_or(())
}

fn nonempty(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty() && !s.contains('\0')).then_some(s)
}

async fn audit(
    admin: Admin,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, PageError> {
    let q = query.into_inner();
    let since = day_start(&q.from);
    // "To" is the whole day: events before the next day starts.
    let until = day_start(&q.to).map(|d| d.map(|t| t + 86_400));
    let before = nonempty(&q.before).map(crate::audit::Cursor::parse);
    let (since, until, before) = match (since, until, before) {
        (Ok(s), Ok(u), None) => (s, u, None),
        (Ok(s), Ok(u), Some(Some(c))) => (s, u, Some(c)),
        _ => {
            let page = AuditPage {
                section: "audit",
                admin_email: &admin.user.email,
                q: &q,
                events: Vec::new(),
                next: None,
                error: Some("Dates are YYYY-MM-DD; follow the pages' own links to page."),
            };
            return Ok(render(StatusCode::BAD_REQUEST, &page));
        }
    };
    let (actor, kind, org) = (
        nonempty(&q.actor).map(str::to_owned),
        nonempty(&q.kind).map(str::to_owned),
        nonempty(&q.org).map(str::to_owned),
    );
    let (events, next) = db(&state, move |_, conn| {
        let search = crate::audit::Search {
            actor: actor.as_deref(),
            kind: kind.as_deref(),
            org: org.as_deref(),
            since,
            until,
        };
        crate::audit::search_events(conn, &search, before, PAGE).map_err(|e| internal(&e))
    })
    .await?;
    let next = next.map(|cursor| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &q.actor),
            ("kind", &q.kind),
            ("org", &q.org),
            ("from", &q.from),
            ("to", &q.to),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.append_pair("before", &cursor.to_string());
        format!("/admin/audit?{}", s.finish())
    });
    let page = AuditPage {
        section: "audit",
        admin_email: &admin.user.email,
        q: &q,
        events: events
            .iter()
            .map(|e| EventRow {
                at: time(e.occurred_at),
                kind: e.kind.clone(),
                failed: e.outcome != "success",
                outcome: e.outcome.clone(),
                actor: e.actor.clone().unwrap_or_default(),
                ip: e.ip.clone().unwrap_or_default(),
                org: e.org_id.clone().unwrap_or_default(),
                detail: e.detail.clone(),
            })
            .collect(),
        next,
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

// ---- settings ----

struct SettingRow {
    name: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    rows: Vec<SettingRow>,
}

/// How a secret setting is shown: whether it is set, never its value.
fn hidden(set: bool) -> String {
    if set {
        "set (hidden)".to_owned()
    } else {
        "not set".to_owned()
    }
}

/// The server's settings as the console shows them: every secret hidden (the database URL's
/// and SMTP URL's passwords are masked by their own `Display`; keys and client secrets are
/// shown as set or not).
fn settings_rows(s: &crate::config::Settings) -> Vec<SettingRow> {
    let row = |name, value: String| SettingRow { name, value };
    let mut rows = vec![
        row("PORTCULLIS_ISSUER", s.issuer_str().to_owned()),
        row("PORTCULLIS_BIND", s.bind.clone()),
        row("PORTCULLIS_DATABASE_URL", s.database_url.to_string()),
        row("PORTCULLIS_WORKERS", s.workers.to_string()),
        row(
            "PORTCULLIS_ACCESS_TOKEN_TTL",
            s.access_token_ttl.to_string(),
        ),
        row(
            "PORTCULLIS_EXCHANGE_TOKEN_TTL",
            s.exchange_token_ttl.to_string(),
        ),
        row(
            "PORTCULLIS_ACCESS_TOKEN_ALG",
            s.access_token_alg.to_string(),
        ),
        row("PORTCULLIS_DEFAULT_AUDIENCE", s.default_audience.clone()),
        row("PORTCULLIS_REGISTRATION", format!("{:?}", s.registration)),
        row("PORTCULLIS_SCOPES", s.scopes.join(" ")),
        row("PORTCULLIS_KEYS_REFRESH", s.keys_refresh.to_string()),
        row(
            "PORTCULLIS_KEY_ROTATION_DAYS",
            s.key_rotation_days.to_string(),
        ),
        row(
            "PORTCULLIS_KEY_PREPUBLISH_HOURS",
            s.key_prepublish_hours.to_string(),
        ),
        row("PORTCULLIS_SESSION_TTL", s.session_ttl.to_string()),
        row(
            "PORTCULLIS_SESSION_IDLE_TIMEOUT",
            s.session_idle_timeout.to_string(),
        ),
        row(
            "PORTCULLIS_REFRESH_TOKEN_TTL",
            s.refresh_token_ttl.to_string(),
        ),
        row("PORTCULLIS_REFRESH_GRACE", s.refresh_grace.to_string()),
        row("PORTCULLIS_PASSWORD_GRANT", s.password_grant.to_string()),
        row("PORTCULLIS_DPOP_MAX_AGE", s.dpop_max_age.to_string()),
        row("PORTCULLIS_DPOP_NONCE", s.dpop_nonce.to_string()),
        row("PORTCULLIS_API_KEY_CACHE", s.api_key_cache.to_string()),
        row("PORTCULLIS_CLIENT_CACHE", s.client_cache.to_string()),
        row(
            "rate limits (per minute)",
            format!(
                "login {}, signup {}, token per IP {}, token per client {}, registration {}, device code {}",
                s.rate_limits.login,
                s.rate_limits.signup,
                s.rate_limits.token_per_ip,
                s.rate_limits.token_per_client,
                s.rate_limits.registration,
                s.rate_limits.device_code
            ),
        ),
        row("PORTCULLIS_MASTER_KEY", hidden(s.master_key.is_some())),
        row(
            "PORTCULLIS_GATEWAY_ALLOW_PRIVATE",
            s.gateway_allow_private.to_string(),
        ),
        row("PORTCULLIS_GATEWAY_TIMEOUT", s.gateway_timeout.to_string()),
        row(
            "PORTCULLIS_GATEWAY_MAX_BODY",
            s.gateway_max_body.to_string(),
        ),
        row(
            "PORTCULLIS_CIMD",
            match &s.cimd {
                crate::config::CimdPolicy::All => "all".to_owned(),
                crate::config::CimdPolicy::None => "none".to_owned(),
                crate::config::CimdPolicy::Hosts(hosts) => hosts.join(","),
            },
        ),
        row("PORTCULLIS_CIMD_CACHE_MIN", s.cimd_cache_min.to_string()),
        row("PORTCULLIS_CIMD_CACHE_MAX", s.cimd_cache_max.to_string()),
        row("PORTCULLIS_CIMD_TIMEOUT_MS", s.cimd_timeout_ms.to_string()),
        row(
            "PORTCULLIS_CIMD_ALLOW_LOOPBACK",
            s.cimd_allow_loopback.to_string(),
        ),
        row(
            "PORTCULLIS_BACKCHANNEL_LOGOUT_ATTEMPTS",
            s.backchannel_logout_attempts.to_string(),
        ),
        row(
            "PORTCULLIS_BACKCHANNEL_LOGOUT_TIMEOUT_MS",
            s.backchannel_logout_timeout_ms.to_string(),
        ),
        row(
            "PORTCULLIS_BACKCHANNEL_LOGOUT_ALLOW_LOOPBACK",
            s.backchannel_logout_allow_loopback.to_string(),
        ),
        row(
            "PORTCULLIS_TRUSTED_PROXIES",
            format!("{:?}", s.trusted_proxies),
        ),
        row("PORTCULLIS_SIGNUP", s.signup.mode.as_str().to_owned()),
        row(
            "PORTCULLIS_REQUIRE_VERIFIED_EMAIL",
            s.require_verified_email.to_string(),
        ),
        row(
            "mail transport",
            match &s.mail.transport {
                mail::Transport::Smtp(url) => url.to_string(),
                mail::Transport::Outbox(dir) => format!("outbox {}", dir.display()),
            },
        ),
        row("PORTCULLIS_MAIL_FROM", s.mail.from.clone()),
        row("PORTCULLIS_BRAND_NAME", s.brand_name.clone()),
        row(
            "PORTCULLIS_BRAND_LOGO_URL",
            s.brand_logo_url.clone().unwrap_or_else(|| "none".into()),
        ),
        row(
            "PORTCULLIS_BRAND_PRIMARY_COLOR",
            s.brand_primary_color
                .as_ref()
                .map_or_else(|| "default".into(), |c| c.as_str().to_owned()),
        ),
        row(
            "PORTCULLIS_THEME_DIR",
            s.theme.as_ref().map_or_else(
                || "none".into(),
                |t| {
                    let pages: Vec<&str> = t.templates().collect();
                    format!("{} (replaces: {})", t.dir().display(), pages.join(", "))
                },
            ),
        ),
        row(
            "PORTCULLIS_ENCRYPTION_KEYS",
            hidden(s.encryption_keys.is_some()),
        ),
    ];
    for u in &s.upstream {
        rows.push(row(
            "upstream provider",
            format!(
                "{} ({}): issuer {}, client {}, secret {}, scopes {}",
                u.name,
                u.display_name,
                u.issuer,
                u.client_id,
                hidden(u.client_secret.is_some()),
                u.scopes.join(" ")
            ),
        ));
    }
    rows
}

async fn settings(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    render(
        StatusCode::OK,
        &SettingsPage {
            section: "settings",
            admin_email: &admin.user.email,
            rows: settings_rows(&state.settings),
        },
    )
}

// ---- protected resources ----

/// A registered resource as the console lists it.
struct ResourceRow {
    id: String,
    uri: String,
    name: String,
    scopes: Vec<(String, String)>,
    ttl: String,
}

/// The add form's fields, as typed (shown again after a refusal).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct ResourceForm {
    csrf_token: String,
    uri: String,
    name: String,
    /// One scope a line: `name` or `name = consent text`.
    scopes: String,
    /// Seconds; empty: the server's.
    ttl: String,
}

csrf_forms!(ResourceForm);

#[derive(Template)]
#[template(path = "admin/resources.html")]
struct ResourcesPage<'a> {
    section: &'a str,
    admin_email: &'a str,
    csrf: &'a str,
    resources: Vec<ResourceRow>,
    form: ResourceForm,
    notice: Option<&'a str>,
    error: Option<String>,
}

async fn resources_page(
    admin: &Admin,
    state: &web::Data<AppState>,
    notice_key: Option<&str>,
    refused: Option<(ResourceForm, String)>,
) -> Result<HttpResponse, PageError> {
    let all = db(state, |_, conn| {
        grants::resources::list_resources(conn).map_err(|e| internal(&e))
    })
    .await?;
    let resources = all
        .into_iter()
        .map(|r| ResourceRow {
            id: r.id,
            uri: r.uri,
            name: r.name,
            scopes: r
                .scopes
                .into_iter()
                .map(|s| (s.name, s.description))
                .collect(),
            ttl: r
                .access_token_ttl
                .map_or_else(|| "the server's".to_owned(), |t| format!("{t} s")),
        })
        .collect();
    let (form, error) = match refused {
        Some((form, error)) => (form, Some(error)),
        None => (ResourceForm::default(), None),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ResourcesPage {
        section: "resources",
        admin_email: &admin.user.email,
        csrf: admin.csrf(),
        resources,
        form,
        notice: notice(notice_key),
        error,
    };
    Ok(render(status, &page))
}

async fn resources(
    admin: Admin,
    state: web::Data<AppState>,
    q: web::Query<Done>,
) -> Result<HttpResponse, PageError> {
    resources_page(&admin, &state, Some(&q.done), None).await
}

async fn add_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: AdminForm<ResourceForm>,
) -> Result<HttpResponse, PageError> {
    let AdminForm { admin, form } = posted;
    let ttl = match form.ttl.trim() {
        "" => None,
        t => match t.parse::<i64>() {
            Ok(t) => Some(t),
            Err(_) => {
                let why = "The lifetime is a number of seconds.".to_owned();
                return resources_page(&admin, &state, None, Some((form, why))).await;
            }
        },
    };
    let spec = grants::resources::ResourceSpec {
        uri: form.uri.trim().to_owned(),
        name: form.name.clone(),
        scopes: form
            .scopes
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (name, text) = l.split_once('=').unwrap_or((l, ""));
                grants::resources::ResourceScope {
                    name: name.trim().to_owned(),
                    description: text.trim().to_owned(),
                }
            })
            .collect(),
        access_token_ttl: ttl,
    };
    let event = change(&admin, &req, &state, "admin.resource.created");
    let added = db(
        &state,
        move |st, conn| match grants::resources::add_resource(conn, &spec, st.now()) {
            Ok(r) => {
                let detail = with_via(json!({ "resource_id": r.id, "uri": r.uri }));
                crate::audit::record(conn, st.now(), event.detail(detail));
                Ok(Ok(()))
            }
            Err(grants::resources::ResourceError::Store(e)) => Err(internal(&e)),
            Err(refused) => Ok(Err(refused.to_string())),
        },
    )
    .await?;
    match added {
        Ok(()) => Ok(see_other("/admin/resources?done=resource-added")),
        Err(why) => resources_page(&admin, &state, None, Some((form, why))).await,
    }
}

async fn remove_resource(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: AdminForm<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    let id = path.into_inner();
    let event = change(&posted.admin, &req, &state, "admin.resource.deleted");
    db(&state, move |st, conn| {
        let r = grants::resources::find_resource(conn, &id)
            .map_err(|e| internal(&e))?
            .filter(|r| r.id == id)
            .ok_or_else(not_found)?;
        grants::resources::remove_resource(conn, &r.id).map_err(|_| not_found())?;
        let detail = with_via(json!({ "resource_id": r.id, "uri": r.uri }));
        crate::audit::record(conn, st.now(), event.detail(detail));
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/resources?done=resource-removed"))
}
