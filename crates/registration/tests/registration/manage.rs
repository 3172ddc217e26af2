//! The registration endpoints' decisions (`registration::manage`) without HTTP: who may
//! register, what an RFC 7592 call may change, the rotation of the registration access token
//! and the client information response. The server's tests (`tests/server/register.rs`) check
//! the same calls over HTTP.

use registration::manage::{self, Update};
use registration::{
    ClientInformation, MetadataErrorCode, RegistrationError, RegistrationMode,
    create_initial_access_token, find_client, list_clients, parse_metadata,
    verify_registration_token,
};
use serde_json::{Value, json};
use store::Conn;

use super::{NOW, policy};

const ISSUER: &str = "https://auth.example";

fn service() -> Value {
    json!({ "grant_types": ["client_credentials"], "scope": "orders:read", "client_name": "Orders" })
}

fn public_app() -> Value {
    json!({ "redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "none" })
}

/// Registers `body` under the open mode.
fn registered(conn: &mut Conn, body: &Value) -> ClientInformation {
    let admitted = manage::admit(RegistrationMode::Open, None).expect("open");
    let metadata = parse_metadata(body, &policy()).expect("metadata");
    manage::register(conn, admitted, metadata, NOW).expect("register")
}

fn text(info: &Value, field: &str) -> String {
    info[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {info}"))
        .to_owned()
}

fn update(body: Value) -> Update {
    Update::parse(&body, &policy()).expect("update body")
}

#[test]
fn admission_follows_the_mode_and_needs_a_token_only_in_token_mode() {
    assert!(matches!(
        manage::admit(RegistrationMode::Closed, Some("anything")),
        Err(RegistrationError::Closed)
    ));
    assert!(matches!(
        manage::admit(RegistrationMode::Token, None),
        Err(RegistrationError::InitialTokenRequired)
    ));
    let admitted = manage::admit(RegistrationMode::Token, Some("iat-secret")).expect("token");
    assert!(
        !format!("{admitted:?}").contains("iat-secret"),
        "Debug hides the initial access token"
    );
    manage::admit(RegistrationMode::Open, None).expect("open without a token");
}

#[test]
fn an_update_body_is_read_without_the_database() {
    for body in [Value::Null, json!([1, 2]), json!("text")] {
        match Update::parse(&body, &policy()) {
            Err(RegistrationError::Metadata(e)) => {
                assert_eq!(e.code, MetadataErrorCode::InvalidClientMetadata);
                assert_eq!(e.description, "the body must be a JSON object");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    let bad = Update::parse(&json!({ "redirect_uris": ["not a url"] }), &policy());
    assert!(matches!(
        bad,
        Err(RegistrationError::Metadata(e)) if e.code == MetadataErrorCode::InvalidRedirectUri
    ));
    let with_secret = update(
        json!({ "client_id": "c", "client_secret": "s3cret-value", "grant_types": ["client_credentials"] }),
    );
    assert!(!format!("{with_secret:?}").contains("s3cret-value"));
}

#[test]
fn the_wire_texts_of_the_refusals_are_fixed() {
    for (e, text) in [
        (
            RegistrationError::Closed,
            "dynamic client registration is closed on this server",
        ),
        (
            RegistrationError::InitialTokenRequired,
            "an initial access token is required",
        ),
        (
            RegistrationError::InitialTokenInvalid,
            "the initial access token is not valid",
        ),
        (
            RegistrationError::RegistrationTokenRequired,
            "a registration access token is required",
        ),
        (
            RegistrationError::NotManaged,
            "the registration access token is not valid for this client",
        ),
        (
            RegistrationError::ClientIdMismatch,
            "the body must carry this client's client_id",
        ),
        (
            RegistrationError::ServerField("client_id_issued_at"),
            "client_id_issued_at is set by the server and may not be sent",
        ),
        (
            RegistrationError::SecretMismatch,
            "client_secret does not match the current secret",
        ),
    ] {
        assert_eq!(e.to_string(), text);
    }
}

store::backend_tests! {
    fn the_information_response_carries_the_metadata_and_the_credentials(db) {
        let mut conn = db.store().conn().expect("conn");
        let info = registered(&mut conn, &service());
        let body = info.to_json(ISSUER);
        let id = text(&body, "client_id");
        assert_eq!(id, info.client().id);
        assert_eq!(body["client_id_issued_at"], NOW);
        assert_eq!(body["client_secret_expires_at"], 0);
        assert_eq!(body["client_name"], "Orders");
        assert_eq!(body["scope"], "orders:read");
        assert_eq!(body["grant_types"], json!(["client_credentials"]));
        assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(body["registration_client_uri"], format!("{ISSUER}/oauth2/register/{id}"));
        assert!(info.has_new_secret());
        assert_eq!(text(&body, "client_secret").len(), 43);
        let token = text(&body, "registration_access_token");
        assert!(verify_registration_token(&mut conn, &id, &token).expect("verify").is_some());

        let public = registered(&mut conn, &public_app()).to_json(ISSUER);
        assert!(public.get("client_secret").is_none());
        assert!(public.get("client_secret_expires_at").is_none(), "no secret, so no expiry");
        assert_eq!(public["token_endpoint_auth_method"], "none");
    }

    fn token_mode_spends_the_initial_access_token_before_storing_anything(db) {
        let mut conn = db.store().conn().expect("conn");
        let iat = create_initial_access_token(&mut conn, NOW, 3600, 1).expect("iat");
        let meta = || parse_metadata(&service(), &policy()).expect("metadata");
        let admit = |t: &str| manage::admit(RegistrationMode::Token, Some(t)).expect("admitted");

        let made_up = manage::register(&mut conn, admit("made-up"), meta(), NOW);
        assert!(matches!(made_up, Err(RegistrationError::InitialTokenInvalid)));
        assert!(list_clients(&mut conn).expect("list").is_empty());

        manage::register(&mut conn, admit(iat.expose()), meta(), NOW).expect("first use");
        let again = manage::register(&mut conn, admit(iat.expose()), meta(), NOW);
        assert!(matches!(again, Err(RegistrationError::InitialTokenInvalid)), "used up");
        assert_eq!(list_clients(&mut conn).expect("list").len(), 1);
    }

    fn reading_rotates_the_registration_token_and_never_shows_the_secret(db) {
        let mut conn = db.store().conn().expect("conn");
        let created = registered(&mut conn, &service()).to_json(ISSUER);
        let id = text(&created, "client_id");
        let first = text(&created, "registration_access_token");

        assert!(matches!(
            manage::read(&mut conn, &id, None, NOW),
            Err(RegistrationError::RegistrationTokenRequired)
        ));
        assert!(matches!(
            manage::read(&mut conn, &id, Some("wrong"), NOW),
            Err(RegistrationError::NotManaged)
        ));
        assert!(matches!(
            manage::read(&mut conn, "no-such-client", Some(&first), NOW),
            Err(RegistrationError::NotManaged)
        ));

        let read = manage::read(&mut conn, &id, Some(&first), NOW + 10).expect("read");
        assert!(!read.has_new_secret());
        let body = read.to_json(ISSUER);
        assert!(body.get("client_secret").is_none(), "the secret is shown only once");
        assert_eq!(body["client_secret_expires_at"], 0);
        assert_eq!(body["client_name"], "Orders");
        let second = text(&body, "registration_access_token");
        assert_ne!(second, first);
        assert!(matches!(
            manage::read(&mut conn, &id, Some(&first), NOW + 20),
            Err(RegistrationError::NotManaged)
        ), "the old token is spent");
        manage::read(&mut conn, &id, Some(&second), NOW + 20).expect("the new one works");
    }

    fn an_update_must_name_its_client_and_may_not_send_server_fields(db) {
        let mut conn = db.store().conn().expect("conn");
        let other = registered(&mut conn, &service()).client().id.clone();
        let created = registered(&mut conn, &service()).to_json(ISSUER);
        let id = text(&created, "client_id");
        let token = text(&created, "registration_access_token");
        let body = |extra: Value| {
            let mut b = service();
            if let (Some(b), Value::Object(extra)) = (b.as_object_mut(), extra) {
                b.extend(extra);
            }
            update(b)
        };
        let refused = |conn: &mut Conn, u: Update| {
            manage::replace(conn, &id, Some(&token), u, NOW + 5).expect_err("refused")
        };

        assert!(matches!(refused(&mut conn, body(json!({}))), RegistrationError::ClientIdMismatch));
        assert!(matches!(
            refused(&mut conn, body(json!({ "client_id": other }))),
            RegistrationError::ClientIdMismatch
        ));
        assert!(matches!(
            refused(&mut conn, body(json!({ "client_id": 7 }))),
            RegistrationError::ClientIdMismatch
        ), "a client_id that is not a string names no client");
        // The client_id is checked first, then the server's fields in their listed order.
        assert!(matches!(
            refused(&mut conn, body(json!({ "registration_access_token": token }))),
            RegistrationError::ClientIdMismatch
        ));
        for field in ["registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"] {
            let mut extra = json!({ "client_id": id });
            extra[field] = json!(0);
            match refused(&mut conn, body(extra)) {
                RegistrationError::ServerField(f) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(matches!(
            refused(&mut conn, body(json!({ "client_id": id, "client_id_issued_at": 1, "registration_client_uri": "x" }))),
            RegistrationError::ServerField("registration_client_uri")
        ));
        // Refusals change nothing: the token still works, the metadata is as registered.
        let stored = find_client(&mut conn, &id).expect("find").expect("client");
        assert_eq!(stored.updated_at, NOW);
        assert!(verify_registration_token(&mut conn, &id, &token).expect("verify").is_some());
        // Another client's registration token manages nothing here.
        assert!(matches!(
            manage::replace(&mut conn, &other, Some(&token), body(json!({ "client_id": other })), NOW),
            Err(RegistrationError::NotManaged)
        ));
    }

    fn an_update_may_send_the_client_secret_only_as_it_is(db) {
        let mut conn = db.store().conn().expect("conn");
        let created = registered(&mut conn, &service()).to_json(ISSUER);
        let id = text(&created, "client_id");
        let secret = text(&created, "client_secret");
        let token = text(&created, "registration_access_token");
        let with_secret = |s: &str, name: &str| update(json!({
            "client_id": id, "client_secret": s, "grant_types": ["client_credentials"],
            "scope": "orders:read", "client_name": name,
        }));

        let wrong = manage::replace(&mut conn, &id, Some(&token), with_secret("not-it", "x"), NOW + 1);
        assert!(matches!(wrong, Err(RegistrationError::SecretMismatch)));

        let info = manage::replace(&mut conn, &id, Some(&token), with_secret(&secret, "Renamed"), NOW + 2)
            .expect("the current secret may be sent");
        assert!(!info.has_new_secret(), "a confidential client keeps its secret");
        let body = info.to_json(ISSUER);
        assert_eq!(body["client_name"], "Renamed");
        assert!(body.get("client_secret").is_none());
        let rotated = text(&body, "registration_access_token");
        assert_ne!(rotated, token);
        assert!(verify_registration_token(&mut conn, &id, &token).expect("verify").is_none());
        let stored = find_client(&mut conn, &id).expect("find").expect("client");
        assert_eq!(stored.metadata.client_name.as_deref(), Some("Renamed"));
        assert_eq!(stored.updated_at, NOW + 2);

        // A client registered for client_secret_post still has its secret.
        let post = registered(&mut conn, &json!({
            "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post",
        })).to_json(ISSUER);
        let post_id = text(&post, "client_id");
        let body = json!({
            "client_id": post_id, "client_secret": text(&post, "client_secret"),
            "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post",
        });
        manage::replace(&mut conn, &post_id, Some(&text(&post, "registration_access_token")), update(body), NOW)
            .expect("client_secret_post's secret matches");
    }

    fn a_public_client_that_becomes_confidential_gets_a_secret_and_sends_none_before(db) {
        let mut conn = db.store().conn().expect("conn");
        let created = registered(&mut conn, &public_app()).to_json(ISSUER);
        let id = text(&created, "client_id");
        let token = text(&created, "registration_access_token");
        let confidential = json!({ "client_id": id, "redirect_uris": ["https://a.example/cb"] });

        let mut with_secret = confidential.clone();
        with_secret["client_secret"] = json!("anything");
        let refused = manage::replace(&mut conn, &id, Some(&token), update(with_secret), NOW + 1);
        assert!(matches!(refused, Err(RegistrationError::SecretMismatch)), "a public client has no secret");

        let info = manage::replace(&mut conn, &id, Some(&token), update(confidential), NOW + 1).expect("update");
        assert!(info.has_new_secret());
        let body = info.to_json(ISSUER);
        assert_eq!(text(&body, "client_secret").len(), 43);
        assert_eq!(body["client_secret_expires_at"], 0);
        assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    }

    fn delete_needs_the_clients_token_and_happens_once(db) {
        let mut conn = db.store().conn().expect("conn");
        let created = registered(&mut conn, &public_app()).to_json(ISSUER);
        let id = text(&created, "client_id");
        let token = text(&created, "registration_access_token");

        assert!(matches!(
            manage::delete(&mut conn, &id, None),
            Err(RegistrationError::RegistrationTokenRequired)
        ));
        assert!(matches!(
            manage::delete(&mut conn, &id, Some("wrong")),
            Err(RegistrationError::NotManaged)
        ));
        assert!(find_client(&mut conn, &id).expect("find").is_some(), "still there");

        let deleted = manage::delete(&mut conn, &id, Some(&token)).expect("delete");
        assert_eq!(deleted.id, id);
        assert!(find_client(&mut conn, &id).expect("find").is_none());
        assert!(matches!(
            manage::delete(&mut conn, &id, Some(&token)),
            Err(RegistrationError::NotManaged)
        ));
    }
}
