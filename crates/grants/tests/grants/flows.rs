//! The flows of `grants` against a real database (each test on SQLite and PostgreSQL), without
//! HTTP: authorization request → consent → code → exchange, refresh rotation, the password
//! grant, client credentials. Signing is a stand-in that records what it was asked to sign; the
//! signatures themselves are `tokens`' tests.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use accounts::{NewUser, PasswordHasher, SessionPolicy};
use grants::{
    CodeExchange, ErrorCode, FormParams, Grant, GrantError, Issued, PasswordAttempt, Policy,
    RefreshRequest, Scope, Sign, SignError, SignedAccess, UserGrant, check_authorization,
    exchange_code, give_consent, issue_code, remembered_consent,
};
use registration::{Client, Presented, VerifiedClient};
use serde_json::json;
use store::Conn;

const NOW: i64 = 1_900_000_000;
const REDIRECT: &str = "https://app.example/cb";
// base64url(SHA-256(VERIFIER)).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wW1gFWFOEjXk";
const CHALLENGE: &str = "bwWFMyPfdG9qreDhH2lmftFx_dFeLDalzcT1gb_j68g";

/// Signs nothing: hands out numbered stand-ins, so a test sees what each flow issued.
struct StandIn;

static SERIAL: AtomicU64 = AtomicU64::new(0);

impl Sign for StandIn {
    fn access_token(&self, grant: &Grant, now: i64) -> Result<SignedAccess, SignError> {
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        Ok(SignedAccess {
            token: format!("at-{n}-{}-{}", grant.subject(), grant.scope()),
            jti: format!("jti-{n}"),
            expires_at: now + 300,
            expires_in: 300,
        })
    }

    fn id_token(
        &self,
        grant: &UserGrant,
        access: &SignedAccess,
        _: i64,
    ) -> Result<String, SignError> {
        Ok(format!(
            "id-{}-{}-{:?}",
            grant.user().id,
            access.jti,
            grant.nonce()
        ))
    }
}

const POLICY: Policy<'static> = Policy {
    default_audience: "https://id.example.test",
    refresh_ttl: 86_400,
    refresh_grace: 0,
    password_grant: true,
    require_verified_email: false,
};

fn hasher() -> &'static PasswordHasher {
    static H: OnceLock<PasswordHasher> = OnceLock::new();
    H.get_or_init(PasswordHasher::new)
}

/// A confidential web client registered for `grant_types`, authenticated.
fn client(conn: &mut Conn, grant_types: &[&str]) -> VerifiedClient {
    let policy = registration::Policy {
        known_scopes: vec!["openid".into(), "profile".into(), "email".into()],
        default_code_scopes: vec!["openid".into()],
        id_token_algs: vec!["RS256".into()],
        allow_password_grant: true,
        backchannel_logout_loopback: false,
    };
    let body = json!({
        "redirect_uris": [REDIRECT],
        "grant_types": grant_types,
        "scope": "openid profile email",
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let metadata = registration::parse_metadata(&body, &policy).expect("metadata");
    let registered = registration::register_client(conn, metadata, false, NOW).expect("register");
    let secret = registered
        .secret
        .expect("a confidential client has a secret");
    let presented = Presented::Basic {
        client_id: registered.client.id.clone(),
        secret: secret.expose().to_owned(),
    };
    registration::check_credentials(Some(registered.client), &presented).expect("credentials")
}

fn user(conn: &mut Conn, email: &str) -> (accounts::User, accounts::Session) {
    let new = NewUser {
        email,
        name: "Ada",
        password: "correct horse battery staple",
    };
    let user = accounts::create_user(conn, &new, hasher(), NOW).expect("user");
    let policy = SessionPolicy {
        absolute: 86_400,
        idle: 3_600,
    };
    let session = accounts::start_session(
        conn,
        &user.id,
        &accounts::AuthMethods::password(),
        NOW,
        policy,
        None,
        None,
    )
    .expect("session")
    .session;
    (user, session)
}

fn request(client: &Client, query: &str) -> grants::AuthorizationRequest {
    let form = FormParams::parse(
        format!(
            "response_type=code&client_id={}&redirect_uri={REDIRECT}&{query}",
            client.id
        )
        .as_bytes(),
    )
    .expect("form");
    check_authorization(&form, Some(client)).expect("a valid request")
}

/// Signs in, consents and gets a code for `scope` with PKCE.
fn code_for(conn: &mut Conn, client: &VerifiedClient, scope: &str) -> (accounts::User, String) {
    let (user, session) = user(
        conn,
        &format!("u{}@example.test", SERIAL.fetch_add(1, Ordering::Relaxed)),
    );
    let request = request(
        client.client(),
        &format!("scope={scope}&nonce=n-1&code_challenge={CHALLENGE}&code_challenge_method=S256"),
    );
    let consented = give_consent(conn, &user, &request, NOW).expect("consent");
    let code = issue_code(conn, &request, consented, &session, NOW).expect("code");
    (user, code.expose().to_owned())
}

fn exchange(
    conn: &mut Conn,
    client: &VerifiedClient,
    code: &str,
    verifier: &str,
    now: i64,
) -> Result<Issued, GrantError> {
    let request = CodeExchange {
        code,
        redirect_uri: Some(REDIRECT),
        verifier: Some(verifier),
        resources: &[],
    };
    exchange_code(conn, &StandIn, client, &request, &POLICY, now)
}

fn refused_with(result: Result<Issued, GrantError>, code: ErrorCode) {
    match result {
        Err(GrantError::Refused(e)) => assert_eq!(e.code, code, "{e}"),
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

fn refresh(
    conn: &mut Conn,
    client: &VerifiedClient,
    token: &str,
    scope: Option<&str>,
    now: i64,
) -> Result<Issued, GrantError> {
    let request = RefreshRequest {
        token,
        scope,
        resources: &[],
    };
    grants::refresh(conn, &StandIn, client, &request, &POLICY, now)
}

store::backend_tests! {
    fn a_code_exchange_issues_the_consented_grant_with_an_id_token_and_a_refresh_token(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code", "refresh_token"]);
        let (user, code) = code_for(&mut conn, &client, "openid%20email");
        let issued = exchange(&mut conn, &client, &code, VERIFIER, NOW + 5).expect("tokens");
        assert_eq!(issued.grant.subject(), user.id);
        assert_eq!(issued.grant.client_id(), client.id());
        assert_eq!(issued.grant.scope().to_string(), "openid email");
        assert_eq!(issued.grant.audience(), ["https://id.example.test"]);
        let id_token = issued.id_token.expect("openid: an ID token");
        assert!(id_token.contains("Some(\"n-1\")"), "the nonce of the request: {id_token}");
        assert!(issued.refresh.is_some(), "registered for refresh_token");
    }

    fn rfc6749_4_1_2_a_replayed_code_is_refused_and_revokes_the_tokens_it_gave(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code", "refresh_token"]);
        let (user, code) = code_for(&mut conn, &client, "openid");
        let first = exchange(&mut conn, &client, &code, VERIFIER, NOW + 5).expect("first");
        match exchange(&mut conn, &client, &code, VERIFIER, NOW + 6) {
            Err(GrantError::CodeReplayed { client_id, user_id, .. }) => {
                assert_eq!((client_id.as_str(), user_id.as_str()), (client.id(), user.id.as_str()));
            }
            other => panic!("expected a replay, got {other:?}"),
        }
        let refresh_token = first.refresh.expect("refresh");
        assert!(
            matches!(refresh(&mut conn, &client, refresh_token.expose(), None, NOW + 7), Err(GrantError::Account(_))),
            "the family the first exchange started is revoked"
        );
        assert!(store::keys::is_access_token_revoked(&mut conn, &first.access.jti).expect("lookup"));
    }

    fn rfc6749_4_1_3_the_redirect_uri_must_repeat_the_authorization_requests(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code"]);
        let (_, code) = code_for(&mut conn, &client, "openid");
        let request = CodeExchange {
            code: &code,
            redirect_uri: Some("https://app.example/other"),
            verifier: Some(VERIFIER),
            resources: &[],
        };
        refused_with(exchange_code(&mut conn, &StandIn, &client, &request, &POLICY, NOW), ErrorCode::InvalidGrant);
    }

    fn rfc7636_4_6_a_wrong_verifier_is_invalid_grant_and_the_code_stays_unused(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code"]);
        let (_, code) = code_for(&mut conn, &client, "openid");
        let wrong = VERIFIER.replace('d', "e");
        refused_with(exchange(&mut conn, &client, &code, &wrong, NOW + 1), ErrorCode::InvalidGrant);
        assert!(exchange(&mut conn, &client, &code, VERIFIER, NOW + 2).is_ok(), "the right verifier still works");
    }

    fn a_code_is_refused_from_its_60th_second(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code"]);
        let (_, code) = code_for(&mut conn, &client, "openid");
        refused_with(exchange(&mut conn, &client, &code, VERIFIER, NOW + grants::CODE_TTL), ErrorCode::InvalidGrant);
    }

    fn a_code_of_another_client_is_invalid_grant(db) {
        let mut conn = db.store().conn().expect("conn");
        let client_a = client(&mut conn, &["authorization_code"]);
        let client_b = client(&mut conn, &["authorization_code"]);
        let (_, code) = code_for(&mut conn, &client_a, "openid");
        refused_with(exchange(&mut conn, &client_b, &code, VERIFIER, NOW + 1), ErrorCode::InvalidGrant);
    }

    fn consent_is_remembered_as_the_union_of_what_was_allowed(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code"]);
        let (user, _) = user(&mut conn, "c@example.test");
        let pkce = format!("code_challenge={CHALLENGE}&code_challenge_method=S256");
        let openid = request(client.client(), &format!("scope=openid&{pkce}"));
        let email = request(client.client(), &format!("scope=email&{pkce}"));
        let both = request(client.client(), &format!("scope=openid%20email&{pkce}"));
        assert!(remembered_consent(&mut conn, &user, client.client(), &openid).expect("read").is_none());
        give_consent(&mut conn, &user, &openid, NOW).expect("allow openid");
        give_consent(&mut conn, &user, &email, NOW).expect("allow email");
        assert!(remembered_consent(&mut conn, &user, client.client(), &both).expect("read").is_some());
        let again = request(client.client(), &format!("scope=openid&prompt=consent&{pkce}"));
        assert!(
            remembered_consent(&mut conn, &user, client.client(), &again).expect("read").is_none(),
            "prompt=consent asks again"
        );
        let apps = grants::allowed_apps(&mut conn, &user.id).expect("apps");
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].scope, Scope::from_stored("openid email"));
        grants::withdraw_consent(&mut conn, &user.id, client.id(), NOW).expect("withdraw");
        assert!(remembered_consent(&mut conn, &user, client.client(), &openid).expect("read").is_none());
    }

    fn rfc6749_6_a_refresh_narrows_the_scope_and_never_widens_it(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code", "refresh_token"]);
        let (_, code) = code_for(&mut conn, &client, "openid%20email");
        let issued = exchange(&mut conn, &client, &code, VERIFIER, NOW + 1).expect("tokens");
        let token = issued.refresh.expect("refresh");
        refused_with(refresh(&mut conn, &client, token.expose(), Some("openid profile"), NOW + 2), ErrorCode::InvalidScope);
        let narrowed = refresh(&mut conn, &client, token.expose(), Some("email"), NOW + 3).expect("narrower");
        assert_eq!(narrowed.grant.scope().to_string(), "email");
        assert!(narrowed.id_token.is_none(), "without openid, no ID token");
        let next = narrowed.refresh.expect("rotated");
        assert_ne!(next.expose(), token.expose());
    }

    fn a_rotated_refresh_token_presented_again_revokes_its_family(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["authorization_code", "refresh_token"]);
        let (_, code) = code_for(&mut conn, &client, "openid");
        let first = exchange(&mut conn, &client, &code, VERIFIER, NOW + 1).expect("tokens").refresh.expect("refresh");
        let second = refresh(&mut conn, &client, first.expose(), None, NOW + 2).expect("rotates").refresh.expect("refresh");
        assert!(refresh(&mut conn, &client, first.expose(), None, NOW + 3).is_err(), "reuse");
        assert!(refresh(&mut conn, &client, second.expose(), None, NOW + 4).is_err(), "the family is revoked");
    }

    fn a_refresh_token_is_refused_to_another_client(db) {
        let mut conn = db.store().conn().expect("conn");
        let client_a = client(&mut conn, &["authorization_code", "refresh_token"]);
        let client_b = client(&mut conn, &["authorization_code", "refresh_token"]);
        let (_, code) = code_for(&mut conn, &client_a, "openid");
        let token = exchange(&mut conn, &client_a, &code, VERIFIER, NOW + 1).expect("tokens").refresh.expect("refresh");
        assert!(refresh(&mut conn, &client_b, token.expose(), None, NOW + 2).is_err());
        assert!(refresh(&mut conn, &client_a, token.expose(), None, NOW + 3).is_ok(), "untouched for its own client");
    }

    fn the_password_grant_issues_for_the_right_password_only(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["password"]);
        let (user, _) = user(&mut conn, "p@example.test");
        let attempt = |password| PasswordAttempt { username: "p@example.test", password, scope: Some("openid") };
        let wrong = grants::password_grant(&mut conn, &StandIn, &client, &attempt("nope"), hasher(), &POLICY, NOW);
        assert!(matches!(wrong, Err(GrantError::WrongPassword)), "{wrong:?}");
        let issued = grants::password_grant(&mut conn, &StandIn, &client, &attempt("correct horse battery staple"), hasher(), &POLICY, NOW)
            .expect("tokens");
        assert_eq!(issued.grant.subject(), user.id);
        assert_eq!(issued.grant.scope().to_string(), "openid");
        assert!(issued.refresh.is_none(), "not registered for refresh_token");
        let off = Policy { password_grant: false, ..POLICY };
        refused_with(
            grants::password_grant(&mut conn, &StandIn, &client, &attempt("correct horse battery staple"), hasher(), &off, NOW),
            ErrorCode::UnsupportedGrantType,
        );
    }

    fn client_credentials_grants_the_client_itself_its_registered_scopes(db) {
        let mut conn = db.store().conn().expect("conn");
        let client = client(&mut conn, &["client_credentials"]);
        let grant = grants::client_credentials(&client, Some("email openid"), Vec::new(), "https://id.example.test").expect("grant");
        assert_eq!(grant.subject(), client.id());
        assert_eq!(grant.scope().to_string(), "openid email", "the registered order");
        let refused = grants::client_credentials(&client, Some("admin"), Vec::new(), "https://id.example.test");
        assert_eq!(refused.map(|_| ()).map_err(|e| e.code), Err(ErrorCode::InvalidScope));
    }
}
