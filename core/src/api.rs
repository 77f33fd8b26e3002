//! JSON bodies of the issuer's HTTPS API, shared by the daemon and its clients.
//! `docs/api.md` documents every endpoint.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Path of the liveness endpoint.
pub const HEALTH_PATH: &str = "/healthz";
/// Path that returns the root certificate as PEM.
pub const ROOT_PATH: &str = "/v1/root";
/// Path that returns the intermediate and root certificates as PEM.
pub const CHAIN_PATH: &str = "/v1/chain";
/// Path that signs a CSR with a bootstrap token.
pub const SIGN_PATH: &str = "/v1/sign";
/// Path where an admin creates bootstrap tokens.
pub const ADMIN_TOKENS_PATH: &str = "/v1/admin/tokens";
/// Response header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Prefix of every bootstrap token.
pub const TOKEN_PREFIX: &str = "irt_";

/// Body of `POST /v1/sign`. The bootstrap token travels in the
/// `Authorization: Bearer` header, never in the body or the URL.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The CSR in PEM.
    pub csr: String,
}

/// Successful response of `POST /v1/sign`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignResponse {
    /// Serial number of the new certificate, lower-case hex.
    pub serial: String,
    /// The end-entity certificate, PEM.
    pub certificate: String,
    /// The intermediate certificates that follow the leaf in a TLS handshake, PEM.
    pub chain: String,
    /// The root certificate, PEM.
    pub root: String,
    /// notBefore of the certificate.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// notAfter of the certificate.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
}

/// Body of `POST /v1/admin/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// Names a CSR enrolled with this token may request: DNS names, `*.suffix`
    /// patterns and IP addresses.
    pub names: Vec<String>,
    /// Lifetime in seconds; the server's default applies when absent.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// Response of `POST /v1/admin/tokens`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CreateTokenResponse {
    /// Public identifier of the token, safe to log.
    pub id: String,
    /// The secret token. Shown once; the server stores only its hash.
    pub token: String,
    /// Normalised names the token allows.
    pub names: Vec<String>,
    /// When the token stops being accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Body of every error response.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// Stable machine-readable code, such as `token_expired`.
    pub error: String,
    /// Human-readable explanation with the value at fault and what to do.
    pub message: String,
    /// Request id, also found in the daemon's log.
    pub request_id: String,
}
