//! API keys: keys organizations mint for their services and agents.
//!
//! Owns the key format (`pcl_sk_` + base64url of 32 random bytes; the first characters of the
//! random part are the lookup id), minting (shown once), hashing (SHA-256 at rest: the keys are
//! 256 random bits, a slow KDF would add nothing), constant-time checks, rotation with an
//! optional overlap, scopes, agents, and the decision whether an agent may call a service
//! endpoint.
//!
//! Architecture invariants:
//! - Knows nothing about HTTP: the server extracts the key from `x-api-key` or
//!   `Authorization: Bearer` and hands it here.
//! - Never stores or logs a plaintext key; `Debug` of a key shows its id only.
//! - Parsing untrusted key strings never panics and refuses anything but the one format.

mod agents;
mod error;
mod key;
mod keys;
mod scope;

pub use agents::{
    Agent, agent_to_manage, create_agent, delete_agent, find_agent, list_agents, update_agent,
};
pub use error::KeyError;
pub use key::{KEY_PREFIX, LOOKUP_LEN, ParsedKey, parse_key, split_combined};
pub use keys::{
    ApiKey, NewKey, VerifiedKey, create_key, find_key, find_key_by_id, key_to_manage, list_keys,
    revoke_key, rotate_key, touch_key, update_key, verify_key,
};
pub use scope::{
    API_SCOPES, check_agent_grant, check_agent_scopes, check_grantable, check_key_scopes,
    describe_api_scope, required_scope, scope_covers,
};
