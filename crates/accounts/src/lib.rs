//! Accounts: the people who sign in and the organizations they belong to.
//!
//! Owns users (email, name, argon2id password hash), browser sessions, organizations,
//! memberships with roles, and invites. It decides who a person is and what role they hold in
//! an organization.
//!
//! Architecture invariants:
//! - Knows nothing about HTTP, cookies or pages: the server turns requests into calls here.
//! - Knows nothing about OAuth clients, grants or tokens.
//! - Reads and writes rows only through `store`; never imports diesel.
//! - A plaintext password exists only for the length of a hash or verify call.
//!
//! Status: the crate is laid out; users, sessions and organizations arrive with the accounts
//! issue.
