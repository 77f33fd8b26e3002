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
/// Path that renews the certificate presented as the TLS client certificate.
pub const RENEW_PATH: &str = "/v1/renew";
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
    /// Requested lifetime in seconds; the profile's default applies when
    /// absent, and more than the profile's maximum is rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_seconds: Option<u64>,
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
    /// A remark about the issued certificate, such as a lifetime cut to the
    /// intermediate's notAfter. Absent from the JSON when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
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
    /// Policy profile of the certificates issued with this token; the
    /// built-in `default` profile applies when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
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
    /// Policy profile the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// When the token stops being accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Body of `POST /v1/renew`. The current certificate is the TLS client
/// certificate of the connection; no token is needed.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// The CSR in PEM, for the same key or a new one.
    pub csr: String,
    /// Requested lifetime in seconds, as in [`SignRequest`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_seconds: Option<u64>,
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

/// Path where an admin revokes a certificate.
pub const ADMIN_REVOKE_PATH: &str = "/v1/admin/revoke";
/// Path where an admin lists the imported intermediates.
pub const ADMIN_INTERMEDIATES_PATH: &str = "/v1/admin/intermediates";
/// Path where an admin switches the intermediate that signs new certificates.
pub const ADMIN_ACTIVATE_PATH: &str = "/v1/admin/intermediates/activate";
/// Path of the active intermediate's CRL; `/v1/crl/<intermediate SHA-256>`
/// serves the CRL of each imported intermediate.
pub const CRL_PATH: &str = "/v1/crl";
/// Path of the OCSP responder: POST with the request as the body, or GET
/// with the base64 request appended after a `/`.
pub const OCSP_PATH: &str = "/v1/ocsp";

/// Body of `POST /v1/admin/revoke`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Serial number in hex; colons and upper case are accepted.
    pub serial: String,
    /// RFC 5280 CRLReason name, such as `keyCompromise`.
    pub reason: String,
}

/// Response of `POST /v1/admin/revoke`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RevokeResponse {
    /// Serial number, lower-case hex.
    pub serial: String,
    /// Subject of the revoked certificate.
    pub subject: String,
    /// RFC 5280 CRLReason name.
    pub reason: String,
    /// When the revocation was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
    /// SHA-256 of the intermediate that issued the certificate.
    pub intermediate_sha256: String,
    /// Number of the CRL that first lists the certificate.
    pub crl_number: u64,
}

/// One imported intermediate, as `GET /v1/admin/intermediates` returns it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntermediateStatus {
    /// SHA-256 of the certificate DER, lower-case hex.
    pub sha256: String,
    /// Subject of the intermediate.
    pub subject: String,
    /// notBefore of the intermediate.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// notAfter of the intermediate.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Whether new certificates are signed with it.
    pub active: bool,
    /// Whether the daemon holds its key and serves its CRL and OCSP responses.
    pub loaded: bool,
    /// Whole days until notAfter; negative once it has expired.
    pub days_left: i64,
    /// Set when notAfter is closer than the daemon's `expiry_warning`.
    pub expiry_warning: Option<String>,
}

/// Response of `GET /v1/admin/intermediates`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IntermediatesResponse {
    /// Every imported intermediate, newest import first.
    pub intermediates: Vec<IntermediateStatus>,
}

/// Body of `POST /v1/admin/intermediates/activate`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// SHA-256 of the intermediate to activate, hex; colons are accepted.
    pub sha256: String,
}
