//! The route table of the JSON API: every `/api/v1` route, its handler and who may call it,
//! in one place. `api_routes!` registers each route wrapped in `access::guard` with its rule,
//! and builds [`API_ROUTES`] from the same lines, so a route cannot be served without a rule
//! and the table cannot drift from what is served. A route registered anywhere else fails the
//! `every_api_route_is_in_the_table` test; docs/security.md's "Who may call what" is this
//! table (checked by `the_security_doc_shows_the_route_table`).

use accounts::Role::{Admin, Member, Owner};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, ResponseError, guard, web};

use super::{
    api_account, api_audit, api_auth, api_backchannel, api_delegation, api_keys, api_mfa, api_orgs,
    api_resources, gateway,
};
use crate::access::{ApiRoute, OrgRule, Rule};
use crate::audit::AuditPage;
use crate::errors::ApiError;
use crate::flows::TokenPair;
use crate::openapi::{Answer, RouteDoc, schema_of};

/// An organization rule: the scope, the least role, and whether API keys may call it.
const fn org(scope: &'static str, role: accounts::Role, keys: bool) -> Rule {
    Rule::Org(OrgRule { scope, role, keys })
}

/// Keys and users alike.
const KEYS: bool = true;
/// Members only, never an API key.
const USERS: bool = false;

/// One documented answer: a status with its JSON body's type, or a bare status (204, or an
/// error in the JSON error shape).
macro_rules! answer {
    ($status:literal $answer:ty) => {
        Answer::Json($status, schema_of::<$answer>)
    };
    ($status:literal) => {
        Answer::Bare($status)
    };
}

/// Whether the request body may be left out (`{Type; optional}`).
macro_rules! body_required {
    () => {
        true
    };
    (optional) => {
        false
    };
}

/// The request body's type, if the route reads one.
macro_rules! body {
    () => {
        None
    };
    ($body:ty) => {
        Some(schema_of::<$body> as crate::openapi::SchemaFn)
    };
}

/// The query parameters' type, if the route reads any (`?Type` after the rule).
macro_rules! query {
    () => {
        None
    };
    ($query:ty) => {
        Some(crate::openapi::query_params_of::<$query> as crate::openapi::ParamsFn)
    };
}

/// Each line: method, path, handler, rule, `?Query` when it reads query parameters,
/// `{request body type}` (empty for none) and
/// `[answers]`: success statuses with their types, and the route's own error statuses (those of
/// the rule, the path and the body are added by `openapi::statuses`).
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:path, $rule:expr, $(?$query:ty)?
        {$($body:ty)? $(; $optional:ident)?} [$($status:literal $($answer:ty)?),* $(,)?];)*) => {
        /// Every route of `/api/v1`: method, path, rule, and what the OpenAPI document says of it.
        pub const API_ROUTES: &[ApiRoute] = &[
            $(ApiRoute {
                method: stringify!($method),
                path: $path,
                rule: $rule,
                doc: RouteDoc {
                    handler: stringify!($handler),
                    body: body!($($body)?),
                    body_required: body_required!($($optional)?),
                    query: query!($($query)?),
                    answers: &[$(answer!($status $($answer)?)),*],
                },
            },)*
        ];

        /// Registers every `/api/v1` route behind its rule, then, for each path, the answer to
        /// the methods it does not take: 405 with `Allow`.
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    // The method is the resource's guard (as `ServiceConfig::route` does), so
                    // another method falls through to the next resource of the same path.
                    web::resource($path)
                        .guard(guard::Method(Method::$method))
                        .route(web::route().to($handler))
                        .wrap(from_fn(|req, next| crate::access::guard($rule, req, next))),
                );
            )*
            let mut paths: Vec<&str> = Vec::new();
            for route in API_ROUTES {
                if !paths.contains(&route.path) {
                    paths.push(route.path);
                    cfg.service(web::resource(route.path).to(wrong_method));
                }
            }
        }
    };
}

/// A method the path does not take: 405 in the JSON error shape, with the methods it takes in
/// `Allow` (from the route table).
async fn wrong_method(req: HttpRequest) -> HttpResponse {
    let pattern = req.match_pattern().unwrap_or_default();
    let allowed: Vec<&str> = API_ROUTES
        .iter()
        .filter(|r| r.path == pattern)
        .map(|r| r.method)
        .collect();
    let mut res = ApiError::method_not_allowed().error_response();
    if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
        res.headers_mut().insert(header::ALLOW, value);
    }
    res
}

/// `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of this API (`crate::openapi`).
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi_document())
}

api_routes! {
    GET "/api/v1/openapi.json" => openapi_json, Rule::Anonymous, {} [200 serde_json::Value];

    POST "/api/v1/auth/signup" => api_auth::signup, Rule::Anonymous, {api_auth::SignupBody} [201 api_auth::NewAccount, 403, 409, 429];
    POST "/api/v1/auth/login" => api_auth::login, Rule::Anonymous, {api_auth::LoginBody} [200 TokenPair, 401, 403, 429];
    POST "/api/v1/auth/mfa" => api_auth::mfa, Rule::Anonymous, {api_auth::MfaBody} [200 TokenPair, 401, 429, 503];
    POST "/api/v1/auth/refresh" => api_auth::refresh, Rule::Anonymous, {api_auth::RefreshBody} [200 TokenPair, 401];
    POST "/api/v1/auth/logout" => api_auth::logout, Rule::Anonymous, {api_auth::RefreshBody} [204, 401];
    POST "/api/v1/auth/verify-email" => api_account::verify_email, Rule::Anonymous, {api_account::TokenBody} [200 api_auth::UserAnswer, 410];
    POST "/api/v1/auth/verify-email/resend" => api_account::resend_verification, Rule::Anonymous, {api_account::EmailBody} [202 api_account::Message, 429];
    POST "/api/v1/auth/password/forgot" => api_account::forgot_password, Rule::Anonymous, {api_account::EmailBody} [202 api_account::Message, 429];
    POST "/api/v1/auth/password/reset" => api_account::reset_password, Rule::Anonymous, {api_account::ResetBody} [204, 410, 429];
    GET "/api/v1/me" => api_auth::me, Rule::FirstParty, {} [200 api_auth::Me];
    PATCH "/api/v1/me" => api_account::update_me, Rule::FirstParty, {api_account::ProfileBody} [200 api_auth::UserAnswer];
    DELETE "/api/v1/me" => api_account::delete_me, Rule::FirstParty, {api_account::PasswordOnly} [204, 409, 429];
    POST "/api/v1/me/password" => api_account::change_password, Rule::FirstParty, {api_account::PasswordBody} [200 TokenPair, 429];
    POST "/api/v1/me/email" => api_account::change_email, Rule::FirstParty, {api_account::ChangeEmailBody} [202 api_account::EmailChange, 409, 429];
    POST "/api/v1/me/verify-email" => api_account::resend_my_verification, Rule::FirstParty, {} [202 api_account::Message, 409, 429];
    GET "/api/v1/me/mfa" => api_mfa::status, Rule::FirstParty, {} [200 api_mfa::MfaStatus];
    POST "/api/v1/me/mfa/totp" => api_mfa::start_totp, Rule::FirstParty, {} [201 api_mfa::TotpEnrolment, 409];
    POST "/api/v1/me/mfa/totp/confirm" => api_mfa::confirm_totp, Rule::FirstParty, {api_mfa::CodeBody} [200 api_mfa::TotpEnabled, 409, 429];
    DELETE "/api/v1/me/mfa/totp" => api_mfa::remove_totp, Rule::FirstParty, {api_mfa::PasswordBody} [204, 409, 429];
    GET "/api/v1/me/actors" => api_delegation::list_actors, Rule::FirstParty, {} [200 api_delegation::MayActList];
    PUT "/api/v1/me/actors/{actor}" => api_delegation::allow_actor, Rule::FirstParty, {} [200 api_delegation::MayActAnswer];
    DELETE "/api/v1/me/actors/{actor}" => api_delegation::disallow_actor, Rule::FirstParty, {} [204];
    POST "/api/v1/me/mfa/recovery-codes" => api_mfa::recovery_codes, Rule::FirstParty, {api_mfa::PasswordBody} [200 api_mfa::RecoveryCodes, 409, 429];

    POST "/api/v1/organizations" => api_orgs::create, Rule::FirstParty, {api_orgs::NameBody} [201 api_orgs::OrgAnswer];
    GET "/api/v1/organizations" => api_orgs::list, Rule::Caller { scope: "org:read" }, {} [200 api_orgs::OrgList];
    GET "/api/v1/organizations/{org}" => api_orgs::show, org("org:read", Member, KEYS), {} [200 api_orgs::OrgAnswer];
    PATCH "/api/v1/organizations/{org}" => api_orgs::update, org("org:write", Owner, USERS), {api_orgs::UpdateOrgBody} [200 api_orgs::OrgAnswer];
    GET "/api/v1/organizations/{org}/members" => api_orgs::list_members, org("members:read", Member, KEYS), {} [200 api_orgs::MemberList];
    PATCH "/api/v1/organizations/{org}/members/{user}" => api_orgs::change_member, org("members:write", Admin, USERS), {api_orgs::RoleBody} [200 api_orgs::MemberAnswer, 409];
    DELETE "/api/v1/organizations/{org}/members/{user}" => api_orgs::remove_member, org("members:write", Member, USERS), {} [204, 409];
    POST "/api/v1/organizations/{org}/invites" => api_orgs::invite, org("members:write", Admin, USERS), {api_orgs::InviteBody} [201 api_orgs::InviteAnswer, 409];
    POST "/api/v1/invites/{id}/accept" => api_orgs::accept, Rule::OptionalFirstParty, {api_orgs::AcceptBody} [200 api_auth::NewAccount, 409, 410];
    GET "/api/v1/organizations/{org}/audit" => api_audit::list, org("audit:read", Owner, KEYS), ?api_audit::Query {} [200 AuditPage, 400];

    POST "/api/v1/organizations/{org}/api-keys" => api_keys::create_key, org("api-keys:write", Admin, KEYS), {api_keys::KeyBody} [201 api_keys::KeyAnswer];
    GET "/api/v1/organizations/{org}/api-keys" => api_keys::list_keys, org("api-keys:read", Member, KEYS), {} [200 api_keys::KeyList];
    GET "/api/v1/organizations/{org}/api-keys/{id}" => api_keys::show_key, org("api-keys:read", Member, KEYS), {} [200 api_keys::KeyAnswer];
    PATCH "/api/v1/organizations/{org}/api-keys/{id}" => api_keys::update_key, org("api-keys:write", Admin, KEYS), {api_keys::KeyBody} [200 api_keys::KeyAnswer, 409];
    DELETE "/api/v1/organizations/{org}/api-keys/{id}" => api_keys::revoke_key, org("api-keys:write", Admin, KEYS), {} [200 api_keys::KeyAnswer, 409];
    POST "/api/v1/organizations/{org}/api-keys/{id}/rotate" => api_keys::rotate_key, org("api-keys:write", Admin, KEYS), {api_keys::RotateBody; optional} [200 api_keys::KeyAnswer, 409];

    POST "/api/v1/organizations/{org}/agents" => api_keys::create_agent, org("agents:write", Admin, KEYS), {api_keys::AgentBody} [201 api_keys::AgentAnswer, 409];
    GET "/api/v1/organizations/{org}/agents" => api_keys::list_agents, org("agents:read", Member, KEYS), {} [200 api_keys::AgentList];
    GET "/api/v1/organizations/{org}/agents/{id}" => api_keys::show_agent, org("agents:read", Member, KEYS), {} [200 api_keys::AgentAnswer];
    PATCH "/api/v1/organizations/{org}/agents/{id}" => api_keys::update_agent, org("agents:write", Admin, KEYS), {api_keys::AgentBody} [200 api_keys::AgentAnswer, 409];
    DELETE "/api/v1/organizations/{org}/agents/{id}" => api_keys::delete_agent, org("agents:write", Admin, KEYS), {} [204];
    POST "/api/v1/organizations/{org}/agents/{id}/credentials" => api_delegation::create_credentials, org("agents:write", Admin, USERS), {} [201 api_delegation::AgentCredentialAnswer];
    GET "/api/v1/organizations/{org}/agents/{id}/credentials" => api_delegation::list_credentials, org("agents:read", Member, KEYS), {} [200 api_delegation::AgentCredentialList];
    DELETE "/api/v1/organizations/{org}/agents/{id}/credentials/{client}" => api_delegation::delete_credentials, org("agents:write", Admin, USERS), {} [204];

    POST "/api/v1/organizations/{org}/services" => gateway::create, org("services:write", Admin, KEYS), {gateway::ServiceBody} [201 gateway::ServiceAnswer, 409];
    GET "/api/v1/organizations/{org}/services" => gateway::list, org("services:read", Member, KEYS), {} [200 gateway::ServiceList];
    GET "/api/v1/organizations/{org}/services/{name}" => gateway::show, org("services:read", Member, KEYS), {} [200 gateway::ServiceAnswer];
    PATCH "/api/v1/organizations/{org}/services/{name}" => gateway::update, org("services:write", Admin, KEYS), {gateway::ServiceBody} [200 gateway::ServiceAnswer];
    DELETE "/api/v1/organizations/{org}/services/{name}" => gateway::remove, org("services:write", Admin, KEYS), {} [204];
    GET "/api/v1/organizations/{org}/usage" => gateway::usage, org("services:read", Owner, KEYS), ?gateway::UsageQuery {} [200 gateway::UsageList, 400];

    POST "/api/v1/admin/resources" => api_resources::create, Rule::Operator, {api_resources::ResourceBody} [201 api_resources::ResourceAnswer, 409];
    GET "/api/v1/admin/resources" => api_resources::list, Rule::Operator, {} [200 api_resources::ResourceList];
    GET "/api/v1/admin/resources/{id}" => api_resources::show, Rule::Operator, {} [200 api_resources::ResourceAnswer];
    PUT "/api/v1/admin/resources/{id}" => api_resources::update, Rule::Operator, {api_resources::ResourceBody} [200 api_resources::ResourceAnswer, 409];
    DELETE "/api/v1/admin/resources/{id}" => api_resources::remove, Rule::Operator, {} [204];
    GET "/api/v1/admin/backchannel-logouts" => api_backchannel::list, Rule::Operator, {} [200 api_backchannel::LogoutList];

    POST "/api/v1/authorize-request" => api_keys::authorize_request, Rule::Caller { scope: "authorize" }, {api_keys::AuthorizeBody} [200 api_keys::Decision];
    GET "/api/v1/forward-auth" => api_keys::forward_auth, Rule::Caller { scope: "authorize" }, {} [200, 400];
}

/// The route table as the Markdown of docs/security.md's "Who may call what".
pub fn markdown() -> String {
    let mut out = String::from("| method | path | who may call it |\n|---|---|---|\n");
    for r in API_ROUTES {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            r.method,
            r.path,
            r.rule.describe()
        ));
    }
    out
}

/// The OpenAPI document of [`API_ROUTES`], built on first use.
pub fn openapi_document() -> &'static serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| crate::openapi::build(API_ROUTES))
}
