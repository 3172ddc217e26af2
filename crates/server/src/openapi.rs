//! The OpenAPI 3.1 document of the JSON API (`GET /api/v1/openapi.json`), built from the route
//! table and nothing else: every line of `api_routes!` (`routes/api.rs`) names its request
//! body and its answers as Rust types, and this module turns `API_ROUTES` into paths,
//! operations, path parameters, security requirements (from each route's [`Rule`]) and the
//! schemas of those types (their `ToSchema` derives, which follow their serde attributes). A
//! route cannot be served without being in the table, so it cannot be served undocumented.
//!
//! The server tests check every `/api/v1` answer they receive against this document
//! (`tests/server/openapi.rs`), so a type's schema and what the handler sends cannot drift.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::access::{ApiRoute, Rule};
use crate::errors::api::ApiErrorBody;

/// Adds a type's schema (and those it refers to) to the components; answers a reference to it.
pub type SchemaFn = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

/// The schema of `T` as a component, and a reference to it.
pub fn schema_of<T: ToSchema>(components: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    T::schemas(components);
    let name = T::name();
    components.push((name.to_string(), T::schema()));
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// One documented answer of a route.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // function pointers; `RouteDoc`'s `Debug` shows statuses.
pub enum Answer {
    /// A success with this JSON body.
    Json(u16, SchemaFn),
    /// A success without a body (204), or an error in the JSON error shape (4xx, 5xx).
    Bare(u16),
}

impl Answer {
    pub fn status(&self) -> u16 {
        match self {
            Self::Json(s, _) | Self::Bare(s) => *s,
        }
    }
}

/// What the document says of a route besides its method, path and rule: the request body's
/// type and the answers (success statuses with their types, and the route's own error statuses;
/// the errors every route of its kind can give are added from the rule and the path).
#[derive(Clone, Copy)]
pub struct RouteDoc {
    /// The handler, for the operation id.
    pub handler: &'static str,
    pub body: Option<SchemaFn>,
    /// Whether a route with a body needs one (rotating a key takes none, or options).
    pub body_required: bool,
    /// The query parameters, if the route reads any.
    pub query: Option<ParamsFn>,
    pub answers: &'static [Answer],
}

/// A route's query parameters, from the type it reads them into (`utoipa::IntoParams`).
pub type ParamsFn = fn() -> Vec<utoipa::openapi::path::Parameter>;

/// The query parameters of `T`.
pub fn query_params_of<T: utoipa::IntoParams>() -> Vec<utoipa::openapi::path::Parameter> {
    T::into_params(|| Some(utoipa::openapi::path::ParameterIn::Query))
}

impl std::fmt::Debug for RouteDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteDoc")
            .field("handler", &self.handler)
            .field("body", &self.body.is_some())
            .field(
                "answers",
                &self.answers.iter().map(Answer::status).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Route documentation compares by what it documents (function pointers do not compare
/// reliably).
impl PartialEq for RouteDoc {
    fn eq(&self, other: &Self) -> bool {
        self.handler == other.handler
    }
}
impl Eq for RouteDoc {}

/// The security schemes: a bearer credential (an access token, or an API key sent as a bearer
/// token) and an API key in `x-api-key`.
pub const BEARER: &str = "bearer";
pub const API_KEY: &str = "apiKey";

/// The path parameters of a route path (`{org}`, `{id}`…).
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The security requirements a rule means (OpenAPI: any one of the list; an empty object is
/// "no credential").
fn security(rule: &Rule) -> Vec<Value> {
    match rule {
        Rule::Anonymous => vec![],
        Rule::OptionalFirstParty => vec![json!({}), json!({ BEARER: [] })],
        Rule::FirstParty | Rule::Operator => vec![json!({ BEARER: [] })],
        Rule::Caller { scope } => vec![json!({ BEARER: [scope] }), json!({ API_KEY: [scope] })],
        Rule::Org(r) if r.keys => {
            vec![json!({ BEARER: [r.scope] }), json!({ API_KEY: [r.scope] })]
        }
        Rule::Org(r) => vec![json!({ BEARER: [r.scope] })],
    }
}

/// Every status a route can answer: its own, and those its rule, path and body bring
/// (401/403 from the credential check, 400/404 for a path naming nothing or holding a control
/// character, 400/413/415 for a body that cannot be read; 431 for oversized headers and
/// 500/503 everywhere).
pub fn statuses(route: &ApiRoute) -> BTreeMap<u16, Option<SchemaFn>> {
    let mut out = BTreeMap::new();
    for a in route.doc.answers {
        match a {
            Answer::Json(s, f) => out.insert(*s, Some(*f)),
            Answer::Bare(s) => out.insert(*s, None),
        };
    }
    let mut errors = vec![431, 500, 503];
    match route.rule {
        Rule::Anonymous => {}
        Rule::OptionalFirstParty
        | Rule::FirstParty
        | Rule::Operator
        | Rule::Caller { .. }
        | Rule::Org(_) => errors.extend([401, 403]),
    }
    if !path_params(route.path).is_empty() {
        errors.extend([400, 404]);
    }
    if route.doc.body.is_some() {
        errors.extend([400, 413, 415]);
    }
    for s in errors {
        out.entry(s).or_insert(None);
    }
    out
}

fn reason(status: u16) -> &'static str {
    actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Answer")
}

fn json_content(schema: &RefOr<Schema>) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn operation(route: &ApiRoute, components: &mut Vec<(String, RefOr<Schema>)>) -> Value {
    let error = schema_of::<ApiErrorBody>(components);
    let mut responses = Map::new();
    for (status, schema) in statuses(route) {
        let answer = match schema {
            Some(f) => {
                json!({ "description": reason(status), "content": json_content(&f(components)) })
            }
            None if status < 400 => json!({ "description": reason(status) }),
            None => json!({ "description": reason(status), "content": json_content(&error) }),
        };
        responses.insert(status.to_string(), answer);
    }
    let mut parameters: Vec<Value> = path_params(route.path)
        .into_iter()
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if let Some(query) = route.doc.query {
        parameters.extend(
            query()
                .into_iter()
                .map(|p| serde_json::to_value(p).unwrap_or(Value::Null)),
        );
    }
    let mut op = json!({
        "operationId": route.doc.handler.replace("::", "_"),
        "tags": [tag(route.path)],
        "description": format!("Who may call it: {}.", route.rule.describe()),
        "responses": responses,
        "security": security(&route.rule),
    });
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if let Some(body) = route.doc.body {
        op["requestBody"] = json!({
            "required": route.doc.body_required,
            "content": json_content(&body(components)),
        });
    }
    op
}

/// The operation's group: the path's first segment after `/api/v1` (the organization's
/// sub-resource for organization routes).
fn tag(path: &str) -> String {
    let rest: Vec<&str> = path
        .trim_start_matches("/api/v1/")
        .split('/')
        .filter(|s| !s.starts_with('{'))
        .collect();
    match rest.as_slice() {
        ["organizations", sub, ..] => (*sub).to_owned(),
        [first, ..] => (*first).to_owned(),
        [] => "api".to_owned(),
    }
}

/// The document of a route table (`routes::api::openapi_document` keeps the one of
/// `API_ROUTES`, built on first use).
pub fn build(routes: &[ApiRoute]) -> Value {
    let mut components = Vec::new();
    let mut paths = Map::new();
    for route in routes {
        let op = operation(route, &mut components);
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.to_ascii_lowercase()] = op;
    }
    let schemas: Map<String, Value> = components
        .into_iter()
        .map(|(name, schema)| {
            let schema = serde_json::to_value(schema).unwrap_or(Value::Null);
            (name, schema)
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Portcullis JSON API",
            "version": "1",
            "description": "The account, organization, API-key, agent, gateway and authorization-check API of Portcullis. Errors answer {\"error\":{\"code\",\"message\",\"type\"}} (ApiError). OAuth and OpenID Connect endpoints are described by /.well-known/openid-configuration, not here.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Authorization: Bearer with an access token (the first-party token of /api/v1/auth/*, or a third-party token granted the scope named), or an organization API key (pcl_sk_…). The scopes listed are the API scope a third-party token or API key must hold.",
                },
                API_KEY: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "An organization API key holding the scope named; it wins over Authorization.",
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::api::API_ROUTES;

    fn document() -> &'static Value {
        crate::routes::api::openapi_document()
    }

    #[test]
    fn path_parameters_are_read_from_the_path() {
        assert_eq!(
            path_params("/api/v1/organizations/{org}/api-keys/{id}"),
            ["org", "id"]
        );
        assert!(path_params("/api/v1/me").is_empty());
    }

    #[test]
    fn every_route_of_the_table_is_an_operation_of_the_document() {
        let doc = document();
        for r in API_ROUTES {
            let op = &doc["paths"][r.path][r.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} is not documented", r.method, r.path);
            for name in path_params(r.path) {
                let params = op["parameters"].as_array().expect("parameters");
                assert!(
                    params.iter().any(|p| p["name"] == name),
                    "{} {name}",
                    r.path
                );
            }
        }
    }

    #[test]
    fn query_parameters_come_from_the_type_the_handler_reads() {
        let doc = document();
        let names = |path: &str| -> Vec<String> {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().expect("name").to_owned())
                .collect()
        };
        assert_eq!(
            names("/api/v1/organizations/{org}/audit"),
            ["limit", "cursor", "kind"]
        );
        assert_eq!(
            names("/api/v1/organizations/{org}/usage"),
            ["service", "agent", "since", "limit"]
        );
    }

    #[test]
    fn every_reference_names_a_schema_of_the_document() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for part in text.split("\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            assert!(
                schemas.contains_key(name),
                "{name} is referred to but missing"
            );
        }
    }

    #[test]
    fn the_security_of_a_route_follows_its_rule() {
        let doc = document();
        let op = |m: &str, p: &str| doc["paths"][p][m]["security"].clone();
        assert_eq!(op("post", "/api/v1/auth/login"), json!([]));
        assert_eq!(op("get", "/api/v1/me"), json!([{ "bearer": [] }]));
        assert_eq!(
            op("get", "/api/v1/organizations/{org}/agents"),
            json!([{ "bearer": ["agents:read"] }, { "apiKey": ["agents:read"] }])
        );
        // Users only: no API key.
        assert_eq!(
            op("patch", "/api/v1/organizations/{org}"),
            json!([{ "bearer": ["org:write"] }])
        );
    }
}
