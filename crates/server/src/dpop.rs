//! DPoP (RFC 9449) as requests carry it: the `DPoP` header, the URL a proof must name (from the
//! configured issuer, never the `Host` header), the server nonce, and the replay record. The
//! proof's own check is `tokens::dpop`; the token endpoint (`routes/oauth.rs`) and the one
//! access-token check (`access::verify_access_token`) call this.

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use tokens::dpop::{DpopError, ProofCheck, VerifiedProof};

use crate::state::AppState;

/// The header carrying a server nonce (§8.1).
pub const NONCE_HEADER: HeaderName = HeaderName::from_static("dpop-nonce");

/// How far ahead of the clock a proof's `iat` may be, seconds.
const MAX_SKEW: i64 = 5;

/// How long a server nonce's window is, seconds; a nonce of this or the previous window is
/// accepted.
const NONCE_PERIOD: i64 = 300;

/// Why a request's DPoP proof is refused: a bad proof (`invalid_dpop_proof`), or no valid
/// server nonce (`use_dpop_nonce`, with a fresh one to retry with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpopRefusal {
    Proof(DpopError),
    UseNonce(String),
}

/// What a DPoP refusal's answer says: its `error`, and the nonce to send (`DPoP-Nonce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopChallenge {
    pub error: grants::ErrorCode,
    pub nonce: Option<String>,
}

impl std::fmt::Display for DpopRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Proof(e) => e.fmt(f),
            Self::UseNonce(_) => f.write_str("the DPoP proof must carry the server's nonce"),
        }
    }
}

impl DpopRefusal {
    pub fn challenge(&self) -> DpopChallenge {
        match self {
            Self::Proof(_) => DpopChallenge {
                error: grants::ErrorCode::InvalidDpopProof,
                nonce: None,
            },
            Self::UseNonce(nonce) => DpopChallenge {
                error: grants::ErrorCode::UseDpopNonce,
                nonce: Some(nonce.clone()),
            },
        }
    }
}

/// `WWW-Authenticate: DPoP` (§7.1): the algorithms accepted and, when there is one, the error.
pub fn challenge_header(error: Option<grants::ErrorCode>, description: &str) -> String {
    let algs = tokens::dpop::DPOP_ALGS.join(" ");
    match error {
        Some(error) => format!(
            "DPoP algs=\"{algs}\", error=\"{}\", error_description=\"{}\"",
            error.as_str(),
            description.replace(['"', '\\'], "'")
        ),
        None => format!("DPoP algs=\"{algs}\""),
    }
}

/// The `DPoP` header as a request carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProofHeader {
    Absent,
    One(String),
    /// More than one (§4.3 item 1), or not text.
    Unusable,
}

/// A request's DPoP parts, owned, so they can go to a blocking thread: the proof (if the
/// request has one), and the method and URL it must name.
#[derive(Debug, Clone)]
pub struct DpopRequest {
    proof: ProofHeader,
    htm: String,
    htu: String,
}

impl DpopRequest {
    /// Reads the `DPoP` header and this request's method and URL.
    pub fn of(req: &HttpRequest, state: &AppState) -> Self {
        let mut values = req.headers().get_all("dpop");
        let proof = match (values.next(), values.next()) {
            (None, _) => ProofHeader::Absent,
            (Some(_), Some(_)) => ProofHeader::Unusable,
            (Some(v), None) => match v.to_str() {
                Ok(v) => ProofHeader::One(v.trim().to_owned()),
                Err(_) => ProofHeader::Unusable,
            },
        };
        Self {
            proof,
            htm: req.method().as_str().to_owned(),
            // The endpoints are the issuer's URL and the path, as discovery names them.
            htu: format!("{}{}", state.settings.issuer_str(), req.path()),
        }
    }

    pub fn has_proof(&self) -> bool {
        self.proof != ProofHeader::Absent
    }

    /// Checks the proof, if there is one, for this request and `access_token` (its `ath`), and
    /// its nonce when the server asks for them. Not yet recorded: [`record`] does that.
    pub fn check(
        &self,
        state: &AppState,
        access_token: Option<&str>,
    ) -> Result<Option<VerifiedProof>, DpopRefusal> {
        let proof = match &self.proof {
            ProofHeader::Absent => return Ok(None),
            ProofHeader::Unusable => return Err(DpopRefusal::Proof(DpopError::Malformed)),
            ProofHeader::One(proof) => proof,
        };
        let now = state.now();
        let verified = tokens::dpop::verify_proof(
            proof,
            &ProofCheck {
                htm: &self.htm,
                htu: &self.htu,
                access_token,
                now,
                max_age: state.settings.dpop_max_age,
                max_skew: MAX_SKEW,
            },
        )
        .map_err(DpopRefusal::Proof)?;
        if let Some(nonces) = nonces(state) {
            let fresh = verified
                .nonce
                .as_deref()
                .is_some_and(|n| nonces.accepts(n, now));
            if !fresh {
                return Err(DpopRefusal::UseNonce(nonces.issue(now)));
            }
        }
        Ok(Some(verified))
    }
}

/// The server's nonces when `PORTCULLIS_DPOP_NONCE` is on (sealed under
/// `PORTCULLIS_ENCRYPTION_KEYS`, which the start checks are there).
fn nonces(state: &AppState) -> Option<tokens::dpop::Nonces<'_>> {
    if !state.settings.dpop_nonce {
        return None;
    }
    state
        .settings
        .encryption_keys
        .as_deref()
        .map(|keys| tokens::dpop::Nonces {
            keys,
            period: NONCE_PERIOD,
        })
}

/// Records a checked proof in the database every instance shares (§11.1): a proof seen before
/// is refused. Blocking.
pub fn record(
    state: &AppState,
    conn: &mut store::Conn,
    proof: &VerifiedProof,
) -> Result<Result<(), DpopRefusal>, store::StoreError> {
    Ok(tokens::dpop::record_proof(
        conn,
        proof,
        (state.settings.dpop_max_age, MAX_SKEW),
        state.now(),
    )?
    .map_err(DpopRefusal::Proof))
}
