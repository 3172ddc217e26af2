//! The proofs of the flows, and what cannot be written without them.
//!
//! Each proof has private fields, so only the check that makes it can: code outside this crate
//! holds proofs, passes them on, reads grants, but cannot forge any of them. The examples below
//! are compiled by `cargo test --doc` and must fail to compile; each is a way of skipping a
//! check.
//!
//! A grant cannot be written by hand, so no token can be signed for a request that was never
//! checked:
//! ```compile_fail
//! let grant = grants::ClientGrant { client_id: "c".into(), scope: grants::Scope::default(), audience: vec![] };
//! ```
//! ```compile_fail
//! fn forge(user: accounts::User) -> grants::UserGrant {
//!     grants::UserGrant { user, client_id: "c".into(), id_token_alg: "RS256".into(),
//!         scope: grants::Scope::default(), audience: vec![], auth_time: 0, nonce: None, sid: None }
//! }
//! ```
//! PKCE cannot be declared verified:
//! ```compile_fail
//! let verified = grants::PkceVerified(());
//! ```
//! The token request's redirect URI cannot be declared matched, nor a code redeemed:
//! ```compile_fail
//! let matched = grants::RedirectMatched(());
//! ```
//! ```compile_fail
//! let redeemed = grants::CodeRedeemed(());
//! ```
//! An authorization request cannot be made without `check_authorization` (which matches the
//! redirect URI), nor changed after it:
//! ```compile_fail
//! fn retarget(mut request: grants::AuthorizationRequest) -> grants::AuthorizationRequest {
//!     request.redirect_uri = "https://attacker.example/cb".into();
//!     request
//! }
//! ```
//! A code is issued only with the user's consent (or a first-party client), which only
//! `remembered_consent` and `give_consent` make:
//! ```compile_fail
//! fn skip_consent(conn: &mut store::Conn, request: &grants::AuthorizationRequest, session: &accounts::Session) {
//!     let consent = grants::Consented { user_id: session.user_id.clone(), client_id: request.client_id().into(), scope: request.scope().clone() };
//!     let _ = grants::issue_code(conn, request, consent, session, 0);
//! }
//! ```
//! ```compile_fail
//! fn skip_consent(conn: &mut store::Conn, request: &grants::AuthorizationRequest, session: &accounts::Session) {
//!     let _ = grants::issue_code(conn, request, (), session, 0);
//! }
//! ```
//! A device code is approved only with the user's consent, and gives tokens only from a poll
//! that found it approved (`DeviceApproved`) and spent it (`DeviceRedeemed`):
//! ```compile_fail
//! fn skip_consent(conn: &mut store::Conn, pending: &grants::PendingDevice, session: &accounts::Session) {
//!     let _ = grants::approve_device(conn, pending, (), session, 0);
//! }
//! ```
//! ```compile_fail
//! let redeemed = grants::DeviceRedeemed(());
//! ```
//! ```compile_fail
//! fn approved(row: store::device::DeviceCodeRow) -> grants::DeviceApproved {
//!     grants::DeviceApproved { row }
//! }
//! ```
//! A client is authenticated only by `registration::authenticate` (or `check_credentials`):
//! ```compile_fail
//! fn forge(client: registration::Client) -> registration::VerifiedClient {
//!     registration::VerifiedClient { client, method: registration::AuthMethod::None }
//! }
//! ```
//!
//! What does compile: the flow with its proofs, e.g. a code exchange takes only a
//! `VerifiedClient` and the request's own values, and makes every other proof itself:
//! ```no_run
//! fn exchange(
//!     conn: &mut store::Conn,
//!     signer: &dyn grants::Sign,
//!     client: &registration::VerifiedClient,
//!     policy: &grants::Policy<'_>,
//! ) -> Result<grants::Issued, grants::GrantError> {
//!     let request = grants::CodeExchange { code: "…", redirect_uri: None, verifier: None, resources: &[] };
//!     grants::exchange_code(conn, signer, client, &request, policy, 0)
//! }
//! ```

pub use crate::code::{CodeRedeemed, PresentedCode, RedirectMatched};
pub use crate::consent::Consented;
pub use crate::device::{DeviceApproved, DeviceRedeemed};
pub use crate::pkce::PkceVerified;
