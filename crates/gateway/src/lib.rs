//! The agent gateway: upstream services an organization registers, the credential each one
//! injects (sealed with AES-256-GCM under the master key), and the checks a proxied call
//! passes before any connection is made. The proxying itself (streaming bytes over HTTP) is in
//! the server; this crate decides where a call may go and with what credential.
//!
//! Owns: upstream services and their sealed credentials, the master key, the rules of where a
//! proxied call may go (`target.rs`), every decision of a proxied call before and around the
//! connection (`call.rs`: the caller, the agent, the order of the checks, the headers each
//! way, the usage row), and the JSON of services and usage (`json.rs`).
//!
//! It is a crate of its own, not part of `apikeys`: it owns a secret of a different kind (an
//! upstream credential that must be read back, so encrypted, where API keys are only hashed)
//! and rules about the network (no open proxy, no private addresses).
//!
//! Architecture invariants:
//! - A stored credential is never returned after creation, only its hint; plaintext exists
//!   only while a request is being forwarded.
//! - Without a master key nothing here can run: the gateway is off.
//! - A target is checked (registered host, scheme, address) before the server connects: a
//!   `PreparedCall`, the only holder of a call's URL and credential, is made only by
//!   `prepare_call`, after every check.
//! - Knows no HTTP library: headers are names and bytes, errors are `CallRefused`.
//! - The usage log (`usage.rs`) holds who called which endpoint, status, time and sizes;
//!   never bodies, headers or credentials.

mod call;
mod crypto;
mod error;
mod json;
mod services;
mod target;
mod usage;

pub use call::{
    AGENT_HEADER, AgentCaller, AgentToken, CALL_SCOPE, CallRefused, CallRequest, Caller,
    PreparedCall, SCOPE_HEADER, Target, UpstreamFailure, agent_in_body, agent_named, prepare_call,
    take_agent_from_json,
};
pub use crypto::{MasterKey, enabled};
pub use error::GatewayError;
pub use json::{service_json, usage_json};
pub use services::{
    Credential, CredentialKind, NewService, Service, create_service, delete_service, find_service,
    list_services, reseal_all, service_credential, update_service,
};
pub use target::{
    AddressPolicy, Resolve, SystemResolver, refused_because, required_scope, upstream_url,
    vetted_addrs,
};
pub use usage::{Call, DEFAULT_USAGE_LIMIT, UsageFilter, UsageRow, record_call, usage_of_org};
