//! Accounts: the people who sign in and the organizations they belong to.
//!
//! Owns: users (email, name, argon2id password hash), browser sessions, organizations,
//! memberships with roles, invites, and the login throttle. It decides who a person is and what
//! role they hold in an organization. (Refresh-token families belong to the flows: `grants`.)
//!
//! Architecture invariants:
//! - Knows nothing about HTTP, cookies or pages: the server turns requests into calls here.
//! - Knows nothing about OAuth clients, grants or signing.
//! - Reads and writes rows only through `store`; never imports diesel.
//! - A plaintext password exists only for the length of a hash or verify call; password rules
//!   are checked before hashing. Session secrets and invite tokens are stored
//!   as SHA-256.
//! - Failed sign-in says the same thing, in about the same time, whether the email is unknown
//!   or the password wrong.

mod error;
mod orgs;
mod password;
mod sessions;
mod throttle;
mod users;

pub use error::AccountError;
pub use orgs::{
    Acceptor, Invite, Member, Org, Role, accept_invite, change_role, create_invite, create_org,
    find_invite, find_org, members, membership, orgs_of, remove_member, signup,
};
pub use password::{PasswordHasher, check_password_rules};
pub use sessions::{
    Session, SessionPolicy, StartedSession, end_session, list_sessions, resolve_session,
    revoke_session, start_session,
};
pub use throttle::{LoginThrottle, Throttled};
pub use users::{
    NewUser, User, authenticate_password, create_user, find_user, find_user_by_email, list_users,
    normalize_email, set_disabled,
};
