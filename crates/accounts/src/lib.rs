//! Accounts: the people who sign in and the organizations they belong to.
//!
//! Owns: users (email, name, argon2id password hash), browser sessions, organizations,
//! memberships with roles, invites, the one-time links mailed to users (address verification
//! and change, password reset), the sign-up policy, the identities at upstream OpenID providers
//! linked to users (`upstream.rs`), and the login throttle. It decides who a person is and what
//! role they hold in an organization. (Refresh-token families belong to the flows: `grants`.)
//!
//! Architecture invariants:
//! - Knows nothing about HTTP, cookies or pages: the server turns requests into calls here.
//! - Knows nothing about OAuth clients, grants or signing.
//! - Reads and writes rows only through `store`; never imports diesel.
//! - A plaintext password exists only for the length of a hash or verify call; password rules
//!   are checked before hashing. Session secrets, invite tokens and mailed links'
//!   tokens are stored as SHA-256.
//! - Failed sign-in says the same thing, in about the same time, whether the email is unknown
//!   or the password wrong.

mod auth_methods;
mod error;
mod links;
mod orgs;
mod password;
mod profile;
mod second_factor;
mod sessions;
mod throttle;
mod upstream;
mod users;

pub use auth_methods::{ACR_MFA, ACR_SINGLE_FACTOR, ACR_VALUES, AuthMethod, AuthMethods};
pub use error::AccountError;
pub use links::{
    EmailConfirmed, LinkPurpose, MAIL_GAP, MAIL_PER_HOUR, MailLink, check_reset_link,
    confirm_email, issue_email_verification, request_email_change, request_password_reset,
    reset_password,
};
pub use orgs::{
    Acceptor, Invite, Member, Org, Role, accept_invite, change_role, check_invite, create_invite,
    create_org, find_invite, find_org, invites_of, list_orgs, members, membership, org_ids_by_user,
    orgs_of, remove_member, revoke_invite, search_orgs, set_require_mfa, signup,
};
pub use password::{PasswordHasher, check_password_rules};
pub use profile::{
    DeletedAccount, NewPassword, PasswordProof, SignupMode, SignupPolicy, change_password,
    confirm_password, delete_account, delete_account_as_operator, end_sessions,
    mark_email_verified, rename, set_password_as_operator,
};
pub use second_factor::{
    CHALLENGE_FAILURES, CHALLENGE_TTL, MfaChallenge, RECOVERY_CODES, RecoveryCodes, SecondFactors,
    TotpEnrolment, answer_challenge, confirm_totp, enrol_through_challenge, fail_challenge,
    find_challenge, mfa_required_by_org, pass_challenge, pending_totp, regenerate_recovery_codes,
    remove_totp, reset_second_factors_as_operator, second_factors, start_challenge, start_totp,
    totp_code_for, verify_second_factor,
};
pub use sessions::{
    Session, SessionPolicy, StartedSession, end_session, list_sessions, logout_deliveries,
    resolve_session, revoke_session, start_session,
};
pub use throttle::{LoginThrottle, Throttled};
pub use upstream::{
    NewUpstreamRequest, UPSTREAM_REQUEST_TTL, UpstreamClaims, UpstreamIdentity, UpstreamRefusal,
    UpstreamRequest, UpstreamSignIn, begin_upstream, has_password, link_upstream, sign_in_upstream,
    take_upstream, unlink_upstream, upstream_identities,
};
pub use users::{
    MAX_PAGE, NewUser, User, authenticate_password, create_user, find_user, find_user_by_email,
    list_users, normalize_email, search_users, set_admin, set_disabled,
};
