//! First-party JSON sign-in: `POST /api/v1/auth/signup|login|refresh|logout` and
//! `GET /api/v1/me` (routes and their rules: `routes/api.rs`). Tokens: a JWT access token (`token`) and a rotating refresh token
//! (`refreshToken`) whose reuse revokes its family.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::access::{Expect, FirstPartyUser, verify_access_token};
use crate::audit::Event;
use crate::auth::{client_ip, presented_token};
use crate::errors::{ApiError, json_no_store};
use crate::flows::{NewSession, TokenPair, sign_in, sign_in_new_account, token_pair};
use crate::mfa;
use crate::ratelimit::Limit;
use crate::state::AppState;

/// A required string field, or a 400 naming it.
pub fn required<'a>(value: &'a Option<String>, field: &'static str) -> Result<&'a str, ApiError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        ApiError::bad_request("invalid_field", format!("{field} is required.")).with_param(field)
    })
}

#[derive(Deserialize, ToSchema)]
pub(super) struct SignupBody {
    email: Option<String>,
    password: Option<String>,
    name: Option<String>,
    organization: Option<String>,
}

pub(super) async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<SignupBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let ip = client_ip(&req, &state);
    state
        .limits
        .check(Limit::Signup, ip.as_deref(), state.now())
        .map_err(ApiError::rate_limited)?;
    required(&body.email, "email")?;
    required(&body.password, "password")?;
    required(&body.name, "name")?;
    let answer = crate::traces::block("json_signup", move || -> Result<NewAccount, ApiError> {
        let now = state.now();
        let mut conn = state.store.conn()?;
        let new = accounts::NewUser {
            email: body.email.as_deref().unwrap_or_default(),
            name: body.name.as_deref().unwrap_or_default(),
            password: body.password.as_deref().unwrap_or_default(),
        };
        let (user, org) = accounts::signup(
            &mut conn,
            &state.settings.signup,
            &new,
            body.organization.as_deref(),
            &state.hasher,
            now,
        )?;
        tracing::info!(user = %user.id, org = %org.id, "signed up");
        crate::audit::record(
            &mut conn,
            now,
            Event::new("signup")
                .actor(Some(&user.id))
                .ip(ip.as_deref())
                .org(&org.id)
                .detail(json!({ "via": "api" })),
        );
        crate::account::signed_up(&state, &mut conn, &user);
        let session = sign_in_new_account(&state, &mut conn, &user, now)?;
        let org = super::api_orgs::OrgAnswer::new(&org, accounts::Role::Owner);
        Ok(NewAccount::new(session, &user, org))
    })
    .await??;
    Ok(json_no_store(StatusCode::CREATED, answer))
}

#[derive(Deserialize, ToSchema)]
pub(super) struct LoginBody {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

pub(super) async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let email = body
        .email
        .clone()
        .or(body.username.clone())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_field", "email is required.").with_param("email")
        })?;
    required(&body.password, "password")?;
    let ip = client_ip(&req, &state);
    let now = state.now();
    state
        .limits
        .check(Limit::Login, ip.as_deref(), now)
        .map_err(ApiError::rate_limited)?;
    state
        .throttle
        .check(&email, ip.as_deref(), now)
        .map_err(|t| ApiError::rate_limited(t.retry_after))?;
    let answer = crate::traces::block("json_login", move || -> Result<TokenPair, ApiError> {
        let mut conn = state.store.conn()?;
        let password = body.password.as_deref().unwrap_or_default();
        let require_verified = state.settings.require_verified_email;
        match accounts::authenticate_password(
            &mut conn,
            &email,
            password,
            &state.hasher,
            require_verified,
        ) {
            Ok(user) => {
                let pwd = accounts::AuthMethods::password();
                match mfa::after_first_factor(&mut conn, &user.id, &pwd, false, now)? {
                    mfa::Next::Done => {}
                    // The password was right, but the sign-in is not done: the throttle is
                    // not reset (a code is guessed under the same count).
                    mfa::Next::SecondFactor(token) => {
                        let methods = mfa::METHODS.to_vec();
                        return Err(ApiError::mfa_required(token.expose().to_owned(), methods));
                    }
                    mfa::Next::Enrol(_) => return Err(ApiError::mfa_enrollment_required()),
                }
                state.throttle.record_success(&email);
                tracing::info!(user = %user.id, "signed in");
                let event =
                    Event::login_succeeded(&user.id, ip.as_deref(), json!({ "via": "api" }));
                crate::audit::record(&mut conn, now, event);
                sign_in(&state, &mut conn, &user, &pwd, now)
            }
            Err(e @ accounts::AccountError::EmailNotVerified { .. }) => {
                // The password was right: not a failure to count.
                state.throttle.record_success(&email);
                Err(e.into())
            }
            Err(e) => {
                if matches!(e, accounts::AccountError::InvalidCredentials) {
                    state.throttle.record_failure(&email, ip.as_deref(), now);
                    tracing::info!("sign-in failed");
                    let via = json!({ "via": "api" });
                    let event = Event::login_failed(&mut conn, &email, ip.as_deref(), via);
                    crate::audit::record(&mut conn, now, event);
                }
                Err(e.into())
            }
        }
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, answer))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct MfaBody {
    mfa_token: Option<String>,
    code: Option<String>,
}

/// `POST /api/v1/auth/mfa`: the second step of a JSON sign-in that answered `mfa_required`. A
/// wrong code counts against the user's sign-in throttle and the challenge (five kill it).
pub(super) async fn mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<MfaBody>,
) -> Result<HttpResponse, ApiError> {
    let token = required(&body.mfa_token, "mfaToken")?.to_owned();
    let code = required(&body.code, "code")?.to_owned();
    let ip = client_ip(&req, &state);
    let now = state.now();
    state
        .limits
        .check(Limit::Login, ip.as_deref(), now)
        .map_err(ApiError::rate_limited)?;
    let answer = crate::traces::block("json_mfa", move || -> Result<TokenPair, ApiError> {
        let mut conn = state.store.conn()?;
        let challenge = accounts::find_challenge(&mut conn, &token, now)?;
        let email = challenge.user.email.clone();
        state
            .throttle
            .check(&email, ip.as_deref(), now)
            .map_err(|t| ApiError::rate_limited(t.retry_after))?;
        let ring = mfa::key_ring(&state)?;
        match accounts::answer_challenge(&mut conn, ring, &challenge, &code, now) {
            Ok(amr) => {
                state.throttle.record_success(&email);
                let user = &challenge.user;
                tracing::info!(user = %user.id, "signed in with a second factor");
                let detail = json!({ "via": "api", "amr": amr.claim() });
                let event = Event::login_succeeded(&user.id, ip.as_deref(), detail);
                crate::audit::record(&mut conn, now, event);
                sign_in(&state, &mut conn, user, &amr, now)
            }
            Err(e) => {
                if matches!(e, accounts::AccountError::WrongCode) {
                    state.throttle.record_failure(&email, ip.as_deref(), now);
                    let detail = json!({ "via": "api", "factor": "second" });
                    let event = Event::login_failed(&mut conn, &email, ip.as_deref(), detail);
                    crate::audit::record(&mut conn, now, event);
                }
                Err(e.into())
            }
        }
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, answer))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct RefreshBody {
    refresh_token: Option<String>,
}

pub(super) async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let presented = required(&body.refresh_token, "refreshToken")?.to_owned();
    let answer = crate::traces::block("json_refresh", move || -> Result<TokenPair, ApiError> {
        let now = state.now();
        let mut conn = state.store.conn()?;
        let keyring = state.keys.get(&mut conn, now)?;
        let issued = grants::first_party_refresh(
            &mut conn,
            &state.signer(&keyring),
            &presented,
            &state.policy(),
            now,
        )?;
        Ok(token_pair(&issued))
    })
    .await??;
    Ok(json_no_store(StatusCode::OK, answer))
}

pub(super) async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let presented = required(&body.refresh_token, "refreshToken")?.to_owned();
    let access = presented_token(&req, &state);
    crate::traces::block("json_logout", move || -> Result<(), ApiError> {
        let now = state.now();
        let mut conn = state.store.conn()?;
        // The access token presented with the request dies too, if it is ours and valid.
        let verified = access.and_then(|presented| {
            verify_access_token(
                &state,
                &mut conn,
                &presented.token,
                Expect::OurApis(&presented.presentation),
            )
            .ok()
        });
        let claims = verified.as_ref().map(|v| v.claims());
        let access = claims.map(|c| grants::VerifiedAccess {
            jti: &c.jti,
            exp: c.exp,
            client_id: &c.client_id,
        });
        grants::first_party_sign_out(&mut conn, &presented, access, now)?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// An account as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserAnswer {
    id: String,
    email: String,
    name: String,
    email_verified: bool,
    /// Unix seconds.
    created_at: i64,
}

impl UserAnswer {
    pub(crate) fn new(user: &accounts::User) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            email_verified: user.email_verified,
            created_at: user.created_at,
        }
    }
}

/// A new account (sign-up, an invite accepted): signed in (the token pair), or told what comes
/// first (`emailVerificationRequired`, `mfaEnrollmentRequired`) and then no tokens.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewAccount {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verification_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_enrollment_required: Option<bool>,
    user: UserAnswer,
    organization: super::api_orgs::OrgAnswer,
}

impl NewAccount {
    pub(super) fn new(
        session: NewSession,
        user: &accounts::User,
        organization: super::api_orgs::OrgAnswer,
    ) -> Self {
        let mut answer = Self {
            token: None,
            token_type: None,
            expires_in: None,
            refresh_token: None,
            email_verification_required: None,
            mfa_enrollment_required: None,
            user: UserAnswer::new(user),
            organization,
        };
        match session {
            NewSession::SignedIn(pair) => {
                answer.token = Some(pair.token);
                answer.token_type = Some(pair.token_type);
                answer.expires_in = Some(pair.expires_in);
                answer.refresh_token = pair.refresh_token;
            }
            NewSession::VerifyEmailFirst => answer.email_verification_required = Some(true),
            NewSession::EnrolMfaFirst => answer.mfa_enrollment_required = Some(true),
        }
        answer
    }
}

/// An organization the caller belongs to, and the caller's role there.
#[derive(Serialize, ToSchema)]
pub(super) struct Membership {
    id: String,
    name: String,
    /// `owner`, `admin` or `member`.
    role: String,
}

/// `GET /api/v1/me`: the account and its organizations.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(super) struct Me {
    id: String,
    email: String,
    name: String,
    email_verified: bool,
    created_at: i64,
    organizations: Vec<Membership>,
}

pub(super) async fn me(
    caller: FirstPartyUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let st = state.clone();
    let user_id = caller.user.id.clone();
    let orgs = crate::traces::block("me", move || -> Result<_, ApiError> {
        let mut conn = st.store.conn()?;
        Ok(accounts::orgs_of(&mut conn, &user_id)?)
    })
    .await??;
    let user = &caller.user;
    let body = Me {
        id: user.id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        email_verified: user.email_verified,
        created_at: user.created_at,
        organizations: orgs
            .iter()
            .map(|(o, r)| Membership {
                id: o.id.clone(),
                name: o.name.clone(),
                role: r.as_str().to_owned(),
            })
            .collect(),
    };
    Ok(json_no_store(StatusCode::OK, body))
}
