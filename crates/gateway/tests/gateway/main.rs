//! The gateway crate's rules, tested through its public API (no HTTP): sealed credentials and
//! their binding, master-key rotation, services in the store (on both backends), and where a
//! call may go. The unit tests in `src/` test the pieces (the AEAD, each refused address block,
//! the rebinding resolver); these test what the crate promises its caller.

mod call;
mod sealing;
mod services;
mod target;

use gateway::{MasterKey, NewService, Service};
use store::Conn;

/// The master key of these tests, and a second one for rotations.
const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const OTHER_KEY: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

fn key() -> MasterKey {
    MasterKey::parse(KEY).expect("key")
}

fn other_key() -> MasterKey {
    MasterKey::parse(OTHER_KEY).expect("key")
}

/// A new organization (services belong to one).
fn org(conn: &mut Conn) -> String {
    let id = format!("org_{}", primitives::random_id());
    store::accounts::insert_org(
        conn,
        &store::accounts::OrgRow {
            id: id.clone(),
            name: "Org".into(),
            created_at: 0,
            updated_at: 0,
            require_mfa: false,
        },
    )
    .expect("org");
    id
}

/// A service request with a header credential, https only.
fn new_service<'a>(name: &'a str, base_url: &'a str, value: &'a str) -> NewService<'a> {
    NewService {
        name,
        base_url,
        path_prefix: "",
        credential_kind: "header",
        credential_name: "Authorization",
        credential_value: value,
        allow_http: false,
    }
}

fn create(conn: &mut Conn, org: &str, name: &str, base_url: &str, value: &str) -> Service {
    gateway::create_service(conn, &key(), org, &new_service(name, base_url, value), 10)
        .expect("create")
}

/// The credential of a service as `key` opens it.
fn opened(
    conn: &mut Conn,
    key: &MasterKey,
    org: &str,
    name: &str,
) -> Result<String, gateway::GatewayError> {
    gateway::service_credential(conn, key, org, name).map(|(_, c)| c.value)
}

/// The stored row, to look at or to tamper with as an attacker with database access would.
fn row(conn: &mut Conn, org: &str, name: &str) -> store::gateway::ServiceRow {
    store::gateway::find_service(conn, org, name)
        .expect("find")
        .expect("row")
}
