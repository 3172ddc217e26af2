//! The route table of the JSON API: every `/api/v1` route, its handler and who may call it,
//! in one place. `api_routes!` registers each route wrapped in `access::guard` with its rule,
//! and builds [`API_ROUTES`] from the same lines, so a route cannot be served without a rule
//! and the table cannot drift from what is served. A route registered anywhere else fails the
//! `every_api_route_is_in_the_table` test; docs/security.md's "Who may call what" is this
//! table (checked by `the_security_doc_shows_the_route_table`).

use accounts::Role::{Admin, Member, Owner};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{guard, web};

use super::{api_account, api_audit, api_auth, api_keys, api_mfa, api_orgs, gateway};
use crate::access::{ApiRoute, OrgRule, Rule};

/// An organization rule: the scope, the least role, and whether API keys may call it.
const fn org(scope: &'static str, role: accounts::Role, keys: bool) -> Rule {
    Rule::Org(OrgRule { scope, role, keys })
}

/// Keys and users alike.
const KEYS: bool = true;
/// Members only, never an API key.
const USERS: bool = false;

macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:path, $rule:expr;)*) => {
        /// Every route of `/api/v1`: method, path and rule.
        pub const API_ROUTES: &[ApiRoute] = &[
            $(ApiRoute { method: stringify!($method), path: $path, rule: $rule },)*
        ];

        /// Registers every `/api/v1` route behind its rule.
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
        }
    };
}

api_routes! {
    POST "/api/v1/auth/signup" => api_auth::signup, Rule::Anonymous;
    POST "/api/v1/auth/login" => api_auth::login, Rule::Anonymous;
    POST "/api/v1/auth/mfa" => api_auth::mfa, Rule::Anonymous;
    POST "/api/v1/auth/refresh" => api_auth::refresh, Rule::Anonymous;
    POST "/api/v1/auth/logout" => api_auth::logout, Rule::Anonymous;
    POST "/api/v1/auth/verify-email" => api_account::verify_email, Rule::Anonymous;
    POST "/api/v1/auth/verify-email/resend" => api_account::resend_verification, Rule::Anonymous;
    POST "/api/v1/auth/password/forgot" => api_account::forgot_password, Rule::Anonymous;
    POST "/api/v1/auth/password/reset" => api_account::reset_password, Rule::Anonymous;
    GET "/api/v1/me" => api_auth::me, Rule::FirstParty;
    PATCH "/api/v1/me" => api_account::update_me, Rule::FirstParty;
    DELETE "/api/v1/me" => api_account::delete_me, Rule::FirstParty;
    POST "/api/v1/me/password" => api_account::change_password, Rule::FirstParty;
    POST "/api/v1/me/email" => api_account::change_email, Rule::FirstParty;
    POST "/api/v1/me/verify-email" => api_account::resend_my_verification, Rule::FirstParty;
    GET "/api/v1/me/mfa" => api_mfa::status, Rule::FirstParty;
    POST "/api/v1/me/mfa/totp" => api_mfa::start_totp, Rule::FirstParty;
    POST "/api/v1/me/mfa/totp/confirm" => api_mfa::confirm_totp, Rule::FirstParty;
    DELETE "/api/v1/me/mfa/totp" => api_mfa::remove_totp, Rule::FirstParty;
    POST "/api/v1/me/mfa/recovery-codes" => api_mfa::recovery_codes, Rule::FirstParty;

    POST "/api/v1/organizations" => api_orgs::create, Rule::FirstParty;
    GET "/api/v1/organizations" => api_orgs::list, Rule::Caller { scope: "org:read" };
    GET "/api/v1/organizations/{org}" => api_orgs::show, org("org:read", Member, KEYS);
    PATCH "/api/v1/organizations/{org}" => api_orgs::update, org("org:write", Owner, USERS);
    GET "/api/v1/organizations/{org}/members" => api_orgs::list_members, org("members:read", Member, KEYS);
    PATCH "/api/v1/organizations/{org}/members/{user}" => api_orgs::change_member, org("members:write", Admin, USERS);
    DELETE "/api/v1/organizations/{org}/members/{user}" => api_orgs::remove_member, org("members:write", Member, USERS);
    POST "/api/v1/organizations/{org}/invites" => api_orgs::invite, org("members:write", Admin, USERS);
    POST "/api/v1/invites/{id}/accept" => api_orgs::accept, Rule::OptionalFirstParty;
    GET "/api/v1/organizations/{org}/audit" => api_audit::list, org("audit:read", Owner, KEYS);

    POST "/api/v1/organizations/{org}/api-keys" => api_keys::create_key, org("api-keys:write", Admin, KEYS);
    GET "/api/v1/organizations/{org}/api-keys" => api_keys::list_keys, org("api-keys:read", Member, KEYS);
    GET "/api/v1/organizations/{org}/api-keys/{id}" => api_keys::show_key, org("api-keys:read", Member, KEYS);
    PATCH "/api/v1/organizations/{org}/api-keys/{id}" => api_keys::update_key, org("api-keys:write", Admin, KEYS);
    DELETE "/api/v1/organizations/{org}/api-keys/{id}" => api_keys::revoke_key, org("api-keys:write", Admin, KEYS);
    POST "/api/v1/organizations/{org}/api-keys/{id}/rotate" => api_keys::rotate_key, org("api-keys:write", Admin, KEYS);

    POST "/api/v1/organizations/{org}/agents" => api_keys::create_agent, org("agents:write", Admin, KEYS);
    GET "/api/v1/organizations/{org}/agents" => api_keys::list_agents, org("agents:read", Member, KEYS);
    GET "/api/v1/organizations/{org}/agents/{id}" => api_keys::show_agent, org("agents:read", Member, KEYS);
    PATCH "/api/v1/organizations/{org}/agents/{id}" => api_keys::update_agent, org("agents:write", Admin, KEYS);
    DELETE "/api/v1/organizations/{org}/agents/{id}" => api_keys::delete_agent, org("agents:write", Admin, KEYS);

    POST "/api/v1/organizations/{org}/services" => gateway::create, org("services:write", Admin, KEYS);
    GET "/api/v1/organizations/{org}/services" => gateway::list, org("services:read", Member, KEYS);
    GET "/api/v1/organizations/{org}/services/{name}" => gateway::show, org("services:read", Member, KEYS);
    PATCH "/api/v1/organizations/{org}/services/{name}" => gateway::update, org("services:write", Admin, KEYS);
    DELETE "/api/v1/organizations/{org}/services/{name}" => gateway::remove, org("services:write", Admin, KEYS);
    GET "/api/v1/organizations/{org}/usage" => gateway::usage, org("services:read", Owner, KEYS);

    POST "/api/v1/authorize-request" => api_keys::authorize_request, Rule::Caller { scope: "authorize" };
    GET "/api/v1/forward-auth" => api_keys::forward_auth, Rule::Caller { scope: "authorize" };
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
